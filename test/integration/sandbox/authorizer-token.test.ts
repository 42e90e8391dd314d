import {
  api,
  authorizeAndQuery,
  closeAll,
  componentToken,
  CREDS,
  expectErr,
  MP,
  OA,
  OA2,
  startEmulator,
  type Harness,
} from './helpers';

afterEach(closeAll);

const refresh = (h: Harness, token: string, appid: string, refreshToken: unknown) =>
  api(
    h,
    'api_authorizer_token',
    { component_appid: CREDS.componentAppId, authorizer_appid: appid, authorizer_refresh_token: refreshToken },
    token,
  );

/** An endpoint that takes the authorizer's own token, to see whether an authorizer token still works. */
const useAuthorizerToken = (h: Harness, accessToken: string) =>
  api(h, 'get_authorizer_option', { option_name: 'voice_recognize' }, accessToken, 'access_token');

describe('api_authorizer_token', () => {
  it('returns a new access token and the same refresh token; the old access token keeps its grace period', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    const first = await authorizeAndQuery(h, token, OA);
    const res = await refresh(h, token, OA, first.refreshToken);
    expect(Object.keys(res.json).sort()).toEqual(['authorizer_access_token', 'authorizer_refresh_token', 'expires_in']);
    expect(res.json.authorizer_refresh_token).toBe(first.refreshToken);
    expect(res.json.expires_in).toBe(7200);
    const second = res.json.authorizer_access_token as string;
    expect(second).not.toBe(first.accessToken);
    expect((await useAuthorizerToken(h, first.accessToken)).json.option_value).toBe('0');
    h.clock.advance(300_000);
    expectErr(await useAuthorizerToken(h, first.accessToken), 40001);
    expect(h.emulator.tokenStatus(first.accessToken)).toBe('expired');
    expect((await useAuthorizerToken(h, second)).json.option_value).toBe('0');
  });

  it('lets authorizer tokens expire after their lifetime (42001)', async () => {
    const h = await startEmulator({ tokenLifetimeSeconds: 100 });
    const token = await componentToken(h);
    const { accessToken } = await authorizeAndQuery(h, token, OA);
    h.clock.advance(100_000);
    expectErr(await useAuthorizerToken(h, accessToken), 42001);
  });

  it('answers 61023 for an unknown refresh token of an authorized account', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    await authorizeAndQuery(h, token, OA);
    expectErr(await refresh(h, token, OA, 'refreshtoken@@@forged'), 61023);
  });

  it("answers 61023 for another account's refresh token", async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    const oa = await authorizeAndQuery(h, token, OA);
    await authorizeAndQuery(h, token, MP);
    expectErr(await refresh(h, token, MP, oa.refreshToken), 61023);
    expectErr(await refresh(h, token, OA2, oa.refreshToken), 61023);
  });

  it('answers 61003 for an account that never authorized, with a token never issued here', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    expectErr(await refresh(h, token, OA2, 'refreshtoken@@@forged'), 61003);
  });

  it('after revoke: 61023 for the refresh token, 40001 for the access tokens', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    const { accessToken, refreshToken } = await authorizeAndQuery(h, token, OA);
    await h.emulator.revoke(OA, { push: false });
    expectErr(await refresh(h, token, OA, refreshToken), 61023);
    expectErr(await useAuthorizerToken(h, accessToken), 40001);
    expect(h.emulator.tokenStatus(accessToken)).toBe('expired');
  });

  it('re-authorization issues a new refresh token and drops the old one and the old access tokens at once', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    const old = await authorizeAndQuery(h, token, OA);
    const fresh = await authorizeAndQuery(h, token, OA);
    expect(fresh.refreshToken).not.toBe(old.refreshToken);
    expectErr(await refresh(h, token, OA, old.refreshToken), 61023);
    expectErr(await useAuthorizerToken(h, old.accessToken), 40001);
    expect((await refresh(h, token, OA, fresh.refreshToken)).json.authorizer_refresh_token).toBe(fresh.refreshToken);
  });

  it('with rotation on, returns a new refresh token on every call and the previous one stops working', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    const { refreshToken } = await authorizeAndQuery(h, token, OA);
    h.emulator.setRotateRefreshTokens(true);
    const res = await refresh(h, token, OA, refreshToken);
    const rotated = res.json.authorizer_refresh_token as string;
    expect(rotated).toMatch(/^refreshtoken@@@/);
    expect(rotated).not.toBe(refreshToken);
    expectErr(await refresh(h, token, OA, refreshToken), 61023);
    const again = await refresh(h, token, OA, rotated);
    expect(again.json.authorizer_refresh_token).not.toBe(rotated);
    h.emulator.setRotateRefreshTokens(false);
    const last = again.json.authorizer_refresh_token as string;
    expect((await refresh(h, token, OA, last)).json.authorizer_refresh_token).toBe(last);
  });

  it('answers 40097 without authorizer_appid and 61023 without a refresh token', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    expectErr(await refresh(h, token, '', 'x'), 40097);
    expectErr(await refresh(h, token, OA, undefined), 61023);
  });

  it('does not accept an authorizer token in place of the component token (40001)', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    const { accessToken, refreshToken } = await authorizeAndQuery(h, token, OA);
    expectErr(await refresh(h, accessToken, OA, refreshToken), 40001);
  });
});

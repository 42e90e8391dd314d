import { api, closeAll, componentToken, CREDS, expectErr, MP, OA, startEmulator, type Harness } from './helpers';
import { loadPage, preAuthCode } from './page-helpers';

afterEach(closeAll);

const queryAuth = (h: Harness, token: string, code: unknown) =>
  api(h, 'api_query_auth', { component_appid: CREDS.componentAppId, authorization_code: code }, token);

describe('api_create_preauthcode', () => {
  it('returns a pre_auth_code with expires_in 600 by default, or the configured lifetime', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    const res = await api(h, 'api_create_preauthcode', { component_appid: CREDS.componentAppId }, token);
    expect(Object.keys(res.json).sort()).toEqual(['expires_in', 'pre_auth_code']);
    expect(res.json.expires_in).toBe(600);

    const h2 = await startEmulator({ preAuthCodeLifetimeSeconds: 1800 });
    const token2 = await componentToken(h2);
    expect(
      (await api(h2, 'api_create_preauthcode', { component_appid: CREDS.componentAppId }, token2)).json.expires_in,
    ).toBe(1800);
  });

  it('is single use: the page spends it, a second visit is refused', async () => {
    const h = await startEmulator();
    const code = await preAuthCode(h, await componentToken(h));
    expect((await loadPage(h, code)).status).toBe(200);
    const again = await loadPage(h, code);
    expect(again.status).toBe(400);
    expect(again.html).toContain('data-error="pre_auth_code"');
    expect(again.html).toContain('PreAuthCode无效');
  });

  it('expires after its lifetime at the emulator clock', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    const fresh = await preAuthCode(h, token);
    const stale = await preAuthCode(h, token);
    h.clock.advance(599_000);
    expect((await loadPage(h, fresh)).status).toBe(200);
    h.clock.advance(1000);
    const page = await loadPage(h, stale);
    expect(page.status).toBe(400);
    expect(page.html).toContain('PreAuthCode已过期');
  });

  it('refuses an unknown pre_auth_code', async () => {
    const h = await startEmulator();
    const page = await loadPage(h, 'preauthcode@@@forged');
    expect(page.status).toBe(400);
    expect(page.html).toContain('data-error="pre_auth_code"');
  });
});

describe('api_query_auth', () => {
  it('returns exactly the documented authorization_info for a fresh code', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    const { authCode, expiresIn } = await h.emulator.authorize(OA, { push: false });
    expect(authCode).toMatch(/^queryauthcode@@@/);
    expect(expiresIn).toBe(3600);
    const res = await queryAuth(h, token, authCode);
    expect(Object.keys(res.json)).toEqual(['authorization_info']);
    const info = res.json.authorization_info as Record<string, unknown>;
    expect(Object.keys(info)).toEqual([
      'authorizer_appid',
      'authorizer_access_token',
      'expires_in',
      'authorizer_refresh_token',
      'func_info',
    ]);
    expect(info.authorizer_appid).toBe(OA);
    expect(info.expires_in).toBe(7200);
    expect(info.authorizer_refresh_token).toMatch(/^refreshtoken@@@/);
    expect(info.func_info).toEqual([1, 2, 3, 4, 6, 7, 11, 15].map((id) => ({ funcscope_category: { id } })));
    expect(h.emulator.tokenStatus(info.authorizer_access_token as string)).toBe('valid');
  });

  it('is single use: a second exchange answers 61009', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    const { authCode } = await h.emulator.authorize(MP, { push: false });
    expect((await queryAuth(h, token, authCode)).json.authorization_info).toBeDefined();
    expectErr(await queryAuth(h, token, authCode), 61009);
  });

  it('answers 61009 for an unknown or missing code and 61010 for an expired one', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    expectErr(await queryAuth(h, token, 'queryauthcode@@@forged'), 61009);
    expectErr(await queryAuth(h, token, undefined), 61009);
    const { authCode } = await h.emulator.authorize(OA, { push: false });
    const early = await h.emulator.authorize(MP, { push: false });
    h.clock.advance(3599_000);
    expect((await queryAuth(h, token, early.authCode)).json.authorization_info).toBeDefined();
    h.clock.advance(1000);
    expectErr(await queryAuth(h, token, authCode), 61010);
  });

  it('honours authCodeLifetimeSeconds', async () => {
    const h = await startEmulator({ authCodeLifetimeSeconds: 60 });
    const token = await componentToken(h);
    const { authCode, expiresIn } = await h.emulator.authorize(OA, { push: false });
    expect(expiresIn).toBe(60);
    h.clock.advance(60_000);
    expectErr(await queryAuth(h, token, authCode), 61010);
  });

  it('answers 61009 when the account revoked after the code was issued', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    const { authCode } = await h.emulator.authorize(OA, { push: false });
    await h.emulator.revoke(OA, { push: false });
    expectErr(await queryAuth(h, token, authCode), 61009);
  });

  it('answers 40013 for another component_appid', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    const { authCode } = await h.emulator.authorize(OA, { push: false });
    expectErr(
      await api(h, 'api_query_auth', { component_appid: 'wxother', authorization_code: authCode }, token),
      40013,
    );
  });
});

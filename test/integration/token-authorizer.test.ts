import { AuthorizerNotAuthorizedError, AuthorizerNotFoundError, ReauthorizationRequiredError } from '../../src/errors';
import { generateAccounts } from '../../src/sandbox/emulator';
import { captureLogs } from '../support/log-capture';
import { startHarness, type Harness } from '../support/emulator';
import { accountHash } from '../support/account-keys';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('token service: authorizer_access_token (emulator over HTTP, real Redis)', () => {
  let h: Harness;
  let logs: ReturnType<typeof captureLogs>;
  let reauthorizations: [string, number | undefined][];
  let A: string;
  let B: string;
  beforeEach(async () => {
    logs = captureLogs();
    reauthorizations = [];
    const accounts = generateAccounts(3);
    h = await startHarness({
      emulator: { accounts },
      container: {
        logger: logs.logger,
        onReauthorizationRequired: (appid, errcode) => reauthorizations.push([appid, errcode]),
      },
    });
    [A, B] = accounts.map((a) => a.appid) as [string, string];
  });
  afterEach(async () => {
    expect(logs.text()).not.toMatch(/8[12]_[A-Za-z0-9_-]{40,}|refreshtoken@@@|queryauthcode@@@/);
    await h.close();
  });
  const calls = (endpoint: string) => h.emulator.callLog.count(endpoint);
  /** The account's hash, with its refresh token (kept in its own secret key) shown as `refresh_token`. */
  const hash = (appid: string) => accountHash(h.container.redis, h.container.keys, h.container.config, appid);

  it('exchanges an auth code: the account is stored authorized with its refresh token and a valid access token', async () => {
    const { authCode } = await h.emulator.authorize(A, { push: false });
    const summary = await h.container.authorizationService.exchangeAuthCode(authCode);
    expect(summary.authorizerAppId).toBe(A);
    expect(summary.hasApiAccess).toBe(true);
    expect(summary.funcInfo.length).toBeGreaterThan(0);
    const stored = await hash(A);
    expect(stored.status).toBe('authorized');
    expect(stored.refresh_token).toBeTruthy();
    expect(JSON.parse(stored.func_info!)).toEqual(summary.funcInfo);
    const token = await h.container.redis.get(h.container.keys.authorizerAccessToken(A));
    expect(h.emulator.tokenStatus(token!)).toBe('valid');
    // Served from the cache: api_query_auth already brought a token.
    expect((await h.container.tokenService.getAuthorizerAccessToken(A)).token).toBe(token);
    expect(calls('api_authorizer_token')).toBe(0);
  });

  it('refreshes with the refresh token once inside the margin (in the background), keeping the schedule in step', async () => {
    await h.authorize(A);
    const first = await h.container.tokenService.getAuthorizerAccessToken(A);
    h.clock.advance(2 * HOUR - 14 * MINUTE);
    // Still valid: served at once, and the refresh runs behind it.
    expect((await h.container.tokenService.getAuthorizerAccessToken(A)).token).toBe(first.token);
    await h.container.tokenService.idle();
    const second = await h.container.tokenService.getAuthorizerAccessToken(A);
    expect(second.token).not.toBe(first.token);
    expect(h.emulator.tokenStatus(second.token)).toBe('valid');
    expect(calls('api_authorizer_token')).toBe(1);
    expect(Number(await h.container.redis.zscore(h.container.keys.scheduleOf(A), A))).toBe(second.expiresAt);
    expect((await h.container.tokenService.getAuthorizerAccessToken(A)).token).toBe(second.token);
    expect(calls('api_authorizer_token')).toBe(1);
  });

  it('answers unknown appids with a 404-type error and unauthorized ones with a 409-type error carrying the status', async () => {
    await expect(h.container.tokenService.getAuthorizerAccessToken('wxnobody')).rejects.toBeInstanceOf(
      AuthorizerNotFoundError,
    );
    await h.authorize(A);
    await h.container.authorizerStore.markUnauthorized(A);
    const err = await h.container.tokenService.getAuthorizerAccessToken(A).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthorizerNotAuthorizedError);
    expect(err).toMatchObject({ httpStatus: 409, status: 'unauthorized' });
    expect(calls('api_authorizer_token')).toBe(0);
  });

  it('stores a rotated refresh token with its access token, and uses it for the next refresh', async () => {
    await h.authorize(A);
    const original = (await hash(A)).refresh_token;
    h.emulator.setRotateRefreshTokens(true);
    h.clock.advance(2 * HOUR + MINUTE); // expired: the caller waits for the refresh
    const refreshed = await h.container.tokenService.getAuthorizerAccessToken(A);
    const rotated = (await hash(A)).refresh_token;
    expect(rotated).toBeTruthy();
    expect(rotated).not.toBe(original);
    expect(await h.container.redis.get(h.container.keys.authorizerAccessToken(A))).toBe(refreshed.token);
    // The emulator now rejects the original refresh token (61023): only the stored rotated one works.
    h.clock.advance(2 * HOUR + MINUTE);
    const next = await h.container.tokenService.getAuthorizerAccessToken(A);
    expect(h.emulator.tokenStatus(next.token)).toBe('valid');
    expect((await hash(A)).status).toBe('authorized');
    expect(calls('api_authorizer_token')).toBe(2);
  });

  it('61023: status reauthorization_required, an error log line, and no further api_authorizer_token calls for hours', async () => {
    await h.authorize(A);
    await h.authorize(B);
    await h.emulator.revoke(A, { push: false }); // the revocation push never reached us: only the refresh finds out
    h.clock.advance(2 * HOUR + MINUTE);
    const err = await h.container.tokenService.getAuthorizerAccessToken(A).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReauthorizationRequiredError);
    expect(err).toMatchObject({ httpStatus: 409, status: 'reauthorization_required' });
    expect(calls('api_authorizer_token')).toBe(1);
    const stored = await hash(A);
    expect(stored.status).toBe('reauthorization_required');
    expect(stored.refresh_token).toBeTruthy(); // durable: kept for the operator, never deleted on errors
    expect(stored.reauthorization_reason).toMatch(/61023/);
    expect(await h.container.redis.exists(h.container.keys.authorizerAccessToken(A))).toBe(0);
    expect(reauthorizations).toEqual([[A, 61023]]);
    const line = logs.lines().find((l) => l.level === 50 && l.authorizerAppid === A);
    expect(line?.msg).toMatch(/re-authorization/);

    h.emulator.callLog.clear();
    for (let step = 0; step < 12; step++) {
      h.clock.advance(30 * MINUTE);
      await h.container.refresher.runOnce();
      await expect(h.container.tokenService.getAuthorizerAccessToken(A)).rejects.toMatchObject({
        status: 'reauthorization_required',
      });
    }
    const forA = h.emulator.callLog.entries('api_authorizer_token').filter((e) => e.params.authorizer_appid === A);
    expect(forA).toHaveLength(0);
    // The other account kept being refreshed meanwhile (so the loop above did run refreshes).
    expect(
      h.emulator.callLog.entries('api_authorizer_token').filter((e) => e.params.authorizer_appid === B).length,
    ).toBeGreaterThanOrEqual(2);
    expect(reauthorizations).toHaveLength(1);

    // Authorizing again brings it back.
    await h.authorize(A);
    expect((await hash(A)).status).toBe('authorized');
    await expect(h.container.tokenService.getAuthorizerAccessToken(A)).resolves.toMatchObject({
      expiresIn: expect.any(Number),
    });
  });

  it('61003 (account no longer authorizes the platform) is treated the same way', async () => {
    await h.authorize(A);
    h.emulator.faults.set('api_authorizer_token', { errcode: 61003, times: 1 });
    h.clock.advance(2 * HOUR + MINUTE);
    await expect(h.container.tokenService.getAuthorizerAccessToken(A)).rejects.toBeInstanceOf(
      ReauthorizationRequiredError,
    );
    expect((await hash(A)).status).toBe('reauthorization_required');
    expect(reauthorizations).toEqual([[A, 61003]]);
  });

  it('invalidate("authorizer") refreshes only the token still current, once for many reports', async () => {
    await h.authorize(A);
    const old = await h.container.tokenService.getAuthorizerAccessToken(A);
    const results = await Promise.all(
      Array.from({ length: 10 }, () => h.container.tokenService.invalidate('authorizer', old.token, A)),
    );
    expect(new Set(results.map((r) => r.token)).size).toBe(1);
    expect(results[0]!.token).not.toBe(old.token);
    expect(calls('api_authorizer_token')).toBe(1);
    expect((await h.container.tokenService.invalidate('authorizer', old.token, A)).token).toBe(results[0]!.token);
    expect(calls('api_authorizer_token')).toBe(1);
  });

  it('fetchAccountInfo stores the account name and kind on its hash', async () => {
    await h.authorize(A);
    const account = h.emulator.accounts().find((a) => a.appid === A)!;
    const info = await h.container.authorizationService.fetchAccountInfo(A);
    expect(info).toMatchObject({ nickName: account.nickName, userName: account.userName, kind: account.kind });
    expect(await hash(A)).toMatchObject({
      nick_name: account.nickName,
      user_name: account.userName,
      kind: account.kind,
    });
  });
});

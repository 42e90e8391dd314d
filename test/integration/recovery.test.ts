import { RecoveryService, recoveryReportJson } from '../../src/services/recovery';
import { generateAccounts } from '../../src/sandbox/emulator';
import { captureLogs } from '../support/log-capture';
import { startHarness, type Harness } from '../support/emulator';
import { testEnv } from '../support/config';
import { keysUnder } from '../support/redis';
import { accountHash } from '../support/account-keys';
import { collect, exitOf, spawnTs } from '../support/spawn';

const HOUR = 3600_000;
const MINUTE = 60_000;

describe('recovery of refresh tokens from api_get_authorizer_list (emulator over HTTP, real Redis)', () => {
  let h: Harness;
  let logs: ReturnType<typeof captureLogs>;
  let appids: string[];
  let redis: Harness['container']['redis'];
  let keys: Harness['container']['keys'];

  beforeEach(async () => {
    logs = captureLogs('info');
    const accounts = generateAccounts(5);
    appids = accounts.map((a) => a.appid);
    h = await startHarness({ emulator: { accounts }, container: { logger: logs.logger } });
    ({ redis, keys } = h.container);
  });
  afterEach(async () => {
    expect(logs.text()).not.toMatch(/refreshtoken@@@/);
    await h.close();
  });

  const calls = (endpoint: string) => h.emulator.callLog.count(endpoint);
  /** The account's hash, with its refresh token (kept in its own secret key) shown as `refresh_token`. */
  const hash = (appid: string) => accountHash(redis, keys, h.container.config, appid);
  /** What WeChat (the emulator) lists: appid → refresh token. */
  const listedRefreshTokens = async () => {
    const page = await h.container.tokenService.withComponentToken((t) =>
      h.container.componentApi.getAuthorizerList(t, 0, 500),
    );
    return new Map(page.list.map((a) => [a.authorizerAppId, a.refreshToken]));
  };
  const loseEveryAuthorizerHash = async () => {
    for (const appid of appids) await redis.del(keys.authorizer(appid), keys.authorizerRefreshToken(appid));
    expect(await h.container.authorizerStore.list()).toEqual([]);
  };

  it('after every authorizer hash is deleted, restores all refresh tokens and the next token reads succeed; a second run restores nothing', async () => {
    for (const appid of appids) await h.authorize(appid);
    const expected = await listedRefreshTokens();
    await loseEveryAuthorizerHash();
    for (const appid of appids) {
      await expect(h.container.tokenService.getAuthorizerAccessToken(appid)).rejects.toMatchObject({
        code: 'authorizer_not_found',
      });
    }
    h.emulator.callLog.clear();

    const first = recoveryReportJson(await h.container.recovery.run());
    expect(first).toEqual({ listed: 5, restored: 5, verified: 5, still_failing: 0, failures: [] });
    // Verified by exactly one refresh each, with the name and permission sets asked again.
    expect(calls('api_authorizer_token')).toBe(5);
    expect(calls('api_get_authorizer_info')).toBe(5);
    for (const appid of appids) {
      const stored = await hash(appid);
      expect(stored).toMatchObject({ status: 'authorized', refresh_token: expected.get(appid) });
      expect(stored.refresh_token).toMatch(/^refreshtoken@@@/);
      expect(JSON.parse(stored.func_info!).length).toBeGreaterThan(0);
      expect(stored.nick_name).toBeTruthy();
      const read = await h.container.tokenService.getAuthorizerAccessToken(appid);
      expect(h.emulator.tokenStatus(read.token)).toBe('valid');
      expect(await redis.get(keys.authorizerAccessToken(appid))).toBe(read.token);
    }
    expect(calls('api_authorizer_token')).toBe(5); // the reads were served from what verification stored

    // Two hours later the refresher's schedule still covers every restored account.
    h.clock.advance(2 * HOUR - 10 * MINUTE);
    const round = await h.container.refresher.runOnce();
    expect(round).toMatchObject({ checked: 5, failed: [] });

    h.emulator.callLog.clear();
    const second = recoveryReportJson(await h.container.recovery.run());
    expect(second).toEqual({ listed: 5, restored: 0, verified: 0, still_failing: 0, failures: [] });
    expect(calls('api_authorizer_token')).toBe(0);
  });

  it('recovers from a complete loss of Redis once a ticket arrives again', async () => {
    for (const appid of appids) await h.authorize(appid);
    const prefix = h.container.config.redis.keyPrefix;
    for (const key of await keysUnder(redis, prefix)) await redis.del(key);
    await h.seedTicket(); // the next push after the loss
    const report = await h.container.recovery.run();
    expect(recoveryReportJson(report)).toMatchObject({ listed: 5, restored: 5, verified: 5, still_failing: 0 });
    const listed = await h.container.tokenService.getAuthorizerAccessToken(appids[0]!);
    expect(h.emulator.tokenStatus(listed.token)).toBe('valid');
  });

  it('brings back an account marked reauthorization_required when WeChat lists a newer refresh token', async () => {
    const [A, B] = appids as [string, string];
    await h.authorize(A);
    await h.authorize(B);
    // The account authorized again, but neither the push nor the redirect reached us: our refresh token is dead.
    await h.emulator.authorize(A, { push: false });
    h.clock.advance(2 * HOUR + MINUTE); // expired: the read waits for the refresh, which WeChat refuses
    await expect(h.container.tokenService.getAuthorizerAccessToken(A)).rejects.toMatchObject({
      status: 'reauthorization_required',
    });
    const listed = await listedRefreshTokens();

    const report = recoveryReportJson(await h.container.recovery.run());
    expect(report).toEqual({ listed: 2, restored: 1, verified: 1, still_failing: 0, failures: [] });
    const stored = await hash(A);
    expect(stored).toMatchObject({ status: 'authorized', refresh_token: listed.get(A) });
    expect(stored.reauthorization_reason).toBeUndefined();
    expect(h.emulator.tokenStatus((await h.container.tokenService.getAuthorizerAccessToken(A)).token)).toBe('valid');
  });

  it('counts a restored token that does not work as still failing, and does not retry that same token on the next run', async () => {
    const [A, B] = appids as [string, string];
    await h.authorize(A);
    await h.authorize(B);
    await loseEveryAuthorizerHash();
    h.emulator.faults.set('api_authorizer_token', { errcode: 61023, times: 1 });
    h.emulator.callLog.clear();

    const first = recoveryReportJson(await h.container.recovery.run());
    expect(first).toMatchObject({ listed: 2, restored: 2, verified: 1, still_failing: 1 });
    expect(first.failures).toHaveLength(1);
    expect(first.failures[0]!.reason).toMatch(/61023/);
    const failing = first.failures[0]!.authorizer_appid;
    expect((await hash(failing)).status).toBe('reauthorization_required');
    expect(calls('api_authorizer_token')).toBe(2);

    const second = recoveryReportJson(await h.container.recovery.run());
    expect(second).toMatchObject({ listed: 2, restored: 0, verified: 0, still_failing: 1 });
    expect(second.failures[0]).toEqual({ authorizer_appid: failing, reason: expect.stringMatching(/already failed/) });
    expect(calls('api_authorizer_token')).toBe(2);
  });

  it('leaves revoked accounts alone (WeChat no longer lists them)', async () => {
    const [A, B] = appids as [string, string];
    await h.authorize(A);
    await h.authorize(B);
    await h.emulator.revoke(B, { push: false });
    await h.container.authorizerStore.markUnauthorized(B);
    const report = recoveryReportJson(await h.container.recovery.run());
    expect(report).toEqual({ listed: 1, restored: 0, verified: 0, still_failing: 0, failures: [] });
    expect((await hash(B)).status).toBe('unauthorized');
    expect((await hash(B)).refresh_token).toBeUndefined();
  });

  it('does not bring back an account whose revocation arrived after the list was read', async () => {
    const [A] = appids as [string];
    await h.authorize(A);
    const listedAt = h.clock.now();
    h.clock.advance(1000);
    await h.container.authorizerStore.markUnauthorized(A);
    const outcome = await h.container.authorizerStore.restoreRefreshToken({
      appid: A,
      refreshToken: 'refresh-from-an-old-list',
      authorizedAt: listedAt,
      funcInfo: [],
      listedAt,
    });
    expect(outcome).toBe('revoked_since');
    expect((await hash(A)).status).toBe('unauthorized');
  });

  it('pages through api_get_authorizer_list', async () => {
    for (const appid of appids) await h.authorize(appid);
    await loseEveryAuthorizerHash();
    h.emulator.callLog.clear();
    const { container: c } = h;
    const recovery = new RecoveryService({
      api: c.componentApi,
      tokenService: c.tokenService,
      authorizers: c.authorizerStore,
      locks: c.locks,
      keys: c.keys,
      clock: c.clock,
      logger: c.logger,
      marginMs: 15 * MINUTE,
      concurrency: 2,
      pageSize: 2,
    });
    expect(recoveryReportJson(await recovery.run())).toMatchObject({ listed: 5, restored: 5, verified: 5 });
    const offsets = h.emulator.callLog.entries('api_get_authorizer_list').map((e) => e.params.offset);
    expect(offsets).toEqual([0, 2, 4]);
  });

  describe('npm run recover (src/cli/recover.ts as its own process)', () => {
    const env = () =>
      testEnv({
        WECHAT_API_BASE_URL: h.emulatorUrl,
        REDIS_KEY_PREFIX: h.container.config.redis.keyPrefix,
        LOG_LEVEL: 'info',
      });

    it('prints the counts as JSON and exits 0; a second run restores nothing', async () => {
      for (const appid of appids) await h.authorize(appid);
      await loseEveryAuthorizerHash();

      const first = spawnTs('src/cli/recover.ts', env());
      const out1 = collect(first);
      expect(await exitOf(first, 20_000)).toBe(0);
      expect(JSON.parse(out1.stdout())).toEqual({
        listed: 5,
        restored: 5,
        verified: 5,
        still_failing: 0,
        failures: [],
      });
      expect(out1.stderr()).toContain('recovery of refresh tokens finished');
      expect(out1.stderr()).not.toMatch(/refreshtoken@@@/);
      for (const appid of appids) expect((await hash(appid)).status).toBe('authorized');

      const second = spawnTs('src/cli/recover.ts', env());
      const out2 = collect(second);
      expect(await exitOf(second, 20_000)).toBe(0);
      expect(JSON.parse(out2.stdout())).toMatchObject({ listed: 5, restored: 0, still_failing: 0 });
    }, 45_000);

    it('exits 1 when an account still fails, and with one line per bad variable on a bad configuration', async () => {
      await h.authorize(appids[0]!);
      await loseEveryAuthorizerHash();
      h.emulator.faults.set('api_authorizer_token', { errcode: 61023 });
      const failing = spawnTs('src/cli/recover.ts', env());
      const out = collect(failing);
      expect(await exitOf(failing, 20_000)).toBe(1);
      expect(JSON.parse(out.stdout())).toMatchObject({ restored: 1, still_failing: 1 });

      const misconfigured = spawnTs('src/cli/recover.ts', testEnv({ WECHAT_COMPONENT_AES_KEY: 'short' }));
      const bad = collect(misconfigured);
      expect(await exitOf(misconfigured, 20_000)).toBe(1);
      expect(bad.stderr().trim().split('\n')).toEqual([
        expect.stringMatching(/^config error: WECHAT_COMPONENT_AES_KEY: /),
      ]);
      expect(bad.stdout()).toBe('');
    }, 45_000);
  });
});

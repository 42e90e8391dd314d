import { createContainer, type Container } from '../../src/container';
import { generateAccounts } from '../../src/sandbox/emulator';
import { waitUntilReady } from '../../src/store/redis';
import { captureLogs } from '../support/log-capture';
import { startHarness, type Harness } from '../support/emulator';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('refresher (ManualClock shared with the emulator)', () => {
  let h: Harness;
  const extra: Container[] = [];
  afterEach(async () => {
    await Promise.all(extra.splice(0).map((c) => c.close()));
    await h.close();
  });
  /** Another service instance on the same Redis and emulator (a second replica). */
  const secondInstance = async (logger = captureLogs('silent').logger) => {
    const other = createContainer(h.config, { clock: h.clock, logger });
    extra.push(other);
    await waitUntilReady(other.redis, 5000);
    return other;
  };

  it('keeps 50 accounts fresh through 6 simulated hours, refreshing each about once per lifetime, with two instances', async () => {
    const accounts = generateAccounts(50);
    h = await startHarness({ emulator: { accounts }, env: { TOKEN_REFRESH_MARGIN_SECONDS: '900' } });
    for (const account of accounts) await h.authorize(account.appid);
    const other = await secondInstance();
    const { redis, keys } = h.container;
    h.emulator.callLog.clear();

    const STEP = 3 * MINUTE;
    for (let elapsed = 0; elapsed < 6 * HOUR; elapsed += STEP) {
      h.clock.advance(STEP);
      await Promise.all([h.container.refresher.runOnce(), other.refresher.runOnce()]);
      // What an internal service does: one GET per token, no refreshing of its own (not MGET: on a Cluster the
      // keys live in different slots).
      const values = await Promise.all(
        [keys.componentAccessToken, ...accounts.map((a) => keys.authorizerAccessToken(a.appid))].map((k) =>
          redis.get(k),
        ),
      );
      const stale = values.filter((v) => v === null || h.emulator.tokenStatus(v) !== 'valid');
      expect({ elapsedMinutes: (elapsed + STEP) / MINUTE, stale }).toEqual({
        elapsedMinutes: (elapsed + STEP) / MINUTE,
        stale: [],
      });
    }

    // A refresh happens with 900–1200 s (margin + per-account spread) left, one step late at most, so each
    // refresh consumes 6000–6180 s of a 7200 s lifetime: 3 in 6 hours, whatever the number of instances.
    const perAccount = new Map<string, number>();
    for (const entry of h.emulator.callLog.entries('api_authorizer_token')) {
      expect(entry.errcode).toBe(0);
      const appid = String(entry.params.authorizer_appid);
      perAccount.set(appid, (perAccount.get(appid) ?? 0) + 1);
    }
    expect(perAccount.size).toBe(50);
    expect([...new Set(perAccount.values())]).toEqual([3]);
    expect(h.emulator.callLog.count('api_component_token')).toBe(3);
    // The spread: accounts authorized together are not all refreshed at the same moment.
    const firstRound = h.emulator.callLog
      .entries('api_authorizer_token')
      .slice(0, 50)
      .map((e) => e.at);
    expect(new Set(firstRound.map((at) => Math.floor(at / STEP))).size).toBeGreaterThan(1);
  });

  it('skips unauthorized and reauthorization_required accounts', async () => {
    const accounts = generateAccounts(3);
    h = await startHarness({ emulator: { accounts } });
    const [A, B, C] = accounts.map((a) => a.appid) as [string, string, string];
    for (const appid of [A, B, C]) await h.authorize(appid);
    await h.container.authorizerStore.markUnauthorized(A);
    await h.container.authorizerStore.markReauthorizationRequired(B, 'test');
    h.emulator.callLog.clear();
    for (let i = 0; i < 12; i++) {
      h.clock.advance(15 * MINUTE);
      await h.container.refresher.runOnce();
    }
    const refreshed = new Set(h.emulator.callLog.entries('api_authorizer_token').map((e) => e.params.authorizer_appid));
    expect(refreshed).toEqual(new Set([C]));
  });

  it('backs off per account after a failure, then recovers', async () => {
    const accounts = generateAccounts(2);
    h = await startHarness({ emulator: { accounts } });
    const [A, B] = accounts.map((a) => a.appid) as [string, string];
    await h.authorize(A);
    await h.authorize(B);
    await h.container.tokenService.getComponentAccessToken();
    h.clock.advance(2 * HOUR - 10 * MINUTE); // everything is due
    await h.container.tokenService.getComponentAccessToken(); // keep the component token out of the picture
    h.emulator.callLog.clear();
    h.emulator.faults.set('api_authorizer_token', { errcode: 45009 });

    const first = await h.container.refresher.runOnce();
    expect(new Set(first.failed)).toEqual(new Set([A, B]));
    expect(h.emulator.callLog.count('api_authorizer_token')).toBe(2);
    const again = await h.container.refresher.runOnce(); // same moment: both are backing off
    expect(again.checked).toBe(0);
    expect(h.emulator.callLog.count('api_authorizer_token')).toBe(2);

    h.emulator.faults.clear();
    h.clock.advance(16_000); // past the first backoff (at most 15 s)
    const recovered = await h.container.refresher.runOnce();
    expect(recovered.failed).toEqual([]);
    expect(h.emulator.callLog.count('api_authorizer_token', { ok: true })).toBe(2);
    for (const appid of [A, B]) {
      const token = await h.container.redis.get(h.container.keys.authorizerAccessToken(appid));
      expect(h.emulator.tokenStatus(token!)).toBe('valid');
    }
  });

  describe('more due accounts than one batch', () => {
    const BATCH = 3;
    /** `n` authorized accounts, all due (10 min before their tokens expire), the component token kept fresh. */
    const allDue = async (n: number, refresher: Record<string, number> = {}) => {
      const accounts = generateAccounts(n);
      h = await startHarness({ emulator: { accounts }, container: { refresher: { batchSize: BATCH, ...refresher } } });
      for (const account of accounts) await h.authorize(account.appid);
      h.clock.advance(2 * HOUR - 10 * MINUTE);
      await h.container.tokenService.getComponentAccessToken();
      h.emulator.callLog.clear();
      return accounts.map((a) => a.appid);
    };
    const refreshedAppids = () =>
      h.emulator.callLog.entries('api_authorizer_token').map((e) => String(e.params.authorizer_appid));

    it('one round takes batch after batch until every due account is refreshed, each once', async () => {
      const appids = await allDue(10);
      const round = await h.container.refresher.runOnce();
      expect(round).toMatchObject({ checked: 10, failed: [] });
      expect(round.batches).toBeGreaterThanOrEqual(4);
      expect(refreshedAppids().sort()).toEqual([...appids].sort());
      for (const appid of appids) {
        const token = await h.container.redis.get(h.container.keys.authorizerAccessToken(appid));
        expect(h.emulator.tokenStatus(token!)).toBe('valid');
      }
      // Nothing is left due: the next round at the same moment has nothing to do.
      expect(await h.container.refresher.runOnce()).toMatchObject({ checked: 0, batches: 1 });
    });

    it('pages past accounts that stay due (failed ones): every account is tried once per round, and the round ends', async () => {
      const appids = await allDue(7);
      h.emulator.faults.set('api_authorizer_token', { errcode: 45009 });
      const round = await h.container.refresher.runOnce();
      expect(new Set(round.failed)).toEqual(new Set(appids));
      expect(round.checked).toBe(7);
      expect(refreshedAppids().sort()).toEqual([...appids].sort());

      h.emulator.faults.clear();
      h.clock.advance(16_000); // past the first backoff (at most 15 s)
      const recovered = await h.container.refresher.runOnce();
      expect(recovered).toMatchObject({ checked: 7, failed: [] });
      expect(h.emulator.callLog.count('api_authorizer_token', { ok: true })).toBe(7);
    });

    it('takes no further batch once its time budget is spent', async () => {
      await allDue(10, { roundBudgetMs: 0 });
      expect(await h.container.refresher.runOnce()).toMatchObject({ checked: BATCH, batches: 1 });
      expect(await h.container.refresher.runOnce()).toMatchObject({ checked: BATCH, batches: 1 });
      expect(h.emulator.callLog.count('api_authorizer_token')).toBe(2 * BATCH);
    });

    it('takes no further batch once stop() is called', async () => {
      await allDue(10);
      const round = h.container.refresher.runOnce();
      await h.container.refresher.stop();
      expect(await round).toMatchObject({ checked: BATCH, batches: 1 });
      expect(h.emulator.callLog.count('api_authorizer_token')).toBe(BATCH);
    });
  });

  it('on a cold start without a ticket, calls api_start_push_ticket once (rate-limited across instances) and logs it', async () => {
    const logs = captureLogs();
    h = await startHarness({ withTicket: false, container: { logger: logs.logger } });
    const other = await secondInstance(logs.logger);
    await Promise.all([h.container.refresher.runOnce(), other.refresher.runOnce()]);
    await h.container.refresher.runOnce();
    expect(h.emulator.callLog.count('api_start_push_ticket')).toBe(1);
    expect(h.emulator.callLog.count('api_start_push_ticket', { ok: true })).toBe(1);
    expect(await h.container.redis.pttl(h.container.keys.startPushTicketGuard)).toBeGreaterThan(50 * MINUTE);
    const line = logs.lines().find((l) => String(l.msg).includes('api_start_push_ticket'));
    expect(line?.level).toBe(40);
    expect(h.emulator.callLog.count('api_component_token')).toBe(0);
  });

  it('start() runs rounds in the background and stop() ends them', async () => {
    h = await startHarness({ env: { REFRESHER_ENABLED: 'true' }, container: { refresher: { intervalMs: 20 } } });
    h.container.start();
    await (async () => {
      const deadline = Date.now() + 5000;
      while (h.emulator.callLog.count('api_component_token') === 0 && Date.now() < deadline) await sleep(10);
    })();
    expect(h.emulator.callLog.count('api_component_token')).toBe(1);
    await h.container.refresher.stop();
    h.clock.advance(2 * HOUR); // due again, but nobody is running rounds any more
    await sleep(100);
    expect(h.emulator.callLog.count('api_component_token')).toBe(1);
  });
});

import { ManualClock } from '../../src/clock';
import { createKeys } from '../../src/store/keys';
import { LayoutMaintenance } from '../../src/store/layout-maintenance';
import { RedisAuthorizerStore } from '../../src/store/redis-authorizer-store';
import { SecretCipher } from '../../src/store/secret-cipher';
import { generateAccounts } from '../../src/sandbox/emulator';
import { startHarness } from '../support/emulator';
import { captureLogs } from '../support/log-capture';
import { newTestRedis, uniquePrefix } from '../support/redis';

const NOW = 1_790_000_000_000;

/**
 * The account write (slot {A}) and its index write (the shard's slot) are two steps. A process that dies
 * between them leaves the shard's index, schedule and counters behind the account: these cases make that
 * happen (the second step skipped, as by a kill) and prove the repairs of docs/redis-keys.md.
 */
describe('index drift and its repair (real Redis)', () => {
  const redis = newTestRedis();
  afterAll(() => redis.disconnect());

  it('reindex (the refresher) and the reconciliation (at start) put a stale index right; counters follow', async () => {
    const clock = new ManualClock({ now: () => NOW });
    const keys = createKeys(uniquePrefix('drift'), 'wxcomponent');
    const store = new RedisAuthorizerStore(redis, keys, clock, new SecretCipher([]));
    const authorize = (appid: string) =>
      store.saveAuthorization({
        appid,
        refreshToken: `r-${appid}`,
        accessToken: `t-${appid}`,
        expiresIn: 7200,
        funcInfo: [],
        authorizedAt: NOW,
      });
    const dieBeforeTheIndex = async (write: () => Promise<unknown>) => {
      const apply = store.index.apply.bind(store.index);
      store.index.apply = () => Promise.resolve();
      try {
        await write();
      } finally {
        store.index.apply = apply;
      }
    };

    await authorize('wxa');
    await dieBeforeTheIndex(() => store.markUnauthorized('wxa'));
    await dieBeforeTheIndex(() => authorize('wxb'));
    // Stale: wxa still counted and scheduled as authorized; wxb only prepared (in the index, due now).
    expect(await store.countByStatus()).toEqual({ authorized: 1, unauthorized: 0, reauthorization_required: 0 });
    expect(await store.dueForRefresh(Number.MAX_SAFE_INTEGER, 10)).toEqual([
      { appid: 'wxb', expiresAt: 0 },
      { appid: 'wxa', expiresAt: NOW + 7200_000 },
    ]);
    // Nothing is lost meanwhile: both are listed, and reads see the accounts' own state.
    expect((await store.list()).map((r) => [r.appid, r.status])).toEqual([
      ['wxa', 'unauthorized'],
      ['wxb', 'authorized'],
    ]);

    await store.reindex('wxa');
    expect(await store.countByStatus()).toEqual({ authorized: 0, unauthorized: 1, reauthorization_required: 0 });

    const logs = captureLogs('info');
    expect(await new LayoutMaintenance(redis, keys, store, new SecretCipher([]), logs.logger).reconcile()).toBe(2);
    expect(await store.countByStatus()).toEqual({ authorized: 1, unauthorized: 1, reauthorization_required: 0 });
    expect(await store.dueForRefresh(Number.MAX_SAFE_INTEGER, 10)).toEqual([
      { appid: 'wxb', expiresAt: NOW + 7200_000 },
    ]);
    expect(logs.lines().map((l) => l.msg)).toContain('authorizer index reconciled with the accounts');
  });

  it('an older index write arriving after a newer one changes nothing (revisions)', async () => {
    const clock = new ManualClock({ now: () => NOW });
    const keys = createKeys(uniquePrefix('drift'), 'wxcomponent');
    const store = new RedisAuthorizerStore(redis, keys, clock);
    await store.saveAuthorization({
      appid: 'wxa',
      refreshToken: 'r',
      accessToken: 't',
      expiresIn: 7200,
      funcInfo: [],
      authorizedAt: NOW,
    });
    await store.markUnauthorized('wxa'); // revision 2
    await store.index.apply('wxa', { revision: 1, status: 'authorized', due: NOW + 7200_000 }); // the first write's, late
    expect(await store.countByStatus()).toEqual({ authorized: 0, unauthorized: 1, reauthorization_required: 0 });
    expect(await store.dueForRefresh(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
  });

  it('the refresher repairs a schedule entry it finds stale (fresh token, or revoked account)', async () => {
    const accounts = generateAccounts(2);
    const [A, B] = accounts.map((a) => a.appid) as [string, string];
    const h = await startHarness({ emulator: { accounts } });
    try {
      await h.authorize(A);
      await h.authorize(B);
      const schedule = (appid: string) => h.container.redis.zscore(h.container.keys.scheduleOf(appid), appid);
      const expiry = Number(await schedule(A));
      // As after a kill between the steps: A looks due now; B, revoked in its record, still scheduled (and due).
      await h.container.redis.zadd(h.container.keys.scheduleOf(A), 0, A);
      await h.container.redis.hset(h.container.keys.authorizer(B), 'status', 'unauthorized');
      await h.container.redis.zadd(h.container.keys.scheduleOf(B), 0, B);
      h.emulator.callLog.clear();
      const round = await h.container.refresher.runOnce();
      expect(round.failed).toEqual([]);
      expect(h.emulator.callLog.count('api_authorizer_token')).toBe(0); // A's token was fresh: no refresh
      expect(Number(await schedule(A))).toBe(expiry);
      expect(await schedule(B)).toBeNull();
      expect(await h.container.authorizerStore.countByStatus()).toMatchObject({ authorized: 1, unauthorized: 1 });
    } finally {
      await h.close();
    }
  });
});

import { generateAccounts } from '../../src/sandbox/emulator';
import { TokenService, type RefreshObserver } from '../../src/services/token-service';
import type { AuthorizerStore } from '../../src/store/authorizer-store';
import { RedisLocks } from '../../src/store/lock';
import type { ComponentTokenStore } from '../../src/store/token-store';
import { captureLogs } from '../support/log-capture';
import { startHarness, type Harness } from '../support/emulator';
import { newTestRedis } from '../support/redis';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Counts the calls of some methods of a real store (every call still goes to Redis). */
function counting<T extends object>(
  store: T,
  methods: (keyof T)[],
): { store: T; calls: Map<keyof T, number>; settled: Map<keyof T, number> } {
  const calls = new Map<keyof T, number>();
  const settled = new Map<keyof T, number>();
  const proxy = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function' || !methods.includes(name as keyof T))
        return typeof value === 'function' ? value.bind(target) : value;
      return (...args: unknown[]) => {
        const key = name as keyof T;
        calls.set(key, (calls.get(key) ?? 0) + 1);
        return (value.apply(target, args) as Promise<unknown>).finally(() =>
          settled.set(key, (settled.get(key) ?? 0) + 1),
        );
      };
    },
  });
  return { store: proxy, calls, settled };
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * The coordination inside one process and between processes, on a token service built over the real
 * Redis stores (wrapped only to count their calls): concurrent readers share one cache read, and a
 * process waiting for another one's refresh lock takes the fresh token as soon as it is written.
 */
describe('token service: shared reads and lock waiters', () => {
  let h: Harness;
  let A: string;
  let authorizers: ReturnType<typeof counting<AuthorizerStore>>;
  let components: ReturnType<typeof counting<ComponentTokenStore>>;
  let lockWaits: [string, string][];
  /** A second process's locks: another Redis connection. */
  const otherRedis = newTestRedis();
  const otherLocks = new RedisLocks(otherRedis);
  afterAll(() => otherRedis.disconnect());

  const service = (lock = { lockTtlMs: 10_000, waitMs: 60_000 }) => {
    const c = h.container;
    const observer: RefreshObserver = { onLockWait: (kind, outcome) => lockWaits.push([kind, outcome]) };
    return new TokenService({
      api: c.componentApi,
      ticketStore: c.ticketStore,
      componentTokenStore: components.store,
      authorizerStore: authorizers.store,
      locks: c.locks,
      keys: c.keys,
      clock: c.clock,
      logger: captureLogs('silent').logger,
      marginSeconds: c.config.tokenRefreshMarginSeconds,
      lock,
      observer,
    });
  };

  beforeEach(async () => {
    const accounts = generateAccounts(1);
    A = accounts[0]!.appid;
    h = await startHarness({ emulator: { accounts } });
    await h.authorize(A);
    authorizers = counting(h.container.authorizerStore, ['getTokenState', 'get']);
    components = counting(h.container.componentTokenStore, ['get']);
    lockWaits = [];
  });
  afterEach(async () => h.close());

  it('50 concurrent reads of a fresh authorizer token make one Redis read; later reads read again', async () => {
    const tokens = service();
    const results = await Promise.all(Array.from({ length: 50 }, () => tokens.getAuthorizerAccessToken(A)));
    expect(new Set(results.map((r) => r.token)).size).toBe(1);
    expect(authorizers.calls.get('getTokenState')).toBe(1);
    await tokens.getAuthorizerAccessToken(A);
    await tokens.getAuthorizerAccessToken(A);
    expect(authorizers.calls.get('getTokenState')).toBe(3);
    expect(h.emulator.callLog.count('api_authorizer_token')).toBe(0);
  });

  it('50 concurrent reads of a fresh component token make one Redis read', async () => {
    const tokens = service();
    await h.container.tokenService.getComponentAccessToken();
    const results = await Promise.all(Array.from({ length: 50 }, () => tokens.getComponentAccessToken()));
    expect(new Set(results.map((r) => r.token)).size).toBe(1);
    expect(components.calls.get('get')).toBe(1);
  });

  it('a shared read that fails fails every caller sharing it, and the next read starts afresh', async () => {
    const tokens = service();
    const unknown = 'wx0123456789abcdef';
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => tokens.getAuthorizerAccessToken(unknown)),
    );
    expect(results.map((r) => r.status === 'rejected' && (r.reason as { code: string }).code)).toEqual(
      Array(10).fill('authorizer_not_found'),
    );
    expect(authorizers.calls.get('getTokenState')).toBe(1);
    await expect(tokens.getAuthorizerAccessToken(unknown)).rejects.toMatchObject({ code: 'authorizer_not_found' });
    expect(authorizers.calls.get('getTokenState')).toBe(2);
  });

  it('while another process holds the lock, a waiter takes the token that process writes, without the lock', async () => {
    const tokens = service();
    h.clock.advance(2 * HOUR + MINUTE); // expired: callers wait for a refresh
    const lease = await otherLocks.tryAcquire(h.container.keys.authorizerTokenLock(A), 30_000);
    expect(lease).toBeDefined();
    const reading = tokens.getAuthorizerAccessToken(A);
    // The waiter has read the old token and found the lock held…
    await until('the first read', () => (authorizers.settled.get('getTokenState') ?? 0) >= 1);
    // …when the lock's holder stores the token it fetched (what its refresh does).
    const fresh = { token: `fresh-${Date.now()}`, expiresAt: h.clock.now() + 2 * HOUR };
    expect(await h.container.authorizerStore.saveAccessToken(A, fresh.token, fresh.expiresAt)).toBe(true);

    expect((await reading).token).toBe(fresh.token);
    // The holder still held its lock when the waiter returned: it never had to pass through it.
    expect(await lease!.release()).toBe(true);
    expect(lockWaits).toEqual([['authorizer', 'refreshed_elsewhere']]);
    expect(authorizers.calls.get('get') ?? 0).toBe(0); // the full record is read only to refresh
    expect(h.emulator.callLog.count('api_authorizer_token')).toBe(0);
  });

  it('the same for the component token', async () => {
    const tokens = service();
    await h.container.tokenService.getComponentAccessToken();
    h.clock.advance(2 * HOUR + MINUTE);
    const lease = await otherLocks.tryAcquire(h.container.keys.componentTokenLock, 30_000);
    const reading = tokens.getComponentAccessToken();
    await until('the first read', () => (components.settled.get('get') ?? 0) >= 1);
    const fresh = { token: `fresh-${Date.now()}`, expiresAt: h.clock.now() + 2 * HOUR };
    await h.container.componentTokenStore.save(fresh);

    expect((await reading).token).toBe(fresh.token);
    expect(await lease!.release()).toBe(true);
    expect(lockWaits).toEqual([['component', 'refreshed_elsewhere']]);
  });

  it('a waiter whose account is revoked meanwhile stops waiting with the 409-type error', async () => {
    const tokens = service();
    h.clock.advance(2 * HOUR + MINUTE);
    const lease = await otherLocks.tryAcquire(h.container.keys.authorizerTokenLock(A), 30_000);
    const reading = tokens.getAuthorizerAccessToken(A);
    await until('the first read', () => (authorizers.settled.get('getTokenState') ?? 0) >= 1);
    await h.container.authorizerStore.markUnauthorized(A);
    await expect(reading).rejects.toMatchObject({ code: 'authorizer_not_authorized', status: 'unauthorized' });
    await lease!.release();
  });

  it('past the wait bound (after a last look) the refresher gets a lock timeout, not a stale token', async () => {
    const tokens = service({ lockTtlMs: 10_000, waitMs: 0 });
    h.clock.advance(2 * HOUR + MINUTE);
    const lease = await otherLocks.tryAcquire(h.container.keys.authorizerTokenLock(A), 30_000);
    await expect(tokens.ensureAuthorizerAccessToken(A, 15 * MINUTE)).rejects.toMatchObject({ code: 'lock_timeout' });
    expect(lockWaits).toEqual([['authorizer', 'timeout']]);
    expect(authorizers.calls.get('getTokenState')).toBe(3); // the cached read, one look while polling, the re-read at the bound
    await lease!.release();
  });
});

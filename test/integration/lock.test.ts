import { type Redis } from 'ioredis';
import { LockTimeoutError } from '../../src/errors';
import { acquireByPolling, RedisLocks, type Locks } from '../../src/store/lock';
import { eventually } from '../support/eventually';
import { newTestRedis, uniquePrefix } from '../support/redis';

/**
 * RedisLocks across two connections (two processes, as far as Redis can tell). No assertion here is about
 * elapsed time: an expiry is shown by a marker key given the same TTL at the same moment (when the marker is
 * gone, that much real time has passed for Redis), and a wait by what the waiter tried.
 */
describe('RedisLocks (SET NX PX, compare-and-delete, kept alive by a watchdog)', () => {
  let a: Redis;
  let b: Redis;
  let key: string;
  let marker: string;
  beforeAll(() => {
    a = newTestRedis();
    b = newTestRedis();
  });
  afterAll(() => {
    a.disconnect();
    b.disconnect();
  });
  beforeEach(() => {
    const prefix = uniquePrefix('lock');
    key = `${prefix}:lock:x`;
    marker = `${prefix}:ttl-marker`;
  });

  /** A key that lives `ttlMs` from now: gone = `ttlMs` of Redis time has passed. */
  const startTtlMarker = (ttlMs: number) => a.set(marker, '1', 'PX', ttlMs);
  const markerGone = async () => (await a.exists(marker)) === 0;

  /** Counts the tries of `acquire`. */
  const counting = (locks: Locks) => {
    let tries = 0;
    return {
      tries: () => tries,
      tryAcquire: (k: string, ttlMs: number) => {
        tries++;
        return locks.tryAcquire(k, ttlMs);
      },
    };
  };

  it('lets exactly one of many contenders in at a time', async () => {
    const locks = [new RedisLocks(a), new RedisLocks(b)];
    let inside = 0;
    let maxInside = 0;
    let entered = 0;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        locks[i % 2]!.withLock(key, { ttlMs: 5000, waitMs: 30_000 }, async () => {
          inside++;
          entered++;
          maxInside = Math.max(maxInside, inside);
          await a.ping(); // a Redis round trip inside: the others get their turns to try meanwhile
          inside--;
        }),
      ),
    );
    expect(entered).toBe(20);
    expect(maxInside).toBe(1);
    expect(await a.exists(key)).toBe(0);
  });

  it('refuses a second holder while the lock is held; a waiter polls until its bound, then gives up', async () => {
    const held = await new RedisLocks(a).tryAcquire(key, 5000);
    expect(held).toBeDefined();
    expect(await new RedisLocks(b).tryAcquire(key, 5000)).toBeUndefined();
    const waiter = counting(new RedisLocks(b));
    expect(await acquireByPolling(waiter, key, { ttlMs: 5000, waitMs: 150 })).toBeUndefined();
    expect(waiter.tries()).toBeGreaterThan(1); // it did wait and try again, not give up at the first refusal
    expect(await a.get(key)).toBe(held!.fence.owner); // and took nothing from the holder
    await expect(
      new RedisLocks(b).withLock(key, { ttlMs: 5000, waitMs: 50 }, () => Promise.resolve('ran')),
    ).rejects.toBeInstanceOf(LockTimeoutError);
    expect(await held!.release()).toBe(true);
  });

  it('hands the lock to a waiter once its holder releases it', async () => {
    const held = await new RedisLocks(a).tryAcquire(key, 5000);
    const waiter = counting(new RedisLocks(b));
    const waiting = acquireByPolling(waiter, key, { ttlMs: 5000, waitMs: 30_000 });
    await eventually(() => waiter.tries() >= 2, { what: 'the waiter to have been refused' });
    expect(await held!.release()).toBe(true);
    const lease = await waiting;
    expect(await a.get(key)).toBe(lease!.fence.owner);
    expect(await lease!.release()).toBe(true);
  });

  it('expires by its TTL when the holder neither renews nor releases (a crashed holder)', async () => {
    const dead = await new RedisLocks(a).tryAcquire(key, 300);
    await startTtlMarker(300);
    const pttl = await a.pttl(key);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(300);
    const waiter = counting(new RedisLocks(b));
    const lease = await acquireByPolling(waiter, key, { ttlMs: 5000, waitMs: 30_000 });
    expect(waiter.tries()).toBeGreaterThan(1); // refused while the dead holder's lock lived
    expect(await a.get(key)).toBe(lease!.fence.owner);
    expect(lease!.fence.owner).not.toBe(dead!.fence.owner);
    await lease!.release();
  });

  it('a kept-alive lock outlives its TTL while its holder works, and is gone at once when released', async () => {
    const lease = await new RedisLocks(a).tryAcquire(key, 300, { keepAlive: true });
    await startTtlMarker(300);
    // Three TTLs of Redis time pass (three markers expire in turn): the watchdog renewed the lock meanwhile.
    for (let ttl = 0; ttl < 3; ttl++) {
      await eventually(markerGone, { what: 'a TTL to pass' });
      expect(await a.get(key)).toBe(lease!.fence.owner);
      expect(lease!.held()).toBe(true);
      await startTtlMarker(300);
    }
    expect(await new RedisLocks(b).tryAcquire(key, 5000)).toBeUndefined();
    expect(await lease!.release()).toBe(true);
    expect(await a.exists(key)).toBe(0);
    // Released: nothing renews it any more, so another holder's lock (same key) keeps the TTL it was given.
    const next = await new RedisLocks(b).tryAcquire(key, 300);
    await startTtlMarker(300);
    await eventually(markerGone, { what: 'a TTL to pass' });
    await eventually(async () => (await a.exists(key)) === 0, { what: "the next holder's lock to expire by its TTL" });
    expect(await next!.release()).toBe(false);
  });

  it('a holder whose lock was taken over sees it lost at its next renewal, and its release leaves the successor alone', async () => {
    const stalled = await new RedisLocks(a).tryAcquire(key, 300, { keepAlive: true });
    // What a successor does once the stalled holder's lock has expired: the key now holds another owner.
    await b.set(key, 'successor-owner', 'PX', 30_000);
    await eventually(() => stalled!.held() === false, { what: 'the watchdog to find the lock lost' });
    expect(await stalled!.release()).toBe(false);
    expect(await a.get(key)).toBe('successor-owner');
    expect(await a.pttl(key)).toBeGreaterThan(300); // never cut down by the lost holder's renewals
  });

  it('never deletes a lock it does not own', async () => {
    const first = await new RedisLocks(a).tryAcquire(key, 100);
    await eventually(async () => (await a.exists(key)) === 0, { what: "first's lock to expire" });
    const second = await new RedisLocks(b).tryAcquire(key, 5000); // …and now it belongs to someone else
    expect(second).toBeDefined();
    expect(await first!.release()).toBe(false);
    expect(await a.get(key)).toBe(second!.fence.owner);
    expect(await new RedisLocks(a).tryAcquire(key, 5000)).toBeUndefined();
    expect(await second!.release()).toBe(true);
    expect(await a.exists(key)).toBe(0);
  });

  it('releases the lock when the guarded work throws', async () => {
    const locks = new RedisLocks(a);
    await expect(
      locks.withLock(key, { ttlMs: 5000, waitMs: 0 }, async () => Promise.reject(new Error('boom'))),
    ).rejects.toThrow('boom');
    expect(await a.exists(key)).toBe(0);
  });

  it('runs its scripts in an auto-pipelined batch opened by other commands (scripts are defined before first use)', async () => {
    const client = newTestRedis({ enableAutoPipelining: true });
    try {
      const locks = new RedisLocks(client);
      const [, lease] = await Promise.all([client.get(marker), locks.tryAcquire(key, 5000)]);
      // The release script goes out in the same batch as the GET before it.
      const [, released] = await Promise.all([client.get(marker), lease!.release()]);
      expect(released).toBe(true);
    } finally {
      client.disconnect();
    }
  });

  it('runs its scripts through defineCommand (EVALSHA), and again after Redis forgot them (SCRIPT FLUSH)', async () => {
    const client = newTestRedis();
    try {
      const locks = new RedisLocks(client);
      expect(typeof (client as unknown as Record<string, unknown>).wxLockRelease).toBe('function');
      expect(await (await locks.tryAcquire(key, 5000))!.release()).toBe(true);
      const lease = await locks.tryAcquire(key, 5000);
      await client.script('FLUSH');
      expect(await lease!.release()).toBe(true);
      expect(await client.exists(key)).toBe(0);
    } finally {
      client.disconnect();
    }
  });
});

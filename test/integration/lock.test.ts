import type Redis from 'ioredis';
import { LockTimeoutError } from '../../src/errors';
import { RedisLocks } from '../../src/store/lock';
import { newTestRedis, uniquePrefix } from '../support/redis';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('RedisLocks (SET NX PX + compare-and-delete)', () => {
  // Two connections stand for two processes: exclusion must hold across clients, not just in one.
  let a: Redis;
  let b: Redis;
  let key: string;
  beforeAll(() => {
    a = newTestRedis();
    b = newTestRedis();
  });
  afterAll(async () => {
    a.disconnect();
    b.disconnect();
  });
  beforeEach(() => {
    key = `${uniquePrefix('lock')}:lock:x`;
  });

  it('lets exactly one of many contenders in at a time', async () => {
    const locks = [new RedisLocks(a), new RedisLocks(b)];
    let inside = 0;
    let maxInside = 0;
    let entered = 0;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        locks[i % 2]!.withLock(key, { ttlMs: 5000, waitMs: 10_000 }, async () => {
          inside++;
          entered++;
          maxInside = Math.max(maxInside, inside);
          await sleep(5);
          inside--;
        }),
      ),
    );
    expect(entered).toBe(20);
    expect(maxInside).toBe(1);
    expect(await a.exists(key)).toBe(0);
  });

  it('refuses a second holder while the lock is held, and gives up after the wait bound', async () => {
    const held = await new RedisLocks(a).tryAcquire(key, 5000);
    expect(held).toBeDefined();
    expect(await new RedisLocks(b).tryAcquire(key, 5000)).toBeUndefined();
    const started = Date.now();
    expect(await new RedisLocks(b).acquire(key, { ttlMs: 5000, waitMs: 150 })).toBeUndefined();
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(140);
    expect(waited).toBeLessThan(1000);
    await expect(new RedisLocks(b).withLock(key, { ttlMs: 5000, waitMs: 50 }, async () => 'ran')).rejects.toBeInstanceOf(
      LockTimeoutError,
    );
    expect(await held!.release()).toBe(true);
  });

  it('expires by its TTL when the holder never releases (a crashed holder)', async () => {
    await new RedisLocks(a).tryAcquire(key, 150);
    const pttl = await a.pttl(key);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(150);
    const started = Date.now();
    const lease = await new RedisLocks(b).acquire(key, { ttlMs: 5000, waitMs: 3000 });
    expect(lease).toBeDefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    await lease!.release();
  });

  it('never deletes a lock it does not own', async () => {
    const first = await new RedisLocks(a).tryAcquire(key, 100);
    await sleep(150); // first's lock expired…
    const second = await new RedisLocks(b).tryAcquire(key, 5000); // …and now belongs to someone else
    expect(second).toBeDefined();
    const ownerBefore = await a.get(key);
    expect(await first!.release()).toBe(false);
    expect(await a.get(key)).toBe(ownerBefore);
    expect(await new RedisLocks(a).tryAcquire(key, 5000)).toBeUndefined();
    expect(await second!.release()).toBe(true);
    expect(await a.exists(key)).toBe(0);
  });

  it('releases the lock when the guarded work throws', async () => {
    const locks = new RedisLocks(a);
    await expect(locks.withLock(key, { ttlMs: 5000, waitMs: 0 }, async () => Promise.reject(new Error('boom')))).rejects.toThrow(
      'boom',
    );
    expect(await a.exists(key)).toBe(0);
  });
});

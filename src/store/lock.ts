import { randomBytes } from 'node:crypto';
import { LockTimeoutError } from '../errors';
import type { Redis } from './redis';
import { storageOp } from './storage-errors';

/**
 * A mutual-exclusion lock shared by every process of the service: `SET key owner NX PX ttl`
 * with a random owner value. Release deletes the key only if it still holds our owner value
 * (Lua compare-and-delete), so a holder whose lock expired can never delete its successor's.
 * A crashed holder's lock disappears by itself after `ttlMs`: choose a TTL longer than the
 * work it protects, or two holders may overlap.
 */
export interface LockLease {
  readonly key: string;
  /** false when the lock had already expired (and may belong to someone else now). */
  release(): Promise<boolean>;
}

export interface LockOptions {
  /** How long the lock lives if its holder never releases it. */
  readonly ttlMs: number;
  /** How long to wait for a held lock before giving up; 0 = one try. */
  readonly waitMs: number;
}

export interface Locks {
  tryAcquire(key: string, ttlMs: number): Promise<LockLease | undefined>;
  /** Waits (bounded, jittered polling) for the lock; undefined after `waitMs`. */
  acquire(key: string, options: LockOptions): Promise<LockLease | undefined>;
  /** Runs `fn` holding the lock and always releases it; LockTimeoutError after `waitMs`. */
  withLock<T>(key: string, options: LockOptions, fn: () => Promise<T>): Promise<T>;
}

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 100;

export class RedisLocks implements Locks {
  constructor(private readonly redis: Redis) {}

  async tryAcquire(key: string, ttlMs: number): Promise<LockLease | undefined> {
    const owner = randomBytes(16).toString('hex');
    const ok = await storageOp(() => this.redis.set(key, owner, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'));
    if (ok !== 'OK') return undefined;
    return {
      key,
      release: async () => (await storageOp(() => this.redis.eval(RELEASE, 1, key, owner))) === 1,
    };
  }

  async acquire(key: string, { ttlMs, waitMs }: LockOptions): Promise<LockLease | undefined> {
    const deadline = Date.now() + waitMs;
    for (let attempt = 0; ; attempt++) {
      const lease = await this.tryAcquire(key, ttlMs);
      if (lease) return lease;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      // Growing, jittered polls: waiters of different processes spread out instead of hitting Redis in step.
      const ceiling = Math.min(MAX_POLL_MS, FIRST_POLL_MS * 1.5 ** attempt);
      await sleep(Math.min(left, ceiling / 2 + Math.random() * (ceiling / 2)));
    }
  }

  async withLock<T>(key: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
    const lease = await this.acquire(key, options);
    if (!lease) throw new LockTimeoutError(key);
    try {
      return await fn();
    } finally {
      // A failed release only leaves the lock to expire by its TTL; the work itself succeeded.
      await lease.release().catch(() => false);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

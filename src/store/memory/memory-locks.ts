import type { Clock } from '../../clock';
import { LockTimeoutError } from '../../errors';
import type { LockLease, LockOptions, Locks } from '../lock';

const MAX_POLL_MS = 100;

/**
 * Locks in process memory, for the sandbox without Redis (see ./index.ts). They exclude the
 * holders of this process only — which is all there is without Redis. As with RedisLocks, each
 * lease has its own owner, so a holder whose lock expired never releases its successor's.
 *
 * A lock's lifetime is judged by the injected clock (RedisLocks: real time), so moving a
 * ManualClock forward past `ttlMs` frees the lock as a crashed holder's would be. The wait bound
 * of `acquire` is the caller's patience and stays real time, as in RedisLocks. A waiter wakes on
 * every release, and otherwise polls (for an expiry) with unref'd timers.
 */
export class MemoryLocks implements Locks {
  private readonly held = new Map<string, { readonly owner: object; readonly expiresAt: number }>();
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(private readonly clock: Clock) {}

  async tryAcquire(key: string, ttlMs: number): Promise<LockLease | undefined> {
    const now = this.clock.now();
    const current = this.held.get(key);
    if (current && current.expiresAt > now) return undefined;
    const owner = {};
    this.held.set(key, { owner, expiresAt: now + Math.max(1, Math.ceil(ttlMs)) });
    return { key, release: async () => this.release(key, owner) };
  }

  async acquire(key: string, { ttlMs, waitMs }: LockOptions): Promise<LockLease | undefined> {
    const deadline = Date.now() + waitMs;
    for (let attempt = 0; ; attempt++) {
      const lease = await this.tryAcquire(key, ttlMs);
      if (lease) return lease;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await this.waitForRelease(key, Math.min(left, MAX_POLL_MS, 10 * 1.5 ** attempt));
    }
  }

  async withLock<T>(key: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
    const lease = await this.acquire(key, options);
    if (!lease) throw new LockTimeoutError(key);
    try {
      return await fn();
    } finally {
      await lease.release().catch(() => false);
    }
  }

  private release(key: string, owner: object): boolean {
    const current = this.held.get(key);
    if (!current || current.owner !== owner) return false;
    this.held.delete(key);
    this.wake(key);
    // Expired already: as in Redis, the lock was no longer ours to release.
    return current.expiresAt > this.clock.now();
  }

  private waitForRelease(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(key);
      if (!set) this.waiters.set(key, (set = new Set()));
      const waiters = set;
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0 && this.waiters.get(key) === waiters) this.waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      waiters.add(done);
    });
  }

  private wake(key: string): void {
    for (const wake of [...(this.waiters.get(key) ?? [])]) wake();
  }
}

import type { Clock } from '../../clock';
import {
  acquireByPolling,
  leaseOf,
  newOwner,
  runWithLock,
  type Fence,
  type LockLease,
  type LockOptions,
  type Locks,
  type TryAcquireOptions,
} from '../lock';

/**
 * Locks in process memory, for the sandbox without Redis (see ./index.ts). They exclude the
 * holders of this process only — which is all there is without Redis. As with RedisLocks, each
 * lease has its own owner, so a holder whose lock expired never releases its successor's, and
 * `holds` is the fence check of the memory stores' fenced writes.
 *
 * A lock's lifetime is judged by the injected clock (RedisLocks: real time), so moving a
 * ManualClock forward past `ttlMs` frees the lock as a crashed holder's would be. The wait bound
 * of `acquire` is the caller's patience and stays real time, as in RedisLocks. A waiter wakes on
 * every release, and otherwise polls (for an expiry) with unref'd timers.
 */
export class MemoryLocks implements Locks {
  private readonly held = new Map<string, { readonly owner: string; expiresAt: number }>();
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(private readonly clock: Clock) {}

  async tryAcquire(key: string, ttlMs: number, options: TryAcquireOptions = {}): Promise<LockLease | undefined> {
    if (options.takeWith) throw new TypeError('memory locks cannot be taken by a Redis script (takeWith)');
    const now = this.clock.now();
    const current = this.held.get(key);
    if (current && current.expiresAt > now) return undefined;
    const owner = newOwner();
    const pttl = Math.max(1, Math.ceil(ttlMs));
    this.held.set(key, { owner, expiresAt: now + pttl });
    const renew = async () => {
      const entry = this.current(key);
      if (entry?.owner !== owner) return false;
      entry.expiresAt = this.clock.now() + pttl;
      return true;
    };
    return leaseOf(key, owner, pttl, options.keepAlive ? renew : undefined, async () => this.release(key, owner));
  }

  acquire(key: string, options: LockOptions): Promise<LockLease | undefined> {
    return acquireByPolling(this, key, options, (ms) => this.waitForRelease(key, ms));
  }

  withLock<T>(key: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
    return runWithLock(this, key, options, fn);
  }

  /** true while `fence`'s lock is held, unexpired, by its owner. */
  holds(fence: Fence): boolean {
    return this.current(fence.lockKey)?.owner === fence.owner;
  }

  private current(key: string): { readonly owner: string; expiresAt: number } | undefined {
    const entry = this.held.get(key);
    return entry && entry.expiresAt > this.clock.now() ? entry : undefined;
  }

  private release(key: string, owner: string): boolean {
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

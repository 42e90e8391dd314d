import { randomBytes } from 'node:crypto';
import { LockTimeoutError } from '../errors';
import { pollUntil } from '../poll-until';
import { defineScripts, runScript, type LuaScript } from './lua-script';
import type { Redis } from './redis';
import { storageOp } from './storage-errors';

/**
 * A mutual-exclusion lock shared by every process of the service: `SET key owner NX PX ttl` with a
 * random owner value; release deletes the key only if it still holds our owner (compare-and-delete), so
 * a holder whose lock expired never deletes its successor's.
 *
 * A lock taken with `keepAlive` is renewed by its holder every ttl/3 (compare-and-pexpire, as Redisson's
 * watchdog does) for as long as it works, so the TTL can be short: a holder that dies frees it within
 * one TTL. A holder that stalls past its TTL (a GC pause, a stopped process) loses the lock to a
 * successor; its `fence` then makes its fenced writes fail, so it never overwrites the successor's work.
 */
export const LOCK_DEFAULTS = Object.freeze({
  /** TTL of a kept-alive lock: the longest a dead holder blocks its successors. */
  keepAliveTtlMs: 5000,
  /** Pauses between two tries of `acquire`: growing, jittered. */
  poll: Object.freeze({ baseMs: 10, maxMs: 100, factor: 1.5 }),
});

/** What a fenced write checks, in the same script as the write: the lock key still holds this owner value. */
export interface Fence {
  readonly lockKey: string;
  readonly owner: string;
}

export interface LockLease {
  readonly key: string;
  readonly fence: Fence;
  /** false once a renewal found the lock expired or another's (a kept-alive lease only). */
  held(): boolean;
  /** Stops the renewals; false when the lock had already expired (and may belong to someone else now). */
  release(): Promise<boolean>;
}

export interface TryAcquireOptions {
  /** Renew the lock every ttl/3 until release (see LOCK_DEFAULTS.keepAliveTtlMs). */
  readonly keepAlive?: boolean;
  /**
   * Takes the lock in a script of the caller's instead of the bare SET: one in the lock's slot that runs
   * `takeLockLua` (the same `SET key owner NX PX ttl`) and, in the same atomic step, reads what the caller needs
   * under the lock, so the lock and that read cost one round trip. Resolves true when it took the lock.
   * RedisLocks only: memory locks are not in Redis (MemoryLocks refuses it).
   */
  readonly takeWith?: (owner: string, ttlMs: number) => Promise<boolean>;
}

/**
 * The Lua of a lock taken inside another script (TryAcquireOptions.takeWith): the lock is KEYS[key], the owner
 * ARGV[owner], the TTL in ms ARGV[ttl]. Returns from the script with `nil` when the lock is held.
 */
export function takeLockLua(key: number, owner: number, ttl: number): string {
  return `if not redis.call('SET', KEYS[${key}], ARGV[${owner}], 'NX', 'PX', ARGV[${ttl}]) then return false end`;
}

export interface LockOptions {
  /** How long the lock lives if its holder never releases it. */
  readonly ttlMs: number;
  /** How long to wait for a held lock before giving up; 0 = one try. */
  readonly waitMs: number;
}

export interface Locks {
  tryAcquire(key: string, ttlMs: number, options?: TryAcquireOptions): Promise<LockLease | undefined>;
  /** Waits (bounded, jittered polling) for the lock; undefined after `waitMs`. */
  acquire(key: string, options: LockOptions): Promise<LockLease | undefined>;
  /** Runs `fn` holding the lock and always releases it; LockTimeoutError after `waitMs`. */
  withLock<T>(key: string, options: LockOptions, fn: () => Promise<T>): Promise<T>;
}

/**
 * KEYS[1] = the lock; ARGV[1] = our owner value. Deletes the lock if it is ours; returns 1 if deleted.
 * Also the webhook deliverer's lease (store/webhook-queue.ts): the same owned key.
 */
export const RELEASE_IF_OWNER: LuaScript = {
  name: 'wxLockRelease',
  numberOfKeys: 1,
  lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`,
};

/** KEYS[1] = the lock; ARGV[1] = our owner value, ARGV[2] = TTL ms. Extends the lock if it is ours; 1 if extended. */
export const RENEW_IF_OWNER: LuaScript = {
  name: 'wxLockRenew',
  numberOfKeys: 1,
  lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`,
};

export class RedisLocks implements Locks {
  constructor(private readonly redis: Redis) {
    defineScripts(redis, [RELEASE_IF_OWNER, RENEW_IF_OWNER]);
  }

  async tryAcquire(key: string, ttlMs: number, options: TryAcquireOptions = {}): Promise<LockLease | undefined> {
    const owner = newOwner();
    const pttl = Math.max(1, Math.ceil(ttlMs));
    const taken = options.takeWith
      ? await options.takeWith(owner, pttl)
      : (await storageOp(() => this.redis.set(key, owner, 'PX', pttl, 'NX'))) === 'OK';
    if (!taken) return undefined;
    const renew = async () =>
      (await storageOp(() => runScript(this.redis, RENEW_IF_OWNER, [key], [owner, pttl]))) === 1;
    const release = async () => (await storageOp(() => runScript(this.redis, RELEASE_IF_OWNER, [key], [owner]))) === 1;
    return leaseOf(key, owner, pttl, options.keepAlive ? renew : undefined, release);
  }

  acquire(key: string, options: LockOptions): Promise<LockLease | undefined> {
    return acquireByPolling(this, key, options);
  }

  withLock<T>(key: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
    return runWithLock(this, key, options, fn);
  }
}

/** A random owner value: what tells one holder's lock from its successor's. */
export function newOwner(): string {
  return randomBytes(16).toString('hex');
}

/**
 * A lease on a taken lock; with `renew`, a watchdog renews it every ttl/3 until release or until a renewal
 * finds it lost. A renewal that fails to reach Redis is tried again at the next tick: the lock may expire
 * meanwhile, and the fence is what keeps the late holder from writing. The timer never keeps a process alive.
 */
export function leaseOf(
  key: string,
  owner: string,
  ttlMs: number,
  renew: (() => Promise<boolean>) | undefined,
  release: () => Promise<boolean>,
): LockLease {
  let lost = false;
  let released = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    timer = setTimeout(
      () => {
        renew!().then(
          (ok) => {
            if (!ok) lost = true;
            else if (!released) tick();
          },
          () => {
            if (!released) tick();
          },
        );
      },
      Math.max(1, Math.floor(ttlMs / 3)),
    );
    timer.unref();
  };
  if (renew) tick();
  return {
    key,
    fence: { lockKey: key, owner },
    held: () => !lost,
    release: async () => {
      released = true;
      clearTimeout(timer);
      return release();
    },
  };
}

/** `acquire` of every Locks implementation: tries again with growing, jittered pauses until `waitMs`. */
export function acquireByPolling(
  locks: Pick<Locks, 'tryAcquire'>,
  key: string,
  { ttlMs, waitMs }: LockOptions,
  pause?: (ms: number) => Promise<void>,
): Promise<LockLease | undefined> {
  return pollUntil(() => locks.tryAcquire(key, ttlMs), { timeoutMs: waitMs, backoff: LOCK_DEFAULTS.poll, pause });
}

/** `withLock` of every Locks implementation. */
export async function runWithLock<T>(
  locks: Pick<Locks, 'acquire'>,
  key: string,
  options: LockOptions,
  fn: () => Promise<T>,
): Promise<T> {
  const lease = await locks.acquire(key, options);
  if (!lease) throw new LockTimeoutError(key);
  try {
    return await fn();
  } finally {
    // A failed release only leaves the lock to expire by its TTL; the work itself is done.
    await lease.release().catch(() => false);
  }
}

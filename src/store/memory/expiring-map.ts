import type { Clock } from '../../clock';

/** Writes between two sweeps of expired entries nobody read again (see `set`). */
const SWEEP_EVERY_WRITES = 1000;

/**
 * A map whose entries expire like Redis keys with a TTL, except that expiry is judged by the
 * injected Clock (so a ManualClock advanced by the sandbox or a test ages them too). Expired
 * entries are removed lazily: when read, and in an occasional sweep on write so that keys never
 * read again (one per push, say) do not accumulate. No timers: nothing keeps the process alive.
 * An entry is gone at `expiresAt` exactly, as a Redis key is once its whole TTL has elapsed.
 */
export class ExpiringMap<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private writesSinceSweep = 0;

  constructor(private readonly clock: Clock) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.clock.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Replaces any entry under `key`; it expires `ttlMs` from now by the clock. */
  set(key: string, value: V, ttlMs: number): void {
    if (++this.writesSinceSweep >= SWEEP_EVERY_WRITES) this.sweep();
    this.entries.set(key, { value, expiresAt: this.clock.now() + ttlMs });
  }

  /** Writes only when no live entry is under `key` (SET … NX); true if written. */
  setIfAbsent(key: string, value: V, ttlMs: number): boolean {
    if (this.get(key) !== undefined) return false;
    this.set(key, value, ttlMs);
    return true;
  }

  /** true when a live entry was removed. */
  delete(key: string): boolean {
    const live = this.get(key) !== undefined;
    this.entries.delete(key);
    return live;
  }

  private sweep(): void {
    this.writesSinceSweep = 0;
    const now = this.clock.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}

/**
 * A TTL in seconds as Redis `EX` accepts it; anything else is a caller bug, and Redis would refuse
 * the command too (ERR invalid expire time), so it is refused here rather than silently stored.
 */
export function secondsToMs(ttlSeconds: number): number {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) throw new RangeError(`invalid expire time: ${ttlSeconds} s`);
  return ttlSeconds * 1000;
}

import type { Clock } from '../clock';
import type { Keys } from './keys';
import type { Redis } from './redis';
import { execTransaction, storageOp } from './storage-errors';

/** A token and when it stops working, in service-clock ms. */
export interface StoredToken {
  readonly token: string;
  readonly expiresAt: number;
}

/**
 * The component_access_token. Internal services `GET` the public key and get the bare token,
 * valid for at least its remaining TTL (design.md key contract). The service itself judges
 * freshness from a private copy of the expiry in clock ms, so a ManualClock shared with the
 * emulator decides when a token is old, while Redis TTLs stay real time.
 */
export interface ComponentTokenStore {
  get(): Promise<StoredToken | undefined>;
  /** Writes token and expiry together; a token already expired by the clock is not stored. */
  save(token: StoredToken): Promise<void>;
}

export class RedisComponentTokenStore implements ComponentTokenStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly clock: Clock,
  ) {}

  async get(): Promise<StoredToken | undefined> {
    const [token, expiresAt] = await storageOp(() =>
      this.redis.mget(this.keys.componentAccessToken, this.keys.componentAccessTokenExpiry),
    );
    if (!token) return undefined;
    // A token without its expiry (written by hand, or by an older version) counts as expiring now,
    // so the next read refreshes it rather than trusting it for an unknown time.
    const parsed = Number(expiresAt);
    return { token, expiresAt: expiresAt && Number.isFinite(parsed) ? parsed : this.clock.now() };
  }

  async save({ token, expiresAt }: StoredToken): Promise<void> {
    const ttlMs = Math.floor(expiresAt - this.clock.now());
    if (ttlMs <= 0) return;
    await execTransaction(
      this.redis
        .multi()
        .set(this.keys.componentAccessToken, token, 'PX', ttlMs)
        .set(this.keys.componentAccessTokenExpiry, String(expiresAt), 'PX', ttlMs),
    );
  }
}

import type { Clock } from '../clock';
import { LockLostError } from '../errors';
import type { Keys } from './keys';
import type { Fence } from './lock';
import { defineScripts, runScript, type LuaScript } from './lua-script';
import type { Redis } from './redis';
import { storageOp } from './storage-errors';

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
  /**
   * Writes token and expiry together; a token already expired by the clock is not stored. With a fence, only
   * while that lock is still held by its owner, checked in the same atomic step (LockLostError otherwise).
   */
  save(token: StoredToken, fence?: Fence): Promise<void>;
}

/**
 * KEYS[1] = `P:component_access_token`, KEYS[2] = its expiry, KEYS[3] = the refresh lock (one slot, see keys.ts).
 * ARGV: token, expiresAt (clock ms), TTL ms, the lock owner the write is fenced by or ''. Returns 1 if written,
 * 0 when the lock no longer holds that owner.
 */
const SAVE_COMPONENT_TOKEN: LuaScript = {
  name: 'wxSaveComponentToken',
  numberOfKeys: 3,
  lua: `
if ARGV[4] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[4] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
`,
};

export class RedisComponentTokenStore implements ComponentTokenStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly clock: Clock,
  ) {
    defineScripts(redis, [SAVE_COMPONENT_TOKEN]);
  }

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

  async save({ token, expiresAt }: StoredToken, fence?: Fence): Promise<void> {
    const ttlMs = Math.floor(expiresAt - this.clock.now());
    if (ttlMs <= 0) return;
    const { componentAccessToken, componentAccessTokenExpiry, componentTokenLock } = this.keys;
    const written = await storageOp(() =>
      runScript(
        this.redis,
        SAVE_COMPONENT_TOKEN,
        [componentAccessToken, componentAccessTokenExpiry, fence?.lockKey ?? componentTokenLock],
        [token, String(expiresAt), ttlMs, fence?.owner ?? ''],
      ),
    );
    if (written !== 1) throw new LockLostError('component_access_token');
  }
}

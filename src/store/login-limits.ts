import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Keys } from './keys';
import type { Redis } from './redis';

/**
 * Counters of console login attempts (rate-limiter-flexible): in Redis, so every replica counts the
 * same attempts; in memory for the Redis-less sandbox. Keys come from keys.ts (the library appends
 * `:<ip or user name>`).
 */
export interface LoginLimits {
  /** Counts one attempt: 0 while within the limit, else the ms until the window lets the next one in. */
  take(per: 'ip' | 'user', key: string): Promise<number>;
  /** A successful login clears its counter. */
  clear(per: 'ip' | 'user', key: string): Promise<void>;
}

export interface LoginLimitOptions {
  /** Attempts per window from one IP, and for one user name (from any IP). */
  readonly perIp: number;
  readonly perUser: number;
  readonly windowSeconds: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimitOptions = { perIp: 20, perUser: 5, windowSeconds: 15 * 60 };

export function createLoginLimits(keys: Keys, redis: Redis | undefined, options: LoginLimitOptions = DEFAULT_LOGIN_LIMITS): LoginLimits {
  const make = (per: 'ip' | 'user'): RateLimiterAbstract => {
    const common = { keyPrefix: keys.consoleLoginLimit(per), points: per === 'ip' ? options.perIp : options.perUser, duration: options.windowSeconds };
    return redis ? new RateLimiterRedis({ ...common, storeClient: redis }) : new RateLimiterMemory(common);
  };
  const limiters = { ip: make('ip'), user: make('user') };
  return {
    async take(per, key) {
      try {
        await limiters[per].consume(key);
        return 0;
      } catch (rejection) {
        // A RateLimiterRes is "over the limit"; anything else is a store failure and propagates.
        if (rejection instanceof RateLimiterRes) return Math.max(1, rejection.msBeforeNext);
        throw rejection;
      }
    },
    async clear(per, key) {
      await limiters[per].delete(key);
    },
  };
}

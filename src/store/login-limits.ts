import type { RateLimiterAbstract } from 'rate-limiter-flexible';
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

type Library = typeof import('rate-limiter-flexible');

export function createLoginLimits(
  keys: Keys,
  redis: Redis | undefined,
  options: LoginLimitOptions = DEFAULT_LOGIN_LIMITS,
): LoginLimits {
  // Loaded at the first sign-in, not at start: the library loads every store it supports (~0.1-0.2 s), and
  // processes that never serve the console (token workers, CLIs) should not pay for it.
  let loaded: Promise<{ lib: Library; limiters: Record<'ip' | 'user', RateLimiterAbstract> }> | undefined;
  const load = () =>
    (loaded ??= import('rate-limiter-flexible').then((lib) => {
      const make = (per: 'ip' | 'user'): RateLimiterAbstract => {
        const common = {
          keyPrefix: keys.consoleLoginLimit(per),
          points: per === 'ip' ? options.perIp : options.perUser,
          duration: options.windowSeconds,
        };
        return redis ? new lib.RateLimiterRedis({ ...common, storeClient: redis }) : new lib.RateLimiterMemory(common);
      };
      return { lib, limiters: { ip: make('ip'), user: make('user') } };
    }));
  return {
    async take(per, key) {
      const { lib, limiters } = await load();
      try {
        await limiters[per].consume(key);
        return 0;
      } catch (rejection) {
        // A RateLimiterRes is "over the limit"; anything else is a store failure and propagates.
        if (rejection instanceof lib.RateLimiterRes) return Math.max(1, rejection.msBeforeNext);
        throw rejection;
      }
    },
    async clear(per, key) {
      await (await load()).limiters[per].delete(key);
    },
  };
}

import type { RedisSettings } from '../config';
import type { Clock } from '../clock';
import type { Logger } from '../logger';
import { RedisAuthCodeStore, type AuthCodeStore } from './auth-code-store';
import type { AuthorizerStore } from './authorizer-store';
import type { Keys } from './keys';
import { RedisLocks, type Locks } from './lock';
import { createMemoryStores } from './memory';
import { RedisPushDedupStore, type PushDedupStore } from './push-dedup-store';
import { RedisAuthorizerStore } from './redis-authorizer-store';
import { LayoutMaintenance } from './layout-maintenance';
import { closeRedis, createRedis, pingRedis, waitUntilReady, type Redis } from './redis';
import { SecretCipher } from './secret-cipher';
import { RedisTicketStore, type TicketStore } from './ticket-store';
import { RedisComponentTokenStore, type ComponentTokenStore } from './token-store';

export type PingResult = { ok: true } | { ok: false; reason: string };

/** What the service asks of its storage as a whole: is it there, and let go of it. */
export interface StorageHealth {
  readonly kind: 'redis' | 'memory';
  ping(): Promise<PingResult>;
  waitUntilReady(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Every store the service uses, whatever backs them. */
export interface StoreSet {
  readonly ticketStore: TicketStore;
  readonly componentTokenStore: ComponentTokenStore;
  readonly authorizerStore: AuthorizerStore;
  readonly locks: Locks;
  readonly pushDedup: PushDedupStore;
  readonly authCodes: AuthCodeStore;
}

export interface Storage extends StoreSet {
  readonly health: StorageHealth;
  /** The Redis client; undefined in memory mode. */
  readonly redis: Redis | undefined;
  /** Migration, sealing and reconciliation of the Redis layout; undefined in memory mode. */
  readonly layout: LayoutMaintenance | undefined;
}

export function createRedisStorage(opts: {
  redis: RedisSettings;
  keys: Keys;
  clock: Clock;
  logger: Logger;
  client?: Redis;
  cipher?: SecretCipher;
}): Storage {
  const redis = opts.client ?? createRedis(opts.redis, opts.logger);
  const { keys, clock } = opts;
  const cipher = opts.cipher ?? new SecretCipher([]);
  const authorizerStore = new RedisAuthorizerStore(redis, keys, clock, cipher);
  return {
    redis,
    layout: new LayoutMaintenance(redis, keys, authorizerStore, cipher, opts.logger),
    health: {
      kind: 'redis',
      ping: () => pingRedis(redis),
      waitUntilReady: (ms) => waitUntilReady(redis, ms),
      async close() {
        if (opts.client) return; // the caller owns a client it passed in
        await closeRedis(redis);
      },
    },
    ticketStore: new RedisTicketStore(redis, keys),
    componentTokenStore: new RedisComponentTokenStore(redis, keys, clock),
    authorizerStore,
    locks: new RedisLocks(redis),
    pushDedup: new RedisPushDedupStore(redis, keys),
    authCodes: new RedisAuthCodeStore(redis, keys),
  };
}

/** The sandbox's fallback when no Redis answers: one process, nothing survives a restart. */
export function createMemoryStorage(clock: Clock): Storage {
  return {
    ...createMemoryStores(clock),
    redis: undefined,
    layout: undefined,
    health: {
      kind: 'memory',
      ping: () => Promise.resolve({ ok: true }),
      waitUntilReady: () => Promise.resolve(true),
      close: () => Promise.resolve(),
    },
  };
}

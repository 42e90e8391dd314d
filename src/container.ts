import { systemClock, type Clock } from './clock';
import type { Config } from './config';
import { createLogger, type Logger } from './logger';
import { AuthorizationService } from './services/authorization-service';
import { PushService } from './services/push-service';
import { PushTicketStarter } from './services/push-ticket-starter';
import { Refresher, type RefresherOptions } from './services/refresher';
import { TokenService } from './services/token-service';
import { RedisAuthCodeStore } from './store/auth-code-store';
import type { AuthorizerStore } from './store/authorizer-store';
import { RedisAuthorizerStore } from './store/redis-authorizer-store';
import { createKeys, type Keys } from './store/keys';
import { RedisLocks, type LockOptions, type Locks } from './store/lock';
import { RedisPushDedupStore } from './store/push-dedup-store';
import { createRedis, type Redis } from './store/redis';
import { RedisTicketStore, type TicketStore } from './store/ticket-store';
import { RedisComponentTokenStore, type ComponentTokenStore } from './store/token-store';
import type { OnWeChatCall } from './wechat/api-transport';
import { createViews, type Views } from './views';
import { ComponentApi } from './wechat/component-api';
import { MsgCrypt } from './wechat/crypto';

/**
 * Composition root: the only place that constructs Redis clients, WeChat
 * clients and services. Routes receive what they need from here.
 */
export interface Container {
  readonly config: Config;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly redis: Redis;
  readonly keys: Keys;
  readonly ticketStore: TicketStore;
  readonly componentTokenStore: ComponentTokenStore;
  readonly authorizerStore: AuthorizerStore;
  readonly locks: Locks;
  readonly componentApi: ComponentApi;
  readonly tokenService: TokenService;
  readonly refresher: Refresher;
  readonly authorizationService: AuthorizationService;
  readonly pushService: PushService;
  readonly views: Views;
  /** Starts background work: the refresher, when REFRESHER_ENABLED. Idempotent. */
  start(): void;
  /** Stops background work and closes connections; safe to call twice. */
  close(): Promise<void>;
}

export interface ContainerOverrides {
  logger?: Logger;
  redis?: Redis;
  /** Shared with the emulator in tests, so simulated hours pass for both. */
  clock?: Clock;
  /** Refresh-lock TTL and wait bound (tests use small ones). */
  tokenLock?: Partial<LockOptions>;
  refresher?: Partial<RefresherOptions>;
  /** Every WeChat HTTP attempt (metrics). */
  onWeChatCall?: OnWeChatCall;
  /** An account was marked reauthorization_required (metrics). */
  onReauthorizationRequired?: (appid: string, errcode: number | undefined) => void;
}

/** -1 is retried this many times in all; the lock must outlive every attempt of a nested refresh. */
const BUSY_ATTEMPTS = 3;

export function createContainer(config: Config, overrides: ContainerOverrides = {}): Container {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const redis = overrides.redis ?? createRedis(config.redis.url, logger);
  const clock = overrides.clock ?? systemClock;
  const keys = createKeys(config.redis.keyPrefix, config.component.appId);
  const ticketStore = new RedisTicketStore(redis, keys);
  const componentTokenStore = new RedisComponentTokenStore(redis, keys, clock);
  const authorizerStore = new RedisAuthorizerStore(redis, keys, clock);
  const locks = new RedisLocks(redis);
  const componentApi = new ComponentApi({
    baseUrl: config.wechat.apiBaseUrl,
    timeoutMs: config.wechat.httpTimeoutMs,
    componentAppId: config.component.appId,
    componentAppSecret: config.component.appSecret,
    busyRetry: { attempts: BUSY_ATTEMPTS, baseDelayMs: 200 },
    onCall: overrides.onWeChatCall,
  });
  // An authorizer refresh may first refresh the component token: two calls, each with its retries.
  const lockTtlMs = overrides.tokenLock?.ttlMs ?? 2 * BUSY_ATTEMPTS * (config.wechat.httpTimeoutMs + 1000) + 2000;
  const tokenService = new TokenService({
    api: componentApi,
    ticketStore,
    componentTokenStore,
    authorizerStore,
    locks,
    keys,
    clock,
    logger,
    marginSeconds: config.tokenRefreshMarginSeconds,
    // Waiters outlast a crashed holder's lock, so they take over instead of failing.
    lock: { ttlMs: lockTtlMs, waitMs: overrides.tokenLock?.waitMs ?? lockTtlMs + 1000 },
    onReauthorizationRequired: overrides.onReauthorizationRequired,
  });
  const refresher = new Refresher(
    {
      tokenService,
      authorizerStore,
      ticketStore,
      pushTicketStarter: new PushTicketStarter({ api: componentApi, locks, keys, logger }),
      clock,
      logger,
    },
    {
      marginSeconds: config.tokenRefreshMarginSeconds,
      concurrency: config.refresher.concurrency,
      intervalMs: 30_000,
      spreadMs: Math.min(300_000, (config.tokenRefreshMarginSeconds * 1000) / 3),
      batchSize: 500,
      backoff: { baseMs: 15_000, maxMs: 10 * 60_000 },
      ...overrides.refresher,
    },
  );

  const authorizationService = new AuthorizationService({
    tokenService,
    authorizers: authorizerStore,
    codes: new RedisAuthCodeStore(redis, keys),
    locks,
    keys,
    clock,
    logger,
  });
  const pushService = new PushService({
    msgCrypt: new MsgCrypt({
      token: config.component.token,
      encodingAesKey: config.component.aesKey,
      appId: config.component.appId,
      previousEncodingAesKey: config.component.previousAesKey,
    }),
    componentAppId: config.component.appId,
    clock,
    logger,
    dedup: new RedisPushDedupStore(redis, keys),
    tickets: ticketStore,
    authorizations: authorizationService,
    maxAgeSeconds: config.pushMaxAgeSeconds,
  });
  const views = createViews(config.platformName);

  let closed: Promise<void> | undefined;
  return {
    config,
    logger,
    clock,
    redis,
    keys,
    ticketStore,
    componentTokenStore,
    authorizerStore,
    locks,
    componentApi,
    tokenService,
    refresher,
    authorizationService,
    pushService,
    views,
    start() {
      if (config.refresher.enabled && !closed) refresher.start();
    },
    close() {
      closed ??= (async () => {
        await refresher.stop();
        if (overrides.redis) return;
        // QUIT waits for a reply that never comes while Redis is down.
        if (redis.status === 'ready') await redis.quit().catch(() => undefined);
        redis.disconnect();
      })();
      return closed;
    },
  };
}

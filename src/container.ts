import { systemClock, type Clock } from './clock';
import { secretValues, type Config } from './config';
import { createLogger, type Logger } from './logger';
import { Metrics } from './metrics';
import { AuthorizationService } from './services/authorization-service';
import { MessageService, type MessageServiceOptions } from './services/message-service';
import { PushService } from './services/push-service';
import { PushTicketStarter } from './services/push-ticket-starter';
import { ReadinessService } from './services/readiness';
import { RecoveryService } from './services/recovery';
import { refreshLockTiming, type RefreshLockTiming } from './services/refresh-coordinator';
import { Refresher, refresherOptions, type RefresherOptions } from './services/refresher';
import { TokenService } from './services/token-service';
import type { AuthorizerStore } from './store/authorizer-store';
import { createKeys, type Keys } from './store/keys';
import { LOCK_DEFAULTS, type Locks } from './store/lock';
import type { Redis } from './store/redis';
import { MemoryMessageStream, RedisMessageStream } from './store/message-stream';
import { createMemoryStorage, createRedisStorage, type StorageHealth } from './store/storage';
import type { TicketStore } from './store/ticket-store';
import type { ComponentTokenStore } from './store/token-store';
import { longestPostMs, type OnWeChatCall } from './wechat/api-transport';
import { createViews, type Views } from './views';
import { ComponentApi } from './wechat/component-api';
import { MsgCrypt } from './wechat/crypto';
import { CustomMessageApi } from './wechat/custom-message-api';

/**
 * Composition root: the only place that constructs Redis clients, WeChat
 * clients and services. Routes receive what they need from here.
 */
export interface Container {
  readonly config: Config;
  readonly logger: Logger;
  readonly clock: Clock;
  /** The Redis client (Redis mode only: reading it in memory mode throws). */
  readonly redis: Redis;
  readonly storage: StorageHealth;
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
  readonly messageService: MessageService;
  readonly views: Views;
  /** Prometheus registry of this container (GET /metrics). */
  readonly metrics: Metrics;
  readonly readiness: ReadinessService;
  /** Restores refresh tokens from api_get_authorizer_list (POST /internal/recover, `npm run recover`). */
  readonly recovery: RecoveryService;
  /** Starts background work: the refresher, when REFRESHER_ENABLED. Idempotent. */
  start(): void;
  /** Stops background work and closes connections; safe to call twice. */
  close(): Promise<void>;
}

export interface ContainerOverrides {
  logger?: Logger;
  redis?: Redis;
  /** 'memory' only for the sandbox without Redis (see src/sandbox/run-sandbox.ts). */
  storage?: 'redis' | 'memory';
  /** Shared with the emulator in tests, so simulated hours pass for both. */
  clock?: Clock;
  /** Refresh-lock TTL and wait bound (defaults: LOCK_DEFAULTS and refreshLockTiming). */
  tokenLock?: Partial<RefreshLockTiming>;
  refresher?: Partial<RefresherOptions>;
  /** Every WeChat HTTP attempt (metrics). */
  onWeChatCall?: OnWeChatCall;
  /** Message URL deadlines (tests use small ones). */
  messages?: Partial<MessageServiceOptions>;
  /** An account was marked reauthorization_required (metrics). */
  onReauthorizationRequired?: (appid: string, errcode: number | undefined) => void;
}

export function createContainer(config: Config, overrides: ContainerOverrides = {}): Container {
  const logger = overrides.logger ?? createLogger(config.logLevel, undefined, secretValues(config));
  const clock = overrides.clock ?? systemClock;
  const keys = createKeys(config.redis.keyPrefix, config.component.appId);
  const storage =
    overrides.storage === 'memory'
      ? createMemoryStorage(clock)
      : createRedisStorage({ url: config.redis.url, keys, clock, logger, client: overrides.redis });
  const { ticketStore, componentTokenStore, authorizerStore, locks } = storage;
  const metrics = new Metrics({ clock, storage: storage.health, tickets: ticketStore, componentTokens: componentTokenStore, authorizers: authorizerStore });
  const componentApi = new ComponentApi({
    baseUrl: config.wechat.apiBaseUrl,
    timeoutMs: config.wechat.httpTimeoutMs,
    componentAppId: config.component.appId,
    componentAppSecret: config.component.appSecret,
    onCall: (api, errcode, durationMs) => {
      metrics.onWeChatCall(api, errcode, durationMs);
      overrides.onWeChatCall?.(api, errcode, durationMs);
    },
  });
  // An authorizer refresh may first refresh the component token: two calls, each with its retries (and slack for
  // the Redis round trips). Waiters outlast a dead holder's lock plus that, so they take over instead of failing.
  const refreshTimeoutMs = 2 * longestPostMs({ timeoutMs: config.wechat.httpTimeoutMs }) + 2000;
  const lockTtlMs = overrides.tokenLock?.lockTtlMs ?? LOCK_DEFAULTS.keepAliveTtlMs;
  const tokenLock = { ...refreshLockTiming(lockTtlMs, refreshTimeoutMs), ...definedOnly(overrides.tokenLock) };
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
    lock: tokenLock,
    onReauthorizationRequired: (appid, errcode) => {
      metrics.onReauthorizationRequired(appid, errcode);
      overrides.onReauthorizationRequired?.(appid, errcode);
    },
    observer: metrics.refreshObserver,
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
    refresherOptions(config.tokenRefreshMarginSeconds, config.refresher.concurrency, definedOnly(overrides.refresher)),
  );

  const authorizationService = new AuthorizationService({
    tokenService,
    api: componentApi,
    loginPages: {
      componentAppId: config.component.appId,
      redirectUri: `${config.publicBaseUrl}/auth`,
      pcPageUrl: config.wechat.loginPageUrl,
      mobilePageUrl: config.wechat.mobileLoginPageUrl,
    },
    authorizers: authorizerStore,
    codes: storage.authCodes,
    locks,
    keys,
    clock,
    logger,
  });
  const pushMsgCrypt = new MsgCrypt({
    token: config.component.token,
    encodingAesKey: config.component.aesKey,
    appId: config.component.appId,
    previousEncodingAesKey: config.component.previousAesKey,
  });
  const pushService = new PushService({
    msgCrypt: pushMsgCrypt,
    componentAppId: config.component.appId,
    clock,
    logger,
    dedup: storage.pushDedup,
    tickets: ticketStore,
    authorizations: authorizationService,
    maxAgeSeconds: config.pushMaxAgeSeconds,
    onPush: metrics.onPush,
  });
  const customMessages = new CustomMessageApi({
    baseUrl: config.wechat.apiBaseUrl,
    timeoutMs: config.wechat.httpTimeoutMs,
    onCall: (api, errcode, durationMs) => {
      metrics.onWeChatCall(api, errcode, durationMs);
      overrides.onWeChatCall?.(api, errcode, durationMs);
    },
  });
  const messageService = new MessageService({
    msgCrypt: pushMsgCrypt,
    token: config.component.token,
    clock,
    logger,
    dedup: storage.pushDedup,
    stream: storage.redis ? new RedisMessageStream(storage.redis, keys, config.messages.maxLen) : new MemoryMessageStream(config.messages.maxLen),
    dedupId: keys.messageDedupId,
    isKnownAuthorizer: async (appid) => (await authorizerStore.getTokenState(appid)) !== undefined,
    releaseTest: config.messages.releaseTestResponder
      ? {
          authorizeWithCode: async (code) => (await authorizationService.completeFromCallback(code)).appid,
          sendCustomerServiceText: (appid, toUser, content) =>
            tokenService.withAuthorizerToken(appid, (token) => customMessages.sendText(token, toUser, content)),
        }
      : undefined,
    onMessage: metrics.onMessage,
  }, overrides.messages);
  const views = createViews(config.platformName);
  const readiness = new ReadinessService({
    storage: storage.health,
    tickets: ticketStore,
    componentTokens: componentTokenStore,
    authorizers: authorizerStore,
    clock,
    startupGraceMs: config.readinessStartupGraceSeconds * 1000,
  });
  const recovery = new RecoveryService({
    api: componentApi,
    tokenService,
    authorizers: authorizerStore,
    locks,
    keys,
    clock,
    logger,
    marginMs: config.tokenRefreshMarginSeconds * 1000,
    concurrency: config.refresher.concurrency,
  });

  let closed: Promise<void> | undefined;
  return {
    config,
    logger,
    clock,
    get redis(): Redis {
      if (!storage.redis) throw new Error('this container runs on in-memory storage: it has no Redis client');
      return storage.redis;
    },
    storage: storage.health,
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
    messageService,
    views,
    metrics,
    readiness,
    recovery,
    start() {
      if (config.refresher.enabled && !closed) refresher.start();
    },
    close() {
      closed ??= (async () => {
        await refresher.stop();
        await messageService.drain();
        // A background refresh holds a lock and may be mid-write: let it finish (its calls are bounded by timeouts).
        await tokenService.idle();
        await storage.health.close();
      })();
      return closed;
    },
  };
}

/** The overrides that are set: an `undefined` one leaves the default in place. */
function definedOnly<T extends object>(overrides: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(overrides ?? {}).filter(([, value]) => value !== undefined)) as Partial<T>;
}

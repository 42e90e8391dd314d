import { systemClock, type Clock } from './clock';
import { secretValues, type Config } from './config';
import { createLogger, type Logger } from './logger';
import { Metrics } from './metrics';
import { ACCOUNT_EVENTS_DEFAULTS, AccountEvents } from './services/account-events';
import { KnownAuthorizers } from './services/known-authorizers';
import { AuthorizationService } from './services/authorization-service';
import { MessageService, type MessageServiceOptions } from './services/message-service';
import { RecentActivity } from './services/console-activity';
import { ConsoleAuth } from './services/console-auth';
import { ConsoleService, type ConsoleEventSource } from './services/console-service';
import { PushService } from './services/push-service';
import { PushTicketStarter } from './services/push-ticket-starter';
import { ReadinessService } from './services/readiness';
import { RecoveryService } from './services/recovery';
import { refreshLockTiming, type RefreshLockTiming } from './services/refresh-coordinator';
import { Refresher, refresherOptions, type RefresherOptions } from './services/refresher';
import { TokenService } from './services/token-service';
import { WebhookDelivery, type WebhookTarget } from './services/webhook-delivery';
import { EventHistory, RedisEventStream } from './store/event-stream';
import { RedisWebhookQueue, webhookGroup } from './store/webhook-queue';
import { WebhookSender, targetLabel } from './webhooks/webhook-sender';
import type { AuthorizerStore } from './store/authorizer-store';
import { createKeys, type Keys } from './store/keys';
import { LOCK_DEFAULTS, type Locks } from './store/lock';
import { createLoginLimits, type LoginLimitOptions } from './store/login-limits';
import type { Redis } from './store/redis';
import type { ReencryptReport } from './store/layout-maintenance';
import { SecretCipher } from './store/secret-cipher';
import { MemoryMessageStream, RedisMessageStream } from './store/message-stream';
import { createMemoryStorage, createRedisStorage, type StorageHealth } from './store/storage';
import type { TicketStore } from './store/ticket-store';
import type { ComponentTokenStore } from './store/token-store';
import { longestPostMs, type OnWeChatCall } from './wechat/api-transport';
import { createViews, type Views } from './views';
import { ComponentApi } from './wechat/component-api';
import { MsgCrypt } from './wechat/crypto';
import { CustomMessageApi } from './wechat/custom-message-api';
import { MessageForwarder } from './webhooks/message-forwarder';

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
  /** Account events (P:events): undefined on in-memory storage. */
  readonly accountEvents: AccountEvents | undefined;
  /** Delivery of the events to WEBHOOK_URLS: undefined without webhooks (or on in-memory storage). */
  readonly webhookDelivery: WebhookDelivery | undefined;
  /** The operators' console (/console): only with CONSOLE_USERS. */
  readonly console: { readonly service: ConsoleService; readonly auth: ConsoleAuth } | undefined;
  /**
   * Before serving (main.ts): checks the Redis layout, migrates a deployment of the previous layout and
   * seals plaintext refresh tokens when a key is configured (docs/redis-keys.md). No-op in memory mode.
   */
  prepareStorage(): Promise<void>;
  /** `npm run reencrypt`: every stored refresh token rewritten under the current key. */
  reencryptRefreshTokens(): Promise<ReencryptReport>;
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
  /** Console login attempts allowed per IP / per user (tests use small ones). */
  consoleLoginLimits?: LoginLimitOptions;
  /** The event stream's view for the console (issue 15), when it exists. */
  consoleEvents?: ConsoleEventSource;
  /** An account was marked reauthorization_required (metrics). */
  onReauthorizationRequired?: (appid: string, errcode: number | undefined) => void;
  /** Outbox sweep timing (tests): entries younger than the grace are left to their writer. */
  events?: { sweepGraceMs?: number; sweepIntervalMs?: number };
}

export function createContainer(config: Config, overrides: ContainerOverrides = {}): Container {
  const logger = overrides.logger ?? createLogger(config.logLevel, undefined, secretValues(config));
  const clock = overrides.clock ?? systemClock;
  const keys = createKeys(config.redis.keyPrefix, config.component.appId, config.scheduleShards);
  const cipher = new SecretCipher(config.tokenEncryptionKeys);
  const storage =
    overrides.storage === 'memory'
      ? createMemoryStorage(clock)
      : createRedisStorage({ redis: config.redis, keys, clock, logger, client: overrides.redis, cipher });
  const { ticketStore, componentTokenStore, locks } = storage;
  // Account events need Redis (the outbox shares each account's transactions); memory mode has none.
  let webhookDelivery: WebhookDelivery | undefined;
  const accountEvents = storage.redis
    ? new AccountEvents({
        stream: new RedisEventStream(storage.redis, keys, config.eventsMaxLen),
        clock,
        logger,
        sweepGraceMs: overrides.events?.sweepGraceMs,
        // Called only after the container is built (an event needs a request or a start), when `metrics` exists.
        onAppended: (events) => {
          metrics.onEventsAppended(events);
          webhookDelivery?.wake();
          // Every write that can make an account known records an event: this process's messages see it at once.
          for (const event of events) knownAuthorizers?.forget(event.authorizer_appid);
        },
      })
    : undefined;
  const authorizerStore = accountEvents
    ? accountEvents.authorizerStore(storage.authorizerStore)
    : storage.authorizerStore;
  const isStored = async (appid: string) => (await authorizerStore.getTokenState(appid)) !== undefined;
  // In memory a lookup costs nothing and there is no other replica: only Redis lookups are remembered.
  const knownAuthorizers = accountEvents ? new KnownAuthorizers(isStored, clock) : undefined;
  const authCodes = accountEvents ? accountEvents.authCodeStore(storage.authCodes) : storage.authCodes;
  const redisForWebhooks = storage.redis;
  const webhookTargets: (WebhookTarget & { queue: RedisWebhookQueue })[] = redisForWebhooks
    ? config.webhooks.urls.map((url) => ({
        url,
        label: targetLabel(url),
        queue: new RedisWebhookQueue(redisForWebhooks, keys, webhookGroup(url), config.eventsMaxLen),
      }))
    : [];
  const metrics = new Metrics({
    clock,
    storage: storage.health,
    tickets: ticketStore,
    componentTokens: componentTokenStore,
    authorizers: authorizerStore,
    webhookBacklog: webhookTargets.length
      ? () =>
          Promise.all(
            webhookTargets.map(async (t) => ({ target: t.label, oldestOccurredAt: await t.queue.oldestUndelivered() })),
          )
      : undefined,
  });
  if (webhookTargets.length) {
    const sender = new WebhookSender({ secrets: config.webhooks.secrets, timeoutMs: config.webhooks.timeoutMs });
    webhookDelivery = new WebhookDelivery(
      {
        targets: webhookTargets,
        send: (url, event) => sender.send(url, event),
        clock,
        logger,
        observer: metrics.webhookObserver,
      },
      {
        retryBaseMs: config.webhooks.retryBaseMs,
        retryMaxMs: config.webhooks.retryMaxMs,
        deadLetterAfterMs: config.webhooks.deadLetterAfterSeconds * 1000,
        leaseMs: config.webhooks.leaseMs,
        pollMs: config.webhooks.pollMs,
      },
    );
  }
  // The console's "last hour", fed by the same hooks as the Prometheus counters.
  const activity = new RecentActivity(clock);
  const componentApi = new ComponentApi({
    baseUrl: config.wechat.apiBaseUrl,
    timeoutMs: config.wechat.httpTimeoutMs,
    componentAppId: config.component.appId,
    componentAppSecret: config.component.appSecret,
    onCall: (api, errcode, durationMs) => {
      metrics.onWeChatCall(api, errcode, durationMs);
      activity.onWeChatCall(errcode);
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
    observer: {
      ...metrics.refreshObserver,
      onRefresh: (kind, outcome, durationMs) => {
        metrics.refreshObserver.onRefresh?.(kind, outcome, durationMs);
        activity.onRefresh(outcome);
      },
    },
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
    codes: authCodes,
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
  const messageForwarder = config.messages.forwardUrl
    ? new MessageForwarder({ url: config.messages.forwardUrl, secrets: config.webhooks.secrets })
    : undefined;
  const messageService = new MessageService(
    {
      msgCrypt: pushMsgCrypt,
      token: config.component.token,
      clock,
      logger,
      dedup: storage.pushDedup,
      stream: storage.redis
        ? new RedisMessageStream(storage.redis, keys, config.messages.maxLen)
        : new MemoryMessageStream(config.messages.maxLen, clock),
      dedupId: (appid, messageId) => keys.messageDedupId(appid, messageId),
      isKnownAuthorizer: knownAuthorizers ? (appid) => knownAuthorizers.isKnown(appid) : isStored,
      releaseTest: config.messages.releaseTestResponder
        ? {
            authorizeWithCode: async (code) => (await authorizationService.completeFromCallback(code)).appid,
            sendCustomerServiceText: (appid, toUser, content) =>
              tokenService.withAuthorizerToken(appid, (token) => customMessages.sendText(token, toUser, content)),
          }
        : undefined,
      forward: messageForwarder && ((message, timeoutMs) => messageForwarder.forward(message, timeoutMs)),
      onMessage: metrics.onMessage,
    },
    overrides.messages,
  );
  const views = createViews(config.platformName);
  const readiness = new ReadinessService({
    storage: storage.health,
    tickets: ticketStore,
    componentTokens: componentTokenStore,
    authorizers: authorizerStore,
    clock,
    startupGraceMs: config.readinessStartupGraceSeconds * 1000,
    // Memory stores keep nothing at rest: only Redis needs the key.
    refreshTokensEncrypted: overrides.storage === 'memory' || cipher.currentKeyId !== undefined,
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

  // The console's history and backlog come from the event stream when there is one (Redis), else the stored timestamps.
  const eventHistory = storage.redis ? new EventHistory(storage.redis, keys) : undefined;
  const consoleEventSource: ConsoleEventSource | undefined = eventHistory
    ? {
        ...(webhookTargets.length
          ? {
              undeliveredCount: async () =>
                (await Promise.all(webhookTargets.map((t) => t.queue.undeliveredCount()))).reduce((a, b) => a + b, 0),
            }
          : {}),
        accountHistory: async (appid, limit) =>
          (await eventHistory.recentForAccount(appid, limit)).map((e) => ({
            at: e.occurred_at,
            type: e.type,
            detail: 'errcode' in e ? `errcode ${e.errcode}` : 'reason' in e ? e.reason : undefined,
          })),
      }
    : undefined;
  const consoleParts = config.console
    ? {
        auth: new ConsoleAuth({
          users: config.console.users,
          limits: createLoginLimits(keys, storage.redis, overrides.consoleLoginLimits),
          logger,
        }),
        service: new ConsoleService({
          authorizers: authorizerStore,
          tickets: ticketStore,
          componentTokens: componentTokenStore,
          pending: storage.authCodes,
          tokenService,
          recovery,
          activity,
          failures: refresher,
          clock,
          logger,
          publicBaseUrl: config.publicBaseUrl,
          marginMs: config.tokenRefreshMarginSeconds * 1000,
          events: overrides.consoleEvents ?? consoleEventSource,
        }),
      }
    : undefined;

  let closed: Promise<void> | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  const sweep = () =>
    accountEvents
      ?.sweep()
      .catch((err: Error) =>
        logger.warn({ err: { message: err.message } }, 'event outbox sweep failed; it runs again later'),
      );
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
    accountEvents,
    webhookDelivery,
    console: consoleParts,
    async prepareStorage() {
      await storage.layout?.prepare();
    },
    async reencryptRefreshTokens() {
      if (!storage.layout) throw new Error('in-memory storage keeps no refresh token at rest');
      return storage.layout.reencrypt();
    },
    start() {
      if (closed) return;
      if (config.refresher.enabled) refresher.start();
      if (accountEvents && !sweepTimer) {
        // At start, then now and then: events a crashed writer left in an outbox reach the stream.
        void sweep();
        sweepTimer = setInterval(
          () => void sweep(),
          overrides.events?.sweepIntervalMs ?? ACCOUNT_EVENTS_DEFAULTS.sweepIntervalMs,
        );
        sweepTimer.unref();
      }
      webhookDelivery?.start();
    },
    close() {
      closed ??= (async () => {
        clearInterval(sweepTimer);
        await webhookDelivery?.stop();
        await refresher.stop();
        await messageService.drain();
        // A background refresh holds a lock and may be mid-write: let it finish (its calls are bounded by timeouts).
        await tokenService.idle();
        storage.layout?.stop();
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

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { Clock } from './clock';
import type { OnMessage } from './services/message-service';
import type { OnPush } from './services/push-service';
import type { RefreshObserver } from './services/refresh-coordinator';
import type { AuthorizerStatus, AuthorizerStore } from './store/authorizer-store';
import type { StorageHealth } from './store/storage';
import type { TicketStore } from './store/ticket-store';
import type { ComponentTokenStore } from './store/token-store';
import type { OnWeChatCall } from './wechat/api-transport';

/** What the scrape-time gauges read: the stores, through the service's clock. */
export interface MetricsSources {
  readonly clock: Clock;
  readonly storage: StorageHealth;
  readonly tickets: TicketStore;
  readonly componentTokens: ComponentTokenStore;
  readonly authorizers: AuthorizerStore;
  /** Per webhook target, the occurred_at of its oldest unacknowledged event (undefined: up to date). */
  readonly webhookBacklog?: () => Promise<{ target: string; oldestOccurredAt: number | undefined }[]>;
}

const KNOWN_INFO_TYPES = new Set([
  'component_verify_ticket',
  'authorized',
  'updateauthorized',
  'unauthorized',
  'unparsed',
]);
const STATUSES: AuthorizerStatus[] = ['authorized', 'unauthorized', 'reauthorization_required'];
const SECONDS = (ms: number) => ms / 1000;

let processRegistry: Registry | undefined;

/**
 * CPU, memory, event loop and GC exist once per process, and collecting them starts an event-loop
 * monitor and a GC observer that are never stopped: they are collected once, on a private registry,
 * and those same metric objects are registered on every container's registry.
 */
function processMetrics(): Metric[] {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry.getMetricsAsArray() as unknown as Metric[];
}

/**
 * The Prometheus metrics of one container, on its own registry (never prom-client's global one),
 * so several containers in one process keep separate counts. Counters are fed by the hooks below;
 * gauges are read from Redis at scrape time, so every instance reports the shared state.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly onWeChatCall: OnWeChatCall;
  readonly onPush: OnPush;
  readonly onMessage: OnMessage;
  readonly refreshObserver: RefreshObserver;
  readonly onReauthorizationRequired: (appid: string, errcode: number | undefined) => void;
  /** A bearer check of the internal API: the client's name, or undefined when refused. */
  readonly onInternalApiRequest: (client: string | undefined) => void;
  readonly onEventsAppended: (events: readonly { type: string }[]) => void;
  readonly webhookObserver: {
    onDelivered(target: string): void;
    onRetry(target: string): void;
    onDeadLettered(target: string): void;
  };

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    for (const metric of processMetrics()) this.registry.registerMetric(metric);

    const pushes = new Counter({
      name: 'wxopen_pushes_total',
      help: 'Pushes to POST /auth by InfoType and outcome (handled, duplicate, rejected, failed)',
      labelNames: ['info_type', 'outcome'],
      registers,
    });
    // Only WeChat can produce a decrypted InfoType, but the label set stays bounded all the same.
    this.onPush = (infoType, outcome) =>
      pushes.inc({ info_type: KNOWN_INFO_TYPES.has(infoType) ? infoType : 'other', outcome });

    const messages = new Counter({
      name: 'wxopen_messages_total',
      help: 'Messages to POST /:appid/callback by outcome (stored, release_test, duplicate, rejected, failed) and whether the appid has a stored authorization',
      labelNames: ['outcome', 'known'],
      registers,
    });
    this.onMessage = (outcome, details) =>
      messages.inc({ outcome, known: details.known === undefined ? 'n/a' : String(details.known) });

    const calls = new Counter({
      name: 'wxopen_wechat_api_calls_total',
      help: 'HTTP calls to WeChat by api and errcode (0 = ok, "none" = no usable answer)',
      labelNames: ['api', 'errcode'],
      registers,
    });
    const latency = new Histogram({
      name: 'wxopen_wechat_api_call_duration_seconds',
      help: 'Latency of HTTP calls to WeChat by api',
      labelNames: ['api'],
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.onWeChatCall = (api, errcode, durationMs) => {
      calls.inc({ api, errcode: errcode === undefined ? 'none' : String(errcode) });
      latency.observe({ api }, SECONDS(durationMs));
    };

    const refreshes = new Counter({
      name: 'wxopen_token_refreshes_total',
      help: 'Upstream token refreshes by kind (component, authorizer) and outcome (ok, failed, reauthorization_required)',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    const lockWaits = new Histogram({
      name: 'wxopen_token_lock_wait_seconds',
      help: "Time spent waiting for a token refresh lock, by kind and outcome (acquired; refreshed_elsewhere: the holder's fresh token seen while waiting; timeout)",
      labelNames: ['kind', 'outcome'],
      buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
      registers,
    });
    this.refreshObserver = {
      onRefresh: (kind, outcome) => refreshes.inc({ kind, outcome }),
      onLockWait: (kind, outcome, waitMs) => lockWaits.observe({ kind, outcome }, SECONDS(waitMs)),
    };

    const reauthorizations = new Counter({
      name: 'wxopen_reauthorizations_required_total',
      help: 'Accounts marked reauthorization_required, by the errcode that caused it',
      labelNames: ['errcode'],
      registers,
    });
    this.onReauthorizationRequired = (_appid, errcode) =>
      reauthorizations.inc({ errcode: errcode === undefined ? 'none' : String(errcode) });

    const internalRequests = new Counter({
      name: 'wxopen_internal_api_requests_total',
      help: 'Internal API requests by client name (INTERNAL_API_TOKENS; "default" = INTERNAL_API_TOKEN; "none" = refused bearer)',
      labelNames: ['client'],
      registers,
    });
    this.onInternalApiRequest = (client) => internalRequests.inc({ client: client ?? 'none' });

    const events = new Counter({
      name: 'wxopen_events_appended_total',
      help: 'Account events appended to the event stream by this instance, by type',
      labelNames: ['type'],
      registers,
    });
    this.onEventsAppended = (list) => {
      for (const e of list) events.inc({ type: e.type });
    };

    const webhookLabels = ['target'];
    const delivered = new Counter({
      name: 'wxopen_webhook_delivered_total',
      help: 'Webhook events delivered (2xx) by target origin',
      labelNames: webhookLabels,
      registers,
    });
    const retried = new Counter({
      name: 'wxopen_webhook_retries_total',
      help: 'Failed webhook attempts that will be retried, by target origin',
      labelNames: webhookLabels,
      registers,
    });
    const deadLettered = new Counter({
      name: 'wxopen_webhook_dead_lettered_total',
      help: 'Webhook events moved to the dead-letter stream, by target origin',
      labelNames: webhookLabels,
      registers,
    });
    this.webhookObserver = {
      onDelivered: (target) => delivered.inc({ target }),
      onRetry: (target) => retried.inc({ target }),
      onDeadLettered: (target) => deadLettered.inc({ target }),
    };
    const backlog = sources.webhookBacklog;
    if (backlog) {
      stateGauge(
        'wxopen_webhook_oldest_undelivered_age_seconds',
        'Age of the oldest event a webhook target has not acknowledged (0 when up to date), by target origin',
        registers,
        async (g) => {
          for (const { target, oldestOccurredAt } of await backlog()) {
            g.set(
              { target },
              oldestOccurredAt === undefined ? 0 : Math.max(0, SECONDS(sources.clock.now() - oldestOccurredAt)),
            );
          }
        },
        webhookLabels,
      );
    }

    registerStateGauges(sources, registers);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}

/**
 * A gauge set at scrape time. While Redis cannot be read it shows NaN (a labelled one: no sample),
 * never a stale value; wxopen_redis_up says why.
 */
function stateGauge(
  name: string,
  help: string,
  registers: Registry[],
  read: (gauge: Gauge) => Promise<void>,
  labelNames: string[] = [],
): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers,
    async collect() {
      this.reset();
      await read(this).catch(() => (labelNames.length ? this.reset() : this.set(Number.NaN)));
    },
  });
}

function registerStateGauges(s: MetricsSources, registers: Registry[]): void {
  const ttlSeconds = (expiresAt: number) => Math.max(0, SECONDS(expiresAt - s.clock.now()));
  new Gauge({
    name: 'wxopen_redis_up',
    help: '1 when Redis answers PING, 0 otherwise',
    registers,
    async collect() {
      this.set((await s.storage.ping()).ok ? 1 : 0);
    },
  });
  // No ticket counts as infinitely old, so an alert on the age fires for it too.
  stateGauge(
    'wxopen_component_verify_ticket_age_seconds',
    'Seconds since the stored component_verify_ticket was pushed (+Inf when there is none)',
    registers,
    async (g) => {
      const ticket = await s.tickets.get();
      if (!ticket) return g.set(Number.POSITIVE_INFINITY);
      g.set(ticket.receivedAt === undefined ? Number.NaN : Math.max(0, SECONDS(s.clock.now() - ticket.receivedAt)));
    },
  );
  stateGauge(
    'wxopen_component_access_token_ttl_seconds',
    'Seconds the stored component_access_token stays valid (0 when there is none)',
    registers,
    async (g) => {
      const token = await s.componentTokens.get();
      g.set(token ? ttlSeconds(token.expiresAt) : 0);
    },
  );
  // The minimum over no account is +Inf: nothing is about to expire.
  stateGauge(
    'wxopen_authorizer_access_token_min_ttl_seconds',
    'Seconds left on the authorized account token closest to expiry (+Inf when no account is authorized)',
    registers,
    async (g) => {
      const [soonest] = await s.authorizers.dueForRefresh(Number.MAX_SAFE_INTEGER, 1);
      g.set(soonest ? ttlSeconds(soonest.expiresAt) : Number.POSITIVE_INFINITY);
    },
  );
  // Both read counters the store maintains: a scrape costs the same at 10 accounts and at a million.
  stateGauge(
    'wxopen_authorizers',
    'Stored authorizer accounts by status',
    registers,
    async (g) => {
      const counts = await s.authorizers.countByStatus();
      for (const status of STATUSES) g.set({ status }, counts[status]);
    },
    ['status'],
  );
  stateGauge(
    'wxopen_authorizer_schedule_accounts',
    'Accounts in each refresh-schedule shard',
    registers,
    async (g) => {
      (await s.authorizers.scheduleSizes()).forEach((size, shard) => g.set({ shard: String(shard) }, size));
    },
    ['shard'],
  );
}

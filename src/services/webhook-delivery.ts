import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { equalJitterBackoffMs } from '../backoff';
import type { Clock } from '../clock';
import type { Logger } from '../logger';
import type { QueuedEvent, RedisWebhookQueue } from '../store/webhook-queue';
import type { SendResult } from '../webhooks/webhook-sender';
import type { AccountEvent } from '../client/account-events';

export type WebhookQueue = Pick<
  RedisWebhookQueue,
  | 'group'
  | 'ensureGroup'
  | 'acquireLease'
  | 'renewLease'
  | 'releaseLease'
  | 'claimPending'
  | 'readNew'
  | 'ack'
  | 'deadLetter'
>;

export interface WebhookTarget {
  readonly url: string;
  /** What logs and metrics name (the URL's origin). */
  readonly label: string;
  readonly queue: WebhookQueue;
}

export interface WebhookObserver {
  onDelivered(target: string): void;
  onRetry(target: string): void;
  onDeadLettered(target: string): void;
}

export const WEBHOOK_DELIVERY_DEFAULTS = Object.freeze({
  /** Events held in memory (read, not yet delivered) at most, per target. */
  maxInFlight: 1000,
});

export interface WebhookDeliveryOptions {
  /** First pause after a failed attempt; doubled each time up to retryMaxMs (equal jitter, src/backoff.ts). */
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** An event still failing this long after it occurred goes to the dead-letter stream. */
  readonly deadLetterAfterMs: number;
  /** How long a replica's deliverer lease lives without renewal (renewed every third of it). */
  readonly leaseMs: number;
  /** How often the stream is read when nothing wakes the deliverer. */
  readonly pollMs: number;
  /** Events held in memory (read, not yet delivered) at most, per target. */
  readonly maxInFlight?: number;
}

export interface WebhookDeliveryDeps {
  readonly targets: readonly WebhookTarget[];
  readonly send: (url: string, event: AccountEvent) => Promise<SendResult>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly observer?: WebhookObserver;
}

/**
 * Delivers the event stream to every webhook target, at least once and in order per account
 * (docs/events.md). Each target has a consumer group; one replica at a time holds the target's
 * lease and delivers (so two replicas never reorder one account's events), accounts in parallel and
 * each account's events one after the other. A replica taking the lease claims what its
 * predecessor read but never acknowledged (XAUTOCLAIM), so a crashed deliverer loses nothing.
 */
export class WebhookDelivery {
  private readonly deliverers: TargetDeliverer[];

  constructor(deps: WebhookDeliveryDeps, options: WebhookDeliveryOptions) {
    const consumer = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.deliverers = deps.targets.map((t) => new TargetDeliverer(t, consumer, deps, options));
  }

  start(): void {
    for (const d of this.deliverers) d.start();
  }

  /** New events are in the stream: read now instead of at the next poll. */
  wake(): void {
    for (const d of this.deliverers) d.wake();
  }

  async stop(): Promise<void> {
    await Promise.all(this.deliverers.map((d) => d.stop()));
  }
}

class TargetDeliverer {
  private running = false;
  private loop: Promise<void> | undefined;
  private leased = false;
  /** Bumped when the lease is lost or the deliverer stops: workers of an older generation give up. */
  private generation = 0;
  private renewAt = 0;
  private readonly queues = new Map<string, QueuedEvent[]>();
  private readonly workers = new Set<Promise<void>>();
  private inFlight = 0;
  private readonly sleepers = new Set<{ reader: boolean; done: () => void }>();
  private readonly maxInFlight: number;

  constructor(
    private readonly target: WebhookTarget,
    private readonly consumer: string,
    private readonly deps: WebhookDeliveryDeps,
    private readonly options: WebhookDeliveryOptions,
  ) {
    this.maxInFlight = options.maxInFlight ?? WEBHOOK_DELIVERY_DEFAULTS.maxInFlight;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  wake(): void {
    for (const sleeper of [...this.sleepers]) if (sleeper.reader) sleeper.done();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.generation += 1;
    this.interruptAll();
    await this.loop;
    await Promise.all([...this.workers]);
    if (this.leased) await this.target.queue.releaseLease(this.consumer).catch(() => undefined);
    this.leased = false;
  }

  private async run(): Promise<void> {
    const { queue, label } = this.target;
    let groupReady = false;
    while (this.running) {
      try {
        if (!groupReady) {
          await queue.ensureGroup();
          groupReady = true;
        }
        await this.holdLease();
        if (this.leased && this.inFlight < this.maxInFlight) {
          const batch = await queue.readNew(this.consumer, Math.min(100, this.maxInFlight - this.inFlight));
          this.enqueue(batch);
          if (batch.length > 0) continue;
        }
      } catch (err) {
        this.deps.logger.warn(
          { target: label, err: { message: (err as Error).message } },
          'webhook deliverer: storage error; retrying',
        );
      }
      await this.pause(Math.min(this.options.pollMs, this.options.leaseMs / 3));
    }
  }

  /** Takes the target's lease when it is free (claiming the pending events), renews it when held. */
  private async holdLease(): Promise<void> {
    const { queue, label } = this.target;
    const { leaseMs } = this.options;
    const now = Date.now();
    if (this.leased) {
      if (now < this.renewAt) return;
      if (await queue.renewLease(this.consumer, leaseMs)) {
        this.renewAt = now + leaseMs / 3;
        return;
      }
      this.deps.logger.warn(
        { target: label },
        'webhook deliverer: lease lost to another replica; it delivers from now on',
      );
      this.leased = false;
      this.generation += 1;
      this.interruptAll();
      this.queues.clear();
      this.inFlight = 0;
      return;
    }
    if (!(await queue.acquireLease(this.consumer, leaseMs))) return;
    this.leased = true;
    this.renewAt = now + leaseMs / 3;
    const pending = await queue.claimPending(this.consumer);
    this.deps.logger.info(
      { target: label, claimed: pending.length },
      'webhook deliverer: this replica delivers to the target',
    );
    this.enqueue(pending);
  }

  private enqueue(entries: QueuedEvent[]): void {
    for (const entry of entries) {
      const appid = entry.event?.authorizer_appid ?? '';
      const queue = this.queues.get(appid);
      this.inFlight += 1;
      if (queue) {
        queue.push(entry);
        continue;
      }
      this.queues.set(appid, [entry]);
      const worker = this.drain(appid, this.generation).finally(() => this.workers.delete(worker));
      this.workers.add(worker);
    }
  }

  /** One account's events, one after the other. */
  private async drain(appid: string, generation: number): Promise<void> {
    const queue = this.queues.get(appid)!;
    while (queue.length > 0 && generation === this.generation) {
      await this.deliver(queue[0]!, generation);
      if (generation !== this.generation) return;
      queue.shift();
      this.inFlight -= 1;
    }
    if (this.queues.get(appid) === queue) this.queues.delete(appid);
  }

  private async deliver(entry: QueuedEvent, generation: number): Promise<void> {
    const { queue, url, label } = this.target;
    const { logger, clock, observer } = this.deps;
    const event = entry.event;
    if (!event) {
      logger.error(
        { target: label, streamId: entry.id },
        'webhook event was trimmed from the stream before it was delivered (EVENTS_MAX_LEN); dead-lettered',
      );
      await queue
        .deadLetter(entry, { target: label, lastError: 'trimmed from the stream', failedAt: clock.now() })
        .catch(() => undefined);
      observer?.onDeadLettered(label);
      return;
    }
    for (let attempt = 0; generation === this.generation; attempt++) {
      const result = await this.deps.send(url, event);
      if (result.ok) {
        // A failed XACK only means the event is delivered again later (receivers de-duplicate).
        await queue
          .ack(entry.id)
          .catch((err: Error) =>
            logger.warn({ target: label, err: { message: err.message } }, 'webhook delivered but not acknowledged'),
          );
        observer?.onDelivered(label);
        return;
      }
      if (clock.now() - event.occurred_at >= this.options.deadLetterAfterMs) {
        await queue.deadLetter(entry, { target: label, lastError: result.error, failedAt: clock.now() });
        logger.error(
          {
            target: label,
            eventId: event.event_id,
            type: event.type,
            authorizerAppid: event.authorizer_appid,
            attempts: attempt + 1,
            lastError: result.error,
          },
          'webhook event dead-lettered: the target kept failing; it is in the dead-letter stream',
        );
        observer?.onDeadLettered(label);
        return;
      }
      observer?.onRetry(label);
      if (attempt === 0)
        logger.warn(
          { target: label, eventId: event.event_id, error: result.error },
          'webhook delivery failed; retrying with backoff',
        );
      // After attempt n (0-based), n + 1 tries have failed.
      await this.pause(
        equalJitterBackoffMs(attempt + 1, { baseMs: this.options.retryBaseMs, maxMs: this.options.retryMaxMs }),
        generation,
      );
    }
  }

  /** Sleeps up to `ms`. The reader's pause (no generation) ends on a wake-up; every pause ends on stop or lease loss. */
  private pause(ms: number, generation?: number): Promise<void> {
    if (generation !== undefined && generation !== this.generation) return Promise.resolve();
    return new Promise((resolve) => {
      const sleeper = {
        reader: generation === undefined,
        done: () => {
          clearTimeout(timer);
          this.sleepers.delete(sleeper);
          resolve();
        },
      };
      const timer = setTimeout(sleeper.done, ms);
      this.sleepers.add(sleeper);
    });
  }

  private interruptAll(): void {
    for (const sleeper of [...this.sleepers]) sleeper.done();
  }
}

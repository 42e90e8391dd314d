import { createHash } from 'node:crypto';
import { equalJitterBackoffMs, type BackoffPolicy } from '../backoff';
import type { Clock } from '../clock';
import { AuthorizerNotAuthorizedError, AuthorizerNotFoundError, TicketMissingError } from '../errors';
import type { Logger } from '../logger';
import type { AuthorizerStore } from '../store/authorizer-store';
import type { TicketStore } from '../store/ticket-store';
import type { TokenService } from './token-service';
import type { PushTicketStarter } from './push-ticket-starter';

export const REFRESHER_DEFAULTS = Object.freeze({
  intervalMs: 30_000,
  /** The spread is a third of the margin, at most this. */
  maxSpreadMs: 300_000,
  batchSize: 500,
  backoff: Object.freeze({ baseMs: 15_000, maxMs: 10 * 60_000 }),
});

/** The options for a margin and a concurrency, every other one from REFRESHER_DEFAULTS unless overridden. */
export function refresherOptions(
  marginSeconds: number,
  concurrency: number,
  overrides: Partial<RefresherOptions> = {},
): RefresherOptions {
  const { intervalMs, maxSpreadMs, batchSize, backoff } = REFRESHER_DEFAULTS;
  return {
    marginSeconds,
    concurrency,
    intervalMs,
    spreadMs: Math.min(maxSpreadMs, (marginSeconds * 1000) / 3),
    batchSize,
    backoff,
    ...overrides,
  };
}

export interface RefresherOptions {
  readonly marginSeconds: number;
  /** Accounts refreshed in parallel (REFRESHER_CONCURRENCY). */
  readonly concurrency: number;
  /** Real time between rounds (±10 % jitter). */
  readonly intervalMs: number;
  /** Each account refreshes up to this much earlier than the margin, at a fixed per-account offset. */
  readonly spreadMs: number;
  /** Due accounts taken from the schedule at a time; a round takes batch after batch while they come full. */
  readonly batchSize: number;
  /**
   * Real time a round may go on taking further full batches (default: intervalMs). The first batch is
   * always taken; the next one only within the budget and while the refresher is not being stopped.
   */
  readonly roundBudgetMs?: number;
  /** Per-account wait after a failed refresh: base × 2^(failures−1), capped, equal jitter. */
  readonly backoff: BackoffPolicy;
}

export interface RefresherDeps {
  readonly tokenService: TokenService;
  readonly authorizerStore: AuthorizerStore;
  readonly ticketStore: TicketStore;
  readonly pushTicketStarter: PushTicketStarter;
  readonly clock: Clock;
  readonly logger: Logger;
}

export interface RefreshRound {
  readonly componentToken: 'ok' | 'failed';
  readonly checked: number;
  /** Batches of ≤ batchSize due accounts taken from the schedule this round. */
  readonly batches: number;
  readonly failed: string[];
  readonly backingOff: number;
}

/**
 * Keeps the component token and every authorized account's token fresher than the margin, so
 * internal services that only `GET` the public keys never meet an expired token. Driven by the
 * `P:authorizers` schedule (score = expiry); refreshes go through the token service, whose locks
 * make several instances safe to run side by side (the second one re-reads and finds it done).
 */
export class Refresher {
  private readonly failures = new Map<string, { count: number; retryAt: number }>();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<unknown> | undefined;
  private running = false;
  /** Set by stop(): a round in progress takes no further batch. */
  private stopping = false;

  constructor(
    private readonly deps: RefresherDeps,
    private readonly options: RefresherOptions,
  ) {}

  /**
   * One round: the component token, then the due accounts, batch after batch. A full batch means more may
   * be due behind it, so the next one is taken at once rather than a round later (one batch per interval
   * would cap the refresher at batchSize / interval whatever it can do, and let a backlog grow until tokens
   * expire). Accounts left in the schedule's due range (not yet at their own threshold, backing off, failed)
   * are skipped by offset, and an account is looked at once per round.
   */
  async runOnce(): Promise<RefreshRound> {
    const started = performance.now();
    const { authorizerStore, clock } = this.deps;
    const componentToken = await this.refreshComponentToken();
    const marginMs = this.options.marginSeconds * 1000;
    const { batchSize, concurrency } = this.options;
    const budgetMs = this.options.roundBudgetMs ?? this.options.intervalMs;
    const seen = new Set<string>();
    const failed: string[] = [];
    let checked = 0;
    let batches = 0;
    let offset = 0;
    for (;;) {
      const now = clock.now();
      const due = await authorizerStore.dueForRefresh(now + marginMs + this.options.spreadMs, batchSize, offset);
      batches++;
      const unseen = due.filter(({ appid }) => !seen.has(appid));
      for (const { appid } of unseen) seen.add(appid);
      const ready = unseen.filter(
        ({ appid, expiresAt }) => expiresAt - now <= this.thresholdMs(appid) && !this.backingOff(appid, now),
      );
      let refreshed = 0;
      await runPool(ready, concurrency, async ({ appid, expiresAt }) => {
        if (await this.refreshAccount(appid, expiresAt)) refreshed++;
        else failed.push(appid);
      });
      checked += ready.length;
      // A refreshed account left the due range (its new expiry is hours away); every other one is still in front.
      offset += due.length - refreshed;
      const more = due.length >= batchSize && batchSize > 0 && unseen.length > 0;
      if (!more || this.stopping || performance.now() - started >= budgetMs) break;
    }
    const round = { componentToken, checked, batches, failed, backingOff: this.failures.size };
    if (checked > 0) this.deps.logger.debug(round, 'refresher round');
    return round;
  }

  private async refreshComponentToken(): Promise<RefreshRound['componentToken']> {
    const { tokenService } = this.deps;
    if (!(await this.deps.ticketStore.get())) await this.deps.pushTicketStarter.startIfDue();
    const marginMs = this.options.marginSeconds * 1000;
    let componentToken: RefreshRound['componentToken'] = 'ok';
    try {
      await tokenService.ensureComponentAccessToken(marginMs);
    } catch (err) {
      componentToken = 'failed';
      // Without a ticket this would repeat every round; the push-ticket starter already said it, hourly.
      const level = err instanceof TicketMissingError ? 'debug' : 'warn';
      this.deps.logger[level](
        { err: { message: (err as Error).message } },
        'refresher: component_access_token not refreshed',
      );
    }
    return componentToken;
  }

  /** Starts the background rounds (the first one now); idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.schedule(0);
  }

  /** Stops scheduling and waits for a round in progress to finish. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.round?.catch(() => undefined);
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.round = this.runOnce()
        .catch((err: unknown) =>
          this.deps.logger.error({ err: { message: (err as Error).message } }, 'refresher round failed'),
        )
        .finally(() => {
          const jitter = this.options.intervalMs * (0.9 + Math.random() * 0.2);
          if (this.running) this.schedule(jitter);
        });
    }, delayMs);
  }

  /**
   * true when the account's token is fresh afterwards (refreshed here or by another instance). A schedule
   * entry that proved stale (the token is fresher than it says, or the account is revoked or unknown: a
   * write whose index step never ran) is put right from the account's record (AuthorizerStore.reindex).
   */
  private async refreshAccount(appid: string, scheduledExpiry: number): Promise<boolean> {
    try {
      // The schedule says it is due: straight to the lock, whose re-read tells a token refreshed elsewhere.
      const { current, refreshedHere } = await this.deps.tokenService.refreshDueAuthorizerToken(
        appid,
        this.thresholdMs(appid),
      );
      this.failures.delete(appid);
      // Refreshed here, the write already moved the entry; fresh from elsewhere, it may still hold the old score.
      if (!refreshedHere && current.expiresAt !== scheduledExpiry) await this.reindex(appid, scheduledExpiry);
      return true;
    } catch (err) {
      // Revoked, unknown, or marked for re-authorization: out of the schedule, nothing to retry.
      if (err instanceof AuthorizerNotAuthorizedError || err instanceof AuthorizerNotFoundError) {
        this.failures.delete(appid);
        await this.reindex(appid);
        return true;
      }
      const count = (this.failures.get(appid)?.count ?? 0) + 1;
      this.failures.set(appid, {
        count,
        retryAt: this.deps.clock.now() + equalJitterBackoffMs(count, this.options.backoff),
      });
      this.deps.logger.warn(
        { authorizerAppid: appid, failures: count, err: { message: (err as Error).message } },
        'refresher: authorizer token not refreshed; backing off',
      );
      return false;
    }
  }

  /** Failed refreshes of an account in a row, in this instance (0 once one succeeds). For the console. */
  consecutiveFailures(appid: string): number {
    return this.failures.get(appid)?.count ?? 0;
  }

  private async reindex(appid: string, ifScheduledAt?: number): Promise<void> {
    await this.deps.authorizerStore
      .reindex(appid, ifScheduledAt)
      .catch((err: unknown) =>
        this.deps.logger.warn(
          { authorizerAppid: appid, err: { message: (err as Error).message } },
          'refresher: schedule entry not repaired',
        ),
      );
  }

  private backingOff(appid: string, now: number): boolean {
    const failure = this.failures.get(appid);
    return !!failure && failure.retryAt > now;
  }

  /**
   * Margin plus a fixed per-account offset in [0, spread): accounts authorized together (and so
   * expiring together) are refreshed at different moments, and every instance agrees on when.
   */
  private thresholdMs(appid: string): number {
    const offset = createHash('sha1').update(appid).digest().readUInt32BE(0) / 2 ** 32;
    return this.options.marginSeconds * 1000 + Math.floor(offset * this.options.spreadMs);
  }
}

async function runPool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

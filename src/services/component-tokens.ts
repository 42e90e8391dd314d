import type { Clock } from '../clock';
import { ComponentTicketExpiredError, ComponentTicketInvalidError, TicketMissingError } from '../errors';
import type { Logger } from '../logger';
import type { Keys } from '../store/keys';
import type { Fence } from '../store/lock';
import type { TicketStore } from '../store/ticket-store';
import type { ComponentTokenStore, StoredToken } from '../store/token-store';
import type { ComponentApi } from '../wechat/component-api';
import { isTokenRejected } from '../wechat/errcodes';
import { toCurrentToken, type CurrentToken, type RefreshCoordinator, type RefreshPlan } from './refresh-coordinator';
import { SingleFlight } from './single-flight';

export interface ComponentTokensDeps {
  readonly api: ComponentApi;
  readonly tickets: TicketStore;
  readonly store: ComponentTokenStore;
  readonly coordinator: RefreshCoordinator;
  readonly keys: Keys;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly marginMs: number;
  /** A token with less than this left is never handed out: callers wait for a fresh one (or get the refresh's error). */
  readonly minServableMs: number;
}

/** The component_access_token: cached in Redis, refreshed once across processes (see RefreshCoordinator). */
export class ComponentTokens {
  /** Concurrent reads of the token in this process share one Redis read. */
  private readonly reads = new SingleFlight<StoredToken | undefined>();

  constructor(private readonly deps: ComponentTokensDeps) {}

  /**
   * For callers: the cached token at once while it has more than the margin left; inside the margin but
   * still servable, the cached token at once too, with one refresh started in the background. Only a
   * missing or (nearly) expired token makes the caller wait for the refresh; when that fails (WeChat down,
   * lock wait bound passed), the cached token while it is still servable.
   */
  async get(): Promise<CurrentToken> {
    const { coordinator, clock, marginMs, minServableMs } = this.deps;
    const cached = await this.read();
    const plan = this.planWithin(marginMs);
    const leftMs = cached ? cached.expiresAt - clock.now() : 0;
    if (cached && leftMs > marginMs) return toCurrentToken(cached, clock);
    if (cached && leftMs >= minServableMs) {
      coordinator.runInBackground(plan);
      return toCurrentToken(cached, clock);
    }
    try {
      return toCurrentToken(await coordinator.run(plan), clock);
    } catch (err) {
      return this.servableOrThrow(err);
    }
  }

  /**
   * The cached token while it has more than the margin left (what `get` returns without starting a refresh),
   * otherwise undefined: a read that can go out beside another one and never starts a refresh itself.
   */
  async fresh(): Promise<CurrentToken | undefined> {
    const { clock, marginMs } = this.deps;
    const cached = await this.read();
    return cached && cached.expiresAt - clock.now() > marginMs ? toCurrentToken(cached, clock) : undefined;
  }

  /** For the refresher: a token with more than `minRemainingMs` left, or the refresh's error. */
  async ensureFresh(minRemainingMs: number): Promise<CurrentToken> {
    const { coordinator, clock } = this.deps;
    const cached = await this.read();
    const plan = this.planWithin(minRemainingMs);
    if (plan.isGood(cached)) return toCurrentToken(cached, clock);
    return toCurrentToken(await coordinator.run(plan), clock);
  }

  /** A refresh unless the token has more than `minRemainingMs` left. */
  private planWithin(minRemainingMs: number): RefreshPlan {
    const { store, keys, clock } = this.deps;
    return {
      kind: 'component',
      flightKey: `component|within:${minRemainingMs}`,
      lockKey: keys.componentTokenLock,
      read: () => store.get(),
      peek: () => this.read(),
      isGood: (t: StoredToken | undefined): t is StoredToken => !!t && t.expiresAt - clock.now() > minRemainingMs,
      refresh: (fence) => this.fetch(fence),
    };
  }

  /**
   * Compare-and-refresh: WeChat rejected `rejected`; refresh only if it is still the stored
   * token (so many callers reporting the same token cause one refresh), and return the current one.
   */
  async invalidate(rejected: string): Promise<CurrentToken> {
    const { store, coordinator, keys, clock, marginMs } = this.deps;
    const fresh = await coordinator.run({
      kind: 'component',
      flightKey: `component|replace:${rejected}`,
      lockKey: keys.componentTokenLock,
      read: () => store.get(),
      peek: () => this.read(),
      isGood: (t): t is StoredToken => !!t && t.token !== rejected && t.expiresAt - clock.now() > marginMs,
      refresh: (fence) => this.fetch(fence),
    });
    return toCurrentToken(fresh, clock);
  }

  /** The cached token; callers asking at the same time share one Redis read. */
  private read(): Promise<StoredToken | undefined> {
    return this.reads.run('component', () => this.deps.store.get());
  }

  /**
   * Runs one WeChat call with the cached token. If WeChat says that token is invalid or expired
   * (40001/40014/42001), that exact token is invalidated and the call replayed once; a second
   * rejection is thrown, never looped.
   */
  async withToken<T>(
    call: (componentAccessToken: string) => Promise<T>,
    /** `fresh()` as the caller already read it (alongside a read of its own); without a token, `get` decides. */
    prefetched?: Promise<CurrentToken | undefined>,
  ): Promise<T> {
    const { token } = (await prefetched?.catch(() => undefined)) ?? (await this.get());
    try {
      return await call(token);
    } catch (err) {
      if (!isTokenRejected(err)) throw err;
      this.deps.logger.warn(
        { errcode: (err as { errcode: number }).errcode },
        'component_access_token rejected by WeChat; refreshing and replaying once',
      );
      const replacement = await this.invalidate(token);
      return call(replacement.token);
    }
  }

  private async fetch(fence: Fence): Promise<StoredToken> {
    const { api, tickets, store, clock, logger } = this.deps;
    const ticket = await tickets.get();
    if (!ticket) throw new TicketMissingError();
    // Expiry is counted from before the call, so our view is never later than WeChat's.
    const startedAt = clock.now();
    try {
      const issued = await api.getComponentAccessToken(ticket.ticket);
      const stored = { token: issued.token, expiresAt: startedAt + issued.expiresIn * 1000 };
      await store.save(stored, fence);
      logger.info({ expiresIn: issued.expiresIn }, 'component_access_token refreshed');
      return stored;
    } catch (err) {
      if (err instanceof ComponentTicketExpiredError || err instanceof ComponentTicketInvalidError) {
        logger.error({ errcode: err.errcode, ticketReceivedAt: ticket.receivedAt }, err.message);
      }
      throw err;
    }
  }

  /** After a failed refresh: re-read once and keep serving a token that is still valid long enough. */
  private async servableOrThrow(err: unknown): Promise<CurrentToken> {
    const { store, clock, logger, minServableMs } = this.deps;
    const latest = await store.get().catch(() => undefined);
    if (!latest || latest.expiresAt - clock.now() < minServableMs) throw err;
    logger.warn(
      { err: { message: (err as Error).message }, expiresIn: Math.floor((latest.expiresAt - clock.now()) / 1000) },
      'could not refresh component_access_token; serving the cached one while it is still valid',
    );
    return toCurrentToken(latest, clock);
  }
}

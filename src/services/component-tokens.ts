import type { Clock } from '../clock';
import { ComponentTicketExpiredError, ComponentTicketInvalidError, TicketMissingError } from '../errors';
import type { Logger } from '../logger';
import type { Keys } from '../store/keys';
import type { TicketStore } from '../store/ticket-store';
import type { ComponentTokenStore, StoredToken } from '../store/token-store';
import type { ComponentApi } from '../wechat/component-api';
import { isTokenRejected } from '../wechat/errcodes';
import { toCurrentToken, type CurrentToken, type RefreshCoordinator } from './refresh-coordinator';
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
  /** A token with less than this left is never handed out, even when refreshing fails. */
  readonly minServableMs: number;
}

/** The component_access_token: cached in Redis, refreshed once across processes (see RefreshCoordinator). */
export class ComponentTokens {
  /** Concurrent reads of the token in this process share one Redis read. */
  private readonly reads = new SingleFlight<StoredToken | undefined>();

  constructor(private readonly deps: ComponentTokensDeps) {}

  /**
   * For callers: a token fresher than the margin, or, when refreshing fails (WeChat down, lock
   * wait bound passed), the cached token while it is still valid for a while.
   */
  async get(): Promise<CurrentToken> {
    try {
      return await this.ensureFresh(this.deps.marginMs);
    } catch (err) {
      return this.servableOrThrow(err);
    }
  }

  /** For the refresher: a token with more than `minRemainingMs` left, or the refresh's error. */
  async ensureFresh(minRemainingMs: number): Promise<CurrentToken> {
    const { store, coordinator, keys, clock } = this.deps;
    const cached = await this.read();
    const isGood = (t: StoredToken | undefined): t is StoredToken => !!t && t.expiresAt - clock.now() > minRemainingMs;
    if (isGood(cached)) return toCurrentToken(cached, clock);
    const fresh = await coordinator.run({
      kind: 'component',
      flightKey: `component|within:${minRemainingMs}`,
      lockKey: keys.componentTokenLock,
      read: () => store.get(),
      peek: () => this.read(),
      isGood,
      refresh: () => this.fetch(),
    });
    return toCurrentToken(fresh, clock);
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
      refresh: () => this.fetch(),
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
  async withToken<T>(call: (componentAccessToken: string) => Promise<T>): Promise<T> {
    const { token } = await this.get();
    try {
      return await call(token);
    } catch (err) {
      if (!isTokenRejected(err)) throw err;
      this.deps.logger.warn({ errcode: (err as { errcode: number }).errcode }, 'component_access_token rejected by WeChat; refreshing and replaying once');
      const replacement = await this.invalidate(token);
      return call(replacement.token);
    }
  }

  private async fetch(): Promise<StoredToken> {
    const { api, tickets, store, clock, logger } = this.deps;
    const ticket = await tickets.get();
    if (!ticket) throw new TicketMissingError();
    // Expiry is counted from before the call, so our view is never later than WeChat's.
    const startedAt = clock.now();
    try {
      const issued = await api.getComponentAccessToken(ticket.ticket);
      const stored = { token: issued.token, expiresAt: startedAt + issued.expiresIn * 1000 };
      await store.save(stored);
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

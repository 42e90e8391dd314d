import type { Clock } from '../clock';
import type { Logger } from '../logger';
import type { AuthorizerStore } from '../store/authorizer-store';
import type { Keys } from '../store/keys';
import type { Locks } from '../store/lock';
import type { TicketStore } from '../store/ticket-store';
import type { ComponentTokenStore } from '../store/token-store';
import type { ComponentApi } from '../wechat/component-api';
import { isTokenRejected } from '../wechat/errcodes';
import { AuthorizerTokens, type DueRefresh, type OnReauthorizationRequired } from './authorizer-tokens';
import { ComponentTokens } from './component-tokens';
import {
  RefreshCoordinator,
  type CurrentToken,
  type RefreshLockTiming,
  type RefreshObserver,
} from './refresh-coordinator';

export type { CurrentToken, RefreshLockTiming, RefreshObserver } from './refresh-coordinator';
export type { DueRefresh } from './authorizer-tokens';

export interface TokenServiceDeps {
  readonly api: ComponentApi;
  readonly ticketStore: TicketStore;
  readonly componentTokenStore: ComponentTokenStore;
  readonly authorizerStore: AuthorizerStore;
  readonly locks: Locks;
  readonly keys: Keys;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Refresh a token when less than this is left (TOKEN_REFRESH_MARGIN_SECONDS). */
  readonly marginSeconds: number;
  /** Refresh locks: kept-alive TTL, and a wait bound ≥ that TTL + the slowest refresh (see refreshLockTiming). */
  readonly lock: RefreshLockTiming;
  /** A token with less left than this is never served: callers wait for the refresh (TOKEN_SERVICE_DEFAULTS). */
  readonly minServableMs?: number;
  readonly onReauthorizationRequired?: OnReauthorizationRequired;
  /** Upstream refreshes and refresh-lock waits (metrics). */
  readonly observer?: RefreshObserver;
}

export const TOKEN_SERVICE_DEFAULTS = Object.freeze({
  /** Less left than this and a token is not handed out (a caller could not finish a call with it). */
  minServableMs: 60_000,
});

/**
 * The only component that obtains tokens from WeChat (the "中控服务器"). Every read goes
 * cache → margin check → single-flight → Redis lock → re-read → WeChat → write → release,
 * so any number of processes cause at most one upstream refresh per token per expiry.
 */
export class TokenService {
  private readonly component: ComponentTokens;
  private readonly authorizers: AuthorizerTokens;
  private readonly coordinator: RefreshCoordinator;

  constructor(private readonly deps: TokenServiceDeps) {
    const coordinator = new RefreshCoordinator(deps.locks, deps.lock, deps.logger, deps.observer);
    this.coordinator = coordinator;
    const common = { api: deps.api, coordinator, keys: deps.keys, clock: deps.clock, logger: deps.logger };
    const marginMs = deps.marginSeconds * 1000;
    const minServableMs = deps.minServableMs ?? TOKEN_SERVICE_DEFAULTS.minServableMs;
    this.component = new ComponentTokens({
      ...common,
      tickets: deps.ticketStore,
      store: deps.componentTokenStore,
      marginMs,
      minServableMs,
    });
    this.authorizers = new AuthorizerTokens({
      ...common,
      componentTokens: this.component,
      store: deps.authorizerStore,
      marginMs,
      minServableMs,
      onReauthorizationRequired: deps.onReauthorizationRequired,
    });
  }

  /** Resolves once the background refreshes started so far have settled (shutdown; tests). */
  idle(): Promise<void> {
    return this.coordinator.idle();
  }

  /**
   * Fresher than the margin at once; inside the margin but servable, the cached token at once and one refresh in
   * the background; missing or nearly expired, after the refresh. While WeChat cannot refresh it, the cached token
   * as long as it stays servable.
   */
  getComponentAccessToken(): Promise<CurrentToken> {
    return this.component.get();
  }

  /** As getComponentAccessToken; AuthorizerNotFoundError (404) / AuthorizerNotAuthorizedError (409, with status). */
  getAuthorizerAccessToken(appid: string): Promise<CurrentToken> {
    return this.authorizers.get(appid);
  }

  /** For the refresher: refresh unless more than `minRemainingMs` is left; failures are thrown, never masked. */
  ensureComponentAccessToken(minRemainingMs: number): Promise<CurrentToken> {
    return this.component.ensureFresh(minRemainingMs);
  }

  ensureAuthorizerAccessToken(appid: string, minRemainingMs: number): Promise<CurrentToken> {
    return this.authorizers.ensureFresh(appid, minRemainingMs);
  }

  /** For the refresher, on an account its schedule says is due: see AuthorizerTokens.refreshDue. */
  refreshDueAuthorizerToken(appid: string, minRemainingMs: number): Promise<DueRefresh> {
    return this.authorizers.refreshDue(appid, minRemainingMs);
  }

  /** WeChat rejected `tokenValue`: refresh only if it is still current, and return the current token. */
  invalidate(kind: 'component' | 'authorizer', tokenValue: string, appid?: string): Promise<CurrentToken> {
    if (kind === 'component') return this.component.invalidate(tokenValue);
    if (!appid) throw new TypeError('invalidate("authorizer", …) needs the authorizer appid');
    return this.authorizers.invalidate(appid, tokenValue);
  }

  /** Runs a call with the cached component token; on 40001/40014/42001 refreshes that token and replays once. */
  withComponentToken<T>(call: (componentAccessToken: string) => Promise<T>): Promise<T> {
    return this.component.withToken(call);
  }

  /** Runs a call with the account's cached token; on 40001/40014/42001 refreshes that exact token and replays once. */
  async withAuthorizerToken<T>(appid: string, call: (authorizerAccessToken: string) => Promise<T>): Promise<T> {
    const { token } = await this.getAuthorizerAccessToken(appid);
    try {
      return await call(token);
    } catch (err) {
      if (!isTokenRejected(err)) throw err;
      const replacement = await this.invalidate('authorizer', token, appid);
      return call(replacement.token);
    }
  }
}

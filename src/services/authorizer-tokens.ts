import type { Clock } from '../clock';
import { AuthorizerNotAuthorizedError, AuthorizerNotFoundError, ReauthorizationRequiredError } from '../errors';
import type { Logger } from '../logger';
import type { AuthorizerRecord, AuthorizerStore, AuthorizerTokenState } from '../store/authorizer-store';
import type { Keys } from '../store/keys';
import type { Fence } from '../store/lock';
import type { StoredToken } from '../store/token-store';
import type { ComponentApi } from '../wechat/component-api';
import { errcodeMeaning, needsReauthorization } from '../wechat/errcodes';
import type { ComponentTokens } from './component-tokens';
import { toCurrentToken, type CurrentToken, type RefreshCoordinator, type RefreshPlan } from './refresh-coordinator';
import { SingleFlight } from './single-flight';

/** What AuthorizerTokens.refreshDue found or did. */
export interface DueRefresh {
  readonly current: CurrentToken;
  /** true when this call refreshed the token (and so wrote the schedule entry too). */
  readonly refreshedHere: boolean;
}

/** Told when an account needs its admin to authorize again (metrics count it). */
export type OnReauthorizationRequired = (appid: string, errcode: number | undefined) => void;

export interface AuthorizerTokensDeps {
  readonly api: ComponentApi;
  readonly componentTokens: ComponentTokens;
  readonly store: AuthorizerStore;
  readonly coordinator: RefreshCoordinator;
  readonly keys: Keys;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly marginMs: number;
  readonly minServableMs: number;
  readonly onReauthorizationRequired?: OnReauthorizationRequired;
}

/**
 * authorizer_access_token of each authorized account, refreshed with its durable refresh token
 * through api_authorizer_token under the account's lock. 61023/61003 stop the refreshing for good
 * (status reauthorization_required) until the account authorizes again.
 */
export class AuthorizerTokens {
  /** Concurrent reads of one account's token in this process share one Redis read. */
  private readonly reads = new SingleFlight<AuthorizerTokenState | undefined>();

  constructor(private readonly deps: AuthorizerTokensDeps) {}

  /**
   * For callers (404-type error for an unknown appid, 409-type when not authorized): the cached token at once
   * while it has more than the margin left; inside the margin but still servable, the cached token at once
   * too, with one refresh started in the background. Only a missing or (nearly) expired token makes the
   * caller wait; when that refresh fails otherwise, the cached token while it is still servable.
   */
  async get(appid: string): Promise<CurrentToken> {
    const { clock, marginMs, minServableMs } = this.deps;
    // The per-request read: status and token only (the record's other fields are needed only to refresh),
    // shared by the callers that ask at the same time (a herd at expiry: one read, not one per caller).
    const cached = authorized(appid, await this.readTokenState(appid)).accessToken;
    const leftMs = cached ? cached.expiresAt - clock.now() : 0;
    if (cached && leftMs > marginMs) return toCurrentToken(cached, clock);
    const purpose = `within:${marginMs}`;
    const isGood = (t: StoredToken | undefined): t is StoredToken => !!t && t.expiresAt - clock.now() > marginMs;
    if (cached && leftMs >= minServableMs) {
      this.deps.coordinator.runInBackground(this.planUnless(appid, purpose, isGood));
      return toCurrentToken(cached, clock);
    }
    try {
      return toCurrentToken(await this.deps.coordinator.run(this.planUnless(appid, purpose, isGood)), clock);
    } catch (err) {
      if (err instanceof AuthorizerNotAuthorizedError || err instanceof AuthorizerNotFoundError) throw err;
      return this.servableOrThrow(appid, err);
    }
  }

  /** For the refresher: a token with more than `minRemainingMs` left, or the refresh's error. */
  async ensureFresh(appid: string, minRemainingMs: number): Promise<CurrentToken> {
    const { clock } = this.deps;
    const cached = authorized(appid, await this.readTokenState(appid)).accessToken;
    const isGood = (t: StoredToken | undefined): t is StoredToken => !!t && t.expiresAt - clock.now() > minRemainingMs;
    if (isGood(cached)) return toCurrentToken(cached, clock);
    return toCurrentToken(
      await this.deps.coordinator.run(this.planUnless(appid, `within:${minRemainingMs}`, isGood)),
      clock,
    );
  }

  /**
   * For the refresher, whose schedule already says the token is due: no read before the lock (the re-read under
   * it decides, as for every refresh). `refreshedHere`: this call wrote the token, and with it the account's
   * schedule entry; otherwise the token was found fresh (refreshed elsewhere) and the entry may be stale.
   */
  async refreshDue(appid: string, minRemainingMs: number): Promise<DueRefresh> {
    const { clock } = this.deps;
    const isGood = (t: StoredToken | undefined): t is StoredToken => !!t && t.expiresAt - clock.now() > minRemainingMs;
    const plan = this.planUnless(appid, `within:${minRemainingMs}`, isGood);
    let refreshedHere = false;
    const stored = await this.deps.coordinator.run({
      ...plan,
      refresh: async (fence) => {
        const fresh = await plan.refresh(fence);
        refreshedHere = true;
        return fresh;
      },
    });
    return { current: toCurrentToken(stored, clock), refreshedHere };
  }

  /** Compare-and-refresh: refreshes only if `rejected` is still the account's stored token. */
  async invalidate(appid: string, rejected: string): Promise<CurrentToken> {
    const { clock, marginMs } = this.deps;
    const isGood = (t: StoredToken | undefined): t is StoredToken =>
      !!t && t.token !== rejected && t.expiresAt - clock.now() > marginMs;
    return toCurrentToken(
      await this.deps.coordinator.run(this.planUnless(appid, `replace:${rejected}`, isGood)),
      clock,
    );
  }

  private readTokenState(appid: string): Promise<AuthorizerTokenState | undefined> {
    return this.reads.run(appid, () => this.deps.store.getTokenState(appid));
  }

  /** A refresh of the account's token unless `isGood` says the stored one will do. */
  private planUnless(
    appid: string,
    purpose: string,
    isGood: (t: StoredToken | undefined) => t is StoredToken,
  ): RefreshPlan {
    const { store, componentTokens } = this.deps;
    const lockKey = this.deps.keys.authorizerTokenLock(appid);
    let record: AuthorizerRecord | undefined;
    let componentToken: Promise<CurrentToken | undefined> | undefined;
    let tries = 0;
    // Under the lock: the account, and beside it the component token the refresh will call WeChat with (a plain
    // read of the cached one, no lock needed; if it is not fresh, or the account's token is, it goes unused).
    const underLock = (read: AuthorizerRecord | undefined) => {
      record = authorized(appid, read);
      return record.accessToken;
    };
    const readComponentToken = () => {
      componentToken = componentTokens.fresh();
      componentToken.catch(() => undefined);
    };
    return {
      kind: 'authorizer',
      flightKey: `authorizer:${appid}|${purpose}`,
      lockKey,
      read: async () => {
        readComponentToken();
        return underLock(await store.get(appid));
      },
      takeAndRead: store.takeLockAndGet
        ? async (owner, ttlMs) => {
            // Usually the lock is free: the first try reads the component token at the same time; a later try
            // (after a wait) once it has the lock, so a read from before the wait is never used.
            if (tries++ === 0) readComponentToken();
            const taken = await store.takeLockAndGet!(appid, { lockKey, owner }, ttlMs);
            if (!taken) {
              componentToken = undefined;
              return undefined;
            }
            if (!componentToken) readComponentToken();
            return () => underLock(taken());
          }
        : undefined,
      peek: async () => authorized(appid, await this.readTokenState(appid)).accessToken,
      isGood,
      refresh: (fence) => this.fetch(record!, fence, componentToken),
    };
  }

  /** `componentToken`: the component token as already read for this refresh (ComponentTokens.fresh). */
  private async fetch(
    record: AuthorizerRecord,
    fence: Fence,
    componentToken?: Promise<CurrentToken | undefined>,
  ): Promise<StoredToken> {
    const { api, componentTokens, store, clock, logger } = this.deps;
    const { appid, refreshToken } = record;
    if (!refreshToken) return this.requireReauthorization(appid, undefined, 'no refresh token stored', undefined);
    const startedAt = clock.now();
    let issued;
    try {
      issued = await componentTokens.withToken(
        (token) => api.refreshAuthorizerToken(token, appid, refreshToken),
        componentToken,
      );
    } catch (err) {
      if (needsReauthorization(err)) {
        const reason = `api_authorizer_token errcode ${err.errcode}: ${errcodeMeaning(err.errcode) ?? err.errmsg}`;
        return this.requireReauthorization(appid, err.errcode, reason, refreshToken);
      }
      throw err;
    }
    const expiresAt = startedAt + issued.expiresIn * 1000;
    const rotated =
      issued.authorizerRefreshToken && issued.authorizerRefreshToken !== refreshToken
        ? issued.authorizerRefreshToken
        : undefined;
    // Stored in one transaction with the rotated refresh token; refused if the account revoked meanwhile.
    if (!(await store.saveAccessToken(appid, issued.token, expiresAt, rotated, fence))) {
      throw new AuthorizerNotAuthorizedError(appid, (await store.get(appid))?.status ?? 'unknown');
    }
    logger.info(
      { authorizerAppid: appid, expiresIn: issued.expiresIn, refreshTokenRotated: !!rotated },
      'authorizer_access_token refreshed',
    );
    return { token: issued.token, expiresAt };
  }

  private async requireReauthorization(
    appid: string,
    errcode: number | undefined,
    reason: string,
    failedRefreshToken: string | undefined,
  ): Promise<never> {
    const marked = await this.deps.store.markReauthorizationRequired(appid, reason, failedRefreshToken, errcode);
    if (marked) {
      // The line an operator searches for: the account's admin must open the authorization page again.
      this.deps.logger.error(
        { authorizerAppid: appid, errcode, reason },
        'authorizer needs re-authorization: its refresh token no longer works, refreshing stopped; ask its admin to authorize the platform again',
      );
      this.deps.onReauthorizationRequired?.(appid, errcode);
    }
    throw new ReauthorizationRequiredError(appid, reason);
  }

  private async servableOrThrow(appid: string, err: unknown): Promise<CurrentToken> {
    const { store, clock, logger, minServableMs } = this.deps;
    const latest = (await store.getTokenState(appid).catch(() => undefined))?.accessToken;
    if (!latest || latest.expiresAt - clock.now() < minServableMs) throw err;
    logger.warn(
      { authorizerAppid: appid, err: { message: (err as Error).message } },
      'could not refresh authorizer_access_token; serving the cached one while it is still valid',
    );
    return toCurrentToken(latest, clock);
  }
}

/** Narrows a record to an authorized account, or throws the error the internal API maps to 404 / 409. */
function authorized<R extends AuthorizerTokenState>(appid: string, record: R | undefined): R {
  if (!record) throw new AuthorizerNotFoundError(appid);
  if (record.status !== 'authorized') throw new AuthorizerNotAuthorizedError(appid, record.status);
  return record;
}

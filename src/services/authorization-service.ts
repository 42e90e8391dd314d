import type { Clock } from '../clock';
import { AppError, StorageUnavailableError, WeChatApiError } from '../errors';
import type { Logger } from '../logger';
import { authCodeDigest, type AuthCodeStore } from '../store/auth-code-store';
import type { AuthorizerStore } from '../store/authorizer-store';
import type { Keys } from '../store/keys';
import type { Locks } from '../store/lock';
import { buildMobileAuthorizationUrl, buildPcAuthorizationUrl, type AuthType } from '../wechat/authorization-url';
import type { AuthorizerAccountInfo, ComponentApi, FuncInfoItem } from '../wechat/component-api';
import { isAuthCodeRefused } from '../wechat/errcodes';
import type { AuthorizationEvent } from '../wechat/push-xml';
import type { AuthorizationEffects } from './push-service';
import type { TokenService } from './token-service';

export interface AuthorizationSummary {
  readonly authorizerAppId: string;
  readonly funcInfo: FuncInfoItem[];
  /** false when the account granted no API permission (WeChat returned no tokens). */
  readonly hasApiAccess: boolean;
  /** false when the account had applied a newer event already: nothing was stored. */
  readonly applied: boolean;
}

/** Where the admin's browser is sent to authorize (WeChat's pages, or the sandbox's). */
export interface LoginPages {
  readonly componentAppId: string;
  /** `${PUBLIC_BASE_URL}/auth`: WeChat sends the admin back there with auth_code. */
  readonly redirectUri: string;
  readonly pcPageUrl: string;
  readonly mobilePageUrl: string;
}

export interface LoginChoice {
  readonly authType?: AuthType;
  readonly bizAppid?: string;
  /** The H5 page (inside WeChat, or when asked for). */
  readonly mobile: boolean;
}

export interface AuthorizedAccount {
  readonly appid: string;
  readonly nickName: string | undefined;
  readonly kind: string | undefined;
  /** Permission-set ids (funcscope_category.id) the account granted. */
  readonly funcInfo: number[];
}

export interface AuthorizationServiceDeps {
  /** The component token for the calls below (the token service owns tokens). */
  tokenService: Pick<TokenService, 'withComponentToken'>;
  api: Pick<ComponentApi, 'createPreAuthCode' | 'queryAuth' | 'getAuthorizerInfo'>;
  loginPages: LoginPages;
  authorizers: AuthorizerStore;
  codes: AuthCodeStore;
  locks: Locks;
  keys: Keys;
  clock: Clock;
  logger: Logger;
  /** The account's name is nice to have: never let a slow api_get_authorizer_info hold up a push. */
  accountInfoTimeoutMs?: number;
}

/** Codes live about an hour (AuthorizationCodeExpiredTime ≈ CreateTime + 3600). */
const CODE_RECORD_TTL_SECONDS = 3600;

export const AUTHORIZATION_SERVICE_DEFAULTS = Object.freeze({
  /** The account's name and avatar are fetched after a code exchange; past this the authorization completes without them. */
  accountInfoTimeoutMs: 1500,
  /** One exchange per code across instances: the lock outlives a slow api_query_auth; a second caller waits. */
  codeLock: Object.freeze({ ttlMs: 15_000, waitMs: 6_000 }),
});

/**
 * Completing and revoking authorizations, whichever way they reach us: the
 * `authorized` / `updateauthorized` push or the admin's redirect with `auth_code`.
 * Both carry the same single-use code; the first to exchange it wins and the
 * second is a no-op (a lock on the code's digest serializes them).
 */
export class AuthorizationService implements AuthorizationEffects {
  private readonly accountInfoTimeoutMs: number;

  constructor(private readonly deps: AuthorizationServiceDeps) {
    this.accountInfoTimeoutMs = deps.accountInfoTimeoutMs ?? AUTHORIZATION_SERVICE_DEFAULTS.accountInfoTimeoutMs;
  }

  /** false: the account applied a newer event already, so this one changes nothing (no code exchange). */
  async completeFromPush(push: AuthorizationEvent): Promise<boolean> {
    const { codes, logger, clock } = this.deps;
    // Cheap early answer for an old event; the store's write compares again, atomically.
    if (await this.hasNewerEvent(push.authorizerAppid, push.createTime)) return false;
    try {
      const { applied } = await this.exchangeOnce(push.authorizationCode, push.createTime, async () => {
        // After re-authorization the cached token no longer works (WeChat invalidates it).
        if (push.infoType === 'updateauthorized') await this.deps.authorizers.dropAccessToken(push.authorizerAppid);
      });
      return applied;
    } catch (err) {
      if (err instanceof StorageUnavailableError) throw err;
      if (isAuthCodeRefused(err) && (await this.restoreFromAccountInfo(push))) return true;
      const retryable = !isAuthCodeRefused(err);
      const error = err instanceof AppError ? err.message : 'unexpected failure';
      await codes.savePending(
        { appid: push.authorizerAppid, infoType: push.infoType, receivedAt: clock.now(), error, retryable },
        CODE_RECORD_TTL_SECONDS,
      );
      logger.error(
        { authorizerAppid: push.authorizerAppid, infoType: push.infoType, err, retryable },
        retryable
          ? 'authorization code exchange failed; recorded as pending, WeChat will re-send the push'
          : 'WeChat refused the authorization code; the account must authorize again',
      );
      if (retryable) throw err;
      return true;
    }
  }

  /** The admin's redirect: exchange (or find already exchanged) and describe the account. */
  async completeFromCallback(authCode: string): Promise<AuthorizedAccount> {
    // The redirect's event time is its arrival: WeChat's push of the same authorization carries about the same.
    const { appid } = await this.exchangeOnce(authCode, Math.floor(this.deps.clock.now() / 1000), () =>
      Promise.resolve(),
    );
    const record = await this.deps.authorizers.get(appid);
    return {
      appid,
      nickName: record?.nickName,
      kind: record?.kind,
      funcInfo: (record?.funcInfo ?? [])
        .map((f) => (f.funcscope_category as { id?: unknown } | undefined)?.id)
        .filter((id): id is number => typeof id === 'number'),
    };
  }

  /** A fresh pre_auth_code and the login page's URL for it: codes are single-use (about 10 minutes). */
  async loginUrl(choice: LoginChoice): Promise<string> {
    const pages = this.deps.loginPages;
    const params = {
      componentAppId: pages.componentAppId,
      preAuthCode: await this.createPreAuthCode(),
      redirectUri: pages.redirectUri,
      authType: choice.authType ?? 3,
      bizAppId: choice.bizAppid,
    };
    return choice.mobile
      ? buildMobileAuthorizationUrl(pages.mobilePageUrl, params)
      : buildPcAuthorizationUrl(pages.pcPageUrl, params);
  }

  /** api_create_preauthcode: a new code on every call. */
  async createPreAuthCode(): Promise<string> {
    const issued = await this.deps.tokenService.withComponentToken((token) => this.deps.api.createPreAuthCode(token));
    return issued.token;
  }

  /** api_query_auth, then the account is stored as authorized (hash, token and schedule together). */
  async exchangeAuthCode(
    authCode: string,
    eventTime = Math.floor(this.deps.clock.now() / 1000),
  ): Promise<AuthorizationSummary> {
    const authorizedAt = this.deps.clock.now();
    const auth = await this.deps.tokenService.withComponentToken((token) => this.deps.api.queryAuth(token, authCode));
    const applied = await this.deps.authorizers.saveAuthorization({
      appid: auth.authorizerAppId,
      refreshToken: auth.authorizerRefreshToken,
      accessToken: auth.authorizerAccessToken,
      expiresIn: auth.expiresIn,
      funcInfo: auth.funcInfo,
      authorizedAt,
      eventTime,
    });
    const hasApiAccess = !!auth.authorizerRefreshToken;
    if (!applied) {
      this.deps.logger.info(
        { authorizerAppid: auth.authorizerAppId, eventTime },
        "authorization older than the account's last applied event; not stored",
      );
      return { authorizerAppId: auth.authorizerAppId, funcInfo: auth.funcInfo, hasApiAccess, applied };
    }
    this.deps.logger.info(
      {
        authorizerAppid: auth.authorizerAppId,
        permissionSets: auth.funcInfo.map((f) => f.funcscope_category?.id),
        hasApiAccess,
      },
      'authorizer authorized the platform',
    );
    return { authorizerAppId: auth.authorizerAppId, funcInfo: auth.funcInfo, hasApiAccess, applied };
  }

  /** api_get_authorizer_info; the name and kind are stored on the account's hash. */
  async fetchAccountInfo(appid: string): Promise<AuthorizerAccountInfo> {
    const info = await this.deps.tokenService.withComponentToken((token) =>
      this.deps.api.getAuthorizerInfo(token, appid),
    );
    await this.deps.authorizers.saveAccountInfo(appid, info);
    return info;
  }

  /**
   * A signed push whose code WeChat refuses as used (61009) is, in practice, our own earlier exchange whose write was
   * lost (Redis failing over between api_query_auth and the store's answer): WeChat re-sends the push, and the code
   * cannot be exchanged twice. api_get_authorizer_info still gives the account's refresh token, so the re-send
   * restores the account instead of asking its admin to authorize again. false: WeChat has no refresh token for
   * it (or no authorization), and the caller records the refusal as before.
   */
  private async restoreFromAccountInfo(push: AuthorizationEvent): Promise<boolean> {
    const { authorizers, codes, clock, logger } = this.deps;
    const appid = push.authorizerAppid;
    let info: AuthorizerAccountInfo;
    try {
      info = await this.deps.tokenService.withComponentToken((token) => this.deps.api.getAuthorizerInfo(token, appid));
    } catch (err) {
      // A refusal (61003: not authorized to us) is final; anything else is transient: WeChat re-sends the push.
      if (err instanceof WeChatApiError) return false;
      throw err;
    }
    if (!info.refreshToken) return false;
    // The push's own write, as the lost exchange would have made it, without the access token it lost: the
    // account is due for refresh at once. Same CreateTime guard, same authorized/updateauthorized event.
    const applied = await authorizers.saveAuthorization({
      appid,
      refreshToken: info.refreshToken,
      funcInfo: info.funcInfo,
      authorizedAt: clock.now(),
      eventTime: push.createTime,
    });
    await codes.markUsed(push.authorizationCode, appid, CODE_RECORD_TTL_SECONDS);
    if (!applied) return true;
    await codes.clearPending(appid);
    await authorizers.saveAccountInfo(appid, info);
    logger.info(
      { authorizerAppid: appid, infoType: push.infoType },
      'authorization code already used: refresh token restored from api_get_authorizer_info',
    );
    return true;
  }

  /** The `unauthorized` push; false when the account applied a newer event (it authorized again since). */
  async revoke(authorizerAppid: string, eventTime: number): Promise<boolean> {
    if (!(await this.deps.authorizers.markUnauthorized(authorizerAppid, eventTime))) return false;
    await this.deps.codes.clearPending(authorizerAppid);
    return true;
  }

  private async hasNewerEvent(appid: string, eventTime: number): Promise<boolean> {
    const last = (await this.deps.authorizers.get(appid))?.lastEventTime;
    return last !== undefined && last > eventTime;
  }

  /** The authorizer appid, and whether the authorization was stored; exchanges the code only if nobody has yet. */
  private async exchangeOnce(
    authCode: string,
    eventTime: number,
    beforeExchange: () => Promise<void>,
  ): Promise<{ appid: string; applied: boolean }> {
    const { codes, locks, keys } = this.deps;
    const lockKey = keys.lock(`auth_code:${authCodeDigest(authCode)}`);
    return locks.withLock(lockKey, AUTHORIZATION_SERVICE_DEFAULTS.codeLock, async () => {
      const done = await codes.usedBy(authCode);
      if (done) return { appid: done, applied: true };
      await beforeExchange();
      const summary = await this.exchangeAuthCode(authCode, eventTime);
      const appid = summary.authorizerAppId;
      await codes.markUsed(authCode, appid, CODE_RECORD_TTL_SECONDS);
      if (!summary.applied) return { appid, applied: false };
      await codes.clearPending(appid);
      await this.fetchAccountInfoInTime(appid);
      return { appid, applied: true };
    });
  }

  private async fetchAccountInfoInTime(appid: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.accountInfoTimeoutMs);
    });
    try {
      const outcome = await Promise.race([this.fetchAccountInfo(appid).then(() => 'ok' as const), timeout]);
      if (outcome === 'timeout')
        this.deps.logger.warn({ authorizerAppid: appid }, 'account info not fetched in time; the name shows later');
    } catch (err) {
      this.deps.logger.warn(
        { authorizerAppid: appid, err },
        'could not fetch account info (name, kind); authorization kept',
      );
    } finally {
      clearTimeout(timer);
    }
  }
}

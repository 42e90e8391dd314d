import type { Clock } from '../clock';
import { AppError, StorageUnavailableError, WeChatApiError } from '../errors';
import type { Logger } from '../logger';
import { authCodeDigest, type AuthCodeStore } from '../store/auth-code-store';
import type { AuthorizerStore } from '../store/authorizer-store';
import type { Keys } from '../store/keys';
import type { Locks } from '../store/lock';
import type { AuthorizationPush } from '../wechat/messages';
import type { AuthorizationEffects } from './push-service';
import type { TokenService } from './token-service';

export interface AuthorizedAccount {
  readonly appid: string;
  readonly nickName: string | undefined;
  readonly kind: string | undefined;
  /** Permission-set ids (funcscope_category.id) the account granted. */
  readonly funcInfo: number[];
}

export interface AuthorizationServiceDeps {
  tokenService: Pick<TokenService, 'exchangeAuthCode' | 'fetchAccountInfo'>;
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
const CODE_REFUSED = new Set([61009, 61010]);

/**
 * Completing and revoking authorizations, whichever way they reach us: the
 * `authorized` / `updateauthorized` push or the admin's redirect with `auth_code`.
 * Both carry the same single-use code; the first to exchange it wins and the
 * second is a no-op (a lock on the code's digest serializes them).
 */
export class AuthorizationService implements AuthorizationEffects {
  private readonly accountInfoTimeoutMs: number;

  constructor(private readonly deps: AuthorizationServiceDeps) {
    this.accountInfoTimeoutMs = deps.accountInfoTimeoutMs ?? 1500;
  }

  async completeFromPush(push: AuthorizationPush): Promise<void> {
    const { codes, logger, clock } = this.deps;
    try {
      await this.exchangeOnce(push.authorizationCode, async () => {
        // After re-authorization the cached token no longer works (WeChat invalidates it).
        if (push.infoType === 'updateauthorized') await this.deps.authorizers.dropAccessToken(push.authorizerAppid);
      });
    } catch (err) {
      if (err instanceof StorageUnavailableError) throw err;
      const retryable = !(err instanceof WeChatApiError && CODE_REFUSED.has(err.errcode));
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
    }
  }

  /** The admin's redirect: exchange (or find already exchanged) and describe the account. */
  async completeFromCallback(authCode: string): Promise<AuthorizedAccount> {
    const appid = await this.exchangeOnce(authCode, async () => undefined);
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

  async revoke(authorizerAppid: string): Promise<void> {
    await this.deps.authorizers.markUnauthorized(authorizerAppid);
    await this.deps.codes.clearPending(authorizerAppid);
  }

  /** Returns the authorizer appid; exchanges the code only if nobody has yet. */
  private async exchangeOnce(authCode: string, beforeExchange: () => Promise<void>): Promise<string> {
    const { codes, locks, keys } = this.deps;
    const lockKey = keys.lock(`auth_code:${authCodeDigest(authCode)}`);
    return locks.withLock(lockKey, { ttlMs: 15_000, waitMs: 6_000 }, async () => {
      const done = await codes.usedBy(authCode);
      if (done) return done;
      await beforeExchange();
      const summary = await this.deps.tokenService.exchangeAuthCode(authCode);
      const appid = summary.authorizerAppId;
      await codes.markUsed(authCode, appid, CODE_RECORD_TTL_SECONDS);
      await codes.clearPending(appid);
      await this.fetchAccountInfo(appid);
      return appid;
    });
  }

  private async fetchAccountInfo(appid: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.accountInfoTimeoutMs);
    });
    try {
      const outcome = await Promise.race([this.deps.tokenService.fetchAccountInfo(appid).then(() => 'ok' as const), timeout]);
      if (outcome === 'timeout') this.deps.logger.warn({ authorizerAppid: appid }, 'account info not fetched in time; the name shows later');
    } catch (err) {
      this.deps.logger.warn({ authorizerAppid: appid, err }, 'could not fetch account info (name, kind); authorization kept');
    } finally {
      clearTimeout(timer);
    }
  }
}

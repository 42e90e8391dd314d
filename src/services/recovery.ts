import type { Clock } from '../clock';
import { RecoveryInProgressError } from '../errors';
import type { Logger } from '../logger';
import type { AuthorizerRecord, AuthorizerStore } from '../store/authorizer-store';
import type { Keys } from '../store/keys';
import type { Locks } from '../store/lock';
import type { AuthorizerAccountInfo, AuthorizerListPage, ComponentApi } from '../wechat/component-api';
import type { TokenService } from './token-service';

export interface RecoveryDeps {
  readonly api: ComponentApi;
  readonly tokenService: TokenService;
  readonly authorizers: AuthorizerStore;
  readonly locks: Locks;
  readonly keys: Keys;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The refresh margin: verification asks for a token at least this fresh (so it refreshes). */
  readonly marginMs: number;
  /** Accounts recovered in parallel. */
  readonly concurrency: number;
  /** api_get_authorizer_list page size (WeChat's maximum, 500, unless a test pages smaller). */
  readonly pageSize?: number;
}

export interface RecoveryReport {
  readonly listed: number;
  readonly restored: number;
  readonly verified: number;
  readonly failures: { appid: string; reason: string }[];
}

type ListedAccount = AuthorizerListPage['list'][number];
interface AccountResult {
  restored: boolean;
  verified: boolean;
  failure?: string;
}

const MAX_PAGE_SIZE = 500;
/** One run at a time across instances; the lock outlives any plausible run and expires if the runner dies. */
const RUN_LOCK_TTL_MS = 30 * 60_000;

/**
 * Restores refresh tokens after a data loss (the WxJava #1119 situation): WeChat's
 * api_get_authorizer_list still knows every authorized account and its refresh token. Accounts we
 * lack, or hold without a refresh token, or marked reauthorization_required, get the listed token
 * back (status authorized), then one refresh proves it works. Accounts that are fine are not
 * touched, so a second run restores nothing.
 */
export class RecoveryService {
  constructor(private readonly deps: RecoveryDeps) {}

  async run(): Promise<RecoveryReport> {
    const { locks, keys, logger } = this.deps;
    const lease = await locks.tryAcquire(keys.lock('recovery'), RUN_LOCK_TTL_MS);
    if (!lease) throw new RecoveryInProgressError();
    try {
      const listedAt = this.deps.clock.now();
      const listed = await this.listAuthorizers();
      const stored = new Map((await this.deps.authorizers.list()).map((r) => [r.appid, r]));
      const report = { listed: listed.length, restored: 0, verified: 0, failures: [] as RecoveryReport['failures'] };
      const pending = listed.filter((account) => needsRestore(stored.get(account.authorizerAppId)));
      await runPool(pending, this.deps.concurrency, async (account) => {
        const result = await this.recover(account, stored.get(account.authorizerAppId), listedAt);
        if (result.restored) report.restored += 1;
        if (result.verified) report.verified += 1;
        if (result.failure) report.failures.push({ appid: account.authorizerAppId, reason: result.failure });
      });
      const { failures, ...counts } = report;
      logger[failures.length ? 'warn' : 'info'](
        { ...counts, stillFailing: failures.length },
        'recovery of refresh tokens finished',
      );
      return report;
    } finally {
      await lease.release().catch(() => false);
    }
  }

  /** Every account WeChat lists as authorized, page by page (offset moves by what each page returned). */
  private async listAuthorizers(): Promise<ListedAccount[]> {
    const all: ListedAccount[] = [];
    const pageSize = Math.min(MAX_PAGE_SIZE, this.deps.pageSize ?? MAX_PAGE_SIZE);
    for (;;) {
      const page = await this.deps.tokenService.withComponentToken((token) =>
        this.deps.api.getAuthorizerList(token, all.length, pageSize),
      );
      all.push(...page.list);
      if (page.list.length === 0 || all.length >= page.totalCount) return all;
    }
  }

  private async recover(
    account: ListedAccount,
    record: AuthorizerRecord | undefined,
    listedAt: number,
  ): Promise<AccountResult> {
    const { authorizers, tokenService, logger } = this.deps;
    const appid = account.authorizerAppId;
    if (!account.refreshToken)
      return failed('WeChat lists the account without a refresh_token; it must authorize again');
    // A lost hash also lost the account's name and permission sets: ask WeChat again (best effort).
    const info = record ? undefined : await this.accountInfo(appid);
    const outcome = await authorizers.restoreRefreshToken({
      appid,
      refreshToken: account.refreshToken,
      authorizedAt: account.authTime ? account.authTime * 1000 : this.deps.clock.now(),
      funcInfo: info?.funcInfo ?? [],
      listedAt,
    });
    if (outcome === 'known_bad')
      return failed('the refresh token WeChat lists already failed; the account must authorize again');
    // not_needed: fixed meanwhile (e.g. re-authorized); revoked_since: WeChat's list is already out of date.
    if (outcome !== 'restored') return { restored: false, verified: false };
    if (info) await authorizers.saveAccountInfo(appid, info);
    logger.info(
      { authorizerAppid: appid, hadRecord: !!record },
      'recovery: refresh token restored from api_get_authorizer_list',
    );
    try {
      await tokenService.ensureAuthorizerAccessToken(appid, this.deps.marginMs);
      return { restored: true, verified: true };
    } catch (err) {
      logger.warn(
        { authorizerAppid: appid, err: { message: (err as Error).message } },
        'recovery: restored refresh token did not work',
      );
      return { restored: true, verified: false, failure: (err as Error).message };
    }
  }

  private async accountInfo(appid: string): Promise<AuthorizerAccountInfo | undefined> {
    try {
      return await this.deps.tokenService.withComponentToken((token) => this.deps.api.getAuthorizerInfo(token, appid));
    } catch (err) {
      this.deps.logger.warn(
        { authorizerAppid: appid, err: { message: (err as Error).message } },
        'recovery: account info not fetched; restoring without it',
      );
      return undefined;
    }
  }
}

function failed(failure: string): AccountResult {
  return { restored: false, verified: false, failure };
}

/**
 * Authorized with a refresh token = working; anything else WeChat still lists is restored. A refresh
 * token that cannot be decrypted (wrong TOKEN_ENCRYPTION_KEYS) is left alone: the fix is the key.
 */
function needsRestore(record: AuthorizerRecord | undefined): boolean {
  if (record?.refreshTokenUnreadable) return false;
  return !(record?.status === 'authorized' && record.refreshToken);
}

/** The JSON shape printed by `npm run recover` and returned by POST /internal/recover. */
export function recoveryReportJson(report: RecoveryReport) {
  return {
    listed: report.listed,
    restored: report.restored,
    verified: report.verified,
    still_failing: report.failures.length,
    failures: report.failures.map((f) => ({ authorizer_appid: f.appid, reason: f.reason })),
  };
}

async function runPool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, concurrency), items.length) }, worker));
}

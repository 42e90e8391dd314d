import type { Clock } from '../clock';
import { AuthorizerNotFoundError } from '../errors';
import type { Logger } from '../logger';
import type { AuthCodeStore, PendingAuthorization } from '../store/auth-code-store';
import type { AuthorizerRecord, AuthorizerStatus, AuthorizerStore } from '../store/authorizer-store';
import type { TicketStore } from '../store/ticket-store';
import type { ComponentTokenStore } from '../store/token-store';
import { permissionSetIds } from '../wechat/permission-sets';
import type { LastHour, RecentActivity } from './console-activity';
import type { RecoveryReport, RecoveryService } from './recovery';
import type { TokenService } from './token-service';

/** One entry of an account's authorization history, from the event stream (P:events) when it exists. */
export interface AccountEvent {
  readonly at: number;
  /** authorized, updateauthorized, unauthorized, reauthorization_required, … */
  readonly type: string;
  readonly detail?: string;
}

/**
 * What the event stream and the webhooks (issue 15) give the console, when they exist: the console
 * shows undelivered events and event history only when the container hands it a provider.
 */
export interface ConsoleEventSource {
  /** Absent without webhooks: nothing is waiting for delivery. */
  undeliveredCount?(): Promise<number>;
  accountHistory(appid: string, limit: number): Promise<AccountEvent[]>;
}

export interface ConsoleServiceDeps {
  readonly authorizers: AuthorizerStore;
  readonly tickets: TicketStore;
  readonly componentTokens: ComponentTokenStore;
  readonly pending: Pick<AuthCodeStore, 'getPending'>;
  readonly tokenService: Pick<TokenService, 'ensureAuthorizerAccessToken' | 'invalidate'>;
  readonly recovery: Pick<RecoveryService, 'run'>;
  readonly activity: Pick<RecentActivity, 'lastHour'>;
  readonly failures: { consecutiveFailures(appid: string): number };
  readonly clock: Clock;
  readonly logger: Logger;
  /** Where admins authorize (`${PUBLIC_BASE_URL}/authorize`): the re-authorization link starts there. */
  readonly publicBaseUrl: string;
  readonly marginMs: number;
  readonly events?: ConsoleEventSource;
}

export interface Overview {
  /** undefined: no ticket stored; null: stored without its arrival time. */
  readonly ticketAgeMs: number | null | undefined;
  readonly componentTokenTtlMs: number | undefined;
  readonly accountsByStatus: Record<AuthorizerStatus, number>;
  readonly lastHour: LastHour;
  /** Only when webhooks exist. */
  readonly undeliveredEvents?: number;
}

/** A row of the account list: nothing secret (no token, no refresh token), by construction. */
export interface AccountRow {
  readonly appid: string;
  readonly nickName?: string;
  readonly kind?: string;
  readonly status: AuthorizerStatus;
  readonly tokenExpiresInMs?: number;
  readonly lastRefreshAt?: number;
  readonly consecutiveFailures: number;
}

export interface AccountList {
  readonly text: string;
  readonly page: number;
  readonly pages: number;
  readonly total: number;
  readonly rows: AccountRow[];
}

export interface AccountDetail extends AccountRow {
  readonly principalName?: string;
  readonly userName?: string;
  readonly permissionSets: number[];
  readonly authorizedAt?: number;
  readonly updatedAt?: number;
  readonly reauthorizationReason?: string;
  readonly pending?: PendingAuthorization;
  /** From the event stream; undefined without one (the page then shows the stored timestamps). */
  readonly history?: AccountEvent[];
  /** For an account that must authorize again: the page its admin opens. */
  readonly reauthorizationLink?: string;
}

export const ACCOUNTS_PER_PAGE = 50;
const HISTORY_LIMIT = 50;
const MAX_SEARCH_LENGTH = 64;

/** The operator console's use cases (routes/console/*): read-only views plus two actions. */
export class ConsoleService {
  constructor(private readonly deps: ConsoleServiceDeps) {}

  async overview(): Promise<Overview> {
    const { tickets, componentTokens, authorizers, activity, clock, events } = this.deps;
    const [ticket, token, accountsByStatus, undeliveredEvents] = await Promise.all([
      tickets.get(),
      componentTokens.get(),
      authorizers.countByStatus(),
      events?.undeliveredCount?.(),
    ]);
    const now = clock.now();
    return {
      ticketAgeMs: ticket ? (ticket.receivedAt === undefined ? null : Math.max(0, now - ticket.receivedAt)) : undefined,
      componentTokenTtlMs: token ? Math.max(0, token.expiresAt - now) : undefined,
      accountsByStatus,
      lastHour: activity.lastHour(),
      ...(undeliveredEvents === undefined ? {} : { undeliveredEvents }),
    };
  }

  async listAccounts(query: { text?: string; page?: number }): Promise<AccountList> {
    const text = (query.text ?? '').trim().slice(0, MAX_SEARCH_LENGTH);
    const requested = Number.isInteger(query.page) && (query.page ?? 0) > 0 ? (query.page as number) : 1;
    let result = await this.deps.authorizers.search({
      text,
      offset: (requested - 1) * ACCOUNTS_PER_PAGE,
      limit: ACCOUNTS_PER_PAGE,
    });
    const pages = Math.max(1, Math.ceil(result.total / ACCOUNTS_PER_PAGE));
    const page = Math.min(requested, pages);
    if (page !== requested)
      result = await this.deps.authorizers.search({
        text,
        offset: (page - 1) * ACCOUNTS_PER_PAGE,
        limit: ACCOUNTS_PER_PAGE,
      });
    return { text, page, pages, total: result.total, rows: result.records.map((r) => this.row(r)) };
  }

  async account(appid: string): Promise<AccountDetail | undefined> {
    const record = await this.deps.authorizers.get(appid);
    if (!record) return undefined;
    const [pending, history] = await Promise.all([
      this.deps.pending.getPending(appid),
      this.deps.events?.accountHistory(appid, HISTORY_LIMIT),
    ]);
    return {
      ...this.row(record),
      principalName: record.principalName,
      userName: record.userName,
      permissionSets: permissionSetIds(record.funcInfo),
      authorizedAt: record.authorizedAt,
      updatedAt: record.updatedAt,
      reauthorizationReason: record.reauthorizationReason,
      pending,
      // An account whose events have left the capped stream (or predate it) shows its stored timestamps.
      history: history?.length ? history : undefined,
      reauthorizationLink: record.status === 'authorized' ? undefined : this.reauthorizationLink(record),
    };
  }

  /**
   * Refreshes the account's token now, whatever is left of it. Compare-and-refresh on the current token,
   * so two operators clicking at once (or a refresher round) cause one upstream refresh.
   */
  async refreshNow(appid: string, operator: string): Promise<{ expiresInMs: number }> {
    const record = await this.deps.authorizers.get(appid);
    if (!record) throw new AuthorizerNotFoundError(appid);
    const { tokenService, clock, marginMs } = this.deps;
    const current = record.accessToken?.token;
    const token = current
      ? await tokenService.invalidate('authorizer', current, appid)
      : await tokenService.ensureAuthorizerAccessToken(appid, marginMs);
    this.audit(operator, 'refresh_token', { authorizerAppid: appid });
    return { expiresInMs: Math.max(0, token.expiresAt - clock.now()) };
  }

  async runRecovery(operator: string): Promise<RecoveryReport> {
    this.audit(operator, 'recovery_started', {});
    const report = await this.deps.recovery.run();
    this.audit(operator, 'recovery_finished', {
      listed: report.listed,
      restored: report.restored,
      verified: report.verified,
      failures: report.failures.length,
    });
    return report;
  }

  /** One log line per operator action, with the operator's name (never a secret value). */
  audit(operator: string, action: string, details: Record<string, unknown>): void {
    this.deps.logger.info({ audit: true, operator, action, ...details }, `console: ${action}`);
  }

  /** Our authorize page for just this account (biz_appid) and its kind, so its admin cannot pick another. */
  private reauthorizationLink(record: AuthorizerRecord): string {
    const params = new URLSearchParams({ biz_appid: record.appid });
    if (record.kind === 'official_account') params.set('auth_type', '1');
    if (record.kind === 'mini_program') params.set('auth_type', '2');
    return `${this.deps.publicBaseUrl}/authorize?${params}`;
  }

  private row(record: AuthorizerRecord): AccountRow {
    const now = this.deps.clock.now();
    return {
      appid: record.appid,
      nickName: record.nickName,
      kind: record.kind,
      status: record.status,
      tokenExpiresInMs: record.accessToken ? Math.max(0, record.accessToken.expiresAt - now) : undefined,
      lastRefreshAt: record.tokenRefreshedAt,
      consecutiveFailures: this.deps.failures.consecutiveFailures(record.appid),
    };
  }
}

import type { Clock } from '../../clock';
import type {
  AccountInfo,
  AuthorizerPage,
  AuthorizerRecord,
  AuthorizerSearch,
  AuthorizerStatus,
  AuthorizerStore,
  AuthorizerTokenState,
  DueAuthorizer,
  FuncInfo,
  NewAuthorization,
  RefreshTokenRestore,
  RestoreOutcome,
} from '../authorizer-store';
import { LockLostError } from '../../errors';
import type { Fence } from '../lock';
import { ExpiringMap } from './expiring-map';
import type { MemoryLocks } from './memory-locks';

/** What Redis keeps in the durable hash `P:authorizer:{A}` (funcInfo as its JSON, as there). */
type AuthorizerHash = { -readonly [K in keyof AccountInfo]: AccountInfo[K] } & {
  status: AuthorizerStatus;
  refreshToken?: string;
  funcInfoJson?: string;
  authorizedAt?: number;
  updatedAt?: number;
  tokenRefreshedAt?: number;
  reauthorizationReason?: string;
  /** Written by restoreRefreshToken as in Redis; no record field shows it yet. */
  recoveredAt?: number;
  lastEventTime?: number;
};

const ACCOUNT_FIELDS = ['nickName', 'userName', 'kind', 'headImg', 'principalName'] as const;

/**
 * AuthorizerStore in process memory, for the sandbox without Redis (see ./index.ts). It keeps the
 * same four structures as RedisAuthorizerStore — the durable record, the access token with its
 * TTL, the refresh schedule (appid → access-token expiry) and every appid ever seen — and each
 * method makes the same changes to them; JavaScript running one method to its end stands for the
 * MULTI / Lua atomicity. The access token disappears at its expiry by the injected clock (Redis:
 * the same span of real time); its schedule entry stays, as the zset score does.
 */
export class MemoryAuthorizerStore implements AuthorizerStore {
  private readonly hashes = new Map<string, AuthorizerHash>();
  private readonly tokens: ExpiringMap<string>;
  private readonly schedule = new Map<string, number>();
  private readonly known = new Set<string>();

  constructor(
    private readonly clock: Clock,
    /** The locks fenced writes are checked against. */
    private readonly locks?: MemoryLocks,
  ) {
    this.tokens = new ExpiringMap(clock);
  }

  async saveAuthorization(a: NewAuthorization): Promise<boolean> {
    const now = this.clock.now();
    const previous = this.hashes.get(a.appid);
    if (isOlderEvent(previous, a.eventTime)) return false;
    const hash: AuthorizerHash = {
      ...previous,
      ...(a.eventTime !== undefined ? { lastEventTime: a.eventTime } : {}),
      status: 'authorized',
      funcInfoJson: JSON.stringify(a.funcInfo),
      authorizedAt: a.authorizedAt,
      updatedAt: now,
      ...(a.refreshToken ? { refreshToken: a.refreshToken } : {}),
    };
    delete hash.reauthorizationReason;
    this.hashes.set(a.appid, hash);
    const ttlMs = a.expiresIn ? a.expiresIn * 1000 : 0;
    if (a.accessToken && ttlMs > 0) {
      this.tokens.set(a.appid, a.accessToken, ttlMs);
      this.schedule.set(a.appid, now + ttlMs);
    } else {
      this.tokens.delete(a.appid);
      // Score 0 = due now: with a refresh token, the first read or the refresher fetches a token.
      if (a.refreshToken) this.schedule.set(a.appid, 0);
      else this.schedule.delete(a.appid);
    }
    this.known.add(a.appid);
    return true;
  }

  async saveAccessToken(
    appid: string,
    accessToken: string,
    expiresAt: number,
    rotatedRefreshToken?: string,
    fence?: Fence,
  ): Promise<boolean> {
    if (fence && !this.locks?.holds(fence)) throw new LockLostError(`authorizer_access_token of ${appid}`);
    const hash = this.hashes.get(appid);
    if (hash?.status !== 'authorized') return false;
    const now = this.clock.now();
    this.tokens.set(appid, accessToken, Math.max(1, Math.floor(expiresAt - now)));
    this.schedule.set(appid, expiresAt);
    hash.updatedAt = now;
    hash.tokenRefreshedAt = now;
    if (rotatedRefreshToken) hash.refreshToken = rotatedRefreshToken;
    return true;
  }

  async dropAccessToken(appid: string): Promise<void> {
    this.tokens.delete(appid);
    // ZADD XX: only an account already in the schedule is rescheduled.
    if (this.schedule.has(appid)) this.schedule.set(appid, 0);
  }

  async markUnauthorized(appid: string, eventTime?: number): Promise<boolean> {
    const now = this.clock.now();
    const previous = this.hashes.get(appid);
    if (isOlderEvent(previous, eventTime)) return false;
    // Like HSET, this creates the record of an appid never seen before.
    const hash: AuthorizerHash = {
      ...previous,
      status: 'unauthorized',
      updatedAt: now,
      ...(eventTime !== undefined ? { lastEventTime: eventTime } : {}),
    };
    delete hash.refreshToken;
    delete hash.reauthorizationReason;
    this.hashes.set(appid, hash);
    this.tokens.delete(appid);
    this.schedule.delete(appid);
    this.known.add(appid);
    return true;
  }

  async markReauthorizationRequired(appid: string, reason: string, failedRefreshToken?: string): Promise<boolean> {
    const hash = this.hashes.get(appid);
    if (hash?.status !== 'authorized') return false;
    if (failedRefreshToken && hash.refreshToken !== failedRefreshToken) return false;
    hash.status = 'reauthorization_required';
    hash.reauthorizationReason = reason;
    hash.updatedAt = this.clock.now();
    this.tokens.delete(appid);
    this.schedule.delete(appid);
    return true;
  }

  async saveAccountInfo(appid: string, info: AccountInfo): Promise<boolean> {
    const hash = this.hashes.get(appid);
    if (!hash) return false;
    hash.updatedAt = this.clock.now();
    for (const name of ACCOUNT_FIELDS) {
      const value = info[name];
      if (value !== undefined) hash[name] = value;
    }
    return true;
  }

  async get(appid: string): Promise<AuthorizerRecord | undefined> {
    return this.toRecord(appid);
  }

  async getTokenState(appid: string): Promise<AuthorizerTokenState | undefined> {
    const h = this.hashes.get(appid);
    if (!h) return undefined;
    const token = this.tokens.get(appid);
    const score = this.schedule.get(appid);
    return { status: h.status, accessToken: token && score !== undefined ? { token, expiresAt: score } : undefined };
  }

  async list(): Promise<AuthorizerRecord[]> {
    return this.allAppids().flatMap((appid) => this.toRecord(appid) ?? []);
  }

  async search({ text, offset, limit }: AuthorizerSearch): Promise<AuthorizerPage> {
    const needle = text?.trim().toLowerCase();
    const matching = this.allAppids().filter(
      (appid) =>
        !needle ||
        appid.toLowerCase().includes(needle) ||
        (this.hashes.get(appid)?.nickName ?? '').toLowerCase().includes(needle),
    );
    const start = Math.max(0, offset);
    const page = matching.slice(start, start + Math.max(0, limit));
    return { total: matching.length, records: page.flatMap((appid) => this.toRecord(appid) ?? []) };
  }

  async countByStatus(): Promise<Record<AuthorizerStatus, number>> {
    const counts: Record<AuthorizerStatus, number> = { authorized: 0, unauthorized: 0, reauthorization_required: 0 };
    for (const appid of this.allAppids()) {
      const status = this.hashes.get(appid)?.status;
      if (status) counts[status] += 1;
    }
    return counts;
  }

  /** One shard: memory has no slots to spread over. */
  async scheduleSizes(): Promise<number[]> {
    return [this.schedule.size];
  }

  /** Schedule, index and counters are one structure here: nothing can drift. */
  async reindex(): Promise<void> {}

  /** RESTORE_REFRESH_TOKEN (authorizer-scripts.ts), check for check and write for write. */
  async restoreRefreshToken(r: RefreshTokenRestore): Promise<RestoreOutcome> {
    const current = this.hashes.get(r.appid);
    if (current?.status === 'authorized' && current.refreshToken) return 'not_needed';
    if (current?.status === 'reauthorization_required' && current.refreshToken === r.refreshToken) return 'known_bad';
    if (current?.status === 'unauthorized' && (current.updatedAt ?? 0) > r.listedAt) return 'revoked_since';
    const now = this.clock.now();
    const hash: AuthorizerHash = {
      ...current,
      status: 'authorized',
      refreshToken: r.refreshToken,
      updatedAt: now,
      recoveredAt: now,
      authorizedAt: current?.authorizedAt ?? r.authorizedAt,
      funcInfoJson: current?.funcInfoJson ?? JSON.stringify(r.funcInfo),
    };
    delete hash.reauthorizationReason;
    this.hashes.set(r.appid, hash);
    this.tokens.delete(r.appid);
    // Due now: the next read or the refresher tries the restored refresh token.
    this.schedule.set(r.appid, 0);
    this.known.add(r.appid);
    return 'restored';
  }

  async dueForRefresh(untilMs: number, limit: number, offset = 0): Promise<DueAuthorizer[]> {
    const due = [...this.schedule]
      .filter(([, expiresAt]) => expiresAt <= untilMs)
      // A sorted set orders equal scores by member.
      .sort(([a, x], [b, y]) => x - y || (a < b ? -1 : a > b ? 1 : 0))
      .map(([appid, expiresAt]) => ({ appid, expiresAt }));
    // ZRANGEBYSCORE … LIMIT offset count: a negative count means no limit.
    const start = Math.max(0, offset);
    return limit < 0 ? due.slice(start) : due.slice(start, start + limit);
  }

  /** Every appid ever stored, sorted (as RedisAuthorizerStore: the known set and the schedule). */
  private allAppids(): string[] {
    return [...new Set([...this.known, ...this.schedule.keys()])].sort();
  }

  /** A fresh object each time, shaped as RedisAuthorizerStore's, so callers never hold stored state. */
  private toRecord(appid: string): AuthorizerRecord | undefined {
    const h = this.hashes.get(appid);
    if (!h) return undefined;
    const token = this.tokens.get(appid);
    const score = this.schedule.get(appid);
    return {
      appid,
      status: h.status,
      refreshToken: h.refreshToken || undefined,
      funcInfo: parseFuncInfo(h.funcInfoJson),
      authorizedAt: h.authorizedAt,
      updatedAt: h.updatedAt,
      ...(h.tokenRefreshedAt !== undefined ? { tokenRefreshedAt: h.tokenRefreshedAt } : {}),
      reauthorizationReason: h.reauthorizationReason,
      nickName: h.nickName,
      userName: h.userName,
      kind: h.kind,
      headImg: h.headImg,
      principalName: h.principalName,
      accessToken: token && score !== undefined ? { token, expiresAt: score } : undefined,
      lastEventTime: h.lastEventTime,
    };
  }
}

/** The event-order rule of authorizer-scripts.ts (EVENT_ORDER_GUARD). */
function isOlderEvent(hash: AuthorizerHash | undefined, eventTime: number | undefined): boolean {
  return eventTime !== undefined && hash?.lastEventTime !== undefined && hash.lastEventTime > eventTime;
}

function parseFuncInfo(json: string | undefined): FuncInfo {
  const value: unknown = json ? JSON.parse(json) : [];
  return Array.isArray(value) ? (value as FuncInfo) : [];
}

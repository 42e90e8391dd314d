import type { OutboxWrite } from './event-stream';
import type { Fence } from './lock';
import type { StoredToken } from './token-store';

/**
 * Authorized accounts (design.md key contract, docs/redis-keys.md): the durable hash `P:authorizer:{A}`,
 * the access token `P:authorizer:{A}:access_token` (TTL = WeChat's expiry), the refresh token in its own
 * secret key, and per schedule shard a zset (score = access-token expiry in service-clock ms: the refresh
 * schedule), an index of every appid ever seen and per-status counters. Only refreshable (authorized)
 * accounts are scheduled.
 * Timestamps in the hash are service-clock epoch ms. The Redis implementation is
 * redis-authorizer-store.ts; this interface stays free of Redis types for other implementations.
 */
export type AuthorizerStatus = 'authorized' | 'unauthorized' | 'reauthorization_required';
export type FuncInfo = ReadonlyArray<Readonly<Record<string, unknown>>>;

export interface AccountInfo {
  readonly nickName?: string;
  readonly userName?: string;
  readonly kind?: string;
  readonly headImg?: string;
  readonly principalName?: string;
}

export interface AuthorizerRecord extends AccountInfo {
  readonly appid: string;
  readonly status: AuthorizerStatus;
  readonly refreshToken?: string;
  readonly funcInfo: FuncInfo;
  readonly authorizedAt?: number;
  readonly updatedAt?: number;
  /** When the service last stored a refreshed access token (not set by the authorization itself). */
  readonly tokenRefreshedAt?: number;
  readonly reauthorizationReason?: string;
  readonly accessToken?: StoredToken;
  /** CreateTime (Unix seconds) of the last authorization event applied to the account (see AccountEventTime). */
  readonly lastEventTime?: number;
  /** Set by list() when the stored refresh token cannot be decrypted (get() throws RefreshTokenUnreadableError). */
  readonly refreshTokenUnreadable?: true;
}

/**
 * When the event that changes an account happened: a push's CreateTime, or the admin's redirect's arrival
 * (Unix seconds). A write carrying one applies only if it is not older than the account's last applied event,
 * compared atomically with the write; the account keeps the newest. Seconds are WeChat's resolution, so two
 * events of the same second apply in arrival order (an exact replay is the de-duplication record's business).
 */
export type AccountEventTime = number;

export interface NewAuthorization {
  readonly appid: string;
  /** Absent when the account granted no API permission; a stored one is then kept (never deleted but on unauthorized). */
  readonly refreshToken?: string;
  readonly accessToken?: string;
  /** Seconds from now, as WeChat returns it. */
  readonly expiresIn?: number;
  readonly funcInfo: FuncInfo;
  readonly authorizedAt: number;
  /** Omitted only by writes that are not an authorization event (tests, tools). */
  readonly eventTime?: AccountEventTime;
}

/** An account WeChat lists as authorized (api_get_authorizer_list), to be restored after a data loss. */
export interface RefreshTokenRestore {
  readonly appid: string;
  readonly refreshToken: string;
  /** Kept when the hash already has one. */
  readonly authorizedAt: number;
  /** Kept when the hash already has one. */
  readonly funcInfo: FuncInfo;
  /** When the list was read (service-clock ms): an `unauthorized` push stored after that wins. */
  readonly listedAt: number;
}

/**
 * restored: written (status authorized, access token dropped, due for refresh now);
 * not_needed: authorized with a refresh token already; known_bad: that very refresh token already failed;
 * revoked_since: the account revoked after the list was read.
 */
export type RestoreOutcome = 'restored' | 'not_needed' | 'known_bad' | 'revoked_since';

/** What a token read needs of an account: its status and its access token (see AuthorizerStore.getTokenState). */
export interface AuthorizerTokenState {
  readonly status: AuthorizerStatus;
  readonly accessToken?: StoredToken;
}

export interface DueAuthorizer {
  readonly appid: string;
  readonly expiresAt: number;
}

/** A page of the account listing (the console): accounts whose appid or name contains `text`, sorted by appid. */
export interface AuthorizerSearch {
  /** Case-insensitive substring of the appid or the nick name; empty or absent = every account. */
  readonly text?: string;
  readonly offset: number;
  readonly limit: number;
}

export interface AuthorizerPage {
  /** How many accounts match, over all pages. */
  readonly total: number;
  readonly records: AuthorizerRecord[];
}

/**
 * The state-changing writes take an optional `outbox` event (event-stream.ts): written in the same
 * transaction as the change, and only if the change is made. Stores without an event stream ignore it.
 */
export interface AuthorizerStore {
  /** Status authorized; hash, access token and schedule in one step. false: a newer event was applied (nothing written). */
  saveAuthorization(authorization: NewAuthorization, outbox?: OutboxWrite): Promise<boolean>;
  /**
   * Only while the account is authorized; false if it no longer is (nothing written). With a fence, only while
   * that lock is still held by its owner, checked in the same atomic step (LockLostError otherwise).
   */
  saveAccessToken(
    appid: string,
    accessToken: string,
    expiresAt: number,
    rotatedRefreshToken?: string,
    fence?: Fence,
  ): Promise<boolean>;
  /** Deletes the access token and schedules the account for an immediate refresh. */
  dropAccessToken(appid: string): Promise<void>;
  /** The account revoked: status unauthorized, its tokens deleted, out of the schedule. false: a newer event was applied (nothing written). */
  markUnauthorized(appid: string, eventTime?: AccountEventTime, outbox?: OutboxWrite): Promise<boolean>;
  /** Only if still authorized with `failedRefreshToken` (when given); false otherwise. `errcode`: WeChat's, for the event. */
  markReauthorizationRequired(
    appid: string,
    reason: string,
    failedRefreshToken?: string,
    errcode?: number,
    outbox?: OutboxWrite,
  ): Promise<boolean>;
  /** Updates a known account; false (nothing written) for an unknown appid. */
  saveAccountInfo(appid: string, info: AccountInfo): Promise<boolean>;
  get(appid: string): Promise<AuthorizerRecord | undefined>;
  /**
   * The token read's part of `get` (status and access token, as `get` shows them), without the rest of
   * the record: the per-request read of the token service. undefined for an unknown appid.
   */
  getTokenState(appid: string): Promise<AuthorizerTokenState | undefined>;
  /**
   * Optional (Redis): takes the account's refresh lock `fence.lockKey` for `fence.owner` (`SET NX PX ttlMs`, see
   * TryAcquireOptions.takeWith) and reads the account as `get` does, in one atomic step; undefined while the
   * lock is held. The refresh's lock and re-read in one round trip. The record is opened by calling the result,
   * which throws what `get` throws (an unreadable refresh token): once the lease exists, so it is released.
   */
  takeLockAndGet?(
    appid: string,
    fence: Fence,
    ttlMs: number,
  ): Promise<(() => AuthorizerRecord | undefined) | undefined>;
  /** Every account ever stored, whatever its status, sorted by appid. */
  list(): Promise<AuthorizerRecord[]>;
  /** One page of the accounts matching a search; reads the full records of that page only. */
  search(search: AuthorizerSearch): Promise<AuthorizerPage>;
  /** How many stored accounts have each status (readiness, metrics): maintained counters, not a walk. */
  countByStatus(): Promise<Record<AuthorizerStatus, number>>;
  /** Scheduled accounts per schedule shard (metrics). */
  scheduleSizes(): Promise<number[]>;
  /**
   * Puts the account's schedule and index entry right from its record: for an account whose schedule
   * entry proved stale (the refresher found it fresh, revoked or unknown). With `ifScheduledAt`, only
   * when the schedule still holds that score (one read when a write since has moved it). No-op where
   * they cannot drift.
   */
  reindex(appid: string, ifScheduledAt?: number): Promise<void>;
  /** Recovery: stores a refresh token WeChat listed, unless the account still has a working one. */
  restoreRefreshToken(restore: RefreshTokenRestore, outbox?: OutboxWrite): Promise<RestoreOutcome>;
  /**
   * Accounts whose access token expires at or before `untilMs`, soonest first (equal expiries by
   * appid), skipping the first `offset` of them, at most `limit`.
   */
  dueForRefresh(untilMs: number, limit: number, offset?: number): Promise<DueAuthorizer[]>;
}

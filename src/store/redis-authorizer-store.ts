import type { Clock } from '../clock';
import { LockLostError, RefreshTokenUnreadableError } from '../errors';
import { AuthorizerIndex } from './authorizer-index';
import { AuthorizerShards, type IndexEntry } from './authorizer-shards';
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
} from './authorizer-store';
import {
  DROP_ACCESS_TOKEN,
  MARK_REAUTHORIZATION_REQUIRED,
  MARK_UNAUTHORIZED,
  READ_ACCOUNT,
  READ_ENTRY,
  RESEAL_REFRESH_TOKEN,
  RESTORE_REFRESH_TOKEN,
  SAVE_ACCESS_TOKEN,
  SAVE_AUTHORIZATION,
  TAKE_LOCK_AND_READ_ACCOUNT,
  TOKEN_STATE,
  UPDATE_IF_EXISTS,
} from './authorizer-scripts';
import type { OutboxWrite } from './event-stream';
import type { Keys } from './keys';
import type { Fence } from './lock';
import { defineScripts, runKeysAndArgs, type LuaScript } from './lua-script';
import type { Redis } from './redis';
import { isSealed, SecretCipher } from './secret-cipher';
import { storageOp } from './storage-errors';

const RESTORE_OUTCOMES: Record<number, RestoreOutcome> = {
  0: 'not_needed',
  1: 'restored',
  2: 'known_bad',
  3: 'revoked_since',
};
/** The refresh token's field name in its associated data (secret-cipher.ts). */
export const REFRESH_TOKEN_FIELD = 'refresh_token';
/** Accounts read at a time by list() and the walks: bounded replies and memory at any account count. */
const READ_BATCH = 500;
/** A restore retried this often when the stored refresh token changes under it. */
const RESTORE_ATTEMPTS = 5;
const APPID_START_RE = /^wx[A-Za-z0-9]{4,32}$/;

const scripts = {
  saveAuthorization: { name: 'wxSaveAuthorization', numberOfKeys: 4, lua: SAVE_AUTHORIZATION },
  saveAccessToken: { name: 'wxSaveAuthorizerAccessToken', numberOfKeys: 4, lua: SAVE_ACCESS_TOKEN },
  dropAccessToken: { name: 'wxDropAuthorizerAccessToken', numberOfKeys: 3, lua: DROP_ACCESS_TOKEN },
  markUnauthorized: { name: 'wxMarkUnauthorized', numberOfKeys: 4, lua: MARK_UNAUTHORIZED },
  markReauthorizationRequired: {
    name: 'wxMarkReauthorizationRequired',
    numberOfKeys: 4,
    lua: MARK_REAUTHORIZATION_REQUIRED,
  },
  updateIfExists: { name: 'wxUpdateIfExists', numberOfKeys: 1, lua: UPDATE_IF_EXISTS },
  restore: { name: 'wxRestoreRefreshToken', numberOfKeys: 4, lua: RESTORE_REFRESH_TOKEN },
  tokenState: { name: 'wxAuthorizerTokenState', numberOfKeys: 2, lua: TOKEN_STATE },
  readAccount: { name: 'wxReadAuthorizer', numberOfKeys: 3, lua: READ_ACCOUNT },
  takeLockAndReadAccount: { name: 'wxTakeLockAndReadAuthorizer', numberOfKeys: 4, lua: TAKE_LOCK_AND_READ_ACCOUNT },
  readEntry: { name: 'wxReadAuthorizerIndexEntry', numberOfKeys: 1, lua: READ_ENTRY },
  reseal: { name: 'wxResealRefreshToken', numberOfKeys: 3, lua: RESEAL_REFRESH_TOKEN },
};

/** Hash field of each AccountInfo property. */
const ACCOUNT_FIELDS = {
  nickName: 'nick_name',
  userName: 'user_name',
  kind: 'kind',
  headImg: 'head_img',
  principalName: 'principal_name',
} as const;

/** What re-sealing did to one account's refresh token (see resealRefreshToken). */
export type ResealOutcome = 'resealed' | 'current' | 'absent' | 'unreadable' | 'changed';

/**
 * AuthorizerStore on Redis (design.md key contract, Cluster layout of keys.ts). An account's keys are
 * written by one script in its slot `{A}` (with the account's outbox event, when there is one); the schedule
 * shard's index follows (authorizer-shards.ts), then the console's listing index (authorizer-index.ts: one
 * un-tagged key, a search aid outside design.md's contract, so a separate write).
 * Refresh tokens live in `P:secret:{A}:refresh_token`, sealed by `cipher` when a key is configured.
 */
export class RedisAuthorizerStore implements AuthorizerStore {
  readonly index: AuthorizerShards;
  private readonly listing: AuthorizerIndex;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly clock: Clock,
    private readonly cipher: SecretCipher = new SecretCipher([]),
  ) {
    this.index = new AuthorizerShards(redis, keys);
    this.listing = new AuthorizerIndex(redis, keys);
    defineScripts(redis, Object.values(scripts));
  }

  async saveAuthorization(a: NewAuthorization, outbox?: OutboxWrite): Promise<boolean> {
    const now = this.clock.now();
    const ttlMs = a.expiresIn ? a.expiresIn * 1000 : 0;
    const withToken = !!a.accessToken && ttlMs > 0;
    await this.index.prepare(a.appid, true);
    const sealed = a.refreshToken ? this.seal(a.appid, a.refreshToken) : '';
    const args = [
      JSON.stringify(a.funcInfo),
      a.authorizedAt,
      now,
      sealed,
      withToken ? a.accessToken : '',
      ttlMs,
      now + ttlMs,
      ...outboxArgs(outbox),
      a.eventTime ?? '',
    ];
    const written = await this.write(a.appid, scripts.saveAuthorization, args, true);
    // An older event was refused: the schedule entry `prepare` may have added is put right from the record.
    if (!written) {
      await this.reindex(a.appid);
      return false;
    }
    // The listing index is one key of its own (another Cluster slot): written after the account.
    await this.listing.add(a.appid);
    return true;
  }

  async saveAccessToken(
    appid: string,
    accessToken: string,
    expiresAt: number,
    rotatedRefreshToken?: string,
    fence?: Fence,
  ): Promise<boolean> {
    const now = this.clock.now();
    const ttlMs = Math.max(1, Math.floor(expiresAt - now));
    const rotated = rotatedRefreshToken ? this.seal(appid, rotatedRefreshToken) : '';
    const lockKey = fence?.lockKey ?? this.keys.authorizerTokenLock(appid);
    const keys = [...this.accountKeys(appid), lockKey];
    const reply = (await storageOp(() =>
      runKeysAndArgs(this.redis, scripts.saveAccessToken, [
        ...keys,
        accessToken,
        ttlMs,
        expiresAt,
        now,
        rotated,
        fence?.owner ?? '',
      ]),
    )) as (string | number)[];
    if (Number(reply[0]) === -1) throw new LockLostError(`authorizer_access_token of ${appid}`);
    const entry = toEntry(reply);
    if (!entry) return false;
    await this.index.apply(appid, entry);
    return true;
  }

  async dropAccessToken(appid: string): Promise<void> {
    await this.write(appid, scripts.dropAccessToken, []);
  }

  async markUnauthorized(appid: string, eventTime?: number, outbox?: OutboxWrite): Promise<boolean> {
    await this.index.prepare(appid, false);
    const written = await this.write(
      appid,
      scripts.markUnauthorized,
      [this.clock.now(), ...outboxArgs(outbox), eventTime ?? ''],
      true,
    );
    if (written) await this.listing.add(appid);
    return written;
  }

  async markReauthorizationRequired(
    appid: string,
    reason: string,
    failedRefreshToken?: string,
    _errcode?: number,
    outbox?: OutboxWrite,
  ): Promise<boolean> {
    let expected = '';
    if (failedRefreshToken) {
      // Sealed values differ at every write: compare plaintexts here, then set only if the value is unchanged.
      const stored = await storageOp(() => this.redis.get(this.keys.authorizerRefreshToken(appid)));
      if (stored === null || this.open(appid, stored) !== failedRefreshToken) return false;
      expected = stored;
    }
    return this.write(
      appid,
      scripts.markReauthorizationRequired,
      [this.clock.now(), reason, expected, ...outboxArgs(outbox)],
      true,
    );
  }

  async saveAccountInfo(appid: string, info: AccountInfo): Promise<boolean> {
    const fields: (string | number)[] = ['updated_at', this.clock.now()];
    for (const [name, field] of Object.entries(ACCOUNT_FIELDS)) {
      const value = info[name as keyof AccountInfo];
      if (value !== undefined) fields.push(field, value);
    }
    const updated = await storageOp(() =>
      runKeysAndArgs(this.redis, scripts.updateIfExists, [this.keys.authorizer(appid), ...fields]),
    );
    // The listing index is a search aid, not part of the contract: a separate write (another slot in a Cluster).
    if (updated === 1 && info.nickName !== undefined) await this.listing.add(appid, info.nickName);
    return updated === 1;
  }

  get(appid: string): Promise<AuthorizerRecord | undefined> {
    return this.read(appid, false);
  }

  /**
   * Takes the account's refresh lock (`fence`: its key and our owner value) and reads the account in one script
   * of its slot; undefined while the lock is held. The record is opened when asked for (see AuthorizerStore).
   */
  async takeLockAndGet(
    appid: string,
    fence: Fence,
    ttlMs: number,
  ): Promise<(() => AuthorizerRecord | undefined) | undefined> {
    const reply = (await storageOp(() =>
      runKeysAndArgs(this.redis, scripts.takeLockAndReadAccount, [
        ...this.accountKeys(appid),
        fence.lockKey,
        fence.owner,
        ttlMs,
      ]),
    )) as AccountReply | null;
    return reply ? () => this.recordOf(appid, reply, false) : undefined;
  }

  /** `tolerant`: an undecryptable refresh token is reported on the record instead of thrown. */
  private async read(appid: string, tolerant: boolean): Promise<AuthorizerRecord | undefined> {
    const reply = (await storageOp(() =>
      runKeysAndArgs(this.redis, scripts.readAccount, [...this.accountKeys(appid)]),
    )) as AccountReply;
    return this.recordOf(appid, reply, tolerant);
  }

  private recordOf(appid: string, reply: AccountReply, tolerant: boolean): AuthorizerRecord | undefined {
    const [flat, token, secret] = reply;
    if (flat.length === 0) return undefined;
    const hash: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!;
    if (!hash.status) return undefined;
    if (secret === null) return toRecord(appid, hash, token, undefined);
    try {
      return toRecord(appid, hash, token, this.open(appid, secret));
    } catch (err) {
      if (!tolerant) throw err;
      return { ...toRecord(appid, hash, token, undefined), refreshTokenUnreadable: true };
    }
  }

  async getTokenState(appid: string): Promise<AuthorizerTokenState | undefined> {
    const { hash, token } = this.keysOf(appid);
    const reply = (await storageOp(() => runKeysAndArgs(this.redis, scripts.tokenState, [hash, token]))) as
      [string, string | null, string | null] | null;
    if (!reply) return undefined;
    const [status, value, expiresAt] = reply;
    return {
      status: status as AuthorizerStatus,
      accessToken: value && expiresAt !== null ? { token: value, expiresAt: Number(expiresAt) } : undefined,
    };
  }

  async list(): Promise<AuthorizerRecord[]> {
    const records: AuthorizerRecord[] = [];
    for await (const appids of this.index.appids(READ_BATCH)) {
      for (const record of await Promise.all(appids.map((appid) => this.read(appid, true))))
        if (record) records.push(record);
    }
    return records.sort((a, b) => (a.appid < b.appid ? -1 : a.appid > b.appid ? 1 : 0));
  }

  async search({ text, offset, limit }: AuthorizerSearch): Promise<AuthorizerPage> {
    await this.listing.backfill(
      () => this.index.size(),
      () => this.index.appids(READ_BATCH),
    );
    const needle = text
      ?.trim()
      .toLowerCase()
      .replace(/\p{Cc}/gu, '');
    const start = Math.max(0, offset);
    const count = Math.max(0, limit);
    if (!needle) {
      const [total, page] = await Promise.all([this.listing.count(), this.listing.page(start, count)]);
      return { total, records: await this.readMany(page) };
    }
    // Text that looks like the start of an appid is first tried as one (an index range, not a scan).
    const typed = text?.trim() ?? '';
    const byPrefix = APPID_START_RE.test(typed) ? await this.listing.withPrefix(typed) : [];
    const matching = byPrefix.length > 0 ? byPrefix : await this.listing.search(needle);
    return { total: matching.length, records: await this.readMany(matching.slice(start, start + count)) };
  }

  /** The records of these appids, in that order (one script each: on a Cluster they are in many slots). */
  private async readMany(appids: string[]): Promise<AuthorizerRecord[]> {
    const records = await Promise.all(appids.map((appid) => this.read(appid, true)));
    return records.filter((r): r is AuthorizerRecord => r !== undefined);
  }

  countByStatus(): Promise<Record<AuthorizerStatus, number>> {
    return this.index.countByStatus();
  }

  scheduleSizes(): Promise<number[]> {
    return this.index.scheduleSizes();
  }

  async restoreRefreshToken(r: RefreshTokenRestore, outbox?: OutboxWrite): Promise<RestoreOutcome> {
    await this.index.prepare(r.appid, true);
    for (let attempt = 0; attempt < RESTORE_ATTEMPTS; attempt++) {
      const stored = await storageOp(() => this.redis.get(this.keys.authorizerRefreshToken(r.appid)));
      const sameToken = stored !== null && this.open(r.appid, stored) === r.refreshToken;
      const args = [
        this.seal(r.appid, r.refreshToken),
        r.authorizedAt,
        JSON.stringify(r.funcInfo),
        this.clock.now(),
        r.listedAt,
        stored ?? '',
        sameToken ? '1' : '0',
        ...outboxArgs(outbox),
      ];
      const keys = [...this.accountKeys(r.appid), this.keys.authorizerOutbox(r.appid)];
      const reply = (await storageOp(() => runKeysAndArgs(this.redis, scripts.restore, [...keys, ...args]))) as (
        string | number
      )[];
      const outcome = Number(reply[0]);
      if (outcome === 9) continue;
      // Restored: apply its entry; otherwise the prepared index entry is put right from the record.
      if (outcome === 1) {
        await this.index.apply(r.appid, toEntry(reply)!);
        await this.listing.add(r.appid);
      } else await this.reindex(r.appid);
      return RESTORE_OUTCOMES[outcome] ?? 'not_needed';
    }
    await this.reindex(r.appid);
    return 'not_needed';
  }

  dueForRefresh(untilMs: number, limit: number, offset = 0): Promise<DueAuthorizer[]> {
    return this.index.dueForRefresh(untilMs, limit, offset);
  }

  /** Re-derives the account's index entry from its record (drift repair; a gone record leaves the index). */
  async reindex(appid: string, ifScheduledAt?: number): Promise<void> {
    if (ifScheduledAt !== undefined) {
      const score = await storageOp(() => this.redis.zscore(this.keys.scheduleOf(appid), appid));
      if (score === null || Number(score) !== ifScheduledAt) return;
    }
    const reply = (await storageOp(() =>
      runKeysAndArgs(this.redis, scripts.readEntry, [this.keys.authorizer(appid)]),
    )) as (string | number)[];
    const entry = toEntry(reply);
    if (entry) await this.index.apply(appid, entry);
    else await this.index.apply(appid, { revision: 0, status: '', due: undefined }, true);
  }

  /**
   * Rewrites the account's refresh token under the current key when it is plaintext or sealed under
   * another key (`onlyPlaintext`: plaintext ones only). Compare-and-set: a token rotated meanwhile is
   * left to its writer ('changed'). An undecryptable one is left as it is ('unreadable').
   */
  async resealRefreshToken(appid: string, onlyPlaintext = false): Promise<ResealOutcome> {
    const key = this.keys.authorizerRefreshToken(appid);
    const stored = await storageOp(() => this.redis.get(key));
    if (stored === null) return 'absent';
    if (!this.cipher.needsResealing(stored) || (onlyPlaintext && isSealed(stored))) return 'current';
    const opened = this.cipher.unseal(stored, appid, REFRESH_TOKEN_FIELD);
    if (!opened.ok) return 'unreadable';
    const sealed = this.cipher.seal(opened.plaintext, appid, REFRESH_TOKEN_FIELD);
    const set = await storageOp(() =>
      runKeysAndArgs(this.redis, scripts.reseal, [...this.accountKeys(appid), stored, sealed]),
    );
    return set === 1 ? 'resealed' : 'changed';
  }

  /**
   * An account write (slot `{A}`; `withOutbox`: the script's KEYS[4] is the account's outbox), then its index
   * entry (the shard's slot). true when the write happened.
   */
  private async write(
    appid: string,
    script: LuaScript,
    args: (string | number)[],
    withOutbox = false,
  ): Promise<boolean> {
    const keys = withOutbox ? [...this.accountKeys(appid), this.keys.authorizerOutbox(appid)] : this.accountKeys(appid);
    const reply = (await storageOp(() => runKeysAndArgs(this.redis, script, [...keys, ...args]))) as (
      string | number
    )[];
    const entry = toEntry(reply);
    if (!entry) return false;
    await this.index.apply(appid, entry);
    return true;
  }

  private seal(appid: string, refreshToken: string): string {
    return this.cipher.seal(refreshToken, appid, REFRESH_TOKEN_FIELD);
  }

  private open(appid: string, stored: string): string {
    const opened = this.cipher.unseal(stored, appid, REFRESH_TOKEN_FIELD);
    if (!opened.ok) throw new RefreshTokenUnreadableError(appid, opened.failure, opened.keyId);
    return opened.plaintext;
  }

  private accountKeys(appid: string): [string, string, string] {
    return [
      this.keys.authorizer(appid),
      this.keys.authorizerAccessToken(appid),
      this.keys.authorizerRefreshToken(appid),
    ];
  }

  private keysOf(appid: string): { hash: string; token: string } {
    return { hash: this.keys.authorizer(appid), token: this.keys.authorizerAccessToken(appid) };
  }
}

/** READ_ACCOUNT's reply: the hash as a flat list, the access token, the refresh token as stored. */
type AccountReply = [string[], string | null, string | null];

/** The two trailing ARGV of a script that may write an outbox event: its id and JSON, or '' ''. */
function outboxArgs(outbox: OutboxWrite | undefined): [string, string] {
  return outbox ? [outbox.eventId, outbox.json] : ['', ''];
}

/** `{1, revision, status, due}` → the entry; `{0}` → undefined (nothing written). */
function toEntry(reply: (string | number)[]): IndexEntry | undefined {
  if (Number(reply[0]) !== 1) return undefined;
  const due = reply[3] === '' || reply[3] === undefined ? undefined : Number(reply[3]);
  return { revision: Number(reply[1]), status: String(reply[2] ?? '') as IndexEntry['status'], due };
}

function toRecord(
  appid: string,
  h: Record<string, string>,
  token: string | null,
  refreshToken: string | undefined,
): AuthorizerRecord {
  const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
  const expiresAt = num(h.access_token_expires_at);
  return {
    appid,
    status: h.status as AuthorizerStatus,
    refreshToken: refreshToken || undefined,
    funcInfo: parseFuncInfo(h.func_info),
    authorizedAt: num(h.authorized_at),
    updatedAt: num(h.updated_at),
    ...(h.token_refreshed_at ? { tokenRefreshedAt: num(h.token_refreshed_at) } : {}),
    lastEventTime: num(h.last_event_time),
    reauthorizationReason: h.reauthorization_reason,
    nickName: h.nick_name,
    userName: h.user_name,
    kind: h.kind,
    headImg: h.head_img,
    principalName: h.principal_name,
    accessToken: token && expiresAt !== undefined ? { token, expiresAt } : undefined,
  };
}

function parseFuncInfo(json: string | undefined): FuncInfo {
  try {
    const value: unknown = json ? JSON.parse(json) : [];
    return Array.isArray(value) ? (value as FuncInfo) : [];
  } catch {
    return [];
  }
}

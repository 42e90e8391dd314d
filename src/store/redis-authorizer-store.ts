import type { Clock } from '../clock';
import { LockLostError } from '../errors';
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
import type { OutboxWrite } from './event-stream';
import {
  MARK_REAUTHORIZATION_REQUIRED,
  MARK_UNAUTHORIZED,
  RESTORE_REFRESH_TOKEN,
  SAVE_ACCESS_TOKEN,
  SAVE_AUTHORIZATION,
  TOKEN_STATE,
  UPDATE_IF_EXISTS,
} from './authorizer-scripts';
import { AuthorizerIndex } from './authorizer-index';
import type { Keys } from './keys';
import type { Fence } from './lock';
import { defineScripts, runScript, type LuaScript } from './lua-script';
import type { Redis } from './redis';
import { execTransaction, storageOp } from './storage-errors';

const RESTORE_OUTCOMES: Record<number, RestoreOutcome> = { 0: 'not_needed', 1: 'restored', 2: 'known_bad', 3: 'revoked_since' };
/** Status reads are pipelined in slices of this many, so one scrape never builds a huge reply. */
const STATUS_BATCH = 1000;

/** The scripts of authorizer-scripts.ts as ioredis commands (KEYS and ARGV are documented there). */
const SCRIPTS = {
  saveAccessToken: { name: 'wxSaveAuthorizerAccessToken', numberOfKeys: 4, lua: SAVE_ACCESS_TOKEN },
  markReauthorizationRequired: { name: 'wxMarkReauthorizationRequired', numberOfKeys: 4, lua: MARK_REAUTHORIZATION_REQUIRED },
  updateIfExists: { name: 'wxUpdateIfExists', numberOfKeys: 1, lua: UPDATE_IF_EXISTS },
  restoreRefreshToken: { name: 'wxRestoreRefreshToken', numberOfKeys: 5, lua: RESTORE_REFRESH_TOKEN },
  tokenState: { name: 'wxAuthorizerTokenState', numberOfKeys: 3, lua: TOKEN_STATE },
  saveAuthorization: { name: 'wxAuthorizerSaveAuthorization', numberOfKeys: 5, lua: SAVE_AUTHORIZATION },
  markUnauthorized: { name: 'wxAuthorizerMarkUnauthorized', numberOfKeys: 5, lua: MARK_UNAUTHORIZED },
} as const satisfies Record<string, LuaScript>;

const APPID_START_RE = /^wx[A-Za-z0-9]{4,32}$/;

/** Hash field of each AccountInfo property. */
const ACCOUNT_FIELDS = { nickName: 'nick_name', userName: 'user_name', kind: 'kind', headImg: 'head_img', principalName: 'principal_name' } as const;

/**
 * AuthorizerStore on Redis, following design.md's key contract: writes that belong together are
 * one MULTI, and the conditional ones (see authorizer-scripts.ts) one Lua script.
 */
export class RedisAuthorizerStore implements AuthorizerStore {
  private readonly index: AuthorizerIndex;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly clock: Clock,
  ) {
    defineScripts(redis, Object.values(SCRIPTS));
    this.index = new AuthorizerIndex(redis, keys);
  }

  async saveAuthorization(a: NewAuthorization, outbox?: OutboxWrite): Promise<boolean> {
    const { hash, token } = this.keysOf(a.appid);
    const ttlMs = a.accessToken && a.expiresIn ? a.expiresIn * 1000 : 0;
    const args = [a.appid, a.eventTime ?? '', this.clock.now(), JSON.stringify(a.funcInfo), a.authorizedAt, a.refreshToken ?? '', a.accessToken ?? '', ttlMs, ...outboxArgs(outbox)];
    const keys = [hash, token, this.keys.authorizers, this.keys.knownAuthorizers, this.keys.authorizerOutbox(a.appid)];
    const written = await storageOp(() => runScript(this.redis, SCRIPTS.saveAuthorization, keys, args));
    // The listing index is one key of its own (another Cluster slot): written after the account.
    if (written === 1) await this.index.add(a.appid);
    return written === 1;
  }

  async saveAccessToken(appid: string, accessToken: string, expiresAt: number, rotatedRefreshToken?: string, fence?: Fence): Promise<boolean> {
    const now = this.clock.now();
    const { hash, token } = this.keysOf(appid);
    const ttlMs = Math.max(1, Math.floor(expiresAt - now));
    const args = [appid, accessToken, ttlMs, expiresAt, now, rotatedRefreshToken ?? '', fence?.owner ?? ''];
    const lockKey = fence?.lockKey ?? this.keys.authorizerTokenLock(appid);
    const written = await storageOp(() => runScript(this.redis, SCRIPTS.saveAccessToken, [hash, token, this.keys.authorizers, lockKey], args));
    if (written === -1) throw new LockLostError(`authorizer_access_token of ${appid}`);
    return written === 1;
  }

  async dropAccessToken(appid: string): Promise<void> {
    const { token } = this.keysOf(appid);
    await execTransaction(this.redis.multi().del(token).zadd(this.keys.authorizers, 'XX', 0, appid));
  }

  async markUnauthorized(appid: string, eventTime?: number, outbox?: OutboxWrite): Promise<boolean> {
    const { hash, token } = this.keysOf(appid);
    const args = [appid, eventTime ?? '', this.clock.now(), ...outboxArgs(outbox)];
    const keys = [hash, token, this.keys.authorizers, this.keys.knownAuthorizers, this.keys.authorizerOutbox(appid)];
    const written = await storageOp(() => runScript(this.redis, SCRIPTS.markUnauthorized, keys, args));
    if (written === 1) await this.index.add(appid);
    return written === 1;
  }

  async markReauthorizationRequired(appid: string, reason: string, failedRefreshToken?: string, _errcode?: number, outbox?: OutboxWrite): Promise<boolean> {
    const { hash, token } = this.keysOf(appid);
    const args = [appid, this.clock.now(), reason, failedRefreshToken ?? '', ...outboxArgs(outbox)];
    const outboxKey = this.keys.authorizerOutbox(appid);
    const marked = await storageOp(() =>
      runScript(this.redis, SCRIPTS.markReauthorizationRequired, [hash, token, this.keys.authorizers, outboxKey], args),
    );
    return marked === 1;
  }

  async saveAccountInfo(appid: string, info: AccountInfo): Promise<boolean> {
    const fields: (string | number)[] = ['updated_at', this.clock.now()];
    for (const [name, field] of Object.entries(ACCOUNT_FIELDS)) {
      const value = info[name as keyof AccountInfo];
      if (value !== undefined) fields.push(field, value);
    }
    const updated = await storageOp(() => runScript(this.redis, SCRIPTS.updateIfExists, [this.keysOf(appid).hash], fields));
    // The listing index is a search aid, not part of the contract: a separate write (another slot in a Cluster).
    if (updated === 1 && info.nickName !== undefined) await this.index.add(appid, info.nickName);
    return updated === 1;
  }

  async get(appid: string): Promise<AuthorizerRecord | undefined> {
    const [record] = await this.getMany([appid]);
    return record;
  }

  async getTokenState(appid: string): Promise<AuthorizerTokenState | undefined> {
    const { hash, token } = this.keysOf(appid);
    const reply = (await storageOp(() => runScript(this.redis, SCRIPTS.tokenState, [hash, token, this.keys.authorizers], [appid]))) as
      | [string, string | null, string | null]
      | null;
    if (!reply) return undefined;
    const [status, value, score] = reply;
    return { status: status as AuthorizerStatus, accessToken: value && score !== null ? { token: value, expiresAt: Number(score) } : undefined };
  }

  async list(): Promise<AuthorizerRecord[]> {
    return this.getMany(await this.allAppids());
  }

  async search({ text, offset, limit }: AuthorizerSearch): Promise<AuthorizerPage> {
    await this.index.backfill();
    const needle = text?.trim().toLowerCase().replace(/\p{Cc}/gu, '');
    const start = Math.max(0, offset);
    const count = Math.max(0, limit);
    if (!needle) {
      const [total, page] = await Promise.all([this.index.count(), this.index.page(start, count)]);
      return { total, records: await this.getMany(page) };
    }
    // Text that looks like the start of an appid is first tried as one (an index range, not a scan).
    const typed = text?.trim() ?? '';
    const byPrefix = APPID_START_RE.test(typed) ? await this.index.withPrefix(typed) : [];
    const matching = byPrefix.length > 0 ? byPrefix : await this.index.search(needle);
    return { total: matching.length, records: await this.getMany(matching.slice(start, start + count)) };
  }

  async countByStatus(): Promise<Record<AuthorizerStatus, number>> {
    const counts: Record<AuthorizerStatus, number> = { authorized: 0, unauthorized: 0, reauthorization_required: 0 };
    const appids = await this.allAppids();
    for (let i = 0; i < appids.length; i += STATUS_BATCH) {
      const pipeline = this.redis.pipeline();
      for (const appid of appids.slice(i, i + STATUS_BATCH)) pipeline.hget(this.keys.authorizer(appid), 'status');
      for (const status of (await execTransaction(pipeline)) as (string | null)[]) {
        if (status && status in counts) counts[status as AuthorizerStatus] += 1;
      }
    }
    return counts;
  }

  async restoreRefreshToken(r: RefreshTokenRestore, outbox?: OutboxWrite): Promise<RestoreOutcome> {
    const { hash, token } = this.keysOf(r.appid);
    const args = [r.appid, r.refreshToken, r.authorizedAt, JSON.stringify(r.funcInfo), this.clock.now(), r.listedAt, ...outboxArgs(outbox)];
    const outboxKey = this.keys.authorizerOutbox(r.appid);
    const outcome = await storageOp(() =>
      runScript(this.redis, SCRIPTS.restoreRefreshToken, [hash, token, this.keys.authorizers, this.keys.knownAuthorizers, outboxKey], args),
    );
    const result = RESTORE_OUTCOMES[Number(outcome)] ?? 'not_needed';
    if (result === 'restored') await this.index.add(r.appid);
    return result;
  }

  async dueForRefresh(untilMs: number, limit: number, offset = 0): Promise<DueAuthorizer[]> {
    const flat = await storageOp(() =>
      this.redis.zrangebyscore(this.keys.authorizers, '-inf', untilMs, 'WITHSCORES', 'LIMIT', Math.max(0, offset), limit),
    );
    const due: DueAuthorizer[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) due.push({ appid: flat[i]!, expiresAt: Number(flat[i + 1]) });
    return due;
  }

  /** Every appid ever stored (the set), plus any scheduled one written before the set existed. */
  private async allAppids(): Promise<string[]> {
    const [known, scheduled] = await storageOp(() =>
      Promise.all([this.redis.smembers(this.keys.knownAuthorizers), this.redis.zrange(this.keys.authorizers, '0', '-1')]),
    );
    return [...new Set([...known, ...scheduled])].sort();
  }

  private async getMany(appids: string[]): Promise<AuthorizerRecord[]> {
    if (appids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const appid of appids) {
      const { hash, token } = this.keysOf(appid);
      pipeline.hgetall(hash).get(token).zscore(this.keys.authorizers, appid);
    }
    const results = await execTransaction(pipeline);
    const records: AuthorizerRecord[] = [];
    appids.forEach((appid, i) => {
      const hash = results[i * 3] as Record<string, string>;
      const token = results[i * 3 + 1] as string | null;
      const score = results[i * 3 + 2] as string | null;
      if (hash && hash.status) records.push(toRecord(appid, hash, token, score));
    });
    return records;
  }

  private keysOf(appid: string): { hash: string; token: string } {
    return { hash: this.keys.authorizer(appid), token: this.keys.authorizerAccessToken(appid) };
  }
}

/** The two trailing ARGV of a script that may write an outbox event: its id and JSON, or '' ''. */
function outboxArgs(outbox: OutboxWrite | undefined): [string, string] {
  return outbox ? [outbox.eventId, outbox.json] : ['', ''];
}

function toRecord(appid: string, h: Record<string, string>, token: string | null, score: string | null): AuthorizerRecord {
  const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
  return {
    appid,
    status: h.status as AuthorizerStatus,
    refreshToken: h.refresh_token || undefined,
    funcInfo: parseFuncInfo(h.func_info),
    authorizedAt: num(h.authorized_at),
    updatedAt: num(h.updated_at),
    ...(h.token_refreshed_at ? { tokenRefreshedAt: num(h.token_refreshed_at) } : {}),
    reauthorizationReason: h.reauthorization_reason,
    nickName: h.nick_name,
    userName: h.user_name,
    kind: h.kind,
    headImg: h.head_img,
    principalName: h.principal_name,
    accessToken: token && score !== null ? { token, expiresAt: Number(score) } : undefined,
    lastEventTime: num(h.last_event_time),
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

import { StorageLayoutMismatchError } from '../errors';
import type { Logger } from '../logger';
import { MIGRATE_ACCOUNT } from './authorizer-scripts';
import type { Keys } from './keys';
import { defineScripts, runKeysAndArgs } from './lua-script';
import type { Redis } from './redis';
import type { RedisAuthorizerStore, ResealOutcome } from './redis-authorizer-store';
import type { SecretCipher } from './secret-cipher';
import { storageOp } from './storage-errors';

/** Accounts handled at a time by the walks (bounded replies, bounded memory). */
const BATCH = 500;
/** The index is reconciled with the accounts at most this often (at a start). */
const RECONCILE_EVERY_SECONDS = 24 * 3600;

const migrateAccount = { name: 'wxMigrateAuthorizerLayout', numberOfKeys: 5, lua: MIGRATE_ACCOUNT };

export interface ReencryptReport {
  readonly checked: number;
  readonly resealed: number;
  readonly current: number;
  readonly absent: number;
  /** Rotated by the service while this ran: written under the service's key, left alone. */
  readonly changed: number;
  /** Cannot be decrypted with any configured key: left as it is. */
  readonly unreadable: number;
}

/**
 * What a Redis deployment needs beyond the stores' own writes: moving a deployment of the previous
 * layout (one schedule zset, the refresh token inside the public hash) to the current one, sealing
 * plaintext refresh tokens once a key is configured, re-sealing under a new key (`npm run reencrypt`),
 * and reconciling the shards' index and counters with the accounts (docs/redis-keys.md).
 * Every step is idempotent and per-account atomic, so a process that dies half-way is finished by the next.
 */
export class LayoutMaintenance {
  /** Set by stop(): the walks end after their current batch (the process is shutting down). */
  private stopped = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly store: RedisAuthorizerStore,
    private readonly cipher: SecretCipher,
    private readonly logger: Logger,
  ) {
    defineScripts(redis, [migrateAccount]);
  }

  /** Before serving: layout check, migration, sealing. Starts the reconciliation in the background when due. */
  async prepare(): Promise<void> {
    await this.checkShardCount();
    await this.moveLegacyComponentKeys();
    const migrated = await this.migrateLegacyAccounts();
    if (this.stopped) return;
    if (migrated > 0)
      this.logger.info(
        { accounts: migrated },
        'storage layout migrated: refresh tokens moved to their own keys, schedule split into shards',
      );
    await this.sealPlaintextRefreshTokens();
    const due = await storageOp(() =>
      this.redis.set(this.keys.reconciledMarker, '1', 'EX', RECONCILE_EVERY_SECONDS, 'NX'),
    );
    if (due === 'OK') {
      void this.reconcile().catch(async (err: unknown) => {
        if (this.stopped) return; // shutting down: the connection closed under the walk
        this.logger.warn(
          { err: { message: (err as Error).message } },
          'index reconciliation failed; the next start retries',
        );
        await this.redis.del(this.keys.reconciledMarker).catch(() => undefined);
      });
    }
  }

  /** Ends the walks after their current batch; the next start resumes what is left. */
  stop(): void {
    this.stopped = true;
  }

  /** The shard count is part of the layout: fixed by the first start on this Redis. */
  private async checkShardCount(): Promise<void> {
    const configured = this.keys.scheduleShards;
    await storageOp(() => this.redis.set(this.keys.layout, String(configured), 'NX'));
    const stored = Number(await storageOp(() => this.redis.get(this.keys.layout)));
    if (stored !== configured) throw new StorageLayoutMismatchError(stored, configured);
  }

  /** The ticket, its meta and the component token's expiry moved to keys of the Cluster layout. */
  private async moveLegacyComponentKeys(): Promise<void> {
    const { legacy } = this.keys;
    const pairs: [string, string][] = [
      [legacy.componentVerifyTicket, this.keys.componentVerifyTicket],
      [legacy.ticketMeta, this.keys.ticketMeta],
      [legacy.componentAccessTokenExpiry, this.keys.componentAccessTokenExpiry],
    ];
    for (const [from, to] of pairs) {
      const [value, pttl] = await storageOp(() => Promise.all([this.redis.get(from), this.redis.pttl(from)]));
      if (value === null) continue;
      // Two slots: copy (never over a newer value), then delete the old key; a re-run repeats harmlessly.
      if (pttl > 0) await storageOp(() => this.redis.set(to, value, 'PX', pttl, 'NX'));
      else if (pttl === -1) await storageOp(() => this.redis.set(to, value, 'NX'));
      await storageOp(() => this.redis.del(from));
    }
  }

  /**
   * Every account of the legacy schedule zset and known set: its script (refresh token to its own key,
   * score into the hash), its index entry, then out of the legacy sets. Those sets are the to-do list, so
   * a run killed half-way is resumed by the next start.
   */
  private async migrateLegacyAccounts(): Promise<number> {
    const { legacy } = this.keys;
    let migrated = 0;
    for (;;) {
      const flat = await storageOp(() => this.redis.zrange(legacy.authorizers, '0', String(BATCH - 1), 'WITHSCORES'));
      const batch: [string, string][] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) batch.push([flat[i]!, flat[i + 1]!]);
      if (batch.length === 0) {
        const known = await storageOp(() => this.redis.srandmember(legacy.knownAuthorizers, BATCH));
        for (const appid of known) batch.push([appid, '']);
      }
      if (batch.length === 0) return migrated;
      await Promise.all(batch.map(([appid, score]) => this.migrateAccount(appid, score)));
      // Out of the to-do list only once migrated and indexed.
      const done = batch.map(([appid]) => appid);
      await storageOp(() =>
        Promise.all([this.redis.zrem(legacy.authorizers, ...done), this.redis.srem(legacy.knownAuthorizers, ...done)]),
      );
      migrated += batch.length;
      if (this.stopped) return migrated;
    }
  }

  private async migrateAccount(appid: string, score: string): Promise<void> {
    const { keys } = this;
    const accountKeys = [
      keys.authorizer(appid),
      keys.authorizerAccessToken(appid),
      keys.authorizerRefreshToken(appid),
      keys.legacy.pendingAuthorization(appid),
      keys.pendingAuthorization(appid),
    ];
    const reply = (await storageOp(() => runKeysAndArgs(this.redis, migrateAccount, [...accountKeys, score]))) as (
      string | number
    )[];
    if (Number(reply[0]) === 1) {
      const due = reply[3] === '' ? undefined : Number(reply[3]);
      await this.store.index.apply(appid, {
        revision: Number(reply[1]),
        status: String(reply[2]) as 'authorized',
        due,
      });
    }
  }

  /**
   * With a key: every plaintext refresh token sealed once (the marker remembers it; a start without a key,
   * which may store plaintext, clears it). One info line with the count.
   */
  private async sealPlaintextRefreshTokens(): Promise<void> {
    if (this.cipher.currentKeyId === undefined) {
      await storageOp(() => this.redis.del(this.keys.sealedMarker));
      return;
    }
    if ((await storageOp(() => this.redis.get(this.keys.sealedMarker))) === '1') return;
    const report = await this.reseal(true);
    this.logger.info(
      { encrypted: report.resealed, unreadable: report.unreadable },
      `refresh tokens encrypted at rest: ${report.resealed} plaintext refresh token(s) encrypted`,
    );
    if (report.unreadable === 0 && !this.stopped) await storageOp(() => this.redis.set(this.keys.sealedMarker, '1'));
  }

  /** `npm run reencrypt`: every refresh token under the current key (compare-and-set per account). */
  reencrypt(): Promise<ReencryptReport> {
    return this.reseal(false);
  }

  private async reseal(onlyPlaintext: boolean): Promise<ReencryptReport> {
    const tally: Record<ResealOutcome, number> = { resealed: 0, current: 0, absent: 0, unreadable: 0, changed: 0 };
    let checked = 0;
    for await (const appids of this.store.index.appids(BATCH)) {
      const outcomes = await Promise.all(appids.map((appid) => this.store.resealRefreshToken(appid, onlyPlaintext)));
      for (const outcome of outcomes) tally[outcome] += 1;
      checked += appids.length;
      if (this.stopped) break;
    }
    return { checked, ...tally };
  }

  /** Every index entry re-derived from its account: repairs counters and schedule entries that drifted. */
  async reconcile(): Promise<number> {
    let checked = 0;
    for await (const appids of this.store.index.appids(BATCH)) {
      await Promise.all(appids.map((appid) => this.store.reindex(appid)));
      checked += appids.length;
      if (this.stopped) return checked;
    }
    this.logger.info({ accounts: checked }, 'authorizer index reconciled with the accounts');
    return checked;
  }
}

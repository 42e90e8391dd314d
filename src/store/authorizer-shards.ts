import type { AuthorizerStatus, DueAuthorizer } from './authorizer-store';
import type { Keys } from './keys';
import { defineScripts, runKeysAndArgs } from './lua-script';
import type { Redis } from './redis';
import { storageOp } from './storage-errors';

/**
 * The shard side of the authorizer store: per schedule shard, the refresh schedule (zset), the index of
 * every account ever stored (hash appid → `revision|status`) and the per-status counters (hash). They
 * share the shard's hash tag, so one script changes them together; an account's own keys live in another
 * slot (`{A}`), hence the account write and the index write are two steps:
 *
 * 1. `prepare` (writes that may add an account): the appid enters the index (revision 0, no status) and
 *    the schedule as due now, unless already there. So an account is never missing from the index, even
 *    if the process dies before step 3: the refresher meets it and `reindex` fixes it.
 * 2. the account script (slot `{A}`) bumps the account's revision and returns its entry.
 * 3. `apply` writes that entry to the shard, unless the shard holds a newer revision (two writers'
 *    step 3 arriving out of order). The counters change in the same script, by the status it replaces.
 *
 * Drift (a process dying between 2 and 3) is repaired by `reindex` (the refresher calls it for accounts
 * whose schedule entry proved stale) and by the reconciliation (`reconcile`: every index entry re-read
 * from its account), run at start at most once a day. See docs/redis-keys.md.
 */
export interface IndexEntry {
  readonly revision: number;
  /** '' = the account has no record (gone): the entry is removed. */
  readonly status: AuthorizerStatus | '';
  /** Schedule score; undefined = not scheduled. */
  readonly due: number | undefined;
}

const STATUSES: AuthorizerStatus[] = ['authorized', 'unauthorized', 'reauthorization_required'];

/** KEYS: index, schedule, counts. ARGV: appid, '1' to also schedule it (due now) when not scheduled. */
const PREPARE = {
  name: 'wxAuthorizerIndexPrepare',
  numberOfKeys: 3,
  lua: `
redis.call('HSETNX', KEYS[1], ARGV[1], '0|')
if ARGV[2] == '1' then redis.call('ZADD', KEYS[2], 'NX', 0, ARGV[1]) end
return 1
`,
};

/**
 * KEYS: index, schedule, counts. ARGV: appid, revision, status ('' = gone), score ('' = not scheduled),
 * '1' to apply whatever revision the shard holds (reconciliation of a record that is gone).
 * Returns 1 when applied, 0 when the shard holds a newer revision.
 */
const APPLY = {
  name: 'wxAuthorizerIndexApply',
  numberOfKeys: 3,
  lua: `
local current = redis.call('HGET', KEYS[1], ARGV[1])
local currentRevision, currentStatus = -1, ''
if current then
  local sep = string.find(current, '|', 1, true)
  currentRevision = tonumber(string.sub(current, 1, sep - 1))
  currentStatus = string.sub(current, sep + 1)
end
if ARGV[5] ~= '1' and tonumber(ARGV[2]) < currentRevision then return 0 end
if currentStatus ~= ARGV[3] then
  if currentStatus ~= '' then redis.call('HINCRBY', KEYS[3], currentStatus, -1) end
  if ARGV[3] ~= '' then redis.call('HINCRBY', KEYS[3], ARGV[3], 1) end
end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1])
else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3]) end
if ARGV[4] == '' then redis.call('ZREM', KEYS[2], ARGV[1])
else redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1]) end
return 1
`,
};

export class AuthorizerShards {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {
    defineScripts(redis, [PREPARE, APPLY]);
  }

  private shardKeys(appid: string): string[] {
    const shard = this.keys.scheduleShardOf(appid);
    return [
      this.keys.authorizerShardIndex(shard),
      this.keys.authorizerSchedule(shard),
      this.keys.authorizerCounts(shard),
    ];
  }

  private get shards(): number[] {
    return Array.from({ length: this.keys.scheduleShards }, (_, i) => i);
  }

  async prepare(appid: string, schedule: boolean): Promise<void> {
    await storageOp(() => runKeysAndArgs(this.redis, PREPARE, [...this.shardKeys(appid), appid, schedule ? '1' : '0']));
  }

  async apply(appid: string, entry: IndexEntry, force = false): Promise<void> {
    const args = [appid, entry.revision, entry.status, entry.due === undefined ? '' : entry.due, force ? '1' : '0'];
    await storageOp(() => runKeysAndArgs(this.redis, APPLY, [...this.shardKeys(appid), ...args]));
  }

  /** The sum of every shard's counters: one small read per shard, whatever the number of accounts. */
  async countByStatus(): Promise<Record<AuthorizerStatus, number>> {
    const counts: Record<AuthorizerStatus, number> = { authorized: 0, unauthorized: 0, reauthorization_required: 0 };
    const perShard = await storageOp(() =>
      Promise.all(this.shards.map((s) => this.redis.hgetall(this.keys.authorizerCounts(s)))),
    );
    for (const shard of perShard)
      for (const status of STATUSES) counts[status] += Math.max(0, Number(shard[status] ?? 0));
    return counts;
  }

  /** Scheduled accounts per shard (ZCARD each). */
  async scheduleSizes(): Promise<number[]> {
    return storageOp(() => Promise.all(this.shards.map((s) => this.redis.zcard(this.keys.authorizerSchedule(s)))));
  }

  /**
   * As AuthorizerStore.dueForRefresh over every shard: each shard gives its first offset + limit due
   * accounts, and the merge (score, then appid, as one sorted set would order them) is sliced.
   */
  async dueForRefresh(untilMs: number, limit: number, offset: number): Promise<DueAuthorizer[]> {
    const start = Math.max(0, offset);
    const take = limit < 0 ? -1 : start + limit;
    const flats = await storageOp(() =>
      Promise.all(
        this.shards.map((s) =>
          this.redis.zrangebyscore(this.keys.authorizerSchedule(s), '-inf', untilMs, 'WITHSCORES', 'LIMIT', 0, take),
        ),
      ),
    );
    const due: DueAuthorizer[] = [];
    for (const flat of flats)
      for (let i = 0; i + 1 < flat.length; i += 2) due.push({ appid: flat[i]!, expiresAt: Number(flat[i + 1]) });
    due.sort((a, b) => a.expiresAt - b.expiresAt || (a.appid < b.appid ? -1 : a.appid > b.appid ? 1 : 0));
    return limit < 0 ? due.slice(start) : due.slice(start, start + limit);
  }

  /** How many accounts the shard indexes hold (HLEN each). */
  async size(): Promise<number> {
    const lengths = await storageOp(() =>
      Promise.all(this.shards.map((s) => this.redis.hlen(this.keys.authorizerShardIndex(s)))),
    );
    return lengths.reduce((sum, n) => sum + n, 0);
  }

  /** Every appid of the index, shard by shard, in batches (HSCAN: bounded replies at any size). */
  async *appids(batch = 1000): AsyncGenerator<string[]> {
    for (const shard of this.shards) {
      let cursor = '0';
      do {
        const [next, flat] = await storageOp(() =>
          this.redis.hscan(this.keys.authorizerShardIndex(shard), cursor, 'COUNT', batch),
        );
        cursor = next;
        const appids: string[] = [];
        for (let i = 0; i < flat.length; i += 2) appids.push(flat[i]!);
        if (appids.length) yield appids;
      } while (cursor !== '0');
    }
  }
}

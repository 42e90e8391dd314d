import type { Keys } from './keys';
import { defineScripts, runScript, type LuaScript } from './lua-script';
import type { Redis } from './redis';
import { storageOp } from './storage-errors';

/**
 * The console's listing index of every stored account: one sorted set, all scores 0, one member per
 * account `appid \0 lowercase(appid) \0 lowercase(nick name)`. Members sort by appid (\0 sorts first), so a
 * page is a ZRANGE by rank and the total a ZCARD, whatever the number of accounts; a search is ZSCAN MATCH
 * `*text*` (glob matching inside Redis, in COUNT-sized steps that never block it for long). A search aid
 * written after the account's own writes, not part of design.md's key contract.
 */
const SEPARATOR = '\0';
const SCAN_COUNT = 20_000;

/**
 * KEYS[1] = the index. ARGV: appid, searchable text, '1' to replace the account's member, '0' to add it only
 * when absent. Finds the account's member by its `appid \0` prefix (ZRANGEBYLEX, O(log n)).
 */
const INDEX_ACCOUNT: LuaScript = {
  name: 'wxopenIndexAccount',
  numberOfKeys: 1,
  lua: `
local from = '[' .. ARGV[1] .. '\\0'
local to = '(' .. ARGV[1] .. '\\1'
local existing = redis.call('ZRANGEBYLEX', KEYS[1], from, to)
if #existing > 0 and ARGV[3] == '0' then return 0 end
for _, member in ipairs(existing) do redis.call('ZREM', KEYS[1], member) end
redis.call('ZADD', KEYS[1], 0, ARGV[1] .. '\\0' .. ARGV[2])
return 1
`,
};

/** Glob specials of MATCH, escaped so a search for `a*b` finds that text only. */
function globLiteral(text: string): string {
  return text.replace(/[\\*?[\]]/g, (ch) => `\\${ch}`);
}

function searchable(appid: string, nickName: string | undefined): string {
  return `${appid.toLowerCase()}${SEPARATOR}${(nickName ?? '').toLowerCase()}`;
}

export class AuthorizerIndex {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {
    defineScripts(redis, [INDEX_ACCOUNT]);
  }

  /** With a name: the account's entry now shows it. Without: the account gets an entry unless it has one. */
  async add(appid: string, nickName?: string): Promise<void> {
    const replace = nickName === undefined ? '0' : '1';
    await storageOp(() =>
      runScript(this.redis, INDEX_ACCOUNT, [this.keys.authorizerIndex], [appid, searchable(appid, nickName), replace]),
    );
  }

  async count(): Promise<number> {
    return storageOp(() => this.redis.zcard(this.keys.authorizerIndex));
  }

  async page(offset: number, limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    const members = await storageOp(() =>
      this.redis.zrange(this.keys.authorizerIndex, String(offset), String(offset + limit - 1)),
    );
    return members.map(appidOf);
  }

  /** The appids that start with `prefix` (case as given): O(log n), for an operator pasting an appid. */
  async withPrefix(prefix: string): Promise<string[]> {
    const members = await storageOp(() =>
      this.redis.zrangebylex(this.keys.authorizerIndex, `[${prefix}`, `[${prefix}\xff`),
    );
    return members.map(appidOf).filter((appid) => appid.startsWith(prefix));
  }

  /** Every appid whose appid or name contains `needle` (already lowercased), sorted. */
  async search(needle: string): Promise<string[]> {
    // Only the searchable part may match: `*\0*needle*` would also match inside the appid's own copy.
    const pattern = `*${SEPARATOR}*${globLiteral(needle)}*`;
    const found = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = await storageOp(() =>
        this.redis.zscan(this.keys.authorizerIndex, cursor, 'MATCH', pattern, 'COUNT', String(SCAN_COUNT)),
      );
      cursor = next;
      // ZSCAN returns member, score pairs.
      for (let i = 0; i < batch.length; i += 2) found.add(appidOf(batch[i] as string));
    } while (cursor !== '0');
    return [...found].sort();
  }

  /**
   * Accounts stored before the index existed (or by a replica that did not write it yet) get their entry,
   * with the name from their hash. Cheap when nothing is missing (cardinalities: the listing's and `known`,
   * the number of accounts the schedule shards' indexes hold); otherwise `appids` (the shard indexes walked
   * with HSCAN, a slice at a time) is gone through, so no single command carries every account.
   */
  async backfill(known: () => Promise<number>, appids: () => AsyncIterable<string[]>): Promise<void> {
    const [indexed, stored] = await Promise.all([
      storageOp(() => this.redis.zcard(this.keys.authorizerIndex)),
      known(),
    ]);
    if (indexed >= stored) return;
    for await (const slice of appids()) {
      if (slice.length === 0) continue;
      // One command per account, not a pipeline: on a Cluster the accounts' keys are in many slots.
      const names = await storageOp(() =>
        Promise.all(slice.map((appid) => this.redis.hget(this.keys.authorizer(appid), 'nick_name'))),
      );
      await storageOp(() =>
        Promise.all(
          slice.map((appid, j) =>
            runScript(
              this.redis,
              INDEX_ACCOUNT,
              [this.keys.authorizerIndex],
              [appid, searchable(appid, names[j] ?? undefined), '0'],
            ),
          ),
        ),
      );
    }
  }
}

function appidOf(member: string): string {
  const end = member.indexOf(SEPARATOR);
  return end < 0 ? member : member.slice(0, end);
}

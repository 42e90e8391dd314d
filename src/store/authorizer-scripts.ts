import { takeLockLua } from './lock';

/**
 * Lua scripts of the authorizer store. Each one is a conditional write that must be atomic with its
 * check (a plain MULTI cannot read first): a refresh finishing after the account revoked must not
 * bring its token back, and a 61023 answer to an old refresh token must not mark an account that
 * has authorized again since.
 *
 * Two families, each within ONE hash slot (Redis Cluster):
 * - account scripts, slot `{A}`: KEYS[1] = hash `P:authorizer:{A}`, KEYS[2] = `P:authorizer:{A}:access_token`,
 *   KEYS[3] = `P:secret:{A}:refresh_token`. A write bumps the hash's `revision` and returns the account's
 *   index entry `{1, revision, status, due}` (due = the schedule score, '' when not scheduled), or `{0}`
 *   when it wrote nothing.
 * - index scripts, slot of the account's schedule shard (authorizer-shards.ts): they apply such an entry.
 * An account script that records an account event takes KEYS[4] = the account's outbox `P:authorizer:{A}:outbox`
 * (same slot) and writes the event only when it makes its change (event-stream.ts). The console's listing index
 * (authorizer-index.ts, one un-tagged key) is written after the script, as a separate step.
 *
 * The hash field `access_token_expires_at` is the account's schedule: present = scheduled with that
 * score (0 = due now), absent = not refreshed in the background. The shard's zset mirrors it.
 */

/**
 * An event for the account's outbox, written only when the script makes its change:
 * KEYS[n] = `P:authorizer:{A}:outbox`, ARGV[i] = event id or '', ARGV[i + 1] = event JSON.
 */
const writeOutbox = (key: number, arg: number) =>
  `if ARGV[${arg}] ~= '' then redis.call('HSET', KEYS[${key}], ARGV[${arg}], ARGV[${arg + 1}]) end`;

/**
 * Event order (AccountEventTime in authorizer-store.ts): ARGV[arg] is the event's time or '' (not an event).
 * An event older than the account's `last_event_time` changes nothing (returns `{0}`); otherwise its time is
 * recorded. Put first in a script, so the check and the write are one atomic step.
 */
const eventOrderGuard = (arg: number) => `
if ARGV[${arg}] ~= '' then
  local last = tonumber(redis.call('HGET', KEYS[1], 'last_event_time') or '')
  if last and last > tonumber(ARGV[${arg}]) then return {0} end
  redis.call('HSET', KEYS[1], 'last_event_time', ARGV[${arg}])
end
`;

/** The tail of every account write: the entry the index applies. */
const ENTRY = `
local function entry()
  local rev = redis.call('HINCRBY', KEYS[1], 'revision', 1)
  local status = redis.call('HGET', KEYS[1], 'status') or ''
  local due = ''
  if status == 'authorized' then due = redis.call('HGET', KEYS[1], 'access_token_expires_at') or '' end
  return {1, rev, status, due}
end
`;

/**
 * KEYS[4] = outbox. ARGV: func_info, authorized_at, now, refresh token as stored or '', access token or '', ttlMs,
 * expiresAt, event id or '', event JSON, event time or ''. `{0}`: a newer event was applied (nothing written).
 */
export const SAVE_AUTHORIZATION = `${ENTRY}${eventOrderGuard(10)}
redis.call('HSET', KEYS[1], 'status', 'authorized', 'func_info', ARGV[1], 'authorized_at', ARGV[2], 'updated_at', ARGV[3])
redis.call('HDEL', KEYS[1], 'reauthorization_reason', 'unauthorized_at')
-- A record of the previous layout keeps its refresh token: moved to its key, never dropped.
local legacy = redis.call('HGET', KEYS[1], 'refresh_token')
if legacy then
  redis.call('SET', KEYS[3], legacy, 'NX')
  redis.call('HDEL', KEYS[1], 'refresh_token')
end
if ARGV[4] ~= '' then redis.call('SET', KEYS[3], ARGV[4]) end
if ARGV[5] ~= '' then
  redis.call('SET', KEYS[2], ARGV[5], 'PX', ARGV[6])
  redis.call('HSET', KEYS[1], 'access_token_expires_at', ARGV[7])
else
  redis.call('DEL', KEYS[2])
  -- 0 = due now: with a refresh token, the first read or the refresher fetches a token.
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'access_token_expires_at', 0)
  else redis.call('HDEL', KEYS[1], 'access_token_expires_at') end
end
${writeOutbox(4, 8)}
return entry()
`;

/**
 * KEYS[4] = the account's refresh lock `P:authorizer:{A}:lock` (same slot). ARGV: token, ttlMs, expiresAt, now,
 * rotated refresh token as stored or '', the lock owner the write is fenced by or ''. Returns `{-1}` when the
 * lock no longer holds that owner (its holder lost it: a successor's token stands).
 */
export const SAVE_ACCESS_TOKEN = `${ENTRY}
if ARGV[6] ~= '' and redis.call('GET', KEYS[4]) ~= ARGV[6] then return {-1} end
if redis.call('HGET', KEYS[1], 'status') ~= 'authorized' then return {0} end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('HSET', KEYS[1], 'access_token_expires_at', ARGV[3], 'updated_at', ARGV[4], 'token_refreshed_at', ARGV[4])
if ARGV[5] ~= '' then redis.call('SET', KEYS[3], ARGV[5]) end
return entry()
`;

/** No ARGV. Drops the token; a scheduled account becomes due now. */
export const DROP_ACCESS_TOKEN = `${ENTRY}
redis.call('DEL', KEYS[2])
if redis.call('HEXISTS', KEYS[1], 'access_token_expires_at') == 0 then return {0} end
redis.call('HSET', KEYS[1], 'access_token_expires_at', 0)
return entry()
`;

/**
 * KEYS[4] = outbox. ARGV: now, event id or '', event JSON, event time or ''. Creates the record of an appid never
 * seen before (as HSET does). `{0}`: a newer event was applied (nothing written).
 */
export const MARK_UNAUTHORIZED = `${ENTRY}${eventOrderGuard(4)}
redis.call('HSET', KEYS[1], 'status', 'unauthorized', 'unauthorized_at', ARGV[1], 'updated_at', ARGV[1])
redis.call('HDEL', KEYS[1], 'refresh_token', 'reauthorization_reason', 'access_token_expires_at')
redis.call('DEL', KEYS[2], KEYS[3])
${writeOutbox(4, 2)}
return entry()
`;

/** KEYS[4] = outbox. ARGV: now, reason, the stored value of the refresh token that failed or '' (any), event id or '', event JSON. */
export const MARK_REAUTHORIZATION_REQUIRED = `${ENTRY}
if redis.call('HGET', KEYS[1], 'status') ~= 'authorized' then return {0} end
if ARGV[3] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[3] then return {0} end
redis.call('HSET', KEYS[1], 'status', 'reauthorization_required', 'reauthorization_reason', ARGV[2], 'updated_at', ARGV[1])
redis.call('HDEL', KEYS[1], 'access_token_expires_at')
redis.call('DEL', KEYS[2])
${writeOutbox(4, 4)}
return entry()
`;

/** KEYS[1] only; ARGV: field, value, field, value… Updates an existing hash, never creates one. */
export const UPDATE_IF_EXISTS = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`;

/**
 * Recovery after a data loss. KEYS[4] = outbox. ARGV: refresh token as it will be stored, authorized_at, func_info JSON,
 * now, listedAt, the stored refresh-token value the caller read ('' = none), '1' when that value is the
 * very token being restored, event id or '', event JSON. Returns `{outcome, …entry}`: outcome 1 restored, 0 not needed (authorized
 * with a refresh token), 2 that same refresh token already failed, 3 revoked after the list was read,
 * 9 the stored refresh token changed since the caller read it (read again and retry).
 */
export const RESTORE_REFRESH_TOKEN = `${ENTRY}
local current = redis.call('GET', KEYS[3])
if (current or '') ~= ARGV[6] then return {9} end
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'authorized' and current and current ~= '' then return {0} end
if status == 'reauthorization_required' and ARGV[7] == '1' then return {2} end
if status == 'unauthorized' and tonumber(redis.call('HGET', KEYS[1], 'updated_at') or '0') > tonumber(ARGV[5]) then return {3} end
redis.call('HSET', KEYS[1], 'status', 'authorized', 'updated_at', ARGV[4], 'recovered_at', ARGV[4], 'access_token_expires_at', 0)
redis.call('SET', KEYS[3], ARGV[1])
redis.call('HSETNX', KEYS[1], 'authorized_at', ARGV[2])
redis.call('HSETNX', KEYS[1], 'func_info', ARGV[3])
redis.call('HDEL', KEYS[1], 'reauthorization_reason', 'unauthorized_at', 'refresh_token')
redis.call('DEL', KEYS[2])
${writeOutbox(4, 8)}
local e = entry()
e[1] = 1
return e
`;

/**
 * Read only: what a token read needs, in one round trip (KEYS[1], KEYS[2]). Returns nil for an unknown
 * account (no hash status), else { status, access token or nil, its expiry or nil }.
 */
export const TOKEN_STATE = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return nil end
return { status, redis.call('GET', KEYS[2]), redis.call('HGET', KEYS[1], 'access_token_expires_at') }
`;

/**
 * Read only: the whole account, { hash as a flat list, access token or false, refresh token as stored or false }.
 * A record of the layout before secret keys (not migrated yet) still has its refresh token in the hash.
 */
export const READ_ACCOUNT = `
local hash = redis.call('HGETALL', KEYS[1])
local secret = redis.call('GET', KEYS[3]) or redis.call('HGET', KEYS[1], 'refresh_token')
return { hash, redis.call('GET', KEYS[2]), secret }
`;

/**
 * The refresh's first step: takes the account's refresh lock KEYS[4] `P:authorizer:{A}:lock` (same slot; ARGV[1] =
 * owner, ARGV[2] = TTL ms, as lock.ts takes a lock) and, once taken, reads the account as READ_ACCOUNT does, in the
 * same atomic step. nil when the lock is held.
 */
export const TAKE_LOCK_AND_READ_ACCOUNT = `
${takeLockLua(4, 1, 2)}
${READ_ACCOUNT}`;

/** Read only: the account's index entry as the writes return it, without writing; `{0}` for no record. */
export const READ_ENTRY = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {0} end
local due = ''
if status == 'authorized' then due = redis.call('HGET', KEYS[1], 'access_token_expires_at') or '' end
return {1, tonumber(redis.call('HGET', KEYS[1], 'revision') or '0'), status, due}
`;

/** KEYS[3] only; ARGV: the value read, the value to store. Compare-and-set of a refresh token (re-sealing). */
export const RESEAL_REFRESH_TOKEN = `
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[3], ARGV[2])
return 1
`;

/**
 * Migration from the layout before secret keys and schedule shards. KEYS[4] = the legacy pending key,
 * KEYS[5] = the new one. ARGV: the account's score in the legacy schedule zset or ''. Moves the hash's
 * refresh_token field to its own key (kept if that key already exists) and the pending record, and
 * copies the schedule score into the hash. Idempotent: a second run finds nothing to move.
 */
export const MIGRATE_ACCOUNT = `${ENTRY}
local legacy = redis.call('HGET', KEYS[1], 'refresh_token')
if legacy then
  redis.call('SET', KEYS[3], legacy, 'NX')
  redis.call('HDEL', KEYS[1], 'refresh_token')
end
if redis.call('EXISTS', KEYS[4]) == 1 and redis.call('EXISTS', KEYS[5]) == 0 then redis.call('RENAME', KEYS[4], KEYS[5]) end
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {0} end
if ARGV[1] ~= '' and status == 'authorized' and redis.call('HEXISTS', KEYS[1], 'access_token_expires_at') == 0 then
  redis.call('HSET', KEYS[1], 'access_token_expires_at', ARGV[1])
end
return entry()
`;

/**
 * Lua scripts of the authorizer store. Each one is a conditional multi-key write that must be
 * atomic with its check (a plain MULTI cannot read first): a refresh finishing after the account
 * revoked must not bring its token back, and a 61023 answer to an old refresh token must not
 * mark an account that has authorized again since.
 * Key order everywhere: KEYS[1] = hash `P:authorizer:{A}`, KEYS[2] = `P:authorizer:{A}:access_token`,
 * KEYS[3] = zset `P:authorizers`.
 */

/**
 * KEYS[4] = the account's refresh lock `P:authorizer:{A}:lock`. ARGV: appid, token, ttlMs, expiresAt, now, rotated
 * refresh token or '', the lock owner the write is fenced by or ''. Returns 1 if written, 0 when the account is
 * not authorized, -1 when the lock no longer holds that owner (its holder lost it: a successor's token stands).
 */
export const SAVE_ACCESS_TOKEN = `
if ARGV[7] ~= '' and redis.call('GET', KEYS[4]) ~= ARGV[7] then return -1 end
if redis.call('HGET', KEYS[1], 'status') ~= 'authorized' then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[1], 'updated_at', ARGV[5], 'token_refreshed_at', ARGV[5])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'refresh_token', ARGV[6]) end
return 1
`;

/**
 * An event for the account's outbox (event-stream.ts), written only when the script makes its change:
 * KEYS[n] = `P:authorizer:{A}:outbox`, ARGV[i] = event id or '', ARGV[i + 1] = event JSON.
 */
const writeOutbox = (key: number, arg: number) =>
  `if ARGV[${arg}] ~= '' then redis.call('HSET', KEYS[${key}], ARGV[${arg}], ARGV[${arg + 1}]) end`;

/** KEYS[4] = outbox. ARGV: appid, now, reason, the refresh token that failed or '', event id or '', event JSON. Returns 1 if marked. */
export const MARK_REAUTHORIZATION_REQUIRED = `
if redis.call('HGET', KEYS[1], 'status') ~= 'authorized' then return 0 end
if ARGV[4] ~= '' and redis.call('HGET', KEYS[1], 'refresh_token') ~= ARGV[4] then return 0 end
redis.call('HSET', KEYS[1], 'status', 'reauthorization_required', 'reauthorization_reason', ARGV[3], 'updated_at', ARGV[2])
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
${writeOutbox(4, 5)}
return 1
`;

/** KEYS[1] only; ARGV: field, value, field, value… Updates an existing hash, never creates one. */
export const UPDATE_IF_EXISTS = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`;

/**
 * Recovery after a data loss: KEYS[4] = the private set of known appids, KEYS[5] = outbox. ARGV: appid, refresh token,
 * authorized_at, func_info JSON, now, listedAt, event id or '', event JSON. Returns 1 restored, 0 not needed (authorized with a
 * refresh token), 2 that same refresh token already failed, 3 revoked after the list was read.
 * The access token is dropped and the account scheduled now, so the next read verifies the refresh token.
 */
export const RESTORE_REFRESH_TOKEN = `
local status = redis.call('HGET', KEYS[1], 'status')
local current = redis.call('HGET', KEYS[1], 'refresh_token')
if status == 'authorized' and current and current ~= '' then return 0 end
if status == 'reauthorization_required' and current == ARGV[2] then return 2 end
if status == 'unauthorized' and tonumber(redis.call('HGET', KEYS[1], 'updated_at') or '0') > tonumber(ARGV[6]) then return 3 end
redis.call('HSET', KEYS[1], 'status', 'authorized', 'refresh_token', ARGV[2], 'updated_at', ARGV[5], 'recovered_at', ARGV[5])
redis.call('HSETNX', KEYS[1], 'authorized_at', ARGV[3])
redis.call('HSETNX', KEYS[1], 'func_info', ARGV[4])
redis.call('HDEL', KEYS[1], 'reauthorization_reason', 'unauthorized_at')
redis.call('DEL', KEYS[2])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
${writeOutbox(5, 7)}
return 1
`;

/**
 * Read only: what a token read needs, in one round trip. ARGV: appid. Returns nil for an unknown
 * account (no hash status), else { status, access token or nil, schedule score or nil }.
 */
export const TOKEN_STATE = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return nil end
return { status, redis.call('GET', KEYS[2]), redis.call('ZSCORE', KEYS[3], ARGV[1]) }
`;

/**
 * Event order (AccountEventTime in authorizer-store.ts): ARGV[2] is the event's time or '' (not an event).
 * An event older than the account's `last_event_time` changes nothing (return 0); otherwise it is recorded.
 * Prepended to each script below, so the check and the write are one atomic step.
 */
const EVENT_ORDER_GUARD = `
if ARGV[2] ~= '' then
  local last = tonumber(redis.call('HGET', KEYS[1], 'last_event_time') or '')
  if last and last > tonumber(ARGV[2]) then return 0 end
  redis.call('HSET', KEYS[1], 'last_event_time', ARGV[2])
end
`;

/**
 * KEYS[4] = the private set of known appids, KEYS[5] = outbox. ARGV: appid, event time or '', now, func_info JSON,
 * authorized_at, refresh token or '', access token or '', access-token TTL ms (0 = none), event id or '', event JSON.
 * Returns 1 if written.
 */
export const SAVE_AUTHORIZATION = `${EVENT_ORDER_GUARD}
redis.call('HSET', KEYS[1], 'status', 'authorized', 'func_info', ARGV[4], 'authorized_at', ARGV[5], 'updated_at', ARGV[3])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'refresh_token', ARGV[6]) end
redis.call('HDEL', KEYS[1], 'reauthorization_reason', 'unauthorized_at')
local ttl = tonumber(ARGV[8])
if ARGV[7] ~= '' and ttl > 0 then
  redis.call('SET', KEYS[2], ARGV[7], 'PX', ttl)
  redis.call('ZADD', KEYS[3], tonumber(ARGV[3]) + ttl, ARGV[1])
else
  redis.call('DEL', KEYS[2])
  -- Score 0 = due now: with a refresh token, the first read or the refresher fetches a token.
  if ARGV[6] ~= '' then redis.call('ZADD', KEYS[3], 0, ARGV[1]) else redis.call('ZREM', KEYS[3], ARGV[1]) end
end
redis.call('SADD', KEYS[4], ARGV[1])
${writeOutbox(5, 9)}
return 1
`;

/**
 * KEYS[4] = the private set of known appids, KEYS[5] = outbox. ARGV: appid, event time or '', now, event id or '',
 * event JSON. Returns 1 if written.
 */
export const MARK_UNAUTHORIZED = `${EVENT_ORDER_GUARD}
redis.call('HSET', KEYS[1], 'status', 'unauthorized', 'unauthorized_at', ARGV[3], 'updated_at', ARGV[3])
redis.call('HDEL', KEYS[1], 'refresh_token', 'reauthorization_reason')
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
${writeOutbox(5, 4)}
return 1
`;

/**
 * Every Redis key of the service is built here and nowhere else (docs/redis-keys.md lists them).
 * Public keys (read by internal services) follow design.md "Redis key contract"; the private ones
 * (locks, de-duplication, bookkeeping) live under the same `P:`.
 *
 * Redis Cluster: every multi-key command or script touches keys of one hash slot, so keys written
 * together share a hash tag. `{A}` (the authorizer appid) holds one account's keys — its record,
 * access token, refresh token — in one slot. The refresh schedule and the per-status counters are
 * split into `scheduleShards` shards, each with its own tag; an account's shard is a stable hash of
 * its appid. Secrets (refresh tokens, the ticket, pending authorizations) live under `P:secret:`,
 * which a Redis ACL can leave out of what internal readers may read.
 */
export interface Keys {
  /** `P` = `${REDIS_KEY_PREFIX}:${WECHAT_COMPONENT_APPID}` */
  readonly root: string;
  /** Secret: the latest ticket. Shares the component tag with its meta and the push de-duplication keys. */
  readonly componentVerifyTicket: string;
  readonly componentAccessToken: string;
  authorizer(appid: string): string;
  authorizerAccessToken(appid: string): string;
  /** Secret: the account's refresh token (plaintext, or sealed by secret-cipher.ts). */
  authorizerRefreshToken(appid: string): string;
  // schedule shards
  readonly scheduleShards: number;
  /** The shard of an account: stable for a given appid and shard count. */
  scheduleShardOf(appid: string): number;
  /** The schedule zset of the account's shard. */
  scheduleOf(appid: string): string;
  /** Zset of the shard: member appid of every refreshable account, score = access-token expiry (ms). */
  authorizerSchedule(shard: number): string;
  /** Hash of the shard: appid → `revision|status` of every account ever stored (the shard index). */
  authorizerShardIndex(shard: number): string;
  /** Hash of the shard: status → how many of its accounts have it. */
  authorizerCounts(shard: number): string;
  /** How many shards this Redis was laid out with (written once, at first start). */
  readonly layout: string;
  /** Marker: every stored refresh token was sealed (cleared by a start without a key). */
  readonly sealedMarker: string;
  /** Marker with a TTL: the index was reconciled with the accounts recently. */
  readonly reconciledMarker: string;
  // private
  readonly ticketMeta: string;
  /** Expiry of the component token in service-clock ms; in the public token's slot (tagged with its name). */
  readonly componentAccessTokenExpiry: string;
  /** Zset (scores 0) of every stored account, `appid \0 searchable text`: the console's pages and search (authorizer-index.ts; un-tagged: written outside the account scripts). */
  readonly authorizerIndex: string;
  /** Key prefix of one console login rate limit (rate-limiter-flexible appends `:<ip or user name>`). */
  consoleLoginLimit(per: 'ip' | 'user'): string;
  /** In the slot of `componentAccessToken` (as is its expiry), so the token's fenced write is one script. */
  readonly componentTokenLock: string;
  /** In the account's `{appid}` slot, with its access token. */
  authorizerTokenLock(appid: string): string;
  pushDedup(id: string): string;
  /** An authorization code already exchanged (by its sha1), so the push and the redirect don't both use it. */
  usedAuthCode(codeHash: string): string;
  /** Secret: an authorization whose code exchange failed, kept until the code expires. */
  pendingAuthorization(appid: string): string;
  readonly startPushTicketGuard: string;
  lock(name: string): string;
  /** Stream of messages and events received on the message URL (public: internal services consume it). */
  readonly messages: string;
  /**
   * De-duplication record of one message stored in `messages`. Its hash tag is the stream's own name, so it shares
   * the stream's Cluster slot and the record and the entry are written by one script.
   */
  messageDedup(authorizerAppid: string, messageId: string): string;
  /** De-duplication id (in the push de-duplication records) of a release-test message the service answers itself. */
  messageDedupId(authorizerAppid: string, messageId: string): string;
  // account events (docs/events.md)
  /** Public stream of account events (authorized, updateauthorized, …), capped with MAXLEN ~. */
  readonly events: string;
  /** Events a webhook target gave up on (after WEBHOOK_DEAD_LETTER_AFTER_SECONDS of failures). */
  readonly eventsDeadLetter: string;
  /**
   * Events written to an account's outbox but maybe not yet to the stream (members `appid event_id`):
   * added before the state change, removed once the event is in the stream, so the sweep finds a crashed writer's.
   */
  readonly eventsUnpublished: string;
  /** Hash event_id → event JSON, written in the same transaction as the account's state change (same slot). */
  authorizerOutbox(appid: string): string;
  /** The one replica delivering to a webhook target (identified by its consumer group name). */
  webhookLease(group: string): string;
  /** Keys of the layout before schedule shards and secret keys (read by the migration only). */
  readonly legacy: {
    readonly componentVerifyTicket: string;
    readonly ticketMeta: string;
    readonly componentAccessTokenExpiry: string;
    /** The single schedule zset. */
    readonly authorizers: string;
    readonly knownAuthorizers: string;
    /** The hash field that held the refresh token. */
    readonly refreshTokenField: string;
    pendingAuthorization(appid: string): string;
  };
}

export const DEFAULT_SCHEDULE_SHARDS = 16;

/**
 * 32-bit FNV-1a of the UTF-8 bytes: the stable hash that picks an account's schedule shard (any
 * language can compute it; this file imports nothing, so readers can use it without the service).
 */
export function fnv1a32(value: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(value)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

export function createKeys(prefix: string, componentAppId: string, scheduleShards = DEFAULT_SCHEDULE_SHARDS): Keys {
  if (!Number.isInteger(scheduleShards) || scheduleShards < 1)
    throw new Error('scheduleShards must be a positive integer');
  const P = `${prefix}:${componentAppId}`;
  // One slot for the ticket, its meta and push de-duplication (the ticket push writes them in one script).
  const component = `{${componentAppId}:component}`;
  const shardTag = (shard: number) => `{${componentAppId}:s${String(shard).padStart(3, '0')}}`;
  const shardOf = (appid: string) => fnv1a32(appid) % scheduleShards;
  // The public component token key has no hash tag, so it hashes as a whole: a key whose first `{…}` is that
  // whole key lands in its Redis Cluster slot, and a fenced write can check the lock and write token and expiry
  // in one script. They still start with `P:` (prefix scans find them).
  const componentTokenSlot = `{${P}:component_access_token}`;
  // The same for the public stream `P:messages`: a message's de-duplication record and its entry are one script.
  const messagesSlot = `{${P}:messages}`;
  return Object.freeze({
    root: P,
    componentVerifyTicket: `${P}:secret:${component}:component_verify_ticket`,
    componentAccessToken: `${P}:component_access_token`,
    authorizer: (appid: string) => `${P}:authorizer:{${appid}}`,
    authorizerAccessToken: (appid: string) => `${P}:authorizer:{${appid}}:access_token`,
    authorizerRefreshToken: (appid: string) => `${P}:secret:{${appid}}:refresh_token`,
    scheduleShards,
    scheduleShardOf: shardOf,
    scheduleOf: (appid: string) => `${P}:authorizers:${shardTag(shardOf(appid))}:schedule`,
    authorizerSchedule: (shard: number) => `${P}:authorizers:${shardTag(shard)}:schedule`,
    authorizerShardIndex: (shard: number) => `${P}:authorizers:${shardTag(shard)}:index`,
    authorizerCounts: (shard: number) => `${P}:authorizers:${shardTag(shard)}:counts`,
    layout: `${P}:layout`,
    sealedMarker: `${P}:layout:refresh_tokens_sealed`,
    reconciledMarker: `${P}:layout:reconciled`,
    ticketMeta: `${P}:secret:${component}:component_verify_ticket:meta`,
    componentAccessTokenExpiry: `${P}:expires_at:${componentTokenSlot}`,
    authorizerIndex: `${P}:authorizers:index`,
    consoleLoginLimit: (per: 'ip' | 'user') => `${P}:console:login_limit:${per}`,
    componentTokenLock: `${P}:lock:${componentTokenSlot}`,
    authorizerTokenLock: (appid: string) => `${P}:authorizer:{${appid}}:lock`,
    pushDedup: (id: string) => `${P}:push:${component}:${id}`,
    usedAuthCode: (codeHash: string) => `${P}:auth_code:${codeHash}`,
    pendingAuthorization: (appid: string) => `${P}:secret:{${appid}}:pending`,
    startPushTicketGuard: `${P}:start_push_ticket_guard`,
    lock: (name: string) => `${P}:lock:${name}`,
    messages: `${P}:messages`,
    messageDedup: (authorizerAppid: string, messageId: string) =>
      `${P}:message_dedup:${messagesSlot}:${authorizerAppid}:${messageId}`,
    messageDedupId: (authorizerAppid: string, messageId: string) => `msg:${authorizerAppid}:${messageId}`,
    events: `${P}:events`,
    eventsDeadLetter: `${P}:events:dead_letter`,
    eventsUnpublished: `${P}:events:unpublished`,
    authorizerOutbox: (appid: string) => `${P}:authorizer:{${appid}}:outbox`,
    webhookLease: (group: string) => `${P}:lock:webhook:${group}`,
    legacy: Object.freeze({
      componentVerifyTicket: `${P}:component_verify_ticket`,
      ticketMeta: `${P}:component_verify_ticket:meta`,
      componentAccessTokenExpiry: `${P}:component_access_token:expires_at`,
      authorizers: `${P}:authorizers`,
      knownAuthorizers: `${P}:authorizers:known`,
      refreshTokenField: 'refresh_token',
      pendingAuthorization: (appid: string) => `${P}:authorizer:{${appid}}:pending`,
    }),
  });
}

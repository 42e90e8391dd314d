/**
 * Every Redis key of the service is built here and nowhere else.
 * Public keys (read by internal services) follow design.md "Redis key contract";
 * the private ones (locks, de-duplication, bookkeeping) live under the same `P:`.
 * `{appid}` is a Redis Cluster hash tag: one authorizer's keys share a slot, so
 * its access token and refresh token can be written in one MULTI.
 */
export interface Keys {
  /** `P` = `${REDIS_KEY_PREFIX}:${WECHAT_COMPONENT_APPID}` */
  readonly root: string;
  readonly componentVerifyTicket: string;
  readonly componentAccessToken: string;
  readonly authorizers: string;
  authorizer(appid: string): string;
  authorizerAccessToken(appid: string): string;
  // private
  readonly ticketMeta: string;
  /** Expiry of the component token in service-clock ms (the public key holds only the token). */
  readonly componentAccessTokenExpiry: string;
  /** Set of every authorizer appid ever stored, whatever its status (the zset holds only refreshable ones). */
  readonly knownAuthorizers: string;
  /** Zset (scores 0) of every stored account, `appid \0 searchable text`: the console's pages and search (authorizer-index.ts). */
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
  /** An authorization whose code exchange failed: kept until the code expires, for the retry or the callback. */
  pendingAuthorization(appid: string): string;
  readonly startPushTicketGuard: string;
  lock(name: string): string;
  /** Stream of messages and events received on the message URL (public: internal services consume it). */
  readonly messages: string;
  /** De-duplication id of one message on the message URL (shares the push de-duplication records). */
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
}

export function createKeys(prefix: string, componentAppId: string): Keys {
  const P = `${prefix}:${componentAppId}`;
  // The public component token key has no hash tag, so it hashes as a whole: a key whose first `{…}` is that
  // whole key lands in its Redis Cluster slot, and a fenced write can check the lock and write token and expiry
  // in one script. They still start with `P:` (prefix scans find them).
  const componentTokenSlot = `{${P}:component_access_token}`;
  return Object.freeze({
    root: P,
    componentVerifyTicket: `${P}:component_verify_ticket`,
    componentAccessToken: `${P}:component_access_token`,
    authorizers: `${P}:authorizers`,
    authorizer: (appid: string) => `${P}:authorizer:{${appid}}`,
    authorizerAccessToken: (appid: string) => `${P}:authorizer:{${appid}}:access_token`,
    ticketMeta: `${P}:component_verify_ticket:meta`,
    componentAccessTokenExpiry: `${P}:expires_at:${componentTokenSlot}`,
    knownAuthorizers: `${P}:authorizers:known`,
    authorizerIndex: `${P}:authorizers:index`,
    consoleLoginLimit: (per: 'ip' | 'user') => `${P}:console:login_limit:${per}`,
    componentTokenLock: `${P}:lock:${componentTokenSlot}`,
    authorizerTokenLock: (appid: string) => `${P}:authorizer:{${appid}}:lock`,
    pushDedup: (id: string) => `${P}:push:${id}`,
    usedAuthCode: (codeHash: string) => `${P}:auth_code:${codeHash}`,
    pendingAuthorization: (appid: string) => `${P}:authorizer:{${appid}}:pending`,
    startPushTicketGuard: `${P}:start_push_ticket_guard`,
    lock: (name: string) => `${P}:lock:${name}`,
    messages: `${P}:messages`,
    messageDedupId: (authorizerAppid: string, messageId: string) => `msg:${authorizerAppid}:${messageId}`,
    events: `${P}:events`,
    eventsDeadLetter: `${P}:events:dead_letter`,
    eventsUnpublished: `${P}:events:unpublished`,
    authorizerOutbox: (appid: string) => `${P}:authorizer:{${appid}}:outbox`,
    webhookLease: (group: string) => `${P}:lock:webhook:${group}`,
  });
}

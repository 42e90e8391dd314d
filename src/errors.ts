/**
 * One error type per failure kind, each with a stable `code` (part of the
 * HTTP API: internal callers switch on it) and the HTTP status it maps to.
 */
export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly httpStatus: number,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('bad_request', 400, message, details);
  }
}

export class InvalidSignatureError extends AppError {
  constructor(message = 'msg_signature does not match') {
    super('invalid_signature', 401, message);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'missing or wrong bearer token') {
    super('unauthorized', 401, message);
  }
}

export class NotFoundError extends AppError {
  constructor(message = 'not found') {
    super('not_found', 404, message);
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(limitBytes: number) {
    super('payload_too_large', 413, `request body is larger than ${limitBytes} bytes`);
  }
}

/** Redis did not answer: callers (WeChat included) should retry later. */
export class StorageUnavailableError extends AppError {
  constructor(message = 'storage (Redis) is unavailable') {
    super('storage_unavailable', 503, message);
  }
}

export class TicketMissingError extends AppError {
  constructor() {
    super(
      'ticket_missing',
      503,
      'no component_verify_ticket stored: WeChat pushes one every 10 minutes to POST /auth; check that the ' +
        'authorization-event URL (授权事件接收URL) points at this service, and that WECHAT_COMPONENT_TOKEN and ' +
        'WECHAT_COMPONENT_AES_KEY match the Open Platform console',
    );
  }
}

/** Another process holds the refresh lock for too long. */
export class LockTimeoutError extends AppError {
  constructor(resource: string, waitedMs?: number) {
    const waited = waitedMs === undefined ? '' : ` (waited ${Math.round(waitedMs)} ms, then re-read it once)`;
    super('lock_timeout', 503, `timed out waiting for the refresh of ${resource}${waited}`);
  }
}

/** A fenced write refused: the writer's lock expired and may be another's now, so its result is not stored. */
export class LockLostError extends AppError {
  constructor(resource: string) {
    super('lock_lost', 503, `the lock of ${resource} was lost before its result was written; nothing was written`);
  }
}

export class AuthorizerNotFoundError extends AppError {
  constructor(appid: string) {
    super('authorizer_not_found', 404, `authorizer ${appid} is not known`);
  }
}

export class AuthorizerNotAuthorizedError extends AppError {
  constructor(
    appid: string,
    readonly status: string,
  ) {
    super('authorizer_not_authorized', 409, `authorizer ${appid} is ${status}`, { status });
  }
}

/** Another instance (or request) is already restoring refresh tokens; one run at a time. */
export class RecoveryInProgressError extends AppError {
  constructor() {
    super('recovery_in_progress', 409, 'a recovery run is already in progress; try again when it has finished');
  }
}

/** WeChat answered `{errcode != 0}`. */
export class WeChatApiError extends AppError {
  constructor(
    readonly api: string,
    readonly errcode: number,
    readonly errmsg: string,
    code = 'wechat_api_error',
    meaning?: string,
  ) {
    super(code, 502, `${api} failed: errcode ${errcode} (${meaning ?? errmsg})`, { api, errcode, errmsg });
  }
}

/** WeChat could not be reached, timed out, or answered something that is not its JSON. */
export class WeChatUnavailableError extends AppError {
  constructor(
    readonly api: string,
    reason: string,
  ) {
    super('wechat_unavailable', 502, `${api}: WeChat did not answer usably (${reason})`, { api });
  }
}

/** The push's ciphertext, envelope or payload is not what WeChat sends (WXBizMsgCrypt code when known). */
export class InvalidPushError extends AppError {
  constructor(message: string, cryptCode?: number) {
    super('invalid_push', 400, message, cryptCode === undefined ? undefined : { cryptCode });
  }
}

/** The push's AppId is not our component appid. */
export class AppIdMismatchError extends AppError {
  constructor(message = 'the push is addressed to another component appid') {
    super('appid_mismatch', 400, message);
  }
}

/** Another instance is still handling this very push; WeChat's next re-send will find it done. */
export class PushInProgressError extends AppError {
  constructor() {
    super('push_in_progress', 503, 'this push is being handled by another instance; retry later');
  }
}

/** 61004: WeChat refuses calls from this server's IP until it is added to the platform's whitelist. */
export class WeChatIpNotWhitelistedError extends WeChatApiError {
  constructor(api: string, errmsg: string, meaning: string) {
    super(api, 61004, errmsg, 'wechat_ip_not_whitelisted', meaning);
  }
}

/** 61005: the stored component_verify_ticket is older than 12 h; pushes have stopped reaching us. */
export class ComponentTicketExpiredError extends WeChatApiError {
  constructor(api: string, errmsg: string, meaning: string) {
    super(api, 61005, errmsg, 'component_ticket_expired', meaning);
  }
}

/** 61006: the stored component_verify_ticket is not one WeChat issued to this platform. */
export class ComponentTicketInvalidError extends WeChatApiError {
  constructor(api: string, errmsg: string, meaning: string) {
    super(api, 61006, errmsg, 'component_ticket_invalid', meaning);
  }
}

/**
 * WeChat rejected the authorizer's refresh token (61023) or the account no longer authorizes
 * this platform (61003). Only the account's admin can fix it, by authorizing again; until then
 * the service stops refreshing the account (status `reauthorization_required`).
 */
export class ReauthorizationRequiredError extends AuthorizerNotAuthorizedError {
  constructor(
    readonly appid: string,
    readonly reason: string,
  ) {
    super(appid, 'reauthorization_required');
    this.message = `authorizer ${appid} must authorize the platform again (${reason})`;
  }
}

/**
 * A stored refresh token cannot be decrypted: its key is not in TOKEN_ENCRYPTION_KEYS (`unknown_key`,
 * `no_keys`), or the key is wrong or the value was altered (`wrong_key_or_tampered`, `malformed`).
 * The token is left as it is: the operator restores the key, nothing is deleted or marked.
 */
export class RefreshTokenUnreadableError extends AppError {
  constructor(
    readonly appid: string,
    readonly reason: string,
    keyId: string | undefined,
  ) {
    super(
      'refresh_token_unreadable',
      500,
      `the stored refresh token of ${appid} cannot be decrypted (${reason}${keyId ? `, key id ${keyId}` : ''}): check TOKEN_ENCRYPTION_KEYS`,
      { reason, ...(keyId ? { keyId } : {}) },
    );
  }
}

/** Redis was laid out with another number of schedule shards than AUTHORIZER_SCHEDULE_SHARDS says. */
export class StorageLayoutMismatchError extends AppError {
  constructor(stored: number, configured: number) {
    super(
      'storage_layout_mismatch',
      500,
      `this Redis was laid out with ${stored} schedule shards but AUTHORIZER_SCHEDULE_SHARDS is ${configured}: set it back to ${stored}`,
      { stored, configured },
    );
  }
}

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
  constructor(resource: string) {
    super('lock_timeout', 503, `timed out waiting for the refresh of ${resource}`);
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

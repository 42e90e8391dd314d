/**
 * Meanings of the WeChat errcodes that matter for token management, and the mapping of the
 * ones with a named error class.
 * Source: https://developers.weixin.qq.com/doc/oplatform/Return_codes/Return_code_descriptions_new.html
 * (summarised in shared/docs/protocol.md §6).
 */
import {
  ComponentTicketExpiredError,
  ComponentTicketInvalidError,
  WeChatApiError,
  WeChatIpNotWhitelistedError,
} from '../errors';

export const ERRCODE_MEANINGS: Readonly<Record<number, string>> = Object.freeze({
  [-1]: 'WeChat is busy (system error); retry later',
  40001: 'invalid credential: the access token is invalid or not the latest; refresh it and retry once',
  40013: 'invalid appid',
  40014: 'invalid access_token; refresh it',
  40125: 'invalid appsecret: WECHAT_COMPONENT_APPSECRET does not match the Open Platform console',
  41001: 'access_token missing',
  41004: 'appsecret missing',
  42001: 'access_token expired; refresh it',
  45009: 'daily API quota reached',
  47001: 'data format error (bad JSON)',
  48001: 'API not granted to the account',
  61003: 'the account does not (or no longer) authorize this platform; it must authorize again',
  61004: "this server's IP is not in the platform's IP whitelist (Open Platform console → 开发资料 → 白名单IP地址列表)",
  61005: 'component_verify_ticket is expired (older than 12 h): check that WeChat pushes reach POST /auth',
  61006: 'component_verify_ticket is invalid: use the latest pushed one; check the push URL, token and AES key',
  61007: 'API permission set not granted to the platform',
  61009: 'authorization code is invalid or already used',
  61010: 'authorization code is expired',
  61011: 'the appid is not a third-party platform',
  61023: 'the refresh token is invalid; the account must authorize again',
  61024: 'a component must get its token through api_component_token',
});

/** "Retry later": the only errcode retried automatically (with bounded backoff). */
export const ERRCODE_SYSTEM_BUSY = -1;

/** The token sent with the call was rejected: refresh that exact token and replay once. */
export const TOKEN_REJECTED_ERRCODES: ReadonlySet<number> = new Set([40001, 40014, 42001]);

/** The authorizer's refresh token is dead: only a new authorization by the account's admin helps. */
export const REAUTHORIZATION_ERRCODES: ReadonlySet<number> = new Set([61023, 61003]);

/** WeChat refused the authorization code itself (invalid or used, expired): no re-send can help, only a new authorization. */
export const AUTH_CODE_REFUSED_ERRCODES: ReadonlySet<number> = new Set([61009, 61010]);

export function errcodeMeaning(errcode: number): string | undefined {
  return ERRCODE_MEANINGS[errcode];
}

/** Builds the error for `{errcode != 0}`, choosing the named class where an operator must act. */
export function weChatApiError(api: string, errcode: number, errmsg: string): WeChatApiError {
  const meaning = errcodeMeaning(errcode);
  switch (errcode) {
    case 61004:
      return new WeChatIpNotWhitelistedError(api, errmsg, meaning ?? errmsg);
    case 61005:
      return new ComponentTicketExpiredError(api, errmsg, meaning ?? errmsg);
    case 61006:
      return new ComponentTicketInvalidError(api, errmsg, meaning ?? errmsg);
    default:
      return new WeChatApiError(api, errcode, errmsg, 'wechat_api_error', meaning);
  }
}

export function isTokenRejected(err: unknown): boolean {
  return err instanceof WeChatApiError && TOKEN_REJECTED_ERRCODES.has(err.errcode);
}

export function needsReauthorization(err: unknown): err is WeChatApiError {
  return err instanceof WeChatApiError && REAUTHORIZATION_ERRCODES.has(err.errcode);
}

export function isAuthCodeRefused(err: unknown): err is WeChatApiError {
  return err instanceof WeChatApiError && AUTH_CODE_REFUSED_ERRCODES.has(err.errcode);
}

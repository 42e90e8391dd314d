/**
 * WeChat API errors as the emulator returns them: HTTP 200 with `{errcode, errmsg}`, the errmsg in WeChat's English
 * wording followed by ` rid: …` like current WeChat answers (shared/docs/protocol.md §4 "General rules", §6).
 */
import { randomBytes } from 'node:crypto';

const ERRMSG: Readonly<Record<number, string>> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40003: 'invalid openid',
  40008: 'invalid message type',
  40013: 'invalid appid',
  40014: 'invalid access_token',
  40097: 'invalid args',
  40125: 'invalid appsecret',
  41001: 'access_token missing',
  41002: 'appid missing',
  41004: 'appsecret missing',
  42001: 'access_token expired',
  44003: 'empty news data',
  45009: 'reach max api daily quota limit',
  47001: 'data format error',
  48006: 'forbid to clear quota because of reaching the limit',
  61003: 'component is not authorized by this account',
  61005: 'component ticket is expired',
  61006: 'component ticket is invalid',
  61009: 'code is invalid',
  61010: 'code is expired',
  61012: 'invalid option name',
  61013: 'invalid option value',
  61023: 'refresh_token is invalid',
};

export function defaultErrmsg(errcode: number): string {
  return ERRMSG[errcode] ?? 'sandbox fault';
}

/** Thrown by endpoint handlers; the API pipeline turns it into WeChat's error body. */
export class WxApiError extends Error {
  constructor(
    readonly errcode: number,
    errmsg?: string,
  ) {
    super(errmsg ?? defaultErrmsg(errcode));
    this.name = 'WxApiError';
  }
}

/** rid values look like `6650c5b2-1a2b3c4d-5e6f7a8b`: a hex timestamp and two random words. */
function rid(nowMs: number): string {
  const seconds = Math.floor(nowMs / 1000)
    .toString(16)
    .padStart(8, '0');
  return `${seconds}-${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}`;
}

export function errorBody(errcode: number, errmsg: string, nowMs: number): { errcode: number; errmsg: string } {
  return { errcode, errmsg: `${errmsg} rid: ${rid(nowMs)}` };
}

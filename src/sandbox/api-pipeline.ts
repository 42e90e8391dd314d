/**
 * What every emulated WeChat API call goes through, in order: fault switches, JSON body, access token, daily quota,
 * the endpoint itself, and the call log. Errors are WeChat-style: HTTP 200 with `{errcode, errmsg}`
 * (shared/docs/protocol.md §4 "General rules"; token errcodes §6).
 */
import type { Request, RequestHandler, Response } from 'express';
import { performance } from 'node:perf_hooks';
import { maskParams } from './call-log';
import type { SandboxContext } from './context';
import type { Endpoint } from './endpoints';
import type { Fault } from './faults';
import type { TokenKind, TokenRecord } from './tokens';
import { defaultErrmsg, errorBody, WxApiError } from './wx-errors';

export type JsonBody = Record<string, unknown>;

export interface Call {
  body: JsonBody;
  /** The validated access token; absent for endpoints that take none. */
  token?: TokenRecord;
  /** Origin the caller used, for URLs handed back (head_img, qrcode_url). */
  origin: string;
}

/** Which token the endpoint takes: none, one kind, or either (clear_quota). */
export type TokenRule = 'none' | TokenKind | 'any';

export type EndpointHandler = (call: Call) => JsonBody | Promise<JsonBody>;

function firstString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

/** WeChat reads the body as JSON whatever the Content-Type says; anything but a JSON object is 47001. */
function parseBody(raw: unknown): JsonBody | undefined {
  if (typeof raw !== 'string' || raw.trim() === '') return undefined;
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonBody) : undefined;
  } catch {
    return undefined;
  }
}

function checkToken(ctx: SandboxContext, req: Request, rule: TokenRule): TokenRecord | undefined {
  if (rule === 'none') return undefined;
  // Old docs and every SDK say component_access_token=, the 2023+ docs say access_token= (protocol.md §4, §10.4).
  const token = firstString(req.query.component_access_token) ?? firstString(req.query.access_token);
  if (token === undefined || token === '') throw new WxApiError(41001);
  const result = ctx.state.tokens.check(token, rule === 'any' ? undefined : rule);
  if (!result.ok) throw new WxApiError(result.errcode);
  return result.record;
}

function faultPage(status: number): string {
  return `<html><head><title>${status}</title></head><body><center><h1>${status}</h1></center><hr><center>sandbox</center></body></html>`;
}

export function apiRoute(
  ctx: SandboxContext,
  endpoint: Endpoint,
  rule: TokenRule,
  handler: EndpointHandler,
): RequestHandler {
  return async (req, res) => {
    const started = performance.now();
    const body = parseBody(req.body);
    const params = maskParams({ ...req.query, ...(body ?? {}) }) as Record<string, unknown>;
    const log = (httpStatus: number, errcode: number): void => {
      ctx.callLog.record({
        at: ctx.clock.now(),
        endpoint,
        params,
        errcode,
        httpStatus,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      });
    };
    const send = (status: number, json: JsonBody): void => {
      res.status(status).json(json);
      log(status, typeof json.errcode === 'number' ? json.errcode : 0);
    };

    const fault = ctx.faults.take(endpoint);
    if (fault && (await applyFault(ctx, res, fault, send, log))) return;

    try {
      if (body === undefined) throw new WxApiError(47001);
      const token = checkToken(ctx, req, rule);
      if (ctx.quotas.exceeded(endpoint)) throw new WxApiError(45009);
      const answer = await handler({ body, token, origin: `${req.protocol}://${req.get('host') ?? 'localhost'}` });
      ctx.quotas.record(endpoint);
      send(200, answer);
    } catch (err) {
      const wx = err instanceof WxApiError ? err : new WxApiError(-1);
      send(200, errorBody(wx.errcode, wx.message, ctx.clock.now()));
    }
  };
}

/** Returns true when the fault answered (or swallowed) the call; a delay alone lets the call go on. */
async function applyFault(
  ctx: SandboxContext,
  res: Response,
  fault: Fault,
  send: (status: number, json: JsonBody) => void,
  log: (httpStatus: number, errcode: number) => void,
): Promise<boolean> {
  if (fault.hang) {
    log(0, -1); // logged now: a hung call has no end to log at
    ctx.inflight.hang(res);
    return true;
  }
  if (fault.delayMs !== undefined && fault.delayMs > 0 && !(await ctx.inflight.delay(fault.delayMs))) {
    res.socket?.destroy(); // the emulator is closing
    return true;
  }
  if (fault.errcode !== undefined) {
    const errmsg = fault.errmsg ?? defaultErrmsg(fault.errcode);
    send(fault.httpStatus ?? 200, errorBody(fault.errcode, errmsg, ctx.clock.now()));
    return true;
  }
  if (fault.httpStatus !== undefined) {
    // A bare HTTP error looks like what a proxy in front of WeChat sends: an HTML page, no errcode.
    res.status(fault.httpStatus).type('html').send(faultPage(fault.httpStatus));
    log(fault.httpStatus, -1);
    return true;
  }
  return false;
}

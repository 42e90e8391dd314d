/**
 * The emulated WeChat component API: `/cgi-bin/component/*` plus `/cgi-bin/clear_quota`, POST with a JSON body,
 * request and response shapes as in shared/docs/protocol.md §4.1–§4.9, errcodes as in §6.
 */
import express, { Router } from 'express';
import { apiRoute, type EndpointHandler, type JsonBody, type TokenRule } from './api-pipeline';
import { authorizerInfoBody } from './authorizer-info';
import type { SandboxContext } from './context';
import type { Endpoint } from './endpoints';
import { WxApiError } from './wx-errors';

const OK = { errcode: 0, errmsg: 'ok' };

// Option names and the values each accepts (protocol.md §4.6).
const OPTIONS: Readonly<Record<string, readonly string[]>> = {
  location_report: ['0', '1', '2'],
  voice_recognize: ['0', '1'],
  customer_service: ['0', '1'],
};

function text(body: JsonBody, field: string, missing = 40097): string {
  const value = body[field];
  if (typeof value !== 'string' || value === '') throw new WxApiError(missing);
  return value;
}

function integer(body: JsonBody, field: string, fallback: number): number {
  const value = body[field] ?? fallback;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new WxApiError(40097);
  return n;
}

export function componentApi(ctx: SandboxContext): Router {
  const { state, options } = ctx;
  const router = Router();
  router.use(['/cgi-bin/component', '/cgi-bin/clear_quota'], express.text({ type: () => true, limit: '64kb' }));

  const componentAppId = (body: JsonBody): void => {
    if (text(body, 'component_appid', 41002) !== options.componentAppId) throw new WxApiError(40013);
  };
  const secret = (body: JsonBody, field: string): void => {
    if (text(body, field, 41004) !== options.componentAppSecret) throw new WxApiError(40125);
  };
  const option = (body: JsonBody): { name: string; allowed: readonly string[] } => {
    const name = text(body, 'option_name', 61012);
    const allowed = OPTIONS[name];
    if (!allowed) throw new WxApiError(61012);
    return { name, allowed };
  };
  const optionValue = (body: JsonBody, allowed: readonly string[]): string => {
    const raw = body.option_value;
    const value = typeof raw === 'number' ? String(raw) : raw;
    if (typeof value !== 'string' || !allowed.includes(value)) throw new WxApiError(61013);
    return value;
  };
  const readOption = (appid: string, name: string): string =>
    state.authorizations.get(appid)?.options?.get(name) ?? '0';
  const writeOption = (appid: string, name: string, value: string): void => {
    const record = state.authorizations.get(appid);
    if (!record) throw new WxApiError(61003);
    (record.options ??= new Map()).set(name, value);
  };
  const post = (path: string, endpoint: Endpoint, rule: TokenRule, handler: EndpointHandler): void => {
    router.post(path, apiRoute(ctx, endpoint, rule, handler));
  };

  post('/cgi-bin/component/api_component_token', 'api_component_token', 'none', ({ body }) => {
    componentAppId(body);
    secret(body, 'component_appsecret');
    const ticket = typeof body.component_verify_ticket === 'string' ? body.component_verify_ticket : '';
    const status = state.tickets.check(ticket);
    if (status !== 'ok') throw new WxApiError(status === 'expired' ? 61005 : 61006);
    const { token, expiresIn } = state.tokens.issue('component', options.componentAppId);
    return { component_access_token: token, expires_in: expiresIn };
  });

  post('/cgi-bin/component/api_create_preauthcode', 'api_create_preauthcode', 'component', ({ body }) => {
    componentAppId(body);
    const { code, expiresIn } = state.preAuthCodes.issue(true);
    return { pre_auth_code: code, expires_in: expiresIn };
  });

  post('/cgi-bin/component/api_query_auth', 'api_query_auth', 'component', ({ body }) => {
    componentAppId(body);
    return { authorization_info: state.queryAuth(text(body, 'authorization_code', 61009)) };
  });

  post('/cgi-bin/component/api_authorizer_token', 'api_authorizer_token', 'component', ({ body }) => {
    componentAppId(body);
    return state.refreshAuthorizerToken(text(body, 'authorizer_appid'), text(body, 'authorizer_refresh_token', 61023));
  });

  post('/cgi-bin/component/api_get_authorizer_info', 'api_get_authorizer_info', 'component', ({ body, origin }) => {
    componentAppId(body);
    const appid = text(body, 'authorizer_appid');
    state.requireAuthorized(appid);
    const account = state.accounts.get(appid);
    const record = state.authorizations.get(appid);
    if (!account || !record) throw new WxApiError(61003);
    return authorizerInfoBody(account, record, origin);
  });

  post('/cgi-bin/component/api_get_authorizer_list', 'api_get_authorizer_list', 'component', ({ body }) => {
    componentAppId(body);
    const offset = integer(body, 'offset', 0);
    const count = integer(body, 'count', 500);
    if (offset < 0 || count < 1 || count > 500) throw new WxApiError(40097);
    const list = state.authorizations.page(offset, count).map((appid) => {
      const record = state.authorizations.get(appid);
      // refresh_token only once the platform has exchanged a code for this account (protocol.md §4.7).
      return {
        authorizer_appid: appid,
        ...(record?.everQueried && record.refreshToken ? { refresh_token: record.refreshToken } : {}),
        auth_time: record?.authTime ?? 0,
      };
    });
    return { total_count: state.authorizations.authorizedCount, list };
  });

  post('/cgi-bin/component/api_get_authorizer_option', 'api_get_authorizer_option', 'component', ({ body }) => {
    componentAppId(body);
    const appid = text(body, 'authorizer_appid');
    const { name } = option(body);
    state.requireAuthorized(appid);
    return { authorizer_appid: appid, option_name: name, option_value: readOption(appid, name) };
  });

  post('/cgi-bin/component/api_set_authorizer_option', 'api_set_authorizer_option', 'component', ({ body }) => {
    componentAppId(body);
    const appid = text(body, 'authorizer_appid');
    const { name, allowed } = option(body);
    const value = optionValue(body, allowed);
    state.requireAuthorized(appid);
    writeOption(appid, name, value);
    return OK;
  });

  // The newer form takes the authorizer's own token and names no account in the body (protocol.md §4.6, §10.5).
  post('/cgi-bin/component/get_authorizer_option', 'get_authorizer_option', 'authorizer', ({ body, token }) => {
    const { name } = option(body);
    return { option_name: name, option_value: readOption(token?.owner ?? '', name) };
  });

  post('/cgi-bin/component/set_authorizer_option', 'set_authorizer_option', 'authorizer', ({ body, token }) => {
    const { name, allowed } = option(body);
    writeOption(token?.owner ?? '', name, optionValue(body, allowed));
    return OK;
  });

  post('/cgi-bin/component/api_start_push_ticket', 'api_start_push_ticket', 'none', ({ body }) => {
    componentAppId(body);
    secret(body, 'component_secret'); // not component_appsecret: protocol.md §4.9
    // WeChat answers at once and pushes later; the result shows up in the push history.
    void ctx.ticketPusher.pushTicket();
    return OK;
  });

  post('/cgi-bin/clear_quota', 'clear_quota', 'any', ({ body, token }) => {
    const appid = text(body, 'appid', 41002);
    if (appid !== token?.owner) throw new WxApiError(40013);
    if (!ctx.quotas.spendClear(appid)) throw new WxApiError(48006);
    if (token.kind === 'component') ctx.quotas.resetDailyCounts();
    return OK;
  });

  post('/cgi-bin/component/clear_quota/v2', 'clear_quota_v2', 'none', ({ body }) => {
    componentAppId(body);
    secret(body, 'appsecret');
    const target = typeof body.appid === 'string' && body.appid !== '' ? body.appid : options.componentAppId;
    if (target !== options.componentAppId) state.requireAuthorized(target);
    if (!ctx.quotas.spendClear(target)) throw new WxApiError(48006);
    if (target === options.componentAppId) ctx.quotas.resetDailyCounts();
    return OK;
  });

  return router;
}

/**
 * Validation of a visit to the authorization page (PC componentloginpage or H5 bindcomponent), before any code is
 * spent: the parameters of shared/docs/protocol.md §5 and WeChat's domain rule, which refuses with the well-known
 * "授权入口页所在域名" message when the Referer or the redirect_uri is not on the registered 授权发起页域名.
 */
import type { AuthType } from '../wechat/authorization-url';

export const DOMAIN_MESSAGE =
  '请确认授权入口页所在域名，与授权后回调页所在域名相同，并且，此两者都必须与申请第三方平台时填写的授权发起页域名相同。授权入口页所在域名：';

export interface LoginRequest {
  preAuthCode: string;
  redirectUri: string;
  authType: AuthType;
  bizAppId?: string;
  categoryIds?: number[];
}

export type LoginCheck =
  { ok: true; request: LoginRequest } | { ok: false; status: 400 | 403; kind: string; message: string };

export interface LoginCheckInput {
  query: Record<string, unknown>;
  referer: string | undefined;
  componentAppId: string;
  registeredDomain: string | undefined;
  /** The H5 page is opened inside WeChat, which sends no Referer: only a Referer that is present is checked. */
  refererOptional: boolean;
}

function param(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  const first: unknown = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' && first !== '' ? first : undefined;
}

function hostnameOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const host = new URL(url).hostname.toLowerCase();
    return host === '' ? undefined : host;
  } catch {
    return undefined;
  }
}

const refuse = (status: 400 | 403, kind: string, message: string): LoginCheck => ({ ok: false, status, kind, message });

export function checkLoginRequest(input: LoginCheckInput): LoginCheck {
  const { query } = input;
  if (param(query, 'component_appid') !== input.componentAppId) {
    return refuse(400, 'component_appid', 'component_appid 无效：不是本沙箱的第三方平台。');
  }
  const preAuthCode = param(query, 'pre_auth_code');
  if (preAuthCode === undefined) return refuse(400, 'pre_auth_code', '缺少 pre_auth_code 参数。');
  const redirectUri = param(query, 'redirect_uri');
  const redirectHost = hostnameOf(redirectUri);
  if (redirectUri === undefined || redirectHost === undefined || !/^https?:/i.test(redirectUri)) {
    return refuse(400, 'redirect_uri', 'redirect_uri 无效：需要完整的 http(s) 地址，并做 URL 编码。');
  }

  const domain = input.registeredDomain;
  if (domain !== undefined) {
    const refererHost = hostnameOf(input.referer);
    const refererOk = refererHost === domain || (refererHost === undefined && input.refererOptional);
    if (!refererOk || redirectHost !== domain) {
      return refuse(403, 'domain', `${DOMAIN_MESSAGE}${refererHost ?? '空'}`);
    }
  }

  const rawAuthType = param(query, 'auth_type') ?? '3';
  if (rawAuthType !== '1' && rawAuthType !== '2' && rawAuthType !== '3') {
    return refuse(400, 'auth_type', 'auth_type 无效：只能是 1、2 或 3。');
  }
  const request: LoginRequest = { preAuthCode, redirectUri, authType: Number(rawAuthType) as AuthType };
  const bizAppId = param(query, 'biz_appid');
  if (bizAppId !== undefined) request.bizAppId = bizAppId;
  const categories = param(query, 'category_id_list');
  if (categories !== undefined) {
    const ids = categories.split('|').map(Number);
    if (!ids.every((id) => Number.isSafeInteger(id) && id > 0)) {
      return refuse(400, 'category_id_list', 'category_id_list 无效：应为以 | 分隔的权限集 id。');
    }
    request.categoryIds = ids;
  }
  return { ok: true, request };
}

/**
 * Appends `auth_code` and `expires_in` to the callback like WeChat: `?` or `&` as the existing query requires.
 * A fragment is dropped: it would have to sit after the new parameters, and callbacks never rely on one.
 */
export function appendAuthCode(redirectUri: string, authCode: string, expiresIn: number): string {
  const base = redirectUri.replace(/#.*$/s, '');
  const joiner = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${joiner}auth_code=${encodeURIComponent(authCode)}&expires_in=${expiresIn}`;
}

/**
 * URLs of WeChat's authorization pages, where an account admin picks an account and confirms the authorization.
 * Spec: https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/Authorization_Process_Technical_Description.html
 * (parameters, both page hosts and their history: shared/docs/protocol.md §5 and §10.10).
 *
 * Pure, so the service (which redirects admins there) and the emulator (which serves the pages) agree on the
 * parameter names. The base URL is a parameter because local runs point it at the sandbox.
 */

export const PC_AUTHORIZATION_PAGE = 'https://mp.weixin.qq.com/cgi-bin/componentloginpage';
export const MOBILE_AUTHORIZATION_PAGE = 'https://open.weixin.qq.com/wxaopen/safe/bindcomponent';

/** 1 = only Official Accounts are listed, 2 = only Mini Programs, 3 = both. */
export type AuthType = 1 | 2 | 3;

export interface AuthorizationUrlParams {
  componentAppId: string;
  /** Single use: every visit to the page needs a fresh one. */
  preAuthCode: string;
  /** Must be on the registered 授权发起页域名, or WeChat refuses to show the page. */
  redirectUri: string;
  /** Defaults to 3 (both kinds); always sent because every documented URL template carries it. */
  authType?: AuthType;
  /** Restricts the page to this one account; WeChat lets it win over a conflicting auth_type. */
  bizAppId?: string;
  /** Permission-set ids to request a subset of the platform's sets (sent as `99|31`). */
  categoryIdList?: readonly number[];
}

function requireText(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw new TypeError(`${name} must be a non-empty string`);
  return value;
}

function requireHttpUrl(name: string, value: unknown): URL {
  const text = requireText(name, value);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`${name} must be an absolute URL, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`${name} must be http(s)`);
  return url;
}

function queryPairs(params: AuthorizationUrlParams): Array<[string, string]> {
  requireHttpUrl('redirectUri', params.redirectUri);
  const authType = params.authType ?? 3;
  if (authType !== 1 && authType !== 2 && authType !== 3) throw new RangeError('authType must be 1, 2 or 3');
  const pairs: Array<[string, string]> = [
    ['component_appid', requireText('componentAppId', params.componentAppId)],
    ['pre_auth_code', requireText('preAuthCode', params.preAuthCode)],
    // Encoded as a whole: unencoded, only the first query parameter of the callback would survive (protocol §5).
    ['redirect_uri', params.redirectUri],
    ['auth_type', String(authType)],
  ];
  if (params.bizAppId !== undefined) pairs.push(['biz_appid', requireText('bizAppId', params.bizAppId)]);
  if (params.categoryIdList !== undefined && params.categoryIdList.length > 0) {
    if (!params.categoryIdList.every((id) => Number.isSafeInteger(id) && id > 0)) {
      throw new RangeError('categoryIdList must hold positive integers');
    }
    pairs.push(['category_id_list', params.categoryIdList.join('|')]);
  }
  return pairs;
}

function compose(base: string, pairs: ReadonlyArray<[string, string]>, fragment: string): string {
  const url = requireHttpUrl('base', base);
  url.hash = '';
  // encodeURIComponent rather than URLSearchParams: spaces become %20, not `+`, which every WeChat client decodes.
  const query = pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  const href = url.href;
  const joiner = url.search === '' ? (href.endsWith('?') ? '' : '?') : '&';
  return `${href}${joiner}${query}${fragment}`;
}

/** The PC page (QR code scanned by the admin): `componentloginpage?component_appid=…&pre_auth_code=…&…`. */
export function buildPcAuthorizationUrl(base: string, params: AuthorizationUrlParams): string {
  return compose(base, queryPairs(params), '');
}

/**
 * The H5 page opened inside the WeChat client: `bindcomponent?action=bindcomponent&no_scan=1&…#wechat_redirect`.
 * WeChat's in-app browser needs the fragment to treat the link as an authorization step.
 */
export function buildMobileAuthorizationUrl(base: string, params: AuthorizationUrlParams): string {
  return compose(base, [['action', 'bindcomponent'], ['no_scan', '1'], ...queryPairs(params)], '#wechat_redirect');
}

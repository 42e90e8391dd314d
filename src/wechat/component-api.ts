/**
 * Typed calls of the third-party platform ("component") endpoints the service uses.
 * Docs: https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/component_access_token.html
 * and the sibling pages (api_create_preauthcode, authorization_info, api_authorizer_token,
 * api_get_authorizer_info, api_get_authorizer_list, api_start_push_ticket); shapes in protocol.md §4.
 *
 * The component token goes in the query as `component_access_token=` (what every SDK sends).
 * Responses are mapped to camelCase types; the tokens in them are for the caller to store, never to log.
 */
import { ApiTransport, type ApiTransportOptions, type WeChatJson } from './api-transport';
import { funcInfo, isObject, num, optStr, str, type FuncInfoItem } from './json-fields';

export type { FuncInfoItem } from './json-fields';
export type AuthorizerKind = 'official_account' | 'mini_program';

export interface IssuedToken {
  readonly token: string;
  readonly expiresIn: number;
}
export interface AuthorizationResult {
  readonly authorizerAppId: string;
  /** The next three exist only when the account granted API permissions. */
  readonly authorizerAccessToken?: string;
  readonly expiresIn?: number;
  readonly authorizerRefreshToken?: string;
  readonly funcInfo: FuncInfoItem[];
}
export interface AuthorizerTokenResult extends IssuedToken {
  /** Usually the same value; stored when it changes. */
  readonly authorizerRefreshToken?: string;
}
export interface AuthorizerAccountInfo {
  readonly authorizerAppId: string;
  readonly nickName?: string;
  readonly userName?: string;
  readonly headImg?: string;
  readonly principalName?: string;
  readonly kind: AuthorizerKind;
  readonly funcInfo: FuncInfoItem[];
  /**
   * authorization_info.authorizer_refresh_token: empty until the platform has exchanged a code for the account
   * once (protocol.md §4.5, §4.7), then the account's refresh token. Never stored as account info.
   */
  readonly refreshToken?: string;
}
export interface AuthorizerListPage {
  readonly totalCount: number;
  readonly list: { authorizerAppId: string; refreshToken?: string; authTime?: number }[];
}

export interface ComponentApiOptions extends ApiTransportOptions {
  readonly componentAppId: string;
  readonly componentAppSecret: string;
}

export class ComponentApi {
  private readonly transport: ApiTransport;
  private readonly appId: string;
  private readonly appSecret: string;

  constructor(options: ComponentApiOptions) {
    this.transport = new ApiTransport(options);
    this.appId = options.componentAppId;
    this.appSecret = options.componentAppSecret;
  }

  async getComponentAccessToken(ticket: string): Promise<IssuedToken> {
    const api = 'api_component_token';
    const json = await this.transport.post(api, {
      component_appid: this.appId,
      component_appsecret: this.appSecret,
      component_verify_ticket: ticket,
    });
    return { token: str(json, 'component_access_token', api), expiresIn: num(json, 'expires_in', api) };
  }

  async createPreAuthCode(componentToken: string): Promise<IssuedToken> {
    const api = 'api_create_preauthcode';
    const json = await this.call(api, componentToken, {});
    return { token: str(json, 'pre_auth_code', api), expiresIn: num(json, 'expires_in', api) };
  }

  async queryAuth(componentToken: string, authorizationCode: string): Promise<AuthorizationResult> {
    const api = 'api_query_auth';
    const json = await this.call(api, componentToken, { authorization_code: authorizationCode });
    // A 2024 community report saw answers without the `authorization_info` wrapper (protocol.md §10.8).
    const info = isObject(json.authorization_info) ? json.authorization_info : json;
    return {
      authorizerAppId: str(info, 'authorizer_appid', api),
      authorizerAccessToken: optStr(info, 'authorizer_access_token'),
      expiresIn: typeof info.expires_in === 'number' ? info.expires_in : undefined,
      authorizerRefreshToken: optStr(info, 'authorizer_refresh_token'),
      funcInfo: funcInfo(info),
    };
  }

  async refreshAuthorizerToken(
    componentToken: string,
    authorizerAppId: string,
    refreshToken: string,
  ): Promise<AuthorizerTokenResult> {
    const api = 'api_authorizer_token';
    const json = await this.call(api, componentToken, {
      authorizer_appid: authorizerAppId,
      authorizer_refresh_token: refreshToken,
    });
    return {
      token: str(json, 'authorizer_access_token', api),
      expiresIn: num(json, 'expires_in', api),
      authorizerRefreshToken: optStr(json, 'authorizer_refresh_token'),
    };
  }

  async getAuthorizerInfo(componentToken: string, authorizerAppId: string): Promise<AuthorizerAccountInfo> {
    const api = 'api_get_authorizer_info';
    const json = await this.call(api, componentToken, { authorizer_appid: authorizerAppId });
    const account = isObject(json.authorizer_info) ? json.authorizer_info : {};
    const authorization = isObject(json.authorization_info) ? json.authorization_info : {};
    return {
      authorizerAppId,
      nickName: optStr(account, 'nick_name'),
      userName: optStr(account, 'user_name'),
      headImg: optStr(account, 'head_img'),
      principalName: optStr(account, 'principal_name'),
      // Only Mini Programs carry MiniProgramInfo (protocol.md §4.5).
      kind: isObject(account.MiniProgramInfo) ? 'mini_program' : 'official_account',
      funcInfo: funcInfo(authorization),
      refreshToken: optStr(authorization, 'authorizer_refresh_token') || undefined,
    };
  }

  async getAuthorizerList(componentToken: string, offset: number, count: number): Promise<AuthorizerListPage> {
    const api = 'api_get_authorizer_list';
    const json = await this.call(api, componentToken, { offset, count });
    const list = Array.isArray(json.list) ? json.list.filter(isObject) : [];
    return {
      totalCount: num(json, 'total_count', api),
      list: list.map((item) => ({
        authorizerAppId: str(item, 'authorizer_appid', api),
        refreshToken: optStr(item, 'refresh_token') || undefined,
        authTime: typeof item.auth_time === 'number' ? item.auth_time : undefined,
      })),
    };
  }

  /** Asks WeChat to (re)start pushing component_verify_ticket. Note `component_secret`, not `component_appsecret`. */
  async startPushTicket(): Promise<{ errmsg: string }> {
    const json = await this.transport.post('api_start_push_ticket', {
      component_appid: this.appId,
      component_secret: this.appSecret,
    });
    return { errmsg: optStr(json, 'errmsg') ?? 'ok' };
  }

  private call(api: string, componentToken: string, body: WeChatJson): Promise<WeChatJson> {
    return this.transport.post(
      api,
      { component_appid: this.appId, ...body },
      { component_access_token: componentToken },
    );
  }
}

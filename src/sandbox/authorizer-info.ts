/**
 * The body of api_get_authorizer_info for a fake account (shared/docs/protocol.md §4.5, current field layout:
 * `qrcode_url` inside `authorizer_info`, `authorizer_appid` in `authorization_info`). Images point back at the
 * emulator so a page showing the avatar never reaches out to WeChat's CDN.
 */
import type { FakeAccount } from './accounts';
import type { AuthorizerState } from './authorizations';
import { funcInfoBody } from './state';

export function authorizerInfoBody(
  account: FakeAccount,
  state: AuthorizerState,
  origin: string,
): Record<string, unknown> {
  const asset = (kind: string): string => `${origin}/sandbox/assets/${kind}/${encodeURIComponent(account.appid)}.svg`;
  const info: Record<string, unknown> = {
    nick_name: account.nickName,
    head_img: asset('head'),
    service_type_info: { id: account.serviceType },
    verify_type_info: { id: account.verifyType },
    user_name: account.userName,
    alias: '',
    qrcode_url: asset('qrcode'),
    principal_name: account.principalName,
    signature: `${account.nickName}（沙箱账号）`,
    business_info: { open_pay: 0, open_shake: 0, open_scan: 0, open_card: 0, open_store: 0 },
    account_status: 1,
    register_type: 0,
    basic_config: { is_phone_configured: true, is_email_configured: true },
  };
  if (account.kind === 'mini_program') {
    info.MiniProgramInfo = {
      network: {
        RequestDomain: [],
        WsRequestDomain: [],
        UploadDomain: [],
        DownloadDomain: [],
        BizDomain: [],
        UDPDomain: [],
      },
      categories: [{ first: '工具', second: '效率' }],
      visit_status: 0,
    };
  }
  return {
    authorizer_info: info,
    authorization_info: {
      authorizer_appid: account.appid,
      // Empty until the platform has exchanged a code once, as WeChat's KB describes (protocol.md §4.7, §10.6).
      authorizer_refresh_token: state.everQueried ? (state.refreshToken ?? '') : '',
      func_info: funcInfoBody(state.funcInfo),
    },
  };
}

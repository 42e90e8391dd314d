/**
 * WeChat's full-network release test (全网发布接入检测): the facts of protocol.md §7 in one place, shared by the
 * service's responder and the emulator's player. Docs:
 * https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/operation/thirdparty/releases_instructions.html
 *
 * The test accounts are WeChat's own (five groups since 2021-01-18, one picked at random per run): an Official
 * Account and a Mini Program each, known by appid and by original id (`gh_…`, the envelope's ToUserName).
 */

export interface ReleaseTestAccount {
  readonly appid: string;
  readonly userName: string;
  readonly kind: 'official_account' | 'mini_program';
  readonly group: number;
}

export const RELEASE_TEST_ACCOUNTS: readonly ReleaseTestAccount[] = Object.freeze(
  (
    [
      [1, 'wx570bc396a51b8ff8', 'gh_3c884a361561', 'wxd101a85aa106f53e', 'gh_8dad206e9538'],
      [2, 'wx9252c5e0bb1836fc', 'gh_c0f28a78b318', 'wxc39235c15087f6f3', 'gh_905ae9d01059'],
      [3, 'wx8e1097c5bc82cde9', 'gh_3f222ed8d140', 'wx7720d01d4b2a4500', 'gh_393666f1fdf4'],
      [4, 'wx14550af28c71a144', 'gh_26128078e9ab', 'wx05d483572dcd5d8b', 'gh_39abb5d4e1b7'],
      [5, 'wxa35b9c23cfe664eb', 'gh_2b3713f184a6', 'wx5910277cae6fd970', 'gh_7818dcb60240'],
    ] as const
  ).flatMap(([group, oaAppid, oaUser, mpAppid, mpUser]) => [
    Object.freeze({ appid: oaAppid, userName: oaUser, kind: 'official_account' as const, group }),
    Object.freeze({ appid: mpAppid, userName: mpUser, kind: 'mini_program' as const, group }),
  ]),
);

const BY_APPID = new Map(RELEASE_TEST_ACCOUNTS.map((a) => [a.appid, a]));
const BY_USER_NAME = new Map(RELEASE_TEST_ACCOUNTS.map((a) => [a.userName, a]));

/** The test account a message is for, by the path's appid or the envelope's ToUserName; undefined for any other. */
export function releaseTestAccount(appid: string, toUserName?: string): ReleaseTestAccount | undefined {
  return BY_APPID.get(appid) ?? (toUserName === undefined ? undefined : BY_USER_NAME.get(toUserName));
}

/** Case 2: this text, answered at once with a passive text reply of TEXT_REPLY. */
export const TEXT_CASE_CONTENT = 'TESTCOMPONENT_MSG_TYPE_TEXT';
export const TEXT_CASE_REPLY = 'TESTCOMPONENT_MSG_TYPE_TEXT_callback';
/** Cases 3–4: `QUERY_AUTH_CODE:<code>`, answered empty, then a customer-service message `<code>_from_api`. */
export const QUERY_AUTH_CODE_PREFIX = 'QUERY_AUTH_CODE:';
export const API_REPLY_SUFFIX = '_from_api';
/** Case 5 (legacy): an event, answered with the text `<Event>from_callback`. */
export const EVENT_REPLY_SUFFIX = 'from_callback';

export type ReleaseTestCase =
  | { readonly kind: 'text'; readonly reply: string }
  | { readonly kind: 'api'; readonly queryAuthCode: string; readonly reply: string }
  | { readonly kind: 'event'; readonly reply: string };

/** Which case a test account's message is, from its decrypted fields; undefined when it is none of them. */
export function releaseTestCase(fields: {
  MsgType?: string;
  Content?: string;
  Event?: string;
}): ReleaseTestCase | undefined {
  if (fields.MsgType === 'text' && fields.Content !== undefined) {
    if (fields.Content === TEXT_CASE_CONTENT) return { kind: 'text', reply: TEXT_CASE_REPLY };
    if (fields.Content.startsWith(QUERY_AUTH_CODE_PREFIX)) {
      const queryAuthCode = fields.Content.slice(QUERY_AUTH_CODE_PREFIX.length);
      if (queryAuthCode !== '') return { kind: 'api', queryAuthCode, reply: `${queryAuthCode}${API_REPLY_SUFFIX}` };
    }
    return undefined;
  }
  if (fields.MsgType === 'event' && fields.Event)
    return { kind: 'event', reply: `${fields.Event}${EVENT_REPLY_SUFFIX}` };
  return undefined;
}

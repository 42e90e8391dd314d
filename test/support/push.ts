import { randomBytes } from 'node:crypto';
import { MsgCrypt } from '../../src/wechat/crypto';
import { TEST_COMPONENT } from './config';

export interface SignedPush {
  query: Record<string, string>;
  body: string;
  path: string;
}

let nonceCounter = 0;

/** A push as WeChat sends it: `<AppId>` envelope, encrypted payload, signed query string. */
export function signedPush(
  payload: string,
  opts: { appId?: string; receiveId?: string; timestamp?: string; nonce?: string; aesKey?: string; token?: string } = {},
): SignedPush {
  const appId = opts.appId ?? TEST_COMPONENT.appId;
  const crypt = new MsgCrypt({
    token: opts.token ?? TEST_COMPONENT.token,
    encodingAesKey: opts.aesKey ?? TEST_COMPONENT.aesKey,
    appId: opts.receiveId ?? appId,
  });
  const timestamp = opts.timestamp ?? String(Math.floor(Date.now() / 1000));
  const nonce = opts.nonce ?? `${Date.now() % 1e9}${++nonceCounter}`;
  const { encrypt, msgSignature } = crypt.seal(payload, timestamp, nonce);
  const query = { signature: 'unused', timestamp, nonce, encrypt_type: 'aes', msg_signature: msgSignature };
  const body = `<xml>\n    <AppId><![CDATA[${appId}]]></AppId>\n    <Encrypt><![CDATA[${encrypt}]]></Encrypt>\n</xml>`;
  return { query, body, path: `/auth?${new URLSearchParams(query)}` };
}

export function ticketPayload(ticket: string, opts: { appId?: string; cdata?: boolean } = {}): string {
  const appId = opts.appId ?? TEST_COMPONENT.appId;
  const now = Math.floor(Date.now() / 1000);
  return opts.cdata === false
    ? `<xml>\n<AppId>${appId}</AppId>\n<CreateTime>${now}</CreateTime>\n<InfoType>component_verify_ticket</InfoType>\n<ComponentVerifyTicket>${ticket}</ComponentVerifyTicket>\n</xml>`
    : `<xml><AppId><![CDATA[${appId}]]></AppId>\n<CreateTime>${now}</CreateTime>\n<InfoType><![CDATA[component_verify_ticket]]></InfoType>\n<ComponentVerifyTicket><![CDATA[${ticket}]]></ComponentVerifyTicket>\n</xml>`;
}

export function authorizationPayload(
  infoType: 'authorized' | 'updateauthorized',
  authorizerAppid: string,
  code: string,
  opts: { cdata?: boolean } = {},
): string {
  const now = Math.floor(Date.now() / 1000);
  const v = (s: string) => (opts.cdata === false ? s : `<![CDATA[${s}]]>`);
  return (
    `<xml>\n  <AppId>${v(TEST_COMPONENT.appId)}</AppId>\n  <CreateTime>${now}</CreateTime>\n  <InfoType>${v(infoType)}</InfoType>\n` +
    `  <AuthorizerAppid>${v(authorizerAppid)}</AuthorizerAppid>\n  <AuthorizationCode>${v(code)}</AuthorizationCode>\n` +
    `  <AuthorizationCodeExpiredTime>${now + 3600}</AuthorizationCodeExpiredTime>\n  <PreAuthCode>${v('preauthcode@@@x')}</PreAuthCode>\n</xml>`
  );
}

export function unauthorizedPayload(authorizerAppid: string, opts: { cdata?: boolean } = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const v = (s: string) => (opts.cdata === false ? s : `<![CDATA[${s}]]>`);
  return `<xml><AppId>${v(TEST_COMPONENT.appId)}</AppId><CreateTime>${now}</CreateTime><InfoType>${v('unauthorized')}</InfoType><AuthorizerAppid>${v(authorizerAppid)}</AuthorizerAppid></xml>`;
}

export function randomTicket(): string {
  return `ticket@@@${randomBytes(24).toString('base64url')}`;
}

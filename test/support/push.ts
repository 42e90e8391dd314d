import { randomBytes } from 'node:crypto';
import { computeSignature, MsgCrypt } from '../../src/wechat/crypto';
import { buildEncryptedEnvelopeXml, buildPushEventXml } from '../../src/wechat/push-xml';
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
  opts: {
    appId?: string;
    receiveId?: string;
    timestamp?: string;
    nonce?: string;
    aesKey?: string;
    token?: string;
  } = {},
): SignedPush {
  const appId = opts.appId ?? TEST_COMPONENT.appId;
  const token = opts.token ?? TEST_COMPONENT.token;
  const crypt = new MsgCrypt({
    token,
    encodingAesKey: opts.aesKey ?? TEST_COMPONENT.aesKey,
    appId: opts.receiveId ?? appId,
  });
  const timestamp = opts.timestamp ?? String(Math.floor(Date.now() / 1000));
  const nonce = opts.nonce ?? `${Date.now() % 1e9}${++nonceCounter}`;
  const { encrypt, msgSignature } = crypt.seal(payload, timestamp, nonce);
  const query = {
    signature: computeSignature(token, timestamp, nonce),
    timestamp,
    nonce,
    encrypt_type: 'aes',
    msg_signature: msgSignature,
  };
  const body = buildEncryptedEnvelopeXml(appId, encrypt);
  return { query, body, path: `/auth?${new URLSearchParams(query)}` };
}

/** Payloads are built by the one model of pushes (src/wechat/push-xml.ts), as the emulator builds them. */
const nowSeconds = () => Math.floor(Date.now() / 1000);

export function ticketPayload(
  ticket: string,
  opts: { appId?: string; cdata?: boolean; createTime?: number } = {},
): string {
  return buildPushEventXml(
    {
      infoType: 'component_verify_ticket',
      appId: opts.appId ?? TEST_COMPONENT.appId,
      createTime: opts.createTime ?? nowSeconds(),
      componentVerifyTicket: ticket,
    },
    { cdata: opts.cdata },
  );
}

export function authorizationPayload(
  infoType: 'authorized' | 'updateauthorized',
  authorizerAppid: string,
  code: string,
  opts: { cdata?: boolean; createTime?: number } = {},
): string {
  const createTime = opts.createTime ?? nowSeconds();
  return buildPushEventXml(
    {
      infoType,
      appId: TEST_COMPONENT.appId,
      createTime,
      authorizerAppid,
      authorizationCode: code,
      authorizationCodeExpiredTime: createTime + 3600,
      preAuthCode: 'preauthcode@@@x',
    },
    { cdata: opts.cdata },
  );
}

export function unauthorizedPayload(
  authorizerAppid: string,
  opts: { cdata?: boolean; createTime?: number } = {},
): string {
  return buildPushEventXml(
    {
      infoType: 'unauthorized',
      appId: TEST_COMPONENT.appId,
      createTime: opts.createTime ?? nowSeconds(),
      authorizerAppid,
    },
    { cdata: opts.cdata },
  );
}

export function randomTicket(): string {
  return `ticket@@@${randomBytes(24).toString('base64url')}`;
}

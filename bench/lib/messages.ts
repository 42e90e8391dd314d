/**
 * Pre-generated user text messages, as WeChat sends them to the message URL `/<appid>/callback`: the
 * `<ToUserName>`/`<Encrypt>` envelope and the signed query. Each has its own MsgId, content and nonce, so the
 * service's de-duplication never short-circuits one.
 */
import { randomBytes } from 'node:crypto';
import { MsgCrypt } from '../../src/wechat/crypto';
import { BENCH_COMPONENT } from './common';
import type { RequestSpec } from './load';

const HEADERS = { 'content-type': 'text/xml' } as const;
/** An ordinary (not release-test) Official Account. */
export const BENCH_MESSAGE_APPID = 'wx5b00000000000001';
const USER_NAME = 'gh_5b0000000001';

export class MessagePool {
  private readonly crypt = new MsgCrypt({
    token: BENCH_COMPONENT.token,
    encodingAesKey: BENCH_COMPONENT.aesKey,
    appId: BENCH_COMPONENT.appId,
  });
  private readonly messages: RequestSpec[] = [];
  private readonly runId = randomBytes(4).toString('hex');
  private readonly msgIdBase = BigInt(Date.now()) * 1_000_000n;

  get size(): number {
    return this.messages.length;
  }

  ensure(n: number): void {
    const timestamp = String(Math.floor(Date.now() / 1000));
    while (this.messages.length < n) {
      const i = this.messages.length;
      const nonce = `${this.runId}${i.toString(36)}`;
      const openid = `o${randomBytes(20).toString('base64url').slice(0, 27)}`;
      const payload =
        `<xml><ToUserName><![CDATA[${USER_NAME}]]></ToUserName>\n<FromUserName><![CDATA[${openid}]]></FromUserName>\n` +
        `<CreateTime>${timestamp}</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n` +
        `<Content><![CDATA[订单查询 ${i}]]></Content>\n<MsgId>${this.msgIdBase + BigInt(i)}</MsgId>\n</xml>`;
      const { encrypt, msgSignature } = this.crypt.seal(payload, timestamp, nonce);
      const query = new URLSearchParams({
        signature: 'unused',
        timestamp,
        nonce,
        openid,
        encrypt_type: 'aes',
        msg_signature: msgSignature,
      });
      this.messages.push({
        method: 'POST',
        path: `/${BENCH_MESSAGE_APPID}/callback?${query}`,
        headers: HEADERS,
        body: `<xml><ToUserName><![CDATA[${USER_NAME}]]></ToUserName>\n<Encrypt><![CDATA[${encrypt}]]></Encrypt>\n</xml>`,
      });
    }
  }

  get(i: number): RequestSpec {
    return this.messages[i % this.messages.length]!;
  }
}

/**
 * Pre-generated `component_verify_ticket` pushes, as WeChat sends them to POST /auth: the `<xml>` envelope with
 * `<AppId>` and `<Encrypt>`, and the signed query string. Each one is encrypted on its own, with its own ticket
 * and a unique nonce, so the service's de-duplication never short-circuits one.
 */
import { randomBytes } from 'node:crypto';
import { MsgCrypt } from '../../src/wechat/crypto';
import { buildEncryptedEnvelopeXml, buildPushEventXml } from '../../src/wechat/push-xml';
import { BENCH_COMPONENT } from './common';
import type { RequestSpec } from './load';

const HEADERS = { 'content-type': 'text/xml' } as const;

export class PushPool {
  private readonly crypt = new MsgCrypt({
    token: BENCH_COMPONENT.token,
    encodingAesKey: BENCH_COMPONENT.aesKey,
    appId: BENCH_COMPONENT.appId,
  });
  private readonly pushes: RequestSpec[] = [];
  private readonly runId = randomBytes(4).toString('hex');

  get size(): number {
    return this.pushes.length;
  }

  /** Grows the pool to at least `n` pushes. */
  ensure(n: number): void {
    const timestamp = String(Math.floor(Date.now() / 1000));
    while (this.pushes.length < n) {
      const i = this.pushes.length;
      const nonce = `${this.runId}${i.toString(36)}`;
      const ticket = `ticket@@@${randomBytes(48).toString('base64url')}`;
      const payload = buildPushEventXml({
        infoType: 'component_verify_ticket',
        appId: BENCH_COMPONENT.appId,
        createTime: Number(timestamp),
        componentVerifyTicket: ticket,
      });
      const { encrypt, msgSignature } = this.crypt.seal(payload, timestamp, nonce);
      const query = new URLSearchParams({
        signature: 'unused',
        timestamp,
        nonce,
        encrypt_type: 'aes',
        msg_signature: msgSignature,
      });
      this.pushes.push({
        method: 'POST',
        path: `/auth?${query}`,
        headers: HEADERS,
        body: buildEncryptedEnvelopeXml(BENCH_COMPONENT.appId, encrypt),
      });
    }
  }

  /** The i-th push (wrapping around; callers size the pool so that the service never sees a repeat). */
  get(i: number): RequestSpec {
    return this.pushes[i % this.pushes.length]!;
  }
}

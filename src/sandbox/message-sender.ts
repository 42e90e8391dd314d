/**
 * Plays WeChat on the message URL (消息与事件接收URL): builds a user message or event of an authorized account,
 * encrypts it with the platform's key, signs it, POSTs it to `<service>/<appid>/callback` with WeChat's query
 * (signature, timestamp, nonce, openid, encrypt_type=aes, msg_signature), and reads the answer: nothing
 * (`success` or empty) or an encrypted passive reply, which it verifies and decrypts (protocol.md §3.6).
 */
import { randomInt } from 'node:crypto';
import type { Clock } from '../clock';
import { computeSignature, MsgCrypt, verifyMsgSignature } from '../wechat/crypto';
import { buildXml, type XmlField } from '../wechat/push-xml';
import { parseXmlFields, requiredText, textOf } from '../wechat/xml-reading';

export interface OutgoingMessage {
  /** The account's original id (`gh_…`). */
  toUserName: string;
  /** The user's openid. */
  fromUserName: string;
  msgType: string;
  /** Further elements after MsgType, in order (Content, MsgId; Event, Latitude, …). */
  fields: XmlField[];
  /** Unix seconds; now by default (a re-send of an event keeps its CreateTime). */
  createTime?: number;
}

export interface MessageAnswer {
  /** HTTP status; undefined when no answer came in time. */
  status?: number;
  body?: string;
  /** Why there is no usable answer (timeout, refused connection). */
  error?: string;
  /** The decrypted passive reply's elements, when the answer is one. */
  reply?: Record<string, string>;
  /** Why the answer is not a valid encrypted reply (bad signature, not XML, …), when it tried to be one. */
  replyError?: string;
  durationMs: number;
}

export interface MessageSenderOptions {
  componentAppId: string;
  token: string;
  encodingAesKey: string;
  clock: Clock;
}

export class MessageSender {
  private readonly crypt: MsgCrypt;

  constructor(private readonly options: MessageSenderOptions) {
    this.crypt = new MsgCrypt({
      token: options.token,
      encodingAesKey: options.encodingAesKey,
      appId: options.componentAppId,
    });
  }

  /** Sends one message and waits at most `timeoutMs` (WeChat: 5 s) for the answer. */
  async send(url: string, message: OutgoingMessage, timeoutMs = 5000): Promise<MessageAnswer> {
    const createTime = message.createTime ?? Math.floor(this.options.clock.now() / 1000);
    const xml = buildXml([
      ['ToUserName', message.toUserName],
      ['FromUserName', message.fromUserName],
      ['CreateTime', createTime],
      ['MsgType', message.msgType],
      ...message.fields,
    ]);
    const timestamp = String(createTime);
    const nonce = String(randomInt(100_000_000, 2_147_483_647));
    const { encrypt, msgSignature } = this.crypt.seal(xml, timestamp, nonce);
    const target = new URL(url);
    target.searchParams.append('signature', computeSignature(this.options.token, timestamp, nonce));
    target.searchParams.append('timestamp', timestamp);
    target.searchParams.append('nonce', nonce);
    target.searchParams.append('openid', message.fromUserName);
    target.searchParams.append('encrypt_type', 'aes');
    target.searchParams.append('msg_signature', msgSignature);
    const body = buildXml([
      ['ToUserName', message.toUserName],
      ['Encrypt', encrypt],
    ]);

    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    let status: number;
    let text: string;
    try {
      const res = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'text/xml' },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      const e = err as Error;
      return {
        error: e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : e.message,
        durationMs: elapsed(),
      };
    }
    const answer: MessageAnswer = { status, body: text, durationMs: elapsed() };
    if (status !== 200 || text === '' || text === 'success') return answer;
    try {
      answer.reply = this.openReply(text);
    } catch (err) {
      answer.replyError = (err as Error).message;
    }
    return answer;
  }

  /** Verifies and decrypts an encrypted passive reply into its elements. */
  private openReply(text: string): Record<string, string> {
    const envelope = parseXmlFields(text);
    const encrypt = requiredText(envelope, 'Encrypt');
    const msgSignature = requiredText(envelope, 'MsgSignature');
    const timestamp = requiredText(envelope, 'TimeStamp');
    const nonce = requiredText(envelope, 'Nonce');
    if (!verifyMsgSignature(this.options.token, timestamp, nonce, encrypt, msgSignature)) {
      throw new Error("the reply's MsgSignature does not match");
    }
    const plain = parseXmlFields(this.crypt.open({ msgSignature, timestamp, nonce, encrypt }).message);
    const fields: Record<string, string> = {};
    for (const name of Object.keys(plain)) {
      const value = textOf(plain, name);
      if (value !== undefined) fields[name] = value;
    }
    return fields;
  }
}

/** A fake openid of a user of the account (28 characters, like WeChat's). */
export function fakeOpenid(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let id = 'o';
  for (let i = 0; i < 27; i++) id += alphabet[randomInt(alphabet.length)];
  return id;
}

/** A message id like WeChat's (a 64-bit decimal). */
export function fakeMsgId(): string {
  return `${randomInt(1, 2 ** 31)}${String(randomInt(0, 2 ** 31)).padStart(10, '0')}`;
}

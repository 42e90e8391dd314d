/**
 * Turns one event into the HTTP request WeChat sends to the 授权事件接收URL: the event XML, encrypted with the
 * platform's EncodingAESKey, wrapped in the `<AppId>` envelope, signed, with WeChat's query string
 * (timestamp, nonce, encrypt_type=aes, msg_signature, signature). Layout: shared/docs/protocol.md §1–§3.
 */
import { randomInt } from 'node:crypto';
import type { Clock } from '../clock';
import { computeSignature, MsgCrypt } from '../wechat/crypto';
import { buildEncryptedEnvelopeXml, buildPushEventXml, type PushEvent } from '../wechat/push-xml';
import type { PushDelivery, PushResult } from './push-delivery';

/** An event without the fields every push shares (AppId, CreateTime), which the pusher fills in. */
type WithoutCommon<E> = E extends PushEvent ? Omit<E, 'appId' | 'createTime'> : never;
export type EventBody = WithoutCommon<PushEvent>;

export interface EventPusherOptions {
  componentAppId: string;
  token: string;
  encodingAesKey: string;
  clock: Clock;
  delivery: PushDelivery;
  pushUrl?: string;
}

export interface PushRecord extends PushResult {
  /** Emulator clock, ms, when the push started. */
  at: number;
  infoType: EventBody['infoType'];
  authorizerAppid?: string;
}

// Enough to see what happened during a demo; older records are dropped.
const HISTORY = 200;

export interface SealedPush {
  url: string;
  body: string;
}

export class EventPusher {
  private readonly crypt: MsgCrypt;
  private readonly records: PushRecord[] = [];
  pushUrl: string | undefined;

  constructor(private readonly options: EventPusherOptions) {
    this.crypt = new MsgCrypt({
      token: options.token,
      encodingAesKey: options.encodingAesKey,
      appId: options.componentAppId,
    });
    this.pushUrl = options.pushUrl;
  }

  /** Builds the request for `url`; exposed so tests can look at exactly what goes on the wire. */
  seal(url: string, event: EventBody): SealedPush {
    const createTime = Math.floor(this.options.clock.now() / 1000);
    const xml = buildPushEventXml({ ...event, appId: this.options.componentAppId, createTime });
    const timestamp = String(createTime);
    // WeChat's nonces are decimal numbers of about ten digits.
    const nonce = String(randomInt(100_000_000, 2_147_483_647));
    const { encrypt, msgSignature } = this.crypt.seal(xml, timestamp, nonce);
    const target = new URL(url);
    target.hash = '';
    target.searchParams.append('timestamp', timestamp);
    target.searchParams.append('nonce', nonce);
    target.searchParams.append('encrypt_type', 'aes');
    target.searchParams.append('msg_signature', msgSignature);
    target.searchParams.append('signature', computeSignature(this.options.token, timestamp, nonce));
    return { url: target.href, body: buildEncryptedEnvelopeXml(this.options.componentAppId, encrypt) };
  }

  /** Sends the event to the configured push URL; undefined when there is none. */
  async push(event: EventBody): Promise<PushResult | undefined> {
    const url = this.pushUrl;
    if (url === undefined || this.options.delivery.closed) return undefined;
    const at = this.options.clock.now();
    const sealed = this.seal(url, event);
    const result = await this.options.delivery.deliver(sealed.url, sealed.body);
    const authorizerAppid = 'authorizerAppid' in event ? event.authorizerAppid : undefined;
    this.records.push({ at, infoType: event.infoType, ...(authorizerAppid ? { authorizerAppid } : {}), ...result });
    if (this.records.length > HISTORY) this.records.shift();
    return result;
  }

  /** Finished pushes, oldest first. */
  history(): PushRecord[] {
    return this.records.map((record) => ({ ...record }));
  }
}

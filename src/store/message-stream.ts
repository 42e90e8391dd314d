import type { Redis } from './redis';
import type { Keys } from './keys';
import { storageOp } from './storage-errors';

/**
 * `P:messages`: every message and event WeChat delivered to the message URL (消息与事件接收URL) that the service
 * did not answer itself, for internal services to consume with a consumer group (docs/messages.md). Capped with
 * `MAXLEN ~` so a platform nobody consumes does not fill Redis.
 */
export interface ReceivedMessage {
  readonly authorizerAppid: string;
  /** false when no authorization of this appid is stored (WeChat still expects an answer). */
  readonly known: boolean;
  readonly msgType: string;
  /** Event name for `MsgType=event`, else empty. */
  readonly event: string;
  /** The de-duplication id: MsgId, or FromUserName + CreateTime for events. */
  readonly messageId: string;
  /** The decrypted XML's elements. */
  readonly fields: Readonly<Record<string, string>>;
  /** The decrypted XML as WeChat sent it. */
  readonly rawXml: string;
  readonly receivedAt: number;
}

export interface MessageStream {
  /** Appends one message; resolves to its stream id. */
  append(message: ReceivedMessage): Promise<string>;
}

/** The stream entry's fields, flat strings as XADD takes them (the same names in Redis and in memory). */
export function messageEntryFields(message: ReceivedMessage): Record<string, string> {
  return {
    authorizer_appid: message.authorizerAppid,
    known: message.known ? '1' : '0',
    msg_type: message.msgType,
    event: message.event,
    message_id: message.messageId,
    fields: JSON.stringify(message.fields),
    raw_xml: message.rawXml,
    received_at: String(message.receivedAt),
  };
}

export class RedisMessageStream implements MessageStream {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly maxLen: number,
  ) {}

  async append(message: ReceivedMessage): Promise<string> {
    const flat = Object.entries(messageEntryFields(message)).flat();
    const id = await storageOp(() => this.redis.xadd(this.keys.messages, 'MAXLEN', '~', this.maxLen, '*', ...flat));
    return id as string;
  }
}

/** For the sandbox without Redis: the last `maxLen` entries of one process. */
export class MemoryMessageStream implements MessageStream {
  readonly entries: Array<{ id: string; fields: Record<string, string> }> = [];
  #seq = 0;

  constructor(private readonly maxLen: number) {}

  append(message: ReceivedMessage): Promise<string> {
    const id = `${message.receivedAt}-${this.#seq++}`;
    this.entries.push({ id, fields: messageEntryFields(message) });
    if (this.entries.length > this.maxLen) this.entries.splice(0, this.entries.length - this.maxLen);
    return Promise.resolve(id);
  }
}

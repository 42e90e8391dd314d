import type { Clock } from '../clock';
import type { Redis } from './redis';
import type { Keys } from './keys';
import { defineScripts, runScript, type LuaScript } from './lua-script';
import { ExpiringMap, secondsToMs } from './memory/expiring-map';
import { DEFAULT_DONE_SECONDS } from './push-dedup-store';
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
  /**
   * Appends the message unless the same one (authorizer appid + message id) was appended in the last hour, by any
   * replica: resolves to the new entry's id, or undefined for such a re-send (nothing written). The check and the
   * append are one atomic step, so two replicas given the same message at once store it once.
   */
  appendOnce(message: ReceivedMessage): Promise<string | undefined>;
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

/**
 * KEYS[1] = the message's de-duplication record `P:message_dedup:{P:messages}:<appid>:<message id>`, KEYS[2] = the
 * stream `P:messages` (one Cluster slot: the record's hash tag is the stream's name, keys.ts). ARGV[1] = seconds the
 * record is kept, ARGV[2] = the stream's `MAXLEN ~`, ARGV[3…] = the entry's field/value pairs. Returns the entry's
 * id, or false (nil) when the record exists: a re-send, nothing written. XADD before SET: an XADD that fails leaves
 * no record, so WeChat's re-send is stored, never turned away.
 */
const APPEND_MESSAGE_ONCE: LuaScript = {
  name: 'wxAppendMessageOnce',
  numberOfKeys: 2,
  lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
return id
`,
};

export class RedisMessageStream implements MessageStream {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly maxLen: number,
  ) {
    defineScripts(redis, [APPEND_MESSAGE_ONCE]);
  }

  async appendOnce(message: ReceivedMessage): Promise<string | undefined> {
    const { keys } = this;
    const flat = Object.entries(messageEntryFields(message)).flat();
    const id = await storageOp(() =>
      runScript(
        this.redis,
        APPEND_MESSAGE_ONCE,
        [keys.messageDedup(message.authorizerAppid, message.messageId), keys.messages],
        [DEFAULT_DONE_SECONDS, this.maxLen, ...flat],
      ),
    );
    return typeof id === 'string' ? id : undefined;
  }
}

/** For the sandbox without Redis: the last `maxLen` entries of one process, de-duplicated like Redis's. */
export class MemoryMessageStream implements MessageStream {
  readonly entries: Array<{ id: string; fields: Record<string, string> }> = [];
  private readonly seen: ExpiringMap<true>;
  #seq = 0;

  constructor(
    private readonly maxLen: number,
    clock: Clock,
  ) {
    this.seen = new ExpiringMap(clock);
  }

  appendOnce(message: ReceivedMessage): Promise<string | undefined> {
    const dedupKey = `${message.authorizerAppid}:${message.messageId}`;
    if (!this.seen.setIfAbsent(dedupKey, true, secondsToMs(DEFAULT_DONE_SECONDS))) return Promise.resolve(undefined);
    const id = `${message.receivedAt}-${this.#seq++}`;
    this.entries.push({ id, fields: messageEntryFields(message) });
    if (this.entries.length > this.maxLen) this.entries.splice(0, this.entries.length - this.maxLen);
    return Promise.resolve(id);
  }
}

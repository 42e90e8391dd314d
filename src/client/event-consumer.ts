/**
 * A small typed consumer of the account event stream `P:events` for the platform's internal Node
 * services (docs/events.md): a Redis consumer group of the caller's own, events parsed into the
 * AccountEvent union, acknowledged one by one. Depends only on the key builder and the schema.
 */
import { createKeys } from '../store/keys';
import { eventFromFields, type AccountEvent } from './account-events';

/** The stream commands the consumer needs; an ioredis client fits. */
export interface StreamCommands {
  xgroup(...args: (string | number)[]): Promise<unknown>;
  xreadgroup(...args: (string | number)[]): Promise<unknown>;
  xack(key: string, group: string, ...ids: string[]): Promise<number>;
  xautoclaim(...args: (string | number)[]): Promise<unknown>;
}

export interface EventConsumerOptions {
  readonly redis: StreamCommands;
  /** REDIS_KEY_PREFIX of the service (default `wxopen`). */
  readonly keyPrefix?: string;
  /** WECHAT_COMPONENT_APPID of the service. */
  readonly componentAppId: string;
  /** Your consumer group: every group gets every event. */
  readonly group: string;
  /** This process's name in the group (stable across restarts, so it finds its own pending events). */
  readonly consumer: string;
}

export interface ConsumedEvent {
  /** The stream entry id. */
  readonly id: string;
  /** undefined when the entry was trimmed (EVENTS_MAX_LEN) before you read it. */
  readonly event: AccountEvent | undefined;
  /** XACK: the group will not hand this event out again. */
  ack(): Promise<void>;
}

type RawEntry = [string, string[] | null] | null;

export class EventConsumer {
  readonly stream: string;

  constructor(private readonly options: EventConsumerOptions) {
    this.stream = createKeys(options.keyPrefix ?? 'wxopen', options.componentAppId).events;
  }

  /**
   * Creates the group if it does not exist yet: from the oldest event kept (`'0'`) or from now on
   * (`'$'`). An existing group is left as it is.
   */
  async ensureGroup(startAt: '0' | '$' = '$'): Promise<void> {
    try {
      await this.options.redis.xgroup('CREATE', this.stream, this.options.group, startAt, 'MKSTREAM');
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
  }

  /**
   * This consumer's own unacknowledged events first (read before a crash), then new ones; at most
   * `count`. With `blockMs`, waits that long for new events when there are none (use a client
   * without a command timeout shorter than it).
   */
  async read(opts: { count?: number; blockMs?: number } = {}): Promise<ConsumedEvent[]> {
    const count = opts.count ?? 100;
    const own = await this.readGroup('0', count);
    if (own.length > 0) return own;
    return this.readGroup('>', count, opts.blockMs);
  }

  /** Takes over events another consumer of the group read but did not acknowledge for `minIdleMs` (it crashed). */
  async claimStale(minIdleMs: number, count = 100): Promise<ConsumedEvent[]> {
    const { redis, group, consumer } = this.options;
    const reply = (await redis.xautoclaim(this.stream, group, consumer, minIdleMs, '0-0', 'COUNT', count)) as [
      string,
      RawEntry[],
    ];
    return reply[1].filter((e): e is [string, string[] | null] => !!e).map((e) => this.toConsumed(e));
  }

  private async readGroup(start: '0' | '>', count: number, blockMs?: number): Promise<ConsumedEvent[]> {
    const { redis, group, consumer } = this.options;
    const block = start === '>' && blockMs !== undefined ? ['BLOCK', blockMs] : [];
    const reply = (await redis.xreadgroup(
      'GROUP',
      group,
      consumer,
      'COUNT',
      count,
      ...block,
      'STREAMS',
      this.stream,
      start,
    )) as [string, RawEntry[]][] | null;
    return (reply?.[0]?.[1] ?? []).filter((e): e is [string, string[] | null] => !!e).map((e) => this.toConsumed(e));
  }

  private toConsumed([id, fields]: [string, string[] | null]): ConsumedEvent {
    const { redis, group } = this.options;
    return {
      id,
      event: fields && fields.length > 0 ? eventFromFields(fields) : undefined,
      ack: async () => {
        await redis.xack(this.stream, group, id);
      },
    };
  }
}

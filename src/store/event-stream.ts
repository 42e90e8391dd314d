import { eventFromFields, eventToFields, type AccountEvent } from '../client/account-events';
import type { Keys } from './keys';
import type { Redis } from './redis';
import { storageOp } from './storage-errors';

/**
 * The write side of the account event stream `P:events` (docs/events.md).
 *
 * An event is first written to its account's outbox hash `P:authorizer:{A}:outbox`, in the same
 * transaction (same Cluster slot) as the state change it describes, then appended to the stream and
 * removed from the outbox. The stream is a key of its own, in another slot on Redis Cluster, so the
 * outbox is what makes "state changed" and "event recorded" one atomic step on every topology. The
 * private set `P:events:unpublished` (one member per event, added before the state change) lets the
 * sweep find the outboxes a crashed writer left behind without scanning every account.
 */
export interface OutboxWrite {
  readonly eventId: string;
  /** The event as JSON (AccountEvent). */
  readonly json: string;
}

export interface UnpublishedEvent {
  readonly appid: string;
  readonly eventId: string;
}

const SCAN_COUNT = 500;

export class RedisEventStream {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    /** MAXLEN ~ of the stream (EVENTS_MAX_LEN). */
    private readonly maxLen: number,
  ) {}

  /** Before the state change: the event may now sit in the account's outbox. */
  async reserve(appid: string, eventId: string): Promise<void> {
    await storageOp(() => this.redis.sadd(this.keys.eventsUnpublished, member(appid, eventId)));
  }

  /** The state change did not happen (its condition failed), or the event is in the stream. */
  async release(appid: string, eventId: string): Promise<void> {
    await storageOp(() => this.redis.srem(this.keys.eventsUnpublished, member(appid, eventId)));
  }

  /**
   * Appends every event of the account's outbox to the stream, oldest first (event ids are UUIDv7),
   * and clears each once appended. Returns the events appended. A crash between an XADD and its
   * HDEL appends that event again later: consumers de-duplicate on event_id.
   */
  async flush(appid: string): Promise<AccountEvent[]> {
    const outboxKey = this.keys.authorizerOutbox(appid);
    const outbox = await storageOp(() => this.redis.hgetall(outboxKey));
    const appended: AccountEvent[] = [];
    for (const eventId of Object.keys(outbox).sort()) {
      const event = JSON.parse(outbox[eventId]!) as AccountEvent;
      await storageOp(() =>
        this.redis.xadd(this.keys.events, 'MAXLEN', '~', this.maxLen, '*', ...eventToFields(event)),
      );
      await storageOp(() => this.redis.hdel(outboxKey, eventId));
      await this.release(appid, eventId);
      appended.push(event);
    }
    return appended;
  }

  /** Ids still in the account's outbox. */
  async outboxIds(appid: string): Promise<string[]> {
    return storageOp(() => this.redis.hkeys(this.keys.authorizerOutbox(appid)));
  }

  /** Every member of the unpublished set (SSCAN: no single huge reply). */
  async unpublished(): Promise<UnpublishedEvent[]> {
    const found: UnpublishedEvent[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await storageOp(() =>
        this.redis.sscan(this.keys.eventsUnpublished, cursor, 'COUNT', SCAN_COUNT),
      );
      cursor = next;
      for (const m of batch) {
        const [appid, eventId] = m.split(' ');
        if (appid && eventId) found.push({ appid, eventId });
      }
    } while (cursor !== '0');
    return found;
  }
}

/** How far back the console looks for one account's history: the newest entries of the stream, not all of it. */
const HISTORY_SCAN = 5000;

export class EventHistory {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** The account's newest events, newest first, among the stream's last HISTORY_SCAN entries (one XREVRANGE). */
  async recentForAccount(appid: string, limit: number): Promise<AccountEvent[]> {
    const entries = (await storageOp(() =>
      this.redis.xrevrange(this.keys.events, '+', '-', 'COUNT', HISTORY_SCAN),
    )) as [string, string[]][];
    const found: AccountEvent[] = [];
    for (const [, fields] of entries) {
      if (found.length >= limit) break;
      try {
        const event = eventFromFields(fields);
        if (event.authorizer_appid === appid) found.push(event);
      } catch {
        // an entry this version cannot read is not history it can show
      }
    }
    return found;
  }
}

function member(appid: string, eventId: string): string {
  return `${appid} ${eventId}`;
}

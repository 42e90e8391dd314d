import { createHash } from 'node:crypto';
import { ReplyError } from 'ioredis';
import { eventFromFields, eventToFields, type AccountEvent } from '../client/account-events';
import type { Keys } from './keys';
import { RELEASE_IF_OWNER, RENEW_IF_OWNER } from './lock';
import { defineScripts, runScript } from './lua-script';
import type { Redis } from './redis';
import { storageOp } from './storage-errors';

/**
 * One webhook target's view of `P:events`: a Redis consumer group (one per target URL), the lease
 * that makes one replica at a time the target's deliverer, and its dead-letter stream.
 */
export interface QueuedEvent {
  /** The stream entry id. */
  readonly id: string;
  /** undefined when the entry was trimmed (MAXLEN) before it was delivered. */
  readonly event: AccountEvent | undefined;
}

/** The consumer group of a webhook target: stable for its URL, and no URL (or its secrets) in Redis. */
export function webhookGroup(url: string): string {
  return `webhook:${createHash('sha256').update(url).digest('hex').slice(0, 16)}`;
}

type RawEntry = [string, string[] | null] | null;

const CLAIM_BATCH = 100;

export class RedisWebhookQueue {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    /** The consumer group of this target. */
    readonly group: string,
    private readonly deadLetterMaxLen: number,
  ) {
    // The lease is an owned key like a lock's: renewed and released only by its owner.
    defineScripts(redis, [RELEASE_IF_OWNER, RENEW_IF_OWNER]);
  }

  /** Creates the group at the stream's end ($) if it does not exist: a new target gets the events from now on. */
  async ensureGroup(): Promise<void> {
    try {
      await storageOp(() => this.redis.xgroup('CREATE', this.keys.events, this.group, '$', 'MKSTREAM'));
    } catch (err) {
      if (!(err instanceof ReplyError && (err as Error).message.startsWith('BUSYGROUP'))) throw err;
    }
  }

  async acquireLease(owner: string, ttlMs: number): Promise<boolean> {
    return (
      (await storageOp(() => this.redis.set(this.keys.webhookLease(this.group), owner, 'PX', ttlMs, 'NX'))) === 'OK'
    );
  }

  /** false when the lease is no longer ours (expired, taken by another replica). */
  async renewLease(owner: string, ttlMs: number): Promise<boolean> {
    return (
      (await storageOp(() =>
        runScript(this.redis, RENEW_IF_OWNER, [this.keys.webhookLease(this.group)], [owner, ttlMs]),
      )) === 1
    );
  }

  async releaseLease(owner: string): Promise<void> {
    await storageOp(() => runScript(this.redis, RELEASE_IF_OWNER, [this.keys.webhookLease(this.group)], [owner]));
  }

  async leaseHolder(): Promise<string | null> {
    return storageOp(() => this.redis.get(this.keys.webhookLease(this.group)));
  }

  /**
   * Takes over every entry read but not acknowledged by any consumer of the group (a crashed or
   * replaced deliverer's), oldest first, with XAUTOCLAIM.
   */
  async claimPending(consumer: string): Promise<QueuedEvent[]> {
    const claimed: QueuedEvent[] = [];
    let cursor = '0-0';
    do {
      const reply = (await storageOp(() =>
        this.redis.xautoclaim(this.keys.events, this.group, consumer, 0, cursor, 'COUNT', CLAIM_BATCH),
      )) as [string, RawEntry[], string[]?];
      cursor = reply[0];
      for (const entry of reply[1]) if (entry) claimed.push(toQueued(entry));
      // Redis 7 drops trimmed entries from the PEL and lists their ids here.
      for (const id of reply[2] ?? []) claimed.push({ id, event: undefined });
    } while (cursor !== '0-0');
    return claimed.sort((a, b) => compareIds(a.id, b.id));
  }

  /** Entries nobody in the group has read yet, at most `count`. */
  async readNew(consumer: string, count: number): Promise<QueuedEvent[]> {
    const reply = (await storageOp(() =>
      this.redis.xreadgroup('GROUP', this.group, consumer, 'COUNT', count, 'STREAMS', this.keys.events, '>'),
    )) as [string, RawEntry[]][] | null;
    return (reply?.[0]?.[1] ?? []).filter((e): e is [string, string[] | null] => !!e).map(toQueued);
  }

  async ack(id: string): Promise<void> {
    await storageOp(() => this.redis.xack(this.keys.events, this.group, id));
  }

  /** Moves an event to the dead-letter stream (with the target and the last error), then acknowledges it. */
  async deadLetter(
    entry: QueuedEvent,
    details: { target: string; lastError: string; failedAt: number },
  ): Promise<void> {
    const fields = entry.event ? eventToFields(entry.event) : ['stream_id', entry.id];
    await storageOp(() =>
      this.redis.xadd(
        this.keys.eventsDeadLetter,
        'MAXLEN',
        '~',
        this.deadLetterMaxLen,
        '*',
        ...fields,
        'webhook_group',
        this.group,
        'webhook_target',
        details.target,
        'last_error',
        details.lastError,
        'dead_lettered_at',
        String(details.failedAt),
      ),
    );
    await this.ack(entry.id);
  }

  /** Events this target has not acknowledged: read but pending, plus not read yet (the group's lag). */
  async undeliveredCount(): Promise<number> {
    const groups = (await storageOp(() => this.redis.xinfo('GROUPS', this.keys.events))) as unknown[][];
    const info = groups.map(pairs).find((g) => g.name === this.group);
    if (!info) return 0;
    return Number(info.pending ?? 0) + Number(info.lag ?? 0);
  }

  /**
   * The occurred_at of the oldest event this target has not acknowledged (pending, or not read
   * yet), or undefined when it is up to date.
   */
  async oldestUndelivered(): Promise<number | undefined> {
    const events = this.keys.events;
    const [pending, groups] = await storageOp(() =>
      Promise.all([
        this.redis.xpending(events, this.group) as Promise<[number, string | null, string | null, unknown]>,
        this.redis.xinfo('GROUPS', events) as Promise<unknown[][]>,
      ]),
    );
    const candidates: string[] = [];
    if (Number(pending[0]) > 0 && pending[1]) candidates.push(pending[1]);
    const info = groups.map(pairs).find((g) => g.name === this.group);
    if (info) {
      const next = (await storageOp(() =>
        this.redis.xrange(events, `(${String(info['last-delivered-id'])}`, '+', 'COUNT', 1),
      )) as [string, string[]][];
      if (next[0]) candidates.push(next[0][0]);
    }
    if (candidates.length === 0) return undefined;
    const oldest = candidates.sort(compareIds)[0]!;
    const [entry] = (await storageOp(() => this.redis.xrange(events, oldest, oldest))) as [string, string[]][];
    if (!entry) return Number(oldest.split('-')[0]);
    try {
      return eventFromFields(entry[1]).occurred_at;
    } catch {
      return Number(oldest.split('-')[0]);
    }
  }
}

function toQueued([id, fields]: [string, string[] | null]): QueuedEvent {
  if (!fields) return { id, event: undefined };
  try {
    return { id, event: eventFromFields(fields) };
  } catch {
    return { id, event: undefined };
  }
}

function pairs(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}

/** Stream ids `ms-seq`, compared as numbers. */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
}

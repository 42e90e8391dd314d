import type { Redis } from './redis';
import type { Keys } from './keys';
import { defineScripts, runScript, type LuaScript } from './lua-script';
import { storageOp } from './storage-errors';
import { isStorableTicket, RedisTicketStore, TICKET_TTL_SECONDS, ticketMetaValue, type TicketStore } from './ticket-store';

/**
 * Remembers which pushes were handled, across instances, so that WeChat's
 * re-sends (same msg_signature, timestamp and nonce) have one effect.
 * A push is `processing` while one instance works on it (short TTL, so a
 * crashed instance does not block the retry) and `done` once its effect is stored.
 */
export type PushClaim = 'claimed' | 'done' | 'in_progress';

/** stored: this call stored the ticket and marked the push done; otherwise nothing was written. */
export type TicketPushResult = 'stored' | 'done' | 'in_progress';

export interface PushDedupStore {
  claim(pushId: string): Promise<PushClaim>;
  markDone(pushId: string): Promise<void>;
  /** Lets WeChat's retry do the work again after a failure. */
  release(pushId: string): Promise<void>;
  state(pushId: string): Promise<'done' | 'in_progress' | 'none'>;
  /**
   * A component_verify_ticket push's whole effect as one step: when the push is new, stores the ticket
   * as `tickets.save(ticket, receivedAt)` does (a blank one is ignored) and marks the push done →
   * 'stored'; when it is done or being handled elsewhere, writes nothing → 'done' / 'in_progress'.
   * Redis does all of it in one script (one round trip, atomic: a failure leaves neither half) when
   * `tickets` is the RedisTicketStore of the same Redis and keys; otherwise claim, save, markDone.
   */
  saveTicketOnce(pushId: string, ticket: string, receivedAt: number, tickets: Pick<TicketStore, 'save'>): Promise<TicketPushResult>;
}

const PROCESSING = 'processing';
const DONE = 'done';

/**
 * KEYS: the push's de-duplication key, the ticket, the ticket's meta. ARGV: ticket, meta JSON, ticket
 * TTL s, done TTL s, '1' to store the ticket ('0' for a blank one). Returns 'stored', or the push's
 * current state ('done', 'processing', …) untouched.
 */
const SAVE_TICKET_ONCE: LuaScript = {
  name: 'wxSaveTicketOnce',
  numberOfKeys: 3,
  lua: `
local state = redis.call('GET', KEYS[1])
if state then return state end
if ARGV[5] == '1' then
  redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[3])
  redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
end
redis.call('SET', KEYS[1], '${DONE}', 'EX', ARGV[4])
return 'stored'
`,
};

/** The steps of `saveTicketOnce` for stores that cannot do them as one: claim, save, mark done (release on failure). */
export async function saveTicketStepwise(
  dedup: PushDedupStore,
  pushId: string,
  ticket: string,
  receivedAt: number,
  tickets: Pick<TicketStore, 'save'>,
): Promise<TicketPushResult> {
  const claim = await dedup.claim(pushId);
  if (claim !== 'claimed') return claim;
  try {
    await tickets.save(ticket, receivedAt);
    await dedup.markDone(pushId);
  } catch (err) {
    await dedup.release(pushId).catch(() => undefined);
    throw err;
  }
  return 'stored';
}

export class RedisPushDedupStore implements PushDedupStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly processingTtlMs = 15_000,
    /** WeChat re-sends within seconds; an hour covers every retry with room to spare. */
    private readonly doneTtlSeconds = 3600,
  ) {
    defineScripts(redis, [SAVE_TICKET_ONCE]);
  }

  async claim(pushId: string): Promise<PushClaim> {
    const set = await storageOp(() =>
      this.redis.set(this.keys.pushDedup(pushId), PROCESSING, 'PX', this.processingTtlMs, 'NX'),
    );
    if (set === 'OK') return 'claimed';
    const state = await this.state(pushId);
    return state === 'done' ? 'done' : 'in_progress';
  }

  async markDone(pushId: string): Promise<void> {
    await storageOp(() => this.redis.set(this.keys.pushDedup(pushId), DONE, 'EX', this.doneTtlSeconds));
  }

  async release(pushId: string): Promise<void> {
    await storageOp(() => this.redis.del(this.keys.pushDedup(pushId)));
  }

  async state(pushId: string): Promise<'done' | 'in_progress' | 'none'> {
    const value = await storageOp(() => this.redis.get(this.keys.pushDedup(pushId)));
    return value === DONE ? 'done' : value === PROCESSING ? 'in_progress' : 'none';
  }

  async saveTicketOnce(pushId: string, ticket: string, receivedAt: number, tickets: Pick<TicketStore, 'save'>): Promise<TicketPushResult> {
    if (!(tickets instanceof RedisTicketStore && tickets.writesTo(this.redis, this.keys))) {
      return saveTicketStepwise(this, pushId, ticket, receivedAt, tickets);
    }
    const k = this.keys;
    const result = await storageOp(() =>
      runScript(this.redis, SAVE_TICKET_ONCE, [k.pushDedup(pushId), k.componentVerifyTicket, k.ticketMeta], [
        ticket,
        ticketMetaValue(receivedAt),
        TICKET_TTL_SECONDS,
        this.doneTtlSeconds,
        isStorableTicket(ticket) ? '1' : '0',
      ]),
    );
    // Anything but done is someone's claim, as for `claim` (SET NX fails on any value).
    return result === 'stored' ? 'stored' : result === DONE ? 'done' : 'in_progress';
  }
}

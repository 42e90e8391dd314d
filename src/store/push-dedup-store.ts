import type { Redis } from './redis';
import type { Keys } from './keys';
import { storageOp } from './storage-errors';

/**
 * Remembers which pushes were handled, across instances, so that WeChat's
 * re-sends (same msg_signature, timestamp and nonce) have one effect.
 * A push is `processing` while one instance works on it (short TTL, so a
 * crashed instance does not block the retry) and `done` once its effect is stored.
 */
export type PushClaim = 'claimed' | 'done' | 'in_progress';

export interface PushDedupStore {
  claim(pushId: string): Promise<PushClaim>;
  /** Remembered as done for `rememberSeconds` (the push service: longer than its replay window). */
  markDone(pushId: string, rememberSeconds?: number): Promise<void>;
  /** Lets WeChat's retry do the work again after a failure. */
  release(pushId: string): Promise<void>;
  state(pushId: string): Promise<'done' | 'in_progress' | 'none'>;
}

/** WeChat re-sends within seconds; an hour covers every retry with room to spare. */
export const DEFAULT_DONE_SECONDS = 3600;

const PROCESSING = 'processing';
const DONE = 'done';

export class RedisPushDedupStore implements PushDedupStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly processingTtlMs = 15_000,
  ) {}

  async claim(pushId: string): Promise<PushClaim> {
    const set = await storageOp(() =>
      this.redis.set(this.keys.pushDedup(pushId), PROCESSING, 'PX', this.processingTtlMs, 'NX'),
    );
    if (set === 'OK') return 'claimed';
    const state = await this.state(pushId);
    return state === 'done' ? 'done' : 'in_progress';
  }

  async markDone(pushId: string, rememberSeconds = DEFAULT_DONE_SECONDS): Promise<void> {
    await storageOp(() => this.redis.set(this.keys.pushDedup(pushId), DONE, 'EX', rememberSeconds));
  }

  async release(pushId: string): Promise<void> {
    await storageOp(() => this.redis.del(this.keys.pushDedup(pushId)));
  }

  async state(pushId: string): Promise<'done' | 'in_progress' | 'none'> {
    const value = await storageOp(() => this.redis.get(this.keys.pushDedup(pushId)));
    return value === DONE ? 'done' : value === PROCESSING ? 'in_progress' : 'none';
  }
}

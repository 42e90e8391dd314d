import type { Clock } from '../../clock';
import { DEFAULT_DONE_SECONDS, type PushClaim, type PushDedupStore } from '../push-dedup-store';
import { ExpiringMap, secondsToMs } from './expiring-map';

type PushState = 'processing' | 'done';

/**
 * PushDedupStore in process memory, for the sandbox without Redis (see ./index.ts). One process
 * means one instance, so `in_progress` only ever means "this process is still handling it".
 * TTLs and their defaults are RedisPushDedupStore's, judged by the injected clock.
 */
export class MemoryPushDedupStore implements PushDedupStore {
  private readonly pushes: ExpiringMap<PushState>;

  constructor(
    clock: Clock,
    private readonly processingTtlMs = 15_000,
  ) {
    this.pushes = new ExpiringMap(clock);
  }

  async claim(pushId: string): Promise<PushClaim> {
    if (this.pushes.setIfAbsent(pushId, 'processing', Math.max(1, Math.ceil(this.processingTtlMs)))) return 'claimed';
    return this.pushes.get(pushId) === 'done' ? 'done' : 'in_progress';
  }

  async markDone(pushId: string, rememberSeconds = DEFAULT_DONE_SECONDS): Promise<void> {
    this.pushes.set(pushId, 'done', secondsToMs(rememberSeconds));
  }

  async release(pushId: string): Promise<void> {
    this.pushes.delete(pushId);
  }

  async state(pushId: string): Promise<'done' | 'in_progress' | 'none'> {
    const value = this.pushes.get(pushId);
    return value === 'done' ? 'done' : value === 'processing' ? 'in_progress' : 'none';
  }
}

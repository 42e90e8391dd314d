import { setTimeout as sleep } from 'node:timers/promises';
import { equalJitterBackoffMs, type BackoffPolicy } from './backoff';

export interface PollOptions {
  /** Real time after which the poll gives up (0 = one try). */
  readonly timeoutMs: number;
  /** Pause between two tries: equal-jitter backoff, so pollers of several processes do not hit Redis in step. */
  readonly backoff: BackoffPolicy;
  /** How to pause (default: a timer); a caller that can be woken earlier passes its own. */
  readonly pause?: (ms: number) => Promise<void>;
}

/**
 * The one wait loop of the service: calls `probe` until it returns a value (not undefined), pausing between
 * tries, and returns undefined once `timeoutMs` has passed. The pause never runs past the bound, so the last
 * try comes at the bound, not a pause later.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  { timeoutMs, backoff, pause = defaultPause }: PollOptions,
): Promise<T | undefined> {
  const deadline = performance.now() + timeoutMs;
  for (let tries = 1; ; tries++) {
    const value = await probe();
    if (value !== undefined) return value;
    const left = deadline - performance.now();
    if (left <= 0) return undefined;
    await pause(Math.min(left, equalJitterBackoffMs(tries, backoff)));
  }
}

function defaultPause(ms: number): Promise<void> {
  return sleep(ms);
}

import { setTimeout as sleep } from 'node:timers/promises';

export interface EventuallyOptions {
  /** Give up after this long (a bound, never an assertion about speed). */
  timeoutMs?: number;
  /** Pause between two tries. */
  intervalMs?: number;
  /** Named in the error when the bound is reached. */
  what?: string;
}

/**
 * Retries `probe` until it returns without throwing (or returns a value that is not `false`/`undefined`),
 * and returns that value. Tests wait with this for the event they test (a call in the emulator's log, a key in
 * Redis, a line in a log) instead of sleeping for a fixed time. When the bound is reached, the last error of
 * the probe is thrown, so the failure says what was still missing.
 */
export async function eventually<T>(
  probe: () => T | Promise<T>,
  options: EventuallyOptions = {},
): Promise<Exclude<T, false | undefined>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== false && value !== undefined) return value as Exclude<T, false | undefined>;
      lastError = new Error(`${options.what ?? 'condition'} not met yet`);
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const reason = lastError instanceof Error ? lastError.message : String(lastError);
      const error = new Error(`eventually: ${options.what ?? 'condition'} not met within ${timeoutMs} ms: ${reason}`);
      (error as { cause?: unknown }).cause = lastError;
      throw error;
    }
    await sleep(intervalMs);
  }
}

/**
 * Exponential backoff with "equal jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter"): the wait
 * after the n-th failure is drawn from [ceiling/2, ceiling], ceiling = min(maxMs, baseMs × factor^(n−1)).
 * Half of it is kept so a retry never comes almost at once; the random half keeps callers that failed
 * together (a herd, several instances) from retrying together.
 */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
  /** Growth per failure (default 2). */
  readonly factor?: number;
}

/** The wait before the next try, after `failures` (≥ 1) failed tries. */
export function equalJitterBackoffMs(
  failures: number,
  { baseMs, maxMs, factor = 2 }: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * factor ** Math.max(0, failures - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}

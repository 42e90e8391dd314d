/**
 * Every call to an emulated endpoint, failures included, so tests can assert how often the service really went to
 * "WeChat" (the whole point of a token cache). Secrets, tokens, tickets and codes are masked before they are
 * stored: the log is shown by the control API and may be pasted into bug reports.
 */

export interface CallLogEntry {
  seq: number;
  /** Emulator clock, ms. */
  at: number;
  endpoint: string;
  params: Record<string, unknown>;
  /** 0 = ok; -1 when a fault answered with a bare HTTP error or hung. */
  errcode: number;
  /** 0 when the call hung and never got an answer. */
  httpStatus: number;
  durationMs: number;
}

const SENSITIVE_KEY = /secret|token|ticket|code/i;
export const MASK = '***';

/** Masks sensitive fields, recursively, keeping the rest as sent. */
export function maskParams(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskParams);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [key, SENSITIVE_KEY.test(key) ? MASK : maskParams(inner)]),
  );
}

export class CallLog {
  private list: CallLogEntry[] = [];
  private seq = 0;
  // Counts survive the trimming of old entries, so count() stays exact during long benchmarks.
  private readonly counts = new Map<string, { total: number; ok: number }>();

  constructor(private readonly limit = 10_000) {}

  record(entry: Omit<CallLogEntry, 'seq'>): CallLogEntry {
    const full: CallLogEntry = { seq: ++this.seq, ...entry };
    this.list.push(full);
    // Trim in batches: one splice per `limit` calls instead of a shift per call.
    if (this.list.length >= this.limit * 2) this.list = this.list.slice(-this.limit);
    const counter = this.counts.get(entry.endpoint) ?? { total: 0, ok: 0 };
    counter.total += 1;
    if (entry.errcode === 0) counter.ok += 1;
    this.counts.set(entry.endpoint, counter);
    return full;
  }

  /** The latest entries (at most `limit`), oldest first. */
  entries(endpoint?: string): CallLogEntry[] {
    const recent = this.list.length > this.limit ? this.list.slice(-this.limit) : this.list;
    return recent.filter((e) => endpoint === undefined || e.endpoint === endpoint).map((e) => ({ ...e }));
  }

  /** Calls since the last clear(); `ok: true` only successes, `ok: false` only failures. */
  count(endpoint: string, opts: { ok?: boolean } = {}): number {
    const counter = this.counts.get(endpoint);
    if (!counter) return 0;
    if (opts.ok === true) return counter.ok;
    if (opts.ok === false) return counter.total - counter.ok;
    return counter.total;
  }

  clear(): void {
    this.list = [];
    this.counts.clear();
  }
}

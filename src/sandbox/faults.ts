/**
 * Fault switches per endpoint: make calls fail with an errcode, an HTTP status, a delay or no answer at all, for
 * the next N calls or a fraction of calls. They are how tests reach the service's retry and recovery paths without
 * waiting for WeChat to misbehave.
 */
import { assertEndpoint, type Endpoint } from './endpoints';

export type Fault = {
  errcode?: number;
  errmsg?: string;
  httpStatus?: number;
  delayMs?: number;
  hang?: boolean;
  /** Next N calls; unlimited until cleared when absent. */
  times?: number;
  /** Fraction 0..1 of calls hit; every call when absent. */
  rate?: number;
};

export interface ActiveFault extends Fault {
  /** Calls still to be hit when `times` was given. */
  remaining?: number;
}

const MAX_DELAY_MS = 600_000;

function check(ok: boolean, message: string): void {
  if (!ok) throw new RangeError(message);
}

/** Validates a fault from a test or the control API; throws RangeError with a message fit for a 400 answer. */
export function parseFault(input: unknown): Fault {
  check(typeof input === 'object' && input !== null && !Array.isArray(input), 'a fault must be a JSON object');
  const raw = input as Record<string, unknown>;
  const known = new Set(['errcode', 'errmsg', 'httpStatus', 'delayMs', 'hang', 'times', 'rate']);
  for (const key of Object.keys(raw)) check(known.has(key), `unknown fault field ${JSON.stringify(key)}`);
  const fault: Fault = {};
  if (raw.errcode !== undefined) {
    check(Number.isSafeInteger(raw.errcode), 'errcode must be an integer');
    fault.errcode = raw.errcode as number;
  }
  if (raw.errmsg !== undefined) {
    check(typeof raw.errmsg === 'string', 'errmsg must be a string');
    fault.errmsg = raw.errmsg as string;
  }
  if (raw.httpStatus !== undefined) {
    const s = raw.httpStatus as number;
    check(Number.isInteger(s) && s >= 200 && s <= 599, 'httpStatus must be an integer from 200 to 599');
    fault.httpStatus = s;
  }
  if (raw.delayMs !== undefined) {
    const d = raw.delayMs as number;
    check(Number.isFinite(d) && d >= 0 && d <= MAX_DELAY_MS, `delayMs must be a number from 0 to ${MAX_DELAY_MS}`);
    fault.delayMs = d;
  }
  if (raw.hang !== undefined) {
    check(typeof raw.hang === 'boolean', 'hang must be a boolean');
    fault.hang = raw.hang as boolean;
  }
  if (raw.times !== undefined) {
    check(Number.isSafeInteger(raw.times) && (raw.times as number) >= 1, 'times must be a positive integer');
    fault.times = raw.times as number;
  }
  if (raw.rate !== undefined) {
    const r = raw.rate as number;
    check(typeof r === 'number' && r >= 0 && r <= 1, 'rate must be a number from 0 to 1');
    fault.rate = r;
  }
  check(
    fault.errcode !== undefined || fault.httpStatus !== undefined || fault.delayMs !== undefined || fault.hang === true,
    'a fault needs at least one of errcode, httpStatus, delayMs or hang: true',
  );
  return fault;
}

export class FaultBoard {
  private readonly active = new Map<Endpoint, ActiveFault>();

  constructor(private readonly random: () => number = Math.random) {}

  set(endpoint: string, fault: Fault): void {
    const parsed = parseFault(fault);
    this.active.set(assertEndpoint(endpoint), { ...parsed, remaining: parsed.times });
  }

  clear(endpoint?: string): void {
    if (endpoint === undefined) this.active.clear();
    else this.active.delete(assertEndpoint(endpoint));
  }

  list(): Record<string, ActiveFault> {
    return Object.fromEntries([...this.active].map(([endpoint, fault]) => [endpoint, { ...fault }]));
  }

  /** Decides whether this call is hit; a `times` fault removes itself after its last hit. */
  take(endpoint: Endpoint): Fault | undefined {
    const fault = this.active.get(endpoint);
    if (!fault) return undefined;
    if (fault.rate !== undefined && !(this.random() < fault.rate)) return undefined;
    if (fault.remaining !== undefined) {
      fault.remaining -= 1;
      if (fault.remaining <= 0) this.active.delete(endpoint);
    }
    return fault;
  }
}

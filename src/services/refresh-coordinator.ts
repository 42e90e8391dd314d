import type { Clock } from '../clock';
import { LockTimeoutError, ReauthorizationRequiredError } from '../errors';
import type { LockOptions, Locks } from '../store/lock';
import type { StoredToken } from '../store/token-store';
import { SingleFlight } from './single-flight';

/** A token as handed to callers: the value, its expiry (service-clock ms) and seconds left. */
export interface CurrentToken {
  readonly token: string;
  readonly expiresAt: number;
  readonly expiresIn: number;
}

export function toCurrentToken(stored: StoredToken, clock: Clock): CurrentToken {
  return { ...stored, expiresIn: Math.max(0, Math.floor((stored.expiresAt - clock.now()) / 1000)) };
}

export type TokenKind = 'component' | 'authorizer';
export type RefreshOutcome = 'ok' | 'failed' | 'reauthorization_required';

/**
 * How a wait for a refresh lock ended: the lock taken; the token found fresh (refreshed by the lock's
 * holder, seen while waiting, so no need of the lock); or the wait bound passed.
 */
export type LockWaitOutcome = 'acquired' | 'refreshed_elsewhere' | 'timeout';

/** Told about every upstream refresh and every wait for a refresh lock (metrics); times are real ms. */
export interface RefreshObserver {
  onRefresh?(kind: TokenKind, outcome: RefreshOutcome, durationMs: number): void;
  onLockWait?(kind: TokenKind, outcome: LockWaitOutcome, waitMs: number): void;
}

/** One refresh of one token: how to read it, when it is good enough, how to renew it. */
export interface RefreshPlan {
  readonly kind: TokenKind;
  /** Callers with the same flight key in this process share one run. */
  readonly flightKey: string;
  /** The Redis lock that serialises the refresh of this token across processes. */
  readonly lockKey: string;
  /** The re-read under the lock, right before a refresh. */
  read(): Promise<StoredToken | undefined>;
  /** The re-read while another process holds the lock (default `read`): as cheap as it can be. */
  peek?(): Promise<StoredToken | undefined>;
  isGood(token: StoredToken | undefined): token is StoredToken;
  /** Calls WeChat and stores the result; runs only while holding the lock. */
  refresh(): Promise<StoredToken>;
}

/** Upper bound of the wait between two looks at a held lock (and at the token it protects); jittered. */
export const LOCK_POLL_MS = 25;

/**
 * design.md "Token service rules": in-process single-flight per key, then the per-key Redis
 * lock, then a re-read (another process may have refreshed while we waited), and only then a
 * call to WeChat. With every process following this order, a token is fetched at most once
 * per expiry however many processes and callers ask.
 *
 * While another process holds the lock, a waiter looks at the token itself every ≤ 25 ms
 * (jittered) besides trying the lock again: the holder's fresh token is taken as soon as it is
 * written, by every waiting process at once, instead of each passing through the lock in turn
 * only to re-read. Waiting is bounded (`waitMs`); past the bound, after a last look, a
 * LockTimeoutError tells the caller, who may fall back to a still-valid cached token.
 */
export class RefreshCoordinator {
  private readonly flights = new SingleFlight<StoredToken>();

  constructor(
    private readonly locks: Locks,
    private readonly lockOptions: LockOptions,
    private readonly observer: RefreshObserver = {},
  ) {}

  run(plan: RefreshPlan): Promise<StoredToken> {
    return this.flights.run(plan.flightKey, () => this.lockOrWait(plan));
  }

  private async lockOrWait(plan: RefreshPlan): Promise<StoredToken> {
    const { ttlMs, waitMs } = this.lockOptions;
    const waitStarted = performance.now();
    const waited = () => performance.now() - waitStarted;
    for (;;) {
      const lease = await this.locks.tryAcquire(plan.lockKey, ttlMs);
      if (lease) {
        this.observer.onLockWait?.(plan.kind, 'acquired', waited());
        try {
          const current = await plan.read();
          if (plan.isGood(current)) return current;
          return await this.refresh(plan);
        } finally {
          // A failed release only leaves the lock to expire by its TTL; the work itself is done.
          await lease.release().catch(() => false);
        }
      }
      // Held: its holder is refreshing this token (or another purpose of it); look whether it is done.
      const current = await (plan.peek ?? plan.read)();
      if (plan.isGood(current)) {
        this.observer.onLockWait?.(plan.kind, 'refreshed_elsewhere', waited());
        return current;
      }
      const left = waitMs - waited();
      if (left <= 0) {
        this.observer.onLockWait?.(plan.kind, 'timeout', waited());
        throw new LockTimeoutError(plan.lockKey);
      }
      await sleep(Math.min(left, LOCK_POLL_MS / 2 + Math.random() * (LOCK_POLL_MS / 2)));
    }
  }

  private async refresh(plan: RefreshPlan): Promise<StoredToken> {
    const started = performance.now();
    let outcome: RefreshOutcome = 'failed';
    try {
      const fresh = await plan.refresh();
      outcome = 'ok';
      return fresh;
    } catch (err) {
      if (err instanceof ReauthorizationRequiredError) outcome = 'reauthorization_required';
      throw err;
    } finally {
      this.observer.onRefresh?.(plan.kind, outcome, performance.now() - started);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

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

/** Told about every upstream refresh and every wait for a refresh lock (metrics); times are real ms. */
export interface RefreshObserver {
  onRefresh?(kind: TokenKind, outcome: RefreshOutcome, durationMs: number): void;
  onLockWait?(kind: TokenKind, outcome: 'acquired' | 'timeout', waitMs: number): void;
}

/** One refresh of one token: how to read it, when it is good enough, how to renew it. */
export interface RefreshPlan {
  readonly kind: TokenKind;
  /** Callers with the same flight key in this process share one run. */
  readonly flightKey: string;
  /** The Redis lock that serialises the refresh of this token across processes. */
  readonly lockKey: string;
  read(): Promise<StoredToken | undefined>;
  isGood(token: StoredToken | undefined): token is StoredToken;
  /** Calls WeChat and stores the result; runs only while holding the lock. */
  refresh(): Promise<StoredToken>;
}

/**
 * design.md "Token service rules": in-process single-flight per key, then the per-key Redis
 * lock, then a re-read (another process may have refreshed while we waited), and only then a
 * call to WeChat. With every process following this order, a token is fetched at most once
 * per expiry however many processes and callers ask. Waiting for the lock is bounded; after the
 * bound a LockTimeoutError tells the caller, who may fall back to a still-valid cached token.
 */
export class RefreshCoordinator {
  private readonly flights = new SingleFlight<StoredToken>();

  constructor(
    private readonly locks: Locks,
    private readonly lockOptions: LockOptions,
    private readonly observer: RefreshObserver = {},
  ) {}

  run(plan: RefreshPlan): Promise<StoredToken> {
    return this.flights.run(plan.flightKey, async () => {
      const waitStarted = performance.now();
      let acquired = false;
      try {
        return await this.locks.withLock(plan.lockKey, this.lockOptions, async () => {
          acquired = true;
          this.observer.onLockWait?.(plan.kind, 'acquired', performance.now() - waitStarted);
          const current = await plan.read();
          if (plan.isGood(current)) return current;
          return this.refresh(plan);
        });
      } catch (err) {
        if (!acquired && err instanceof LockTimeoutError) this.observer.onLockWait?.(plan.kind, 'timeout', performance.now() - waitStarted);
        throw err;
      }
    });
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

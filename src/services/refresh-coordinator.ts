import type { Clock } from '../clock';
import { LockLostError, LockTimeoutError, ReauthorizationRequiredError } from '../errors';
import type { Logger } from '../logger';
import { pollUntil } from '../poll-until';
import type { Fence, LockLease, Locks } from '../store/lock';
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
  /**
   * Optional: takes the lock (`takeWith` of Locks.tryAcquire: owner and TTL as given) and makes the re-read of
   * `read` in the same atomic step, one round trip for both. Resolves to that re-read, to be opened under the
   * lease (it throws what `read` would throw), or undefined when the lock is held.
   */
  takeAndRead?(owner: string, ttlMs: number): Promise<(() => StoredToken | undefined) | undefined>;
  isGood(token: StoredToken | undefined): token is StoredToken;
  /** Calls WeChat and stores the result with a write fenced by `fence`; runs only while holding the lock. */
  refresh(fence: Fence): Promise<StoredToken>;
}

/**
 * Refresh-lock timing. `lockTtlMs`: the lock is kept alive while its holder works, so this is what a dead
 * holder costs. `waitMs` ≥ lockTtlMs + the longest one refresh may take, so that a waiter outlasts a dead
 * holder's lock and its successor's whole refresh.
 */
export interface RefreshLockTiming {
  readonly lockTtlMs: number;
  readonly waitMs: number;
}

export const REFRESH_COORDINATOR_DEFAULTS = Object.freeze({
  /** Pause between two looks at a held lock (and at the token it protects): jittered in [12.5, 25] ms. */
  poll: Object.freeze({ baseMs: 25, maxMs: 25 }),
});

/** The wait bound for a given lock TTL and the longest one refresh may take (timeouts × attempts). */
export function refreshLockTiming(lockTtlMs: number, refreshTimeoutMs: number): RefreshLockTiming {
  return { lockTtlMs, waitMs: lockTtlMs + refreshTimeoutMs };
}

/**
 * design.md "Token service rules": in-process single-flight per key, then the per-key Redis lock
 * (kept alive while held, its writes fenced), then a re-read (another process may have refreshed while we
 * waited), and only then a call to WeChat. With every process following this order, a token is fetched at
 * most once per expiry however many processes and callers ask.
 *
 * While another process holds the lock, a waiter looks at the token itself every ≤ 25 ms besides trying the
 * lock again: the holder's fresh token is taken as soon as it is written, by every waiting process at once.
 * A holder whose lock was lost (it stalled past the TTL) has its write refused, and waits like the others for
 * its successor's token. Waiting is bounded (`waitMs`); past the bound the token is re-read once, then a
 * LockTimeoutError tells the caller, who may fall back to a still-valid cached token.
 */
export class RefreshCoordinator {
  private readonly flights = new SingleFlight<StoredToken>();
  private readonly background = new Set<Promise<unknown>>();
  /** Lock releases sent and not yet answered (see tryOnce). */
  private readonly releases = new Set<Promise<unknown>>();

  constructor(
    private readonly locks: Locks,
    private readonly timing: RefreshLockTiming,
    private readonly logger: Logger,
    private readonly observer: RefreshObserver = {},
  ) {}

  run(plan: RefreshPlan): Promise<StoredToken> {
    return this.flights.run(plan.flightKey, () => this.lockOrWait(plan));
  }

  /**
   * The same run, for callers that already hold a token good enough to use: they go on with it, and the
   * refresh's outcome is only logged (the next caller tries again if it failed).
   */
  runInBackground(plan: RefreshPlan): void {
    // Already running (a herd inside the margin): nothing to add, and its outcome is logged once.
    if (this.flights.has(plan.flightKey)) return;
    const running = this.run(plan).catch((err: unknown) => {
      this.logger.warn(
        { kind: plan.kind, err: { message: (err as Error).message } },
        'background token refresh failed; the cached token is still served',
      );
    });
    this.background.add(running);
    void running.finally(() => this.background.delete(running));
  }

  /** Resolves once no background refresh started so far is running, nor a lock release (shutdown, tests). */
  async idle(): Promise<void> {
    while (this.background.size > 0 || this.releases.size > 0)
      await Promise.all([...this.background, ...this.releases]);
  }

  private async lockOrWait(plan: RefreshPlan): Promise<StoredToken> {
    const started = performance.now();
    const waited = () => performance.now() - started;
    const done = await pollUntil(() => this.tryOnce(plan), {
      timeoutMs: this.timing.waitMs,
      backoff: REFRESH_COORDINATOR_DEFAULTS.poll,
    });
    if (done) {
      this.observer.onLockWait?.(plan.kind, done.how, waited());
      return done.token;
    }
    // The bound passed: one more look, then a clear error.
    const last = await (plan.peek ?? plan.read)();
    if (plan.isGood(last)) {
      this.observer.onLockWait?.(plan.kind, 'refreshed_elsewhere', waited());
      return last;
    }
    this.observer.onLockWait?.(plan.kind, 'timeout', waited());
    throw new LockTimeoutError(plan.lockKey, waited());
  }

  /** One try: take the lock and refresh, or see the token refreshed by the holder; undefined = keep waiting. */
  private async tryOnce(plan: RefreshPlan): Promise<{ token: StoredToken; how: LockWaitOutcome } | undefined> {
    let taken: (() => StoredToken | undefined) | undefined;
    const takeAndRead = plan.takeAndRead?.bind(plan);
    const takeWith =
      takeAndRead && (async (owner: string, ttlMs: number) => !!(taken = await takeAndRead(owner, ttlMs)));
    const lease = await this.locks.tryAcquire(plan.lockKey, this.timing.lockTtlMs, { keepAlive: true, takeWith });
    if (lease) {
      try {
        const current = taken ? taken() : await plan.read();
        if (plan.isGood(current)) return { token: current, how: 'acquired' };
        return { token: await this.refresh(plan, lease.fence), how: 'acquired' };
      } catch (err) {
        if (!(err instanceof LockLostError)) throw err;
        this.logger.warn(
          { kind: plan.kind, lock: plan.lockKey },
          'refresh lock lost before the write (this process stalled past its TTL); result dropped, waiting for the successor',
        );
        return undefined;
      } finally {
        this.release(lease);
      }
    }
    // Held: its holder is refreshing this token (or another purpose of it); look whether it is done.
    const current = await (plan.peek ?? plan.read)();
    return plan.isGood(current) ? { token: current, how: 'refreshed_elsewhere' } : undefined;
  }

  /**
   * Sends the release without waiting for its answer: the token is written (or the work failed), so the caller
   * need not wait one more round trip. The watchdog stops at once. A failed release only leaves the lock to
   * expire by its TTL; a try that finds it still held waits as any waiter does (idle() waits for the answers).
   */
  private release(lease: LockLease): void {
    const released = lease.release().catch(() => false);
    this.releases.add(released);
    void released.finally(() => this.releases.delete(released));
  }

  private async refresh(plan: RefreshPlan, fence: Fence): Promise<StoredToken> {
    const started = performance.now();
    let outcome: RefreshOutcome = 'failed';
    try {
      const fresh = await plan.refresh(fence);
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

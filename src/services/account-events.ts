import { randomBytes } from 'node:crypto';
import { eventIdTime, newEventId, type AccountEvent } from '../client/account-events';
import type { Clock } from '../clock';
import type { Logger } from '../logger';
import type { AuthCodeStore, PendingAuthorization } from '../store/auth-code-store';
import type {
  AccountInfo,
  AuthorizerPage,
  AuthorizerRecord,
  AuthorizerSearch,
  AuthorizerStore,
  AuthorizerTokenState,
  DueAuthorizer,
  FuncInfo,
  NewAuthorization,
  RefreshTokenRestore,
  RestoreOutcome,
} from '../store/authorizer-store';
import type { OutboxWrite, RedisEventStream } from '../store/event-stream';
import type { Fence } from '../store/lock';

export type EventStreamWriter = Pick<RedisEventStream, 'reserve' | 'release' | 'flush' | 'outboxIds' | 'unpublished'>;

export interface AccountEventsDeps {
  readonly stream: EventStreamWriter;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Events now in the stream (the local webhook deliverer wakes up). */
  readonly onAppended?: (events: AccountEvent[]) => void;
  /**
   * The sweep leaves younger outbox entries to the writer that is still on its way from the state
   * change to the XADD, and forgets unpublished-set members without an outbox entry only after this.
   */
  readonly sweepGraceMs?: number;
}

/** Omit over each member of a union (plain Omit would merge the members). */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** Event fields beyond the ones every event has. */
type EventBody = DistributiveOmit<AccountEvent, 'event_id' | 'authorizer_appid' | 'occurred_at'>;

export const ACCOUNT_EVENTS_DEFAULTS = Object.freeze({
  /** See AccountEventsDeps.sweepGraceMs. */
  sweepGraceMs: 30_000,
  /** Real time between two sweeps of the outboxes (container.ts runs the sweep). */
  sweepIntervalMs: 60_000,
});

/**
 * Which state change is which event (docs/events.md), and writing each one with its change: the
 * event goes into the account's outbox in the change's own transaction, then to the stream.
 * Wraps the stores the use cases already call, so they need not know about events.
 */
export class AccountEvents {
  private readonly graceMs: number;

  constructor(private readonly deps: AccountEventsDeps) {
    this.graceMs = deps.sweepGraceMs ?? ACCOUNT_EVENTS_DEFAULTS.sweepGraceMs;
  }

  /** The authorizer store, with an event for each state change it makes. */
  authorizerStore(inner: AuthorizerStore): AuthorizerStore {
    return new EventedAuthorizerStore(inner, this);
  }

  /** The auth-code store, with an `authorization_failed` event when a pending authorization needs the admin again. */
  authCodeStore(inner: AuthCodeStore): AuthCodeStore {
    const record = this.record.bind(this);
    return {
      usedBy: (code) => inner.usedBy(code),
      markUsed: (code, appid, ttl) => inner.markUsed(code, appid, ttl),
      getPending: (appid) => inner.getPending(appid),
      clearPending: (appid) => inner.clearPending(appid),
      savePending(pending: PendingAuthorization, ttlSeconds: number) {
        // A retryable failure is completed by WeChat's re-send: nothing to tell anyone yet.
        if (pending.retryable) return inner.savePending(pending, ttlSeconds);
        const body: EventBody = { type: 'authorization_failed', info_type: pending.infoType, reason: pending.error };
        return record(
          pending.appid,
          body,
          (outbox) => inner.savePending(pending, ttlSeconds, outbox),
          () => true,
        );
      },
    };
  }

  /**
   * Writes `body` as an event with the state change `write` makes (`made` tells whether it made it).
   * The event's member of the unpublished set comes first, so a crash at any later point is found.
   */
  async record<T>(
    appid: string,
    body: EventBody,
    write: (outbox: OutboxWrite) => Promise<T>,
    made: (result: T) => boolean,
  ): Promise<T> {
    const { stream, clock } = this.deps;
    const occurredAt = clock.now();
    const event = {
      event_id: newEventId(occurredAt, randomBytes),
      authorizer_appid: appid,
      occurred_at: occurredAt,
      ...body,
    } as AccountEvent;
    await stream.reserve(appid, event.event_id);
    // A failed write may still have been applied (a timeout): the member stays for the sweep to decide.
    const result = await write({ eventId: event.event_id, json: JSON.stringify(event) });
    if (!made(result)) {
      await stream.release(appid, event.event_id).catch(() => undefined);
      return result;
    }
    await this.flush(appid);
    return result;
  }

  /** Re-emits the events crashed writers left in outboxes (at start, then now and then). Returns how many. */
  async sweep(): Promise<number> {
    const { stream, clock, logger } = this.deps;
    const cutoff = clock.now() - this.graceMs;
    const byAccount = new Map<string, string[]>();
    for (const { appid, eventId } of await stream.unpublished()) {
      if (eventIdTime(eventId) > cutoff) continue;
      byAccount.set(appid, [...(byAccount.get(appid) ?? []), eventId]);
    }
    let appended = 0;
    for (const [appid, eventIds] of byAccount) {
      const inOutbox = new Set(await stream.outboxIds(appid));
      // Reserved, but the state change never happened (or failed): nothing to emit.
      for (const id of eventIds.filter((e) => !inOutbox.has(e))) await stream.release(appid, id);
      if (eventIds.some((e) => inOutbox.has(e))) appended += (await this.flush(appid)).length;
    }
    if (appended > 0) logger.warn({ appended }, 'events re-emitted from outboxes left by an interrupted writer');
    return appended;
  }

  private async flush(appid: string): Promise<AccountEvent[]> {
    try {
      const events = await this.deps.stream.flush(appid);
      if (events.length) this.deps.onAppended?.(events);
      return events;
    } catch (err) {
      // The state change is stored and its event is safe in the outbox: the sweep appends it later.
      this.deps.logger.warn(
        { authorizerAppid: appid, err: { message: (err as Error).message } },
        'event kept in the outbox; the sweep will append it to the stream',
      );
      return [];
    }
  }
}

/** Sorted permission-set ids (funcscope_category.id) of a func_info list. */
export function permissionIds(funcInfo: FuncInfo): number[] {
  const ids = funcInfo
    .map((f) => (f.funcscope_category as { id?: unknown } | undefined)?.id)
    .filter((id): id is number => typeof id === 'number');
  return [...new Set(ids)].sort((a, b) => a - b);
}

class EventedAuthorizerStore implements AuthorizerStore {
  /** The inner store's, when it has one (a read and a lock: no event). */
  readonly takeLockAndGet: AuthorizerStore['takeLockAndGet'];

  constructor(
    private readonly inner: AuthorizerStore,
    private readonly events: AccountEvents,
  ) {
    this.takeLockAndGet = inner.takeLockAndGet?.bind(inner);
  }

  async saveAuthorization(a: NewAuthorization): Promise<boolean> {
    const before = await this.inner.get(a.appid);
    // Whatever InfoType (or the admin's redirect) brought it: an account that was authorized is updating.
    const body: EventBody =
      before?.status === 'authorized'
        ? {
            type: 'updateauthorized',
            permissions_before: permissionIds(before.funcInfo),
            permissions_after: permissionIds(a.funcInfo),
          }
        : { type: 'authorized', permissions: permissionIds(a.funcInfo) };
    // An event older than the one the account last applied changes nothing, and is no event either.
    return this.events.record(
      a.appid,
      body,
      (outbox) => this.inner.saveAuthorization(a, outbox),
      (written) => written,
    );
  }

  async markUnauthorized(appid: string, eventTime?: number): Promise<boolean> {
    // A re-sent or repeated revocation changes nothing, so it is no event.
    if ((await this.inner.getTokenState(appid))?.status === 'unauthorized')
      return this.inner.markUnauthorized(appid, eventTime);
    return this.events.record(
      appid,
      { type: 'unauthorized' },
      (outbox) => this.inner.markUnauthorized(appid, eventTime, outbox),
      (written) => written,
    );
  }

  markReauthorizationRequired(
    appid: string,
    reason: string,
    failedRefreshToken?: string,
    errcode?: number,
  ): Promise<boolean> {
    const body: EventBody = { type: 'reauthorization_required', errcode: errcode ?? null };
    return this.events.record(
      appid,
      body,
      (outbox) => this.inner.markReauthorizationRequired(appid, reason, failedRefreshToken, errcode, outbox),
      (marked) => marked,
    );
  }

  restoreRefreshToken(restore: RefreshTokenRestore): Promise<RestoreOutcome> {
    return this.events.record(
      restore.appid,
      { type: 'recovered' },
      (outbox) => this.inner.restoreRefreshToken(restore, outbox),
      (outcome) => outcome === 'restored',
    );
  }

  saveAccessToken(
    appid: string,
    accessToken: string,
    expiresAt: number,
    rotatedRefreshToken?: string,
    fence?: Fence,
  ): Promise<boolean> {
    return this.inner.saveAccessToken(appid, accessToken, expiresAt, rotatedRefreshToken, fence);
  }
  dropAccessToken(appid: string): Promise<void> {
    return this.inner.dropAccessToken(appid);
  }
  saveAccountInfo(appid: string, info: AccountInfo): Promise<boolean> {
    return this.inner.saveAccountInfo(appid, info);
  }
  get(appid: string): Promise<AuthorizerRecord | undefined> {
    return this.inner.get(appid);
  }
  getTokenState(appid: string): Promise<AuthorizerTokenState | undefined> {
    return this.inner.getTokenState(appid);
  }
  list(): Promise<AuthorizerRecord[]> {
    return this.inner.list();
  }
  search(query: AuthorizerSearch): Promise<AuthorizerPage> {
    return this.inner.search(query);
  }
  countByStatus() {
    return this.inner.countByStatus();
  }
  scheduleSizes(): Promise<number[]> {
    return this.inner.scheduleSizes();
  }
  reindex(appid: string, ifScheduledAt?: number): Promise<void> {
    return this.inner.reindex(appid, ifScheduledAt);
  }
  dueForRefresh(untilMs: number, limit: number, offset?: number): Promise<DueAuthorizer[]> {
    return this.inner.dueForRefresh(untilMs, limit, offset);
  }
}

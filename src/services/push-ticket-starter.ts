import type { Logger } from '../logger';
import type { Keys } from '../store/keys';
import type { Locks } from '../store/lock';
import type { ComponentApi } from '../wechat/component-api';

/**
 * Asks WeChat to (re)start component_verify_ticket pushes when none is stored (cold start, or
 * pushes stopped after repeated delivery failures: protocol.md §1 and §4.9). Rate-limited across
 * all instances by a guard key that is taken like a lock but never released: its TTL is the
 * minimum time between two requests, whether the request succeeded or not.
 */
export class PushTicketStarter {
  constructor(
    private readonly deps: {
      readonly api: ComponentApi;
      readonly locks: Locks;
      readonly keys: Keys;
      readonly logger: Logger;
    },
    private readonly minIntervalMs = 60 * 60 * 1000,
  ) {}

  /** true when this call asked WeChat (at most once per interval across instances). */
  async startIfDue(): Promise<boolean> {
    const { api, locks, keys, logger } = this.deps;
    if (!(await locks.tryAcquire(keys.startPushTicketGuard, this.minIntervalMs))) return false;
    try {
      const { errmsg } = await api.startPushTicket();
      logger.warn(
        { answer: errmsg },
        'no component_verify_ticket stored: asked WeChat to start pushing tickets (api_start_push_ticket); ' +
          'the next one arrives at POST /auth within about 10 minutes',
      );
      return true;
    } catch (err) {
      logger.error(
        { err: { message: (err as Error).message } },
        'api_start_push_ticket failed; will ask again after the guard interval',
      );
      return false;
    }
  }
}

import type { Clock } from '../../clock';
import type { StoreSet } from '../storage';
import { MemoryAuthCodeStore } from './memory-auth-code-store';
import { MemoryAuthorizerStore } from './memory-authorizer-store';
import { MemoryLocks } from './memory-locks';
import { MemoryPushDedupStore } from './memory-push-dedup-store';
import { MemoryTicketStore } from './memory-ticket-store';
import { MemoryComponentTokenStore } from './memory-token-store';

/**
 * In-memory implementations of every store interface, so that `npm run sandbox` (the newcomer's
 * demo) runs on a machine without Redis. They hold for ONE process only: locks and push
 * de-duplication exclude nothing across instances, internal services cannot read the public
 * Redis keys, and nothing survives a restart (authorizations, tokens and the ticket are lost).
 * Hence never in production: no configuration selects them; only the sandbox's launcher asks
 * createContainer for them (`storage: 'memory'`), refuses them when NODE_ENV=production and says so
 * in its log otherwise.
 *
 * test/integration/store-contract.test.ts runs the same cases against these and the Redis
 * implementations. Every TTL here is judged by the injected clock (Redis judges some by real
 * time), expired entries are dropped lazily, and no timer keeps the process alive.
 */
export type MemoryStores = StoreSet;

export function createMemoryStores(clock: Clock): MemoryStores {
  const locks = new MemoryLocks(clock);
  return {
    ticketStore: new MemoryTicketStore(clock),
    componentTokenStore: new MemoryComponentTokenStore(clock, locks),
    authorizerStore: new MemoryAuthorizerStore(clock, locks),
    locks,
    pushDedup: new MemoryPushDedupStore(clock),
    authCodes: new MemoryAuthCodeStore(clock),
  };
}

export {
  MemoryAuthCodeStore,
  MemoryAuthorizerStore,
  MemoryComponentTokenStore,
  MemoryLocks,
  MemoryPushDedupStore,
  MemoryTicketStore,
};

import type { Clock } from '../../clock';
import { LockLostError } from '../../errors';
import type { Fence } from '../lock';
import type { ComponentTokenStore, StoredToken } from '../token-store';
import { ExpiringMap } from './expiring-map';
import type { MemoryLocks } from './memory-locks';

/**
 * ComponentTokenStore in process memory, for the sandbox without Redis (see ./index.ts). The
 * token lives until its expiry by the injected clock; Redis keeps it for the same span of real
 * time, so there a clock moved forward sees the token still stored but with `expiresAt` passed,
 * while here it is gone. Either way the caller refreshes.
 */
export class MemoryComponentTokenStore implements ComponentTokenStore {
  private readonly token: ExpiringMap<StoredToken>;

  constructor(
    private readonly clock: Clock,
    /** The locks fenced writes are checked against. */
    private readonly locks?: MemoryLocks,
  ) {
    this.token = new ExpiringMap(clock);
  }

  async get(): Promise<StoredToken | undefined> {
    const stored = this.token.get('token');
    return stored && { token: stored.token, expiresAt: stored.expiresAt };
  }

  async save({ token, expiresAt }: StoredToken, fence?: Fence): Promise<void> {
    const ttlMs = Math.floor(expiresAt - this.clock.now());
    if (ttlMs <= 0) return;
    if (fence && !this.locks?.holds(fence)) throw new LockLostError('component_access_token');
    this.token.set('token', { token, expiresAt }, ttlMs);
  }
}

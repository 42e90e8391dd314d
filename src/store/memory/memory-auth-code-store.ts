import type { Clock } from '../../clock';
import { authCodeDigest, type AuthCodeStore, type PendingAuthorization } from '../auth-code-store';
import { ExpiringMap, secondsToMs } from './expiring-map';

/**
 * AuthCodeStore in process memory, for the sandbox without Redis (see ./index.ts). Codes are kept
 * by their sha1 digest as in Redis; pending records are kept as JSON, so what is read back is a
 * copy with exactly the values Redis would return.
 */
export class MemoryAuthCodeStore implements AuthCodeStore {
  private readonly used: ExpiringMap<string>;
  private readonly pending: ExpiringMap<string>;

  constructor(clock: Clock) {
    this.used = new ExpiringMap(clock);
    this.pending = new ExpiringMap(clock);
  }

  async usedBy(authCode: string): Promise<string | undefined> {
    return this.used.get(authCodeDigest(authCode));
  }

  async markUsed(authCode: string, appid: string, ttlSeconds: number): Promise<void> {
    this.used.set(authCodeDigest(authCode), appid, secondsToMs(ttlSeconds));
  }

  async savePending(pending: PendingAuthorization, ttlSeconds: number): Promise<void> {
    this.pending.set(pending.appid, JSON.stringify(pending), secondsToMs(ttlSeconds));
  }

  async getPending(appid: string): Promise<PendingAuthorization | undefined> {
    const raw = this.pending.get(appid);
    return raw ? (JSON.parse(raw) as PendingAuthorization) : undefined;
  }

  async clearPending(appid: string): Promise<void> {
    this.pending.delete(appid);
  }
}

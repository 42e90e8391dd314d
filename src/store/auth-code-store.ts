import { createHash } from 'node:crypto';
import type { Keys } from './keys';
import type { Redis } from './redis';
import { storageOp } from './storage-errors';

/**
 * Bookkeeping of authorization codes. The same code reaches us twice — in the
 * `authorized` push and in the admin's redirect — and can be exchanged once, so
 * the first path to exchange it records that here and the second is a no-op.
 * Codes are stored only as sha1 digests. A failed exchange leaves a pending
 * record (no code in it) so operators can see an authorization waiting for
 * WeChat's re-send or the admin's redirect.
 */
export interface PendingAuthorization {
  readonly appid: string;
  readonly infoType: string;
  readonly receivedAt: number;
  readonly error: string;
  /** false when the code itself was refused (expired / used): only a new authorization helps. */
  readonly retryable: boolean;
}

export interface AuthCodeStore {
  usedBy(authCode: string): Promise<string | undefined>;
  markUsed(authCode: string, appid: string, ttlSeconds: number): Promise<void>;
  savePending(pending: PendingAuthorization, ttlSeconds: number): Promise<void>;
  getPending(appid: string): Promise<PendingAuthorization | undefined>;
  clearPending(appid: string): Promise<void>;
}

export function authCodeDigest(authCode: string): string {
  return createHash('sha1').update(authCode).digest('hex');
}

export class RedisAuthCodeStore implements AuthCodeStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async usedBy(authCode: string): Promise<string | undefined> {
    return (await storageOp(() => this.redis.get(this.keys.usedAuthCode(authCodeDigest(authCode))))) ?? undefined;
  }

  async markUsed(authCode: string, appid: string, ttlSeconds: number): Promise<void> {
    await storageOp(() => this.redis.set(this.keys.usedAuthCode(authCodeDigest(authCode)), appid, 'EX', ttlSeconds));
  }

  async savePending(pending: PendingAuthorization, ttlSeconds: number): Promise<void> {
    await storageOp(() =>
      this.redis.set(this.keys.pendingAuthorization(pending.appid), JSON.stringify(pending), 'EX', ttlSeconds),
    );
  }

  async getPending(appid: string): Promise<PendingAuthorization | undefined> {
    const raw = await storageOp(() => this.redis.get(this.keys.pendingAuthorization(appid)));
    return raw ? (JSON.parse(raw) as PendingAuthorization) : undefined;
  }

  async clearPending(appid: string): Promise<void> {
    await storageOp(() => this.redis.del(this.keys.pendingAuthorization(appid)));
  }
}

import { createHash } from 'node:crypto';
import type { OutboxWrite } from './event-stream';
import type { Keys } from './keys';
import type { Redis } from './redis';
import { execTransaction, storageOp } from './storage-errors';

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
  /** `outbox`: an event written in the same transaction (event-stream.ts); ignored by stores without events. */
  savePending(pending: PendingAuthorization, ttlSeconds: number, outbox?: OutboxWrite): Promise<void>;
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

  async savePending(pending: PendingAuthorization, ttlSeconds: number, outbox?: OutboxWrite): Promise<void> {
    const key = this.keys.pendingAuthorization(pending.appid);
    if (!outbox) {
      await storageOp(() => this.redis.set(key, JSON.stringify(pending), 'EX', ttlSeconds));
      return;
    }
    const tx = this.redis.multi().set(key, JSON.stringify(pending), 'EX', ttlSeconds);
    await execTransaction(tx.hset(this.keys.authorizerOutbox(pending.appid), outbox.eventId, outbox.json));
  }

  async getPending(appid: string): Promise<PendingAuthorization | undefined> {
    const raw = await storageOp(() => this.redis.get(this.keys.pendingAuthorization(appid)));
    return raw ? (JSON.parse(raw) as PendingAuthorization) : undefined;
  }

  async clearPending(appid: string): Promise<void> {
    await storageOp(() => this.redis.del(this.keys.pendingAuthorization(appid)));
  }
}

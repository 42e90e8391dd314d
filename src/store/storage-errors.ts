import { ReplyError, type ChainableCommander } from 'ioredis';
import { StorageUnavailableError } from '../errors';

/**
 * Runs a Redis operation and reports connection-level failures (offline, timeout, closed) as
 * StorageUnavailableError, which callers answer with 503 so that WeChat and internal callers retry.
 * A ReplyError means Redis answered and refused the command: that is a bug, so it is not disguised.
 */
export function storageOp<T>(operation: () => Promise<T>): Promise<T> {
  // Not an async function: on every Redis call, one promise less and no extra turn of the microtask queue.
  try {
    return operation().catch(rethrowStorageError);
  } catch (err) {
    return Promise.reject(toStorageError(err));
  }
}

function rethrowStorageError(err: unknown): never {
  throw toStorageError(err);
}

function toStorageError(err: unknown): unknown {
  if (err instanceof ReplyError || err instanceof StorageUnavailableError) return err;
  return new StorageUnavailableError(`storage (Redis) is unavailable: ${(err as Error).message}`);
}

/** EXEC of a MULTI; ioredis reports a failed command inside the results instead of rejecting. */
export async function execTransaction(transaction: ChainableCommander): Promise<unknown[]> {
  const results = await storageOp(() => transaction.exec());
  if (!results) throw new StorageUnavailableError('storage (Redis) aborted a transaction');
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

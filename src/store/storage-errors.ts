import { ReplyError, type ChainableCommander } from 'ioredis';
import { StorageUnavailableError } from '../errors';

/**
 * Runs a Redis operation and reports connection-level failures (offline, timeout, closed) as
 * StorageUnavailableError, which callers answer with 503 so that WeChat and internal callers retry.
 * A ReplyError means Redis answered and refused the command: that is a bug, so it is not disguised.
 */
export async function storageOp<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    if (err instanceof ReplyError || err instanceof StorageUnavailableError) throw err;
    throw new StorageUnavailableError(`storage (Redis) is unavailable: ${(err as Error).message}`);
  }
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

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

/**
 * Replies Redis gives while a failover or a resharding is under way (a demoted master, a master that
 * lost its replica under min-replicas-to-write, a replica loading its data, a Cluster without a quorum):
 * the command can succeed when retried, like an outage.
 */
const SWITCHING_OVER = /^(READONLY|NOREPLICAS|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN) /;

/** EXECABORT of a MULTI whose queued commands met a demoted master (ioredis lists them as previousErrors). */
function abortedBySwitchOver(err: Error): boolean {
  const previous = (err as { previousErrors?: Error[] }).previousErrors;
  return err.message.startsWith('EXECABORT') && !!previous?.some((e) => SWITCHING_OVER.test(e.message));
}

function toStorageError(err: unknown): Error {
  if (err instanceof ReplyError && (SWITCHING_OVER.test((err as Error).message) || abortedBySwitchOver(err as Error))) {
    return new StorageUnavailableError(`storage (Redis) is switching over: ${(err as Error).message}`);
  }
  // ioredis declares ReplyError as `any`, so instanceof does not narrow `err` to an Error.
  if (err instanceof ReplyError || err instanceof StorageUnavailableError) return err as Error;
  return new StorageUnavailableError(`storage (Redis) is unavailable: ${(err as Error).message}`);
}

/** EXEC of a MULTI; ioredis reports a failed command inside the results instead of rejecting. */
export async function execTransaction(transaction: ChainableCommander): Promise<unknown[]> {
  const results = await storageOp(() => transaction.exec());
  if (!results) throw new StorageUnavailableError('storage (Redis) aborted a transaction');
  return results.map(([err, value]) => {
    if (err) throw toStorageError(err);
    return value;
  });
}

import { createHash } from 'node:crypto';
import { ReplyError } from 'ioredis';
import type { Redis } from './redis';

/**
 * A Lua script run by its SHA1 (EVALSHA): on a hot path, EVAL would send the whole script and have
 * Redis hash it on every call. When Redis does not know the script (restarted, SCRIPT FLUSH), it
 * answers NOSCRIPT and the script is sent once with EVAL, which also caches it again.
 */
export class LuaScript {
  readonly sha1: string;

  constructor(
    readonly source: string,
    readonly numberOfKeys: number,
  ) {
    this.sha1 = createHash('sha1').update(source).digest('hex');
  }

  run(redis: Redis, keysAndArgs: ReadonlyArray<string | number>): Promise<unknown> {
    return redis.evalsha(this.sha1, this.numberOfKeys, ...keysAndArgs).catch((err: unknown) => {
      if (!(err instanceof ReplyError) || !(err as Error).message.startsWith('NOSCRIPT')) throw err;
      return redis.eval(this.source, this.numberOfKeys, ...keysAndArgs);
    });
  }
}

import type { Redis } from './redis';

/**
 * A Lua script of the service, run through ioredis' `defineCommand`: ioredis sends EVALSHA and, when Redis does
 * not know the script (restarted, SCRIPT FLUSH), EVAL once, which caches it again. The same code path on every
 * topology ioredis supports. Each script's KEYS/ARGV are documented where it is written.
 */
export interface LuaScript {
  /** The command name on the client: unique, and no Redis command's name. */
  readonly name: string;
  readonly numberOfKeys: number;
  readonly lua: string;
}

type ScriptCommand = (...keysAndArgs: Array<string | number>) => Promise<unknown>;

/** Runs `script` with its KEYS and ARGV; the script is defined on the client at its first use. */
export function runScript(redis: Redis, script: LuaScript, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
  if (keys.length !== script.numberOfKeys) {
    throw new TypeError(`script ${script.name} takes ${script.numberOfKeys} keys, got ${keys.length}`);
  }
  const commands = redis as unknown as Record<string, ScriptCommand | undefined>;
  let command = commands[script.name];
  if (typeof command !== 'function') {
    redis.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
    command = commands[script.name] as ScriptCommand;
  }
  return command.call(redis, ...keys, ...args);
}

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

/**
 * Defines `scripts` on the client, in the constructor of the store that runs them. Defining before use matters:
 * with auto-pipelining, a batch already open when a command is defined lacks it (ioredis #1931).
 */
export function defineScripts(redis: Redis, scripts: readonly LuaScript[]): void {
  const commands = redis as unknown as Record<string, unknown>;
  for (const { name, numberOfKeys, lua } of scripts) {
    if (typeof commands[name] !== 'function') redis.defineCommand(name, { numberOfKeys, lua });
  }
}

/** Runs `script` (defined by defineScripts) with its KEYS and ARGV. */
export function runScript(
  redis: Redis,
  script: LuaScript,
  keys: readonly string[],
  args: ReadonlyArray<string | number>,
): Promise<unknown> {
  if (keys.length !== script.numberOfKeys) {
    throw new TypeError(`script ${script.name} takes ${script.numberOfKeys} keys, got ${keys.length}`);
  }
  const command = (redis as unknown as Record<string, ScriptCommand | undefined>)[script.name];
  if (typeof command !== 'function')
    throw new TypeError(`script ${script.name} is not defined on this client (defineScripts)`);
  return command.call(redis, ...keys, ...args);
}

/** runScript with KEYS and ARGV in one list, the first `numberOfKeys` of them being the keys. */
export function runKeysAndArgs(
  redis: Redis,
  script: LuaScript,
  keysAndArgs: ReadonlyArray<string | number>,
): Promise<unknown> {
  const keys = keysAndArgs.slice(0, script.numberOfKeys).map(String);
  return runScript(redis, script, keys, keysAndArgs.slice(script.numberOfKeys));
}

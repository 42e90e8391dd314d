/**
 * The sandbox's own Redis: a redis-server on a free loopback port, with nothing persisted, started in its own
 * process group and stopped with the sandbox. The sandbox never writes a Redis it was not given explicitly
 * (SANDBOX_REDIS_URL), so a developer's own Redis on 6379 stays untouched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import Redis from 'ioredis';

export interface ThrowawayRedis {
  readonly url: string;
  /** Stops the server's process group and removes its folder; safe to call twice. */
  stop(): Promise<void>;
  /** Synchronous variant for process 'exit' handlers. */
  kill(): void;
}

/** The redis-server binary on PATH, if any. */
export function findRedisServer(path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function answersPing(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Starts one; rejects when it does not answer within `timeoutMs` (another process may have taken the port). */
export async function startThrowawayRedis(binary: string, timeoutMs = 10_000): Promise<ThrowawayRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'wxopen-sandbox-redis-'));
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    // Its own group: a Ctrl+C in the terminal reaches the sandbox, which then stops Redis last, after the service.
    { stdio: 'ignore', detached: true },
  );
  let exited = false;
  child.once('exit', () => (exited = true));
  child.once('error', () => (exited = true));
  const kill = (): void => {
    killGroup(child, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', kill);
  const url = `redis://127.0.0.1:${port}/0`;
  const deadline = Date.now() + timeoutMs;
  while (!(await answersPing(url))) {
    if (exited || Date.now() > deadline) {
      kill();
      throw new Error(`redis-server did not start on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    kill,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 3000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          killGroup(child, 'SIGTERM');
        });
      }
      kill();
      process.off('exit', kill);
    },
  };
}

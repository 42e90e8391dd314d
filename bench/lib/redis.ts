/**
 * The benchmark's Redis: REDIS_URL when set, otherwise a throwaway redis-server on a free port that the
 * benchmark stops at the end. Scenarios work under their own key prefix and delete only their own keys
 * (SCAN + UNLINK); a Redis the benchmark did not start is never flushed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort, sleep } from './common';

export interface BenchRedis {
  url: string;
  /** true when the benchmark started this redis-server itself. */
  owned: boolean;
  version: string;
  client(): Redis;
  stop(): Promise<void>;
}

export async function startBenchRedis(): Promise<BenchRedis> {
  let child: ChildProcess | undefined;
  let dir: string | undefined;
  let url = process.env.REDIS_URL;
  if (!url) {
    const port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'wxopen-bench-redis-'));
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    );
    const spawned = child;
    const failed = new Promise<never>((_, reject) =>
      spawned.once('error', (err) =>
        reject(
          new Error(
            `The benchmark needs Redis: set REDIS_URL, or install redis-server (apt-get install redis-server). (${err.message})`,
          ),
        ),
      ),
    );
    url = `redis://127.0.0.1:${port}/0`;
    await Promise.race([waitForRedis(url), failed]);
  } else {
    await waitForRedis(url);
  }
  const admin = new Redis(url, { maxRetriesPerRequest: 1 });
  const info = await admin.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  const clients: Redis[] = [admin];
  const finalUrl = url;
  return {
    url: finalUrl,
    owned: !!child,
    version,
    client() {
      const c = new Redis(finalUrl, { maxRetriesPerRequest: 1 });
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.disconnect();
      if (child && child.exitCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(3000)]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForRedis(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(50);
    } finally {
      probe.disconnect();
    }
  }
}

/** Deletes every key under `prefix:` (SCAN + UNLINK, never KEYS or FLUSH); returns how many. */
export async function deletePrefix(redis: Redis, prefix: string, pattern = '*'): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:${pattern}`, 'COUNT', 5000);
    cursor = next;
    if (batch.length > 0) deleted += await redis.unlink(...batch);
  } while (cursor !== '0');
  return deleted;
}

/** INFO memory's used_memory, in bytes. */
export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { startSharedTopology } from './redis-topologies';

/**
 * Gives every test a real Redis: REDIS_URL when set, otherwise a throwaway
 * redis-server on a free port (stopped by global-teardown). Tests never flush;
 * each file works under its own key prefix (see test/support/redis.ts).
 */
export default async function globalSetup(): Promise<void> {
  const topology = process.env.TEST_REDIS_TOPOLOGY;
  if (topology && topology !== 'standalone') {
    (globalThis as { __testTopologyStop?: () => Promise<void> }).__testTopologyStop =
      await startSharedTopology(topology);
    return;
  }
  if (process.env.REDIS_URL) {
    await assertRedisAnswers(process.env.REDIS_URL);
    return;
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'wxopen-test-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    // Its own process group: the teardown stops the group, never just a pid that may have been reused.
    { stdio: 'ignore', detached: true },
  );
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err) =>
      reject(
        new Error(
          `Tests need Redis: set REDIS_URL, or install redis-server (apt-get install redis-server). (${err.message})`,
        ),
      ),
    );
  });
  const url = `redis://127.0.0.1:${port}/0`;
  await Promise.race([waitForRedis(url), failed]);
  process.env.REDIS_URL = url;
  process.env.TEST_REDIS_PID = String(child.pid);
  (globalThis as { __testRedis?: unknown }).__testRedis = child;
}

async function waitForRedis(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await assertRedisAnswers(url);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function assertRedisAnswers(url: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    await client.quit();
  } finally {
    client.disconnect();
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';

/** The Redis the global setup chose (REDIS_URL or a throwaway server). */
export function testRedisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set: run tests through jest (global setup)');
  return url;
}

/** A key prefix no other test file shares, so nothing ever needs flushing. */
export function uniquePrefix(label = 't'): string {
  return `test-${label}-${randomBytes(6).toString('hex')}`;
}

export function newTestRedis(): Redis {
  return new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
}

/** Every key under a prefix (SCAN, never KEYS) — for "nothing was written" assertions. */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found.sort();
}

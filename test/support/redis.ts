import { randomBytes } from 'node:crypto';
import Redis, { Cluster } from 'ioredis';
import type { Redis as AnyRedis } from '../../src/store/redis';

/**
 * The Redis the global setup chose: REDIS_URL or a throwaway server (single node), or, with
 * TEST_REDIS_TOPOLOGY=cluster|sentinel, a Cluster or Sentinel group it started
 * (test/support/redis-topologies.ts). Test code reaches it through these helpers only.
 */
export type TestTopology = 'standalone' | 'cluster' | 'sentinel';

export function testTopology(): TestTopology {
  const topology = process.env.TEST_REDIS_TOPOLOGY ?? 'standalone';
  if (topology !== 'standalone' && topology !== 'cluster' && topology !== 'sentinel') {
    throw new Error(`TEST_REDIS_TOPOLOGY must be standalone, cluster or sentinel (got ${topology})`);
  }
  return topology;
}

/**
 * A single node's URL. Under Sentinel it is the group's master (the shared group never fails over;
 * the failover test starts its own); under Cluster it is one of the masters.
 */
export function testRedisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set: run tests through jest (global setup)');
  return url;
}

/** The service's REDIS_* variables for the chosen topology. */
export function testRedisEnv(): Record<string, string> {
  switch (testTopology()) {
    case 'cluster':
      return { REDIS_CLUSTER_NODES: required('TEST_REDIS_CLUSTER_NODES') };
    case 'sentinel':
      return {
        REDIS_SENTINELS: required('TEST_REDIS_SENTINELS'),
        REDIS_SENTINEL_NAME: required('TEST_REDIS_SENTINEL_NAME'),
      };
    default:
      return { REDIS_URL: testRedisUrl() };
  }
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run tests through jest (global setup)`);
  return value;
}

/** A key prefix no other test file shares, so nothing ever needs flushing. */
export function uniquePrefix(label = 't'): string {
  return `test-${label}-${randomBytes(6).toString('hex')}`;
}

/** A client of the chosen topology (a Cluster client under Cluster, the master's under Sentinel). */
export function newTestRedis(options: { enableAutoPipelining?: boolean } = {}): Redis {
  const enableAutoPipelining = options.enableAutoPipelining ?? false;
  if (testTopology() === 'cluster') {
    const nodes = required('TEST_REDIS_CLUSTER_NODES')
      .split(',')
      .map((hp) => ({ host: hp.slice(0, hp.lastIndexOf(':')), port: Number(hp.slice(hp.lastIndexOf(':') + 1)) }));
    // Typed as a Redis: tests use the commands both share, and a cross-slot command fails loudly.
    return new Cluster(nodes, { enableAutoPipelining, redisOptions: { maxRetriesPerRequest: 1 } }) as unknown as Redis;
  }
  if (testTopology() === 'sentinel') {
    const sentinels = required('TEST_REDIS_SENTINELS')
      .split(',')
      .map((hp) => ({ host: hp.slice(0, hp.lastIndexOf(':')), port: Number(hp.slice(hp.lastIndexOf(':') + 1)) }));
    return new Redis({
      sentinels,
      name: required('TEST_REDIS_SENTINEL_NAME'),
      enableAutoPipelining,
      maxRetriesPerRequest: 1,
    });
  }
  return new Redis(testRedisUrl(), { enableAutoPipelining, maxRetriesPerRequest: 1 });
}

/** Every key under a prefix (SCAN on every master, never KEYS) — for "nothing was written" assertions. */
export async function keysUnder(redis: AnyRedis, prefix: string): Promise<string[]> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const found: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
  }
  return found.sort();
}

/** A second connection for blocking commands (BLPOP), without the service client's command timeout. */
export function blockingDuplicate(redis: AnyRedis): AnyRedis {
  if (redis instanceof Cluster) {
    return redis.duplicate(undefined, { redisOptions: { ...redis.options.redisOptions, commandTimeout: undefined } });
  }
  return redis.duplicate({ commandTimeout: undefined });
}

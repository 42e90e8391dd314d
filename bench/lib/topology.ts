/**
 * Where a scenario's keys live: the benchmark's single node (bench/lib/redis.ts) or a local 3-master Redis
 * Cluster the benchmark starts itself (the test helpers' TestCluster: detached redis-servers on free loopback
 * ports, the whole process group killed by stop(), also when the scenario fails).
 *
 * Seeding and bulk reads go out as one pipeline per node. ioredis refuses a pipeline whose keys are served by
 * different masters, so on a Cluster each command is routed by its key's hash slot to its master's pipeline.
 */
import Redis, { Cluster, type ChainableCommander } from 'ioredis';
import { TestCluster } from '../../test/support/redis-topologies';
import { serviceEnv } from './common';
import type { BenchRedis } from './redis';
import { deletePrefix, usedMemory } from './redis';

export type BenchClient = Redis | Cluster;

export interface BenchTopology {
  /** How a result names it: `one Redis node`, `a local 3-master Cluster`. */
  readonly label: string;
  readonly client: BenchClient;
  /** The service's Redis settings: REDIS_URL, or REDIS_CLUSTER_NODES (then REDIS_URL must be absent). */
  readonly serviceRedisEnv: Record<string, string>;
  /** INFO used_memory, summed over the masters. */
  usedMemory(): Promise<number>;
  /** Removes a scenario's keys. */
  cleanup(prefix: string): Promise<void>;
  stop(): Promise<void>;
}

/** serviceEnv() with the topology's Redis settings (REDIS_URL dropped on a Cluster: config refuses both). */
export function serviceEnvOn(topology: BenchTopology, opts: Parameters<typeof serviceEnv>[0]): NodeJS.ProcessEnv {
  const env = serviceEnv({ ...opts, extra: { ...topology.serviceRedisEnv, ...opts.extra } });
  if (!topology.serviceRedisEnv.REDIS_URL) delete env.REDIS_URL;
  return env;
}

/** The benchmark's single node: scenarios delete their own prefix, the node is stopped by the runner. */
export function singleNode(redis: BenchRedis): BenchTopology {
  const client = redis.client();
  return {
    label: 'one Redis node',
    client,
    serviceRedisEnv: { REDIS_URL: redis.url },
    usedMemory: () => usedMemory(client),
    cleanup: async (prefix) => {
      await deletePrefix(client, prefix);
    },
    stop: () => {
      client.disconnect();
      return Promise.resolve();
    },
  };
}

/** A fresh 3-master Cluster, thrown away by stop() (so cleanup has nothing to do). */
export async function startBenchCluster(): Promise<BenchTopology> {
  const cluster = await TestCluster.start();
  let client: Cluster | undefined;
  try {
    client = new Cluster(cluster.nodes, {
      // The bench's own bulk commands may queue behind each other on a loaded machine: no command timeout.
      redisOptions: { maxRetriesPerRequest: 1 },
      slotsRefreshTimeout: 5000,
    });
    const c = client;
    await new Promise<void>((resolve, reject) => {
      c.once('ready', resolve);
      c.once('error', reject);
    });
    await checkSlotFunction(c);
    return {
      label: 'a local 3-master Cluster',
      client: c,
      serviceRedisEnv: { REDIS_CLUSTER_NODES: cluster.nodesSetting },
      usedMemory: async () => {
        let total = 0;
        for (const node of c.nodes('master')) total += await usedMemory(node);
        return total;
      },
      cleanup: () => Promise.resolve(),
      stop: async () => {
        c.disconnect();
        await cluster.stop();
      },
    };
  } catch (err) {
    client?.disconnect();
    await cluster.stop();
    throw err;
  }
}

// --- routing by hash slot (Redis Cluster specification: CRC16-XMODEM of the key or of its first non-empty {tag}) ---

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key, 'utf8')) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc & 16383;
}

/** The slot function must agree with the servers' (CLUSTER KEYSLOT), or every routed pipeline would fail. */
async function checkSlotFunction(cluster: Cluster): Promise<void> {
  for (const key of ['a', 'bench:{wx0123456789abcdef}:x', 'x{}y', '{user1000}.following', 'wx{a}{b}', '中文键']) {
    const server = Number(await cluster.call('CLUSTER', 'KEYSLOT', key));
    if (server !== keySlot(key)) throw new Error(`keySlot(${key}) = ${keySlot(key)}, the server says ${server}`);
  }
}

/**
 * Runs commands one pipeline per node. `build` gets `to(key)`: the pipeline of the node that serves `key`, on
 * which it issues exactly one command for that key. Resolves with the replies in the order of the `to` calls;
 * rejects with the first command error.
 */
export async function execByNode(
  client: BenchClient,
  build: (to: (key: string) => ChainableCommander) => void,
): Promise<unknown[]> {
  const pipelines = new Map<string, ChainableCommander>();
  const counts = new Map<string, number>();
  const order: Array<[string, number]> = [];
  const to = (key: string): ChainableCommander => {
    const node = client instanceof Cluster ? (client.slots[keySlot(key)]?.[0] ?? '?') : 'one';
    let pipeline = pipelines.get(node);
    if (!pipeline) {
      pipeline = client.pipeline();
      pipelines.set(node, pipeline);
    }
    const position = counts.get(node) ?? 0;
    counts.set(node, position + 1);
    order.push([node, position]);
    return pipeline;
  };
  build(to);
  const results = new Map<string, [Error | null, unknown][]>();
  await Promise.all(
    [...pipelines].map(async ([node, pipeline]) => {
      results.set(node, (await pipeline.exec()) ?? []);
    }),
  );
  for (const replies of results.values()) {
    const failed = replies.find(([err]) => err)?.[0];
    if (failed) throw failed;
  }
  return order.map(([node, position]) => results.get(node)![position]![1]);
}

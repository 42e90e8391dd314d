import type { ConnectionOptions } from 'node:tls';
import IORedis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisSettings, RedisTls } from '../config';
import type { Logger } from '../logger';

/**
 * The client every store uses: one node (REDIS_URL), the master behind Sentinel, or a Cluster.
 * The stores issue the same commands on all three; on a Cluster, every multi-key command,
 * transaction, script and explicit pipeline must stay within one hash slot (src/store/keys.ts).
 */
export type Redis = IORedis | Cluster;

/**
 * Commands fail fast while Redis is down (no offline queue, bounded command time) so that a push is
 * answered 503 quickly and WeChat retries, instead of hanging past its 5 s timeout. The client keeps
 * reconnecting in the background; ioredis finds the new master after a Sentinel failover and follows
 * MOVED/ASK on a Cluster.
 */
const failFast = {
  maxRetriesPerRequest: 1,
  commandTimeout: 2000,
  connectTimeout: 2000,
} satisfies RedisOptions;

const retryDelay = (attempt: number) => Math.min(200 * attempt, 2000);

/**
 * A master demoted by a failover answers writes with READONLY until the client reconnects;
 * reconnecting (through the sentinels) reaches the new master. The failed command is not resent:
 * its caller already got the error and answers 503.
 */
const reconnectOnReadOnly = (err: Error) => err.message.startsWith('READONLY');

function tlsOptions(tls: RedisTls | undefined): ConnectionOptions | undefined {
  if (!tls) return undefined;
  return {
    ...(tls.ca !== undefined && { ca: tls.ca }),
    ...(tls.cert !== undefined && { cert: tls.cert, key: tls.key }),
    ...(tls.servername !== undefined && { servername: tls.servername }),
  };
}

/** REDIS_USERNAME / REDIS_PASSWORD take precedence over credentials inside REDIS_URL. */
function urlWithCredentials(settings: RedisSettings, url: string): string {
  if (settings.username === undefined && settings.password === undefined) return url;
  const parsed = new URL(url);
  if (settings.username !== undefined) parsed.username = encodeURIComponent(settings.username);
  if (settings.password !== undefined) parsed.password = encodeURIComponent(settings.password);
  return parsed.toString();
}

/** A plain URL string is a single node (the sandbox probe, tools); settings come from src/config.ts. */
export function createRedis(target: string | RedisSettings, logger: Logger): Redis {
  const settings: RedisSettings =
    typeof target === 'string'
      ? {
          url: target,
          keyPrefix: '',
          topology: { kind: 'standalone', url: target },
          username: undefined,
          password: undefined,
          tls: undefined,
          db: 0,
        }
      : target;
  const client = connect(settings);
  watchConnection(client, logger);
  return client;
}

function connect(settings: RedisSettings): Redis {
  const tls = tlsOptions(settings.tls);
  const auth = {
    ...(settings.username !== undefined && { username: settings.username }),
    ...(settings.password !== undefined && { password: settings.password }),
  };
  const { topology } = settings;
  switch (topology.kind) {
    case 'standalone':
      return new IORedis(urlWithCredentials(settings, topology.url), {
        ...failFast,
        enableOfflineQueue: false,
        retryStrategy: retryDelay,
        ...(tls && { tls }),
        // Commands issued in the same event-loop turn (many concurrent requests) go out in one write:
        // one socket write per turn instead of one per command.
        enableAutoPipelining: true,
      });
    case 'sentinel':
      return new IORedis({
        ...failFast,
        ...auth,
        enableOfflineQueue: false,
        retryStrategy: retryDelay,
        reconnectOnError: reconnectOnReadOnly,
        sentinels: topology.sentinels.map(({ host, port }) => ({ host, port })),
        name: topology.name,
        ...(topology.sentinelUsername !== undefined && { sentinelUsername: topology.sentinelUsername }),
        ...(topology.sentinelPassword !== undefined && { sentinelPassword: topology.sentinelPassword }),
        sentinelRetryStrategy: retryDelay,
        sentinelCommandTimeout: failFast.commandTimeout,
        // ioredis watches +switch-master on the sentinels and moves to the new master at once.
        failoverDetector: true,
        ...(tls && { tls, enableTLSForSentinelMode: true, sentinelTLS: tls }),
        enableAutoPipelining: true,
      });
    case 'cluster': {
      const options: ClusterOptions = {
        enableOfflineQueue: false,
        clusterRetryStrategy: retryDelay,
        // During a Cluster failover, a command waits this long before it is retried on the new owner.
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        slotsRefreshTimeout: failFast.connectTimeout,
        // Groups commands per node, so concurrent single-key reads across slots still share writes.
        enableAutoPipelining: true,
        redisOptions: { ...failFast, ...auth, reconnectOnError: reconnectOnReadOnly, ...(tls && { tls }) },
      };
      return new Cluster(
        topology.nodes.map(({ host, port }) => ({ host, port })),
        options,
      );
    }
  }
}

function watchConnection(client: Redis, logger: Logger): void {
  let down = false;
  client.on('error', (err: Error) => {
    if (!down) logger.warn({ err: { message: err.message } }, 'redis connection error');
    down = true;
  });
  client.on('ready', () => {
    if (down) logger.info('redis connection restored');
    down = false;
  });
}

/** Resolves once the client is ready, or after `timeoutMs` (the service starts even if Redis is down). */
export async function waitUntilReady(client: Redis, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    client.once('ready', onReady);
  });
}

export async function pingRedis(client: Redis): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    const pong: string = await client.ping();
    return pong === 'PONG' ? { ok: true } : { ok: false, reason: `unexpected PING answer ${pong}` };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

/**
 * Closes a client for good: QUIT when connected (pending replies arrive first), then disconnect. ioredis'
 * disconnect ends the socket and arms a 2 s timer that destroys it unless it reports 'close'; a socket that closed
 * already (Redis down or refusing) never reports it again, so that timer would keep the process alive 2 s for
 * nothing. Such a node's connector is given no socket to end (ioredis keeps the last one on it).
 */
export async function closeRedis(client: Redis): Promise<void> {
  // QUIT waits for a reply that never comes while Redis is down.
  if (client.status === 'ready') await client.quit().catch(() => undefined);
  const nodes = client instanceof Cluster ? client.nodes() : [client];
  for (const node of nodes) {
    const connector = (node as unknown as { connector?: { stream?: { destroyed?: boolean } } }).connector;
    if (connector?.stream?.destroyed) connector.stream = undefined;
  }
  client.disconnect();
}

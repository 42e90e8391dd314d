import Redis from 'ioredis';
import type { Logger } from '../logger';

export type { Redis };

/**
 * Commands fail fast while Redis is down (no offline queue, bounded command
 * time) so that a push is answered 503 quickly and WeChat retries, instead of
 * hanging past its 5 s timeout. The client keeps reconnecting in the background.
 */
export function createRedis(url: string, logger: Logger): Redis {
  const client = new Redis(url, {
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2000,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(200 * attempt, 2000),
    // Commands issued in the same event-loop turn (many concurrent requests) go out in one write:
    // one socket write per turn instead of one per command.
    enableAutoPipelining: true,
  });
  let down = false;
  client.on('error', (err: Error) => {
    if (!down) logger.warn({ err: { message: err.message } }, 'redis connection error');
    down = true;
  });
  client.on('ready', () => {
    if (down) logger.info('redis connection restored');
    down = false;
  });
  return client;
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
    const pong = await client.ping();
    return pong === 'PONG' ? { ok: true } : { ok: false, reason: `unexpected PING answer ${pong}` };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

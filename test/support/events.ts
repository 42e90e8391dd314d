import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type Redis from 'ioredis';
import { createApp } from '../../src/app';
import { eventFromFields, type AccountEvent } from '../../src/client/account-events';
import type { Container } from '../../src/container';

/** Every event of a stream key, oldest first, with its stream id. */
export async function streamEvents(redis: Redis, key: string): Promise<(AccountEvent & { streamId: string })[]> {
  const entries = (await redis.xrange(key, '-', '+')) as [string, string[]][];
  return entries.map(([id, fields]) => ({ ...eventFromFields(fields), streamId: id }));
}

/** The service's public app on a free loopback port. */
export async function listenApp(
  container: Container,
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createApp(container).listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

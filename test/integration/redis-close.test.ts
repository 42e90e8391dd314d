import { createLogger } from '../../src/logger';
import { closeRedis, createRedis, waitUntilReady } from '../../src/store/redis';
import { eventually } from '../support/eventually';
import { OwnedRedisServer } from '../support/redis-server';

/** Active timers of this process (what keeps it alive), by count. */
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
const silent = createLogger('silent');

describe('closeRedis', () => {
  it('leaves no timer behind for a client whose Redis went away (ioredis would arm a 2 s one)', async () => {
    const server = await OwnedRedisServer.start();
    const client = createRedis(server.url, silent);
    try {
      expect(await waitUntilReady(client, 5000)).toBe(true);
      await server.stop();
      await eventually(() => client.status === 'reconnecting', { what: 'the client reconnecting' });
      const before = timers();
      await closeRedis(client);
      expect(timers()).toBeLessThan(before); // the reconnect timer went, and nothing took its place
    } finally {
      await server.stop();
    }
  });

  it('QUITs a connected client and leaves no timer behind', async () => {
    const server = await OwnedRedisServer.start();
    const client = createRedis(server.url, silent);
    try {
      expect(await waitUntilReady(client, 5000)).toBe(true);
      const before = timers();
      await closeRedis(client);
      await eventually(() => client.status === 'end', { what: 'the client ended' });
      expect(timers()).toBeLessThanOrEqual(before);
    } finally {
      await server.stop();
    }
  });
});

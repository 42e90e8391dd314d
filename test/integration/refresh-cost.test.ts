import Redis from 'ioredis';
import { generateAccounts } from '../../src/sandbox/emulator';
import { uniquePrefix } from '../support/redis';
import { OwnedRedisServer } from '../support/redis-server';
import { startHarness, type Harness } from '../support/emulator';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Commands Redis served per command name since the last CONFIG RESETSTAT (INFO and CONFIG left out). */
async function commandsServed(admin: Redis): Promise<Record<string, number>> {
  const info = await admin.info('commandstats');
  const served: Record<string, number> = {};
  for (const [, name, calls] of info.matchAll(/^cmdstat_([a-z|_-]+):calls=(\d+)/gm)) {
    if (name !== 'info' && !name!.startsWith('config')) served[name!] = Number(calls);
  }
  return served;
}

/**
 * What one background refresh costs in Redis (docs/performance.md, "Cluster results"): on a Cluster each command
 * is a round trip of its own, and their number is what bounds the refresher. Counted with INFO commandstats on a
 * Redis this test starts, over a refresher round of due accounts.
 */
describe('a background refresh: Redis commands (INFO commandstats, a Redis this test starts)', () => {
  let server: OwnedRedisServer;
  let admin: Redis;
  let h: Harness;
  const N = 20;

  beforeAll(async () => {
    server = await OwnedRedisServer.start();
    admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    h = await startHarness({
      emulator: { accounts: generateAccounts(N) },
      env: { REDIS_URL: server.url, REDIS_KEY_PREFIX: uniquePrefix('refresh-cost') },
    });
  });
  afterAll(async () => {
    await h?.close();
    admin?.disconnect();
    await server?.stop();
  });

  it('four scripts per refreshed account (lock and read, save, schedule entry, release), no other read of the account', async () => {
    const accounts = generateAccounts(N);
    for (const { appid } of accounts) await h.authorize(appid);
    h.clock.advance(2 * HOUR - 10 * MINUTE); // every account due; the component token too
    await h.container.tokenService.ensureComponentAccessToken(15 * MINUTE);
    await admin.config('RESETSTAT');

    const round = await h.container.refresher.runOnce();
    await h.container.tokenService.idle(); // the releases are sent, not waited for
    expect(round).toMatchObject({ componentToken: 'ok', checked: N, failed: [] });
    const served = await commandsServed(admin);
    // Scripts: per account one that takes the lock and reads the account, the fenced save, the schedule shard's
    // entry, the release; besides them at most the round's ticket read. INFO counts a script's own calls too.
    const scripts = (served.evalsha ?? 0) + (served.eval ?? 0);
    expect(scripts).toBeGreaterThanOrEqual(4 * N);
    expect(scripts).toBeLessThanOrEqual(4 * N + 1);
    // The account is read once (HGETALL in the lock's script): no token read before the lock, and no schedule
    // check after a refresh made here (ZSCORE), whose write already moved the entry.
    expect(served.hgetall).toBe(N);
    expect(served.zscore).toBeUndefined();
    // The component token: one read per refresh at most (MGET), shared by the refreshes running together.
    expect(served.mget).toBeLessThanOrEqual(N + 1);
    // The schedule: one batch read, one command per shard.
    expect(served.zrangebyscore).toBe(h.container.keys.scheduleShards);
  });
});

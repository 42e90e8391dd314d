import Redis from 'ioredis';
import request from 'supertest';
import { createApp } from '../../src/app';
import { uniquePrefix } from '../support/redis';
import { OwnedRedisServer } from '../support/redis-server';
import { startHarness, type Harness } from '../support/emulator';

const HOUR = 3600_000;

/** Total commands Redis served since the last CONFIG RESETSTAT, from INFO commandstats (INFO and CONFIG left out). */
async function commandsServed(admin: Redis): Promise<number> {
  const info = await admin.info('commandstats');
  let total = 0;
  for (const [, name, calls] of info.matchAll(/^cmdstat_([a-z|_-]+):calls=(\d+)/gm)) {
    if (name !== 'info' && !name!.startsWith('config')) total += Number(calls);
  }
  return total;
}

describe('/metrics and /readyz cost the same at any account count (INFO commandstats, a Redis this test starts)', () => {
  let server: OwnedRedisServer;
  let admin: Redis;
  let h: Harness;

  beforeAll(async () => {
    server = await OwnedRedisServer.start();
    admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    h = await startHarness({ env: { REDIS_URL: server.url, REDIS_KEY_PREFIX: uniquePrefix('scrape') } });
  });
  afterAll(async () => {
    await h?.close();
    admin?.disconnect();
    await server?.stop();
  });

  const accounts = async (from: number, count: number) => {
    const store = h.container.authorizerStore;
    const now = h.clock.now();
    for (let i = from; i < from + count; i++) {
      const appid = `wx${String(i).padStart(16, '0')}`;
      await store.saveAuthorization({
        appid,
        refreshToken: `refreshtoken@@@${i}`,
        accessToken: `token-${i}`,
        expiresIn: 7200,
        funcInfo: [],
        authorizedAt: now,
      });
      if (i % 10 === 3) await store.markReauthorizationRequired(appid, 'test');
      if (i % 10 === 7) await store.markUnauthorized(appid);
    }
  };

  /** Commands one scrape of both endpoints costs (measured on the second scrape: scripts and connections warm). */
  const scrapeCost = async () => {
    const app = createApp(h.container);
    const scrape = async () => {
      await request(app).get('/metrics').expect(200);
      await request(app).get('/readyz');
    };
    await scrape();
    await admin.config('RESETSTAT');
    await scrape();
    const cost = await commandsServed(admin);
    return { cost, metrics: (await request(app).get('/metrics').expect(200)).text };
  };

  it('10 accounts and 2 010 accounts: the same number of Redis commands per scrape, and exact counts', async () => {
    await h.container.tokenService.getComponentAccessToken();
    await accounts(0, 10);
    const small = await scrapeCost();
    expect(small.metrics).toMatch(/wxopen_authorizers\{status="authorized"\} 8\b/);

    await accounts(10, 2000);
    h.clock.advance(HOUR / 2);
    const large = await scrapeCost();
    expect(large.cost).toBe(small.cost);
    expect(large.cost).toBeLessThan(100);
    expect(large.metrics).toMatch(/wxopen_authorizers\{status="authorized"\} 1608\b/);
    expect(large.metrics).toMatch(/wxopen_authorizers\{status="unauthorized"\} 201\b/);
    expect(large.metrics).toMatch(/wxopen_authorizers\{status="reauthorization_required"\} 201\b/);
    const shardSizes = [
      ...large.metrics.matchAll(/^wxopen_authorizer_schedule_accounts\{shard="(\d+)"\} (\d+)$/gm),
    ].map((m) => Number(m[2]));
    expect(shardSizes).toHaveLength(16);
    expect(shardSizes.reduce((a, b) => a + b, 0)).toBe(1608);
  });
});

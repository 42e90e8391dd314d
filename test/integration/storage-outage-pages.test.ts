import request from 'supertest';
import { createApp } from '../../src/app';
import { startHarness, type Harness } from '../support/emulator';
import { OwnedRedisServer } from '../support/redis-server';

/** Issue 11 item 5: with the platform's Redis gone, the admin's pages blame the platform's storage, not WeChat. */
describe("the admin's pages during a storage outage (a Redis this test starts and kills)", () => {
  let redis: OwnedRedisServer;
  let h: Harness;
  let authCode: string;

  beforeAll(async () => {
    redis = await OwnedRedisServer.start();
    h = await startHarness({ env: { REDIS_URL: redis.url } });
    ({ authCode } = await h.emulator.authorize('wx3c5a7e19b2d40f81', { push: false }));
    await redis.stop();
  });
  afterAll(async () => {
    // Back up first, so the service's client closes a live connection (on a dead one, ioredis' disconnect arms a
    // 2 s timer that nothing clears, and the test process lingers).
    await redis.resume();
    await h.container.storage.waitUntilReady(5000);
    await h.close();
    await redis.stop();
  });

  it.each([
    ['GET /authorize', '/authorize'],
    ['GET /auth (the hop to WeChat)', '/auth'],
    [
      'GET /auth?auth_code=… (the redirect back)',
      () => `/auth?auth_code=${encodeURIComponent(authCode)}&expires_in=600`,
    ],
  ])('%s answers 503 with the storage message, zh-CN first', async (_name, path) => {
    const res = await request(createApp(h.container)).get(typeof path === 'string' ? path : path());
    expect(res.status).toBe(503);
    expect(res.type).toBe('text/html');
    const title = /<h1>([^<]*)<\/h1>/.exec(res.text)?.[1] ?? '';
    expect(title).toMatch(/^平台存储暂不可用/);
    // The same page in English for an English browser (catalogues, src/i18n).
    const en = await request(createApp(h.container))
      .get(typeof path === 'string' ? path : path())
      .set('Accept-Language', 'en');
    expect(/<h1>([^<]*)<\/h1>/.exec(en.text)?.[1]).toContain('storage is unavailable');
    expect(res.text).toContain('storage_unavailable');
    expect(res.text).not.toMatch(/WeChat answered|WeChat could not/);
    // Nothing reached WeChat: the failure is ours.
    expect(h.emulator.callLog.count('api_query_auth')).toBe(0);
  });
});

import request from 'supertest';
import { createApp } from '../../src/app';
import { createContainer, type Container } from '../../src/container';
import { waitUntilReady } from '../../src/store/redis';
import { testConfig } from '../support/config';
import { OwnedRedisServer } from '../support/redis-server';

describe('GET /healthz and /readyz', () => {
  let container: Container | undefined;
  afterEach(async () => {
    await container?.close();
    container = undefined;
  });

  it('answers 200 on both with Redis up', async () => {
    container = createContainer(testConfig());
    await waitUntilReady(container.redis, 5000);
    const app = createApp(container);
    await request(app).get('/healthz').expect(200, { status: 'ok' });
    const ready = await request(app).get('/readyz').expect(200);
    expect(ready.body).toEqual({
      status: 'ready',
      store: 'redis',
      checks: {
        redis: { ok: true },
        ticket: { ok: false, age_seconds: null, stale: null },
        component_access_token: { ok: false, expires_in: 0 },
        authorizers: { reauthorization_required: 0 },
      },
      warnings: [
        expect.stringMatching(/^no component_verify_ticket stored/),
        'no valid component_access_token',
        'ready only for the startup grace period: no ticket and no component token yet',
      ],
    });
  });

  it('names the store kind: on in-memory stores it reports memory, and no Redis check at all', async () => {
    container = createContainer(testConfig(), { storage: 'memory' });
    const ready = await request(createApp(container)).get('/readyz').expect(200);
    expect(ready.body.store).toBe('memory');
    expect(ready.body.checks.memory).toEqual({ ok: true });
    expect(ready.body.checks).not.toHaveProperty('redis');
  });

  it('after the startup grace period, answers 503 while there is neither a ticket nor a component token', async () => {
    container = createContainer(testConfig({ READINESS_STARTUP_GRACE_SECONDS: '0' }));
    await waitUntilReady(container.redis, 5000);
    const app = createApp(container);
    const res = await request(app).get('/readyz').expect(503);
    expect(res.body.status).toBe('not_ready');
    await container.ticketStore.save('ticket@@@pushed', container.clock.now());
    await request(app).get('/readyz').expect(200);
  });

  it('stays live but not ready while Redis is unreachable, and recovers when it returns', async () => {
    const server = await OwnedRedisServer.start();
    try {
      container = createContainer(testConfig({ REDIS_URL: server.url }));
      await waitUntilReady(container.redis, 5000);
      const app = createApp(container);
      await request(app).get('/readyz').expect(200);

      await server.stop();
      await request(app).get('/healthz').expect(200);
      const down = await request(app).get('/readyz').expect(503);
      expect(down.body.status).toBe('not_ready');
      expect(down.body.checks.redis.ok).toBe(false);
      expect(down.body.checks.redis.reason).toMatch(/^redis unreachable: /);
      expect(down.body.warnings).toEqual(['Redis is unreachable']);

      await server.resume();
      await waitUntilReady(container.redis, 10_000);
      await request(app).get('/readyz').expect(200);
    } finally {
      await server.stop();
    }
  });

  it('answers 404 JSON with a stable code for unknown routes', async () => {
    container = createContainer(testConfig());
    const res = await request(createApp(container)).get('/nope').expect(404);
    expect(res.body.error.code).toBe('not_found');
    expect(res.headers['x-request-id']).toBeTruthy();
  });

  it('answers people (Accept: text/html) with a 404 page in their language, and /internal/* always with JSON', async () => {
    container = createContainer(testConfig());
    const app = createApp(container);
    const page = await request(app).get('/nope').set('Accept', 'text/html,*/*;q=0.8').expect(404);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('页面不存在');
    const en = await request(app).get('/nope?lang=en').set('Accept', 'text/html').expect(404);
    expect(en.text).toContain('Page not found');
    const internal = await request(app).get('/internal/nope').set('Accept', 'text/html').expect(404);
    expect(internal.headers['content-type']).toMatch(/^application\/json/);
  });

  it('serves a favicon, cached by browsers', async () => {
    container = createContainer(testConfig());
    const res = await request(createApp(container)).get('/favicon.ico').expect(200);
    expect(res.headers['content-type']).toBe('image/x-icon');
    expect(res.headers['cache-control']).toMatch(/public, max-age=\d+/);
    expect(res.body.subarray(0, 4)).toEqual(Buffer.from([0, 0, 1, 0]));
  });
});

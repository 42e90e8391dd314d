import request from 'supertest';
import { createApp } from '../../src/app';
import { createContainer, type Container } from '../../src/container';
import { waitUntilReady } from '../../src/store/redis';
import { testConfig } from '../support/config';
import { captureLogs } from '../support/log-capture';

const SECRET = 'internal-api-secret-0123456789abcdef';
const UNKNOWN = 'wx0123456789abcdef';

/** Request ids, one log line per request, and the response headers of each kind of route. */
describe('request logging and response headers', () => {
  let container: Container;
  let logs: ReturnType<typeof captureLogs>;
  beforeEach(async () => {
    logs = captureLogs('info');
    container = createContainer(testConfig({ INTERNAL_API_TOKEN: SECRET }), { logger: logs.logger });
    await waitUntilReady(container.redis, 5000);
  });
  afterEach(async () => {
    await container.close();
  });
  const completions = () => logs.lines().filter((l) => String(l.msg).startsWith('request '));

  it('logs each request once with its id, method, url and status, and answers the id as X-Request-Id', async () => {
    const res = await request(createApp(container))
      .get(`/internal/authorizers/${UNKNOWN}/access-token`)
      .set('Authorization', `Bearer ${SECRET}`)
      .expect(404);
    const id = res.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(completions()).toEqual([
      expect.objectContaining({
        level: 40,
        msg: 'request completed',
        req: { id, method: 'GET', url: `/internal/authorizers/${UNKNOWN}/access-token` },
        res: { statusCode: 404 },
        responseTime: expect.any(Number),
      }),
    ]);
  });

  it('keeps a well-formed X-Request-Id from the caller and replaces a malformed one', async () => {
    const app = createApp(container);
    expect((await request(app).get('/nope').set('X-Request-Id', 'abc-123.X_y')).headers['x-request-id']).toBe(
      'abc-123.X_y',
    );
    const replaced = (await request(app).get('/nope').set('X-Request-Id', 'has spaces and {braces}')).headers[
      'x-request-id'
    ];
    expect(replaced).toMatch(/^[0-9a-f-]{36}$/);
    expect(completions().map((l) => (l.req as { id: string }).id)).toEqual(['abc-123.X_y', replaced]);
  });

  it('binds req.log to the request: a handler line carries the same req, secret query parameters redacted', async () => {
    const res = await request(createApp(container)).get('/auth?auth_code=not%20a%20code&x=1').expect(400);
    const req = { id: res.headers['x-request-id'], method: 'GET', url: '/auth?auth_code=[redacted]&x=1' };
    expect(logs.lines().filter((l) => (l.req as { id?: string } | undefined)?.id === req.id)).toEqual([
      expect.objectContaining({ level: 40, msg: 'authorization flow refused', req }),
      expect.objectContaining({ level: 40, msg: 'request completed', req, res: { statusCode: 400 } }),
    ]);
    expect(logs.text()).not.toContain('not%20a');
  });

  it('logs 5xx at error level, and does not log probes and scrapes', async () => {
    const app = createApp(container);
    await request(app).get('/healthz').expect(200);
    await request(app).get('/metrics');
    await request(app).get('/readyz');
    expect(completions()).toEqual([]);
    // No ticket was ever stored: the component token cannot be fetched (503).
    await request(app).get('/internal/component-access-token').set('Authorization', `Bearer ${SECRET}`).expect(503);
    expect(completions()).toEqual([
      expect.objectContaining({ level: 50, msg: 'request errored', res: { statusCode: 503 } }),
    ]);
    expect(completions()[0]).not.toHaveProperty('err'); // the real error is logged once, by the error handler
  });

  it('answers the internal API never-cache, no-sniff, no-frame headers (401s too), and no document headers', async () => {
    const app = createApp(container);
    for (const res of [
      await request(app)
        .get(`/internal/authorizers/${UNKNOWN}/access-token`)
        .set('Authorization', `Bearer ${SECRET}`)
        .expect(404),
      await request(app).get(`/internal/authorizers/${UNKNOWN}/access-token`).expect(401),
    ]) {
      expect(res.headers).toMatchObject({
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
      });
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['cross-origin-opener-policy']).toBeUndefined();
    }
  });

  it('answers pages and other routes helmet headers', async () => {
    const res = await request(createApp(container)).get('/authorize').expect(200);
    expect(res.headers['content-security-policy']).toContain('form-action');
    expect(res.headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'origin',
      'x-frame-options': 'SAMEORIGIN',
    });
    expect((await request(createApp(container)).get('/healthz')).headers['x-content-type-options']).toBe('nosniff');
  });
});

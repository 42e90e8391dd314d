import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createApp } from '../../src/app';
import type { Container } from '../../src/container';
import { generateAccounts } from '../../src/sandbox/emulator';
import { captureLogs } from '../support/log-capture';
import { startHarness, type Harness } from '../support/emulator';
import { keysUnder } from '../support/redis';

const SECRET = 'internal-api-secret-0123456789abcdef';
const HOUR = 3600_000;
const MINUTE = 60_000;
/** Well-formed, never authorized. */
const UNKNOWN = 'wx0123456789abcdef';

async function listen(container: Container): Promise<{ server: Server; url: string }> {
  const server = createApp(container).listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Every internal endpoint, called the way a client would (valid appid, valid body). */
const ENDPOINTS = (appid: string) =>
  [
    { method: 'get', path: '/internal/component-access-token' },
    { method: 'get', path: '/internal/authorizers' },
    { method: 'get', path: `/internal/authorizers/${appid}/access-token` },
    {
      method: 'post',
      path: `/internal/authorizers/${appid}/access-token/invalidate`,
      body: { authorizer_access_token: 'stale' },
    },
    { method: 'post', path: '/internal/recover' },
  ] as const;

describe('internal API (/internal/*, bearer INTERNAL_API_TOKEN)', () => {
  let h: Harness;
  let service: { server: Server; url: string };
  let logs: ReturnType<typeof captureLogs>;
  let A: string;
  let B: string;

  beforeEach(async () => {
    logs = captureLogs('info');
    const accounts = generateAccounts(3);
    [A, B] = accounts.map((a) => a.appid) as [string, string];
    h = await startHarness({
      env: { INTERNAL_API_TOKEN: SECRET },
      emulator: { accounts },
      container: { logger: logs.logger },
    });
    service = await listen(h.container);
  });
  afterEach(async () => {
    expect(logs.text()).not.toContain(SECRET);
    await new Promise((r) => service.server.close(r));
    await h.close();
  });

  const api = () => request(service.url);
  const authed = (method: 'get' | 'post', path: string) => api()[method](path).set('Authorization', `Bearer ${SECRET}`);
  const calls = (endpoint: string) => h.emulator.callLog.count(endpoint);
  const storedKeys = () => keysUnder(h.container.redis, h.container.config.redis.keyPrefix);

  describe('authentication', () => {
    it.each([
      ['no Authorization header', undefined],
      ['a wrong bearer', `Bearer ${SECRET.slice(0, -1)}x`],
      ['a prefix of the bearer', `Bearer ${SECRET.slice(0, 16)}`],
      ['the bearer with another scheme', `Basic ${SECRET}`],
      ['an empty bearer', 'Bearer '],
    ])('answers 401 with code "unauthorized" to %s on every endpoint, and writes nothing', async (_label, header) => {
      await h.authorize(A);
      const before = await storedKeys();
      for (const endpoint of ENDPOINTS(A)) {
        let req = api()[endpoint.method](endpoint.path);
        if (header !== undefined) req = req.set('Authorization', header);
        const res = await ('body' in endpoint ? req.send(endpoint.body) : req);
        expect([endpoint.path, res.status]).toEqual([endpoint.path, 401]);
        expect(res.body.error.code).toBe('unauthorized');
        expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
      }
      expect(await storedKeys()).toEqual(before);
      expect(calls('api_authorizer_token') + calls('api_get_authorizer_list')).toBe(0);
    });

    it('answers unknown /internal paths 401 without the bearer (nothing revealed) and 404 with it', async () => {
      await api().get('/internal/nothing-here').expect(401);
      const res = await authed('get', '/internal/nothing-here').expect(404);
      expect(res.body.error.code).toBe('not_found');
    });

    it('serves every endpoint with the right bearer', async () => {
      await h.authorize(A);
      const token = await h.container.redis.get(h.container.keys.authorizerAccessToken(A));
      for (const endpoint of ENDPOINTS(A)) {
        const req = authed(endpoint.method, endpoint.path);
        const res = await ('body' in endpoint ? req.send({ authorizer_access_token: token }) : req);
        expect([endpoint.path, res.status]).toEqual([endpoint.path, 200]);
      }
    });
  });

  it('answers 404 for the whole /internal tree when INTERNAL_API_TOKEN is unset, even with a bearer', async () => {
    const disabled = await startHarness({ emulator: { accounts: generateAccounts(3) } });
    const other = await listen(disabled.container);
    try {
      await disabled.authorize(A);
      for (const endpoint of ENDPOINTS(A)) {
        const req = request(other.url)[endpoint.method](endpoint.path).set('Authorization', `Bearer ${SECRET}`);
        const res = await ('body' in endpoint ? req.send(endpoint.body) : req);
        expect([endpoint.path, res.status, res.body.error?.code]).toEqual([endpoint.path, 404, 'not_found']);
      }
      expect(disabled.emulator.callLog.count('api_get_authorizer_list')).toBe(0);
    } finally {
      await new Promise((r) => other.server.close(r));
      await disabled.close();
    }
  });

  describe('GET /internal/component-access-token', () => {
    it('returns a token WeChat accepts, and the seconds it has left', async () => {
      const res = await authed('get', '/internal/component-access-token').expect(200);
      expect(Object.keys(res.body).sort()).toEqual(['component_access_token', 'expires_in']);
      expect(h.emulator.tokenStatus(res.body.component_access_token)).toBe('valid');
      expect(res.body.expires_in).toBeGreaterThan(7100);
      expect(res.body.expires_in).toBeLessThanOrEqual(7200);
      expect(res.body.component_access_token).toBe(await h.container.redis.get(h.container.keys.componentAccessToken));
    });

    it('answers 503 ticket_missing when no ticket was ever pushed', async () => {
      const noTicket = await startHarness({ env: { INTERNAL_API_TOKEN: SECRET }, withTicket: false });
      try {
        const res = await request(createApp(noTicket.container))
          .get('/internal/component-access-token')
          .set('Authorization', `Bearer ${SECRET}`)
          .expect(503);
        expect(res.body.error.code).toBe('ticket_missing');
      } finally {
        await noTicket.close();
      }
    });
  });

  describe('GET /internal/authorizers', () => {
    it('lists every stored account with its status, authorization time and token lifetime', async () => {
      const before = h.clock.now();
      await h.authorize(A);
      await h.authorize(B);
      await h.container.authorizerStore.markUnauthorized(B);
      const res = await authed('get', '/internal/authorizers').expect(200);
      const byAppid = Object.fromEntries(
        res.body.authorizers.map((a: { authorizer_appid: string }) => [a.authorizer_appid, a]),
      );
      expect(Object.keys(byAppid).sort()).toEqual([A, B].sort());
      expect(byAppid[A]).toEqual({
        authorizer_appid: A,
        status: 'authorized',
        authorized_at: expect.any(String),
        access_token_expires_in: expect.any(Number),
      });
      expect(Date.parse(byAppid[A].authorized_at)).toBeGreaterThanOrEqual(before - 1000);
      expect(byAppid[A].access_token_expires_in).toBeGreaterThan(7000);
      expect(byAppid[B]).toMatchObject({ status: 'unauthorized', access_token_expires_in: null });
    });

    it('answers an empty list before any authorization', async () => {
      await authed('get', '/internal/authorizers').expect(200, { authorizers: [] });
    });
  });

  describe('GET /internal/authorizers/:appid/access-token', () => {
    it("returns the account's current token (from the cache: no WeChat call)", async () => {
      await h.authorize(A);
      const res = await authed('get', `/internal/authorizers/${A}/access-token`).expect(200);
      expect(res.body).toEqual({
        authorizer_appid: A,
        authorizer_access_token: expect.any(String),
        expires_in: expect.any(Number),
      });
      expect(h.emulator.tokenStatus(res.body.authorizer_access_token)).toBe('valid');
      expect(calls('api_authorizer_token')).toBe(0);
    });

    it('answers JSON with its length, never cached; HEAD gets the same headers and no body', async () => {
      await h.authorize(A);
      const res = await authed('get', `/internal/authorizers/${A}/access-token`).expect(200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers.etag).toBeUndefined();
      const head = await api()
        .head(`/internal/authorizers/${A}/access-token`)
        .set('Authorization', `Bearer ${SECRET}`)
        .expect(200);
      expect(head.headers['content-length']).toBe(res.headers['content-length']);
      expect(head.text ?? '').toBe('');
    });

    it('answers a token inside the margin at once, refreshes it behind the answer, and answers an expired one after the refresh', async () => {
      await h.authorize(A);
      const first = (await authed('get', `/internal/authorizers/${A}/access-token`)).body.authorizer_access_token;
      h.clock.advance(2 * HOUR - 10 * MINUTE);
      const cached = await authed('get', `/internal/authorizers/${A}/access-token`).expect(200);
      expect(cached.body.authorizer_access_token).toBe(first);
      expect(cached.body.expires_in).toBeLessThanOrEqual(600); // inside the 15-minute margin
      await h.container.tokenService.idle();
      expect(calls('api_authorizer_token')).toBe(1);
      h.clock.advance(2 * HOUR + MINUTE);
      const res = await authed('get', `/internal/authorizers/${A}/access-token`).expect(200);
      expect(res.body.authorizer_access_token).not.toBe(first);
      expect(res.body.expires_in).toBeGreaterThan(7100);
      expect(calls('api_authorizer_token')).toBe(2);
    });

    it('answers 404 authorizer_not_found for an unknown account', async () => {
      const res = await authed('get', `/internal/authorizers/${UNKNOWN}/access-token`).expect(404);
      expect(res.body.error).toMatchObject({ code: 'authorizer_not_found', message: expect.stringContaining(UNKNOWN) });
    });

    it.each([
      'abc',
      'wx123',
      'wx0123456789abcdef0',
      'wx{0123456789abcd}',
      'wx0123456789abcde%7D',
      'wx01234567-9abcdef',
    ])('answers 400 to the malformed appid %p and writes nothing', async (appid) => {
      const before = await storedKeys();
      const res = await authed('get', `/internal/authorizers/${appid}/access-token`).expect(400);
      expect(res.body.error.code).toBe('bad_request');
      expect(await storedKeys()).toEqual(before);
    });

    it('answers 409 with status "unauthorized" for a revoked account', async () => {
      await h.authorize(A);
      await h.container.authorizerStore.markUnauthorized(A);
      const res = await authed('get', `/internal/authorizers/${A}/access-token`).expect(409);
      expect(res.body.error).toMatchObject({ code: 'authorizer_not_authorized', status: 'unauthorized' });
      expect(calls('api_authorizer_token')).toBe(0);
    });

    it('answers 409 with status "reauthorization_required" once WeChat refused the refresh token (61023)', async () => {
      await h.authorize(A);
      await h.emulator.revoke(A, { push: false });
      h.clock.advance(2 * HOUR + MINUTE);
      const first = await authed('get', `/internal/authorizers/${A}/access-token`).expect(409);
      expect(first.body.error).toMatchObject({ code: 'authorizer_not_authorized', status: 'reauthorization_required' });
      const again = await authed('get', `/internal/authorizers/${A}/access-token`).expect(409);
      expect(again.body.error.status).toBe('reauthorization_required');
      expect(calls('api_authorizer_token')).toBe(1);
    });
  });

  describe('POST /internal/authorizers/:appid/access-token/invalidate', () => {
    const invalidate = (appid: string) => authed('post', `/internal/authorizers/${appid}/access-token/invalidate`);

    it('50 concurrent reports of the same rejected token cause exactly one refresh, and all get the new token', async () => {
      await h.authorize(A);
      const stale = (await h.container.redis.get(h.container.keys.authorizerAccessToken(A)))!;
      h.emulator.invalidateToken(stale); // WeChat answers 40001 to it from now on
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => invalidate(A).send({ authorizer_access_token: stale })),
      );
      expect(answers.map((r) => r.status)).toEqual(Array(50).fill(200));
      const tokens = new Set(answers.map((r) => r.body.authorizer_access_token));
      expect(tokens.size).toBe(1);
      const [fresh] = [...tokens];
      expect(fresh).not.toBe(stale);
      expect(h.emulator.tokenStatus(fresh)).toBe('valid');
      expect(calls('api_authorizer_token')).toBe(1);
      expect(await h.container.redis.get(h.container.keys.authorizerAccessToken(A))).toBe(fresh);
      expect(answers[0]!.body).toEqual({
        authorizer_appid: A,
        authorizer_access_token: fresh,
        expires_in: expect.any(Number),
      });
    });

    it('a late report of an already replaced token changes nothing and returns the current token', async () => {
      await h.authorize(A);
      const stale = (await h.container.redis.get(h.container.keys.authorizerAccessToken(A)))!;
      const fresh = (await invalidate(A).send({ authorizer_access_token: stale }).expect(200)).body
        .authorizer_access_token;
      const late = await invalidate(A).send({ authorizer_access_token: stale }).expect(200);
      expect(late.body.authorizer_access_token).toBe(fresh);
      const unrelated = await invalidate(A).send({ authorizer_access_token: 'never-issued' }).expect(200);
      expect(unrelated.body.authorizer_access_token).toBe(fresh);
      expect(calls('api_authorizer_token')).toBe(1);
    });

    it.each([
      ['no body', undefined],
      ['an empty object', {}],
      ['a number', { authorizer_access_token: 42 }],
      ['an empty string', { authorizer_access_token: '' }],
      ['an array', { authorizer_access_token: ['x'] }],
    ])('answers 400 to %s, writes nothing and calls nobody', async (_label, body) => {
      await h.authorize(A);
      const before = await storedKeys();
      const req = invalidate(A);
      const res = await (body === undefined ? req : req.send(body)).expect(400);
      expect(res.body.error).toMatchObject({
        code: 'bad_request',
        message: expect.stringContaining('authorizer_access_token'),
      });
      expect(await storedKeys()).toEqual(before);
      expect(calls('api_authorizer_token')).toBe(0);
    });

    it('answers 400 to a body that is not JSON', async () => {
      await h.authorize(A);
      const res = await invalidate(A)
        .set('Content-Type', 'application/json')
        .send('{"authorizer_access_token":')
        .expect(400);
      expect(res.body.error.code).toBe('bad_request');
      expect(calls('api_authorizer_token')).toBe(0);
    });

    it('answers 404 for an unknown account and 409 for a revoked one', async () => {
      await invalidate(UNKNOWN).send({ authorizer_access_token: 'x' }).expect(404);
      await h.authorize(A);
      await h.container.authorizerStore.markUnauthorized(A);
      const res = await invalidate(A).send({ authorizer_access_token: 'x' }).expect(409);
      expect(res.body.error.status).toBe('unauthorized');
      expect(calls('api_authorizer_token')).toBe(0);
    });
  });

  describe('POST /internal/recover', () => {
    it('returns the counts; with nothing lost it restores nothing', async () => {
      await h.authorize(A);
      await h.authorize(B);
      const res = await authed('post', '/internal/recover').expect(200);
      expect(res.body).toEqual({ listed: 2, restored: 0, verified: 0, still_failing: 0, failures: [] });
      expect(calls('api_get_authorizer_list')).toBe(1);
      expect(calls('api_authorizer_token')).toBe(0);
    });

    it('answers 409 recovery_in_progress while another run holds the recovery lock', async () => {
      const lease = await h.container.locks.tryAcquire(h.container.keys.lock('recovery'), 60_000);
      try {
        const res = await authed('post', '/internal/recover').expect(409);
        expect(res.body.error.code).toBe('recovery_in_progress');
        expect(calls('api_get_authorizer_list')).toBe(0);
      } finally {
        await lease?.release();
      }
    });
  });
});

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { register as globalRegistry } from 'prom-client';
import request from 'supertest';
import { createApp } from '../../src/app';
import { createContainer, type Container } from '../../src/container';
import { waitUntilReady } from '../../src/store/redis';
import { generateAccounts } from '../../src/sandbox/emulator';
import { testConfig } from '../support/config';
import { startHarness, type Harness } from '../support/emulator';
import { OwnedRedisServer } from '../support/redis-server';
import { randomTicket, signedPush, ticketPayload } from '../support/push';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

type Labels = Record<string, string>;

/** The value of one sample of the Prometheus text format, or undefined when it is absent. */
function sample(text: string, name: string, labels: Labels = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found: Labels = {};
    for (const [, key, value] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found[key!] = value!;
    const wanted = Object.entries(labels);
    if (wanted.length === Object.keys(found).length && wanted.every(([k, v]) => found[k] === v))
      return parseValue(m[3]!);
  }
  return undefined;
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

async function listen(container: Container): Promise<{ server: Server; url: string }> {
  const server = createApp(container).listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('GET /metrics (prom-client, one registry per container)', () => {
  let h: Harness;
  let service: { server: Server; url: string };
  const accounts = generateAccounts(3);
  const [A, B, C] = accounts.map((a) => a.appid) as [string, string, string];

  beforeEach(async () => {
    h = await startHarness({ emulator: { accounts }, container: { tokenLock: { lockTtlMs: 10_000, waitMs: 150 } } });
    service = await listen(h.container);
    h.emulator.setPushUrl(`${service.url}/auth`);
  });
  afterEach(async () => {
    await new Promise((r) => service.server.close(r));
    await h.close();
  });
  const scrape = async () => (await request(service.url).get('/metrics').expect(200)).text;

  it('is public, in the Prometheus text format, with the default process metrics, and holds no token or appid', async () => {
    await h.authorize(A);
    const res = await request(service.url).get('/metrics').expect(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(sample(res.text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sample(res.text, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(sample(res.text, 'wxopen_redis_up')).toBe(1);
    const token = (await h.container.redis.get(h.container.keys.authorizerAccessToken(A)))!;
    expect(res.text).not.toContain(token);
    expect(res.text).not.toContain(A);
    expect(res.text).not.toContain(h.emulator.currentTicket()!);
  });

  it('counts pushes by InfoType and outcome', async () => {
    const before = await scrape();
    expect(
      sample(before, 'wxopen_pushes_total', { info_type: 'component_verify_ticket', outcome: 'handled' }),
    ).toBeUndefined();

    expect(await h.emulator.pushTicket()).toMatchObject({ delivered: true });
    expect((await h.emulator.authorize(A)).push).toMatchObject({ delivered: true }); // an `authorized` push
    const push = signedPush(ticketPayload(randomTicket()));
    await request(service.url).post(push.path).set('Content-Type', 'text/xml').send(push.body).expect(200);
    await request(service.url).post(push.path).set('Content-Type', 'text/xml').send(push.body).expect(200); // WeChat's retry
    const badSignature = push.path.replace(/msg_signature=[^&]+/, 'msg_signature=0000');
    await request(service.url).post(badSignature).set('Content-Type', 'text/xml').send(push.body).expect(401);

    const after = await scrape();
    expect(sample(after, 'wxopen_pushes_total', { info_type: 'component_verify_ticket', outcome: 'handled' })).toBe(2);
    expect(sample(after, 'wxopen_pushes_total', { info_type: 'component_verify_ticket', outcome: 'duplicate' })).toBe(
      1,
    );
    expect(sample(after, 'wxopen_pushes_total', { info_type: 'unparsed', outcome: 'rejected' })).toBe(1);
    expect(sample(after, 'wxopen_pushes_total', { info_type: 'authorized', outcome: 'handled' })).toBe(1);
  });

  it('counts refreshes by kind and outcome, WeChat calls by api and errcode with latency, and lock waits', async () => {
    await h.container.tokenService.getComponentAccessToken();
    let text = await scrape();
    expect(sample(text, 'wxopen_token_refreshes_total', { kind: 'component', outcome: 'ok' })).toBe(1);
    expect(sample(text, 'wxopen_wechat_api_calls_total', { api: 'api_component_token', errcode: '0' })).toBe(1);
    expect(sample(text, 'wxopen_wechat_api_call_duration_seconds_count', { api: 'api_component_token' })).toBe(1);
    expect(sample(text, 'wxopen_wechat_api_call_duration_seconds_sum', { api: 'api_component_token' })).toBeGreaterThan(
      0,
    );
    expect(sample(text, 'wxopen_token_lock_wait_seconds_count', { kind: 'component', outcome: 'acquired' })).toBe(1);

    await h.authorize(A);
    await h.authorize(B);
    h.clock.advance(2 * HOUR + MINUTE); // expired: reads wait for their refreshes
    await h.container.tokenService.getAuthorizerAccessToken(A);
    h.emulator.faults.set('api_authorizer_token', { errcode: 61023, times: 1 });
    await expect(h.container.tokenService.getAuthorizerAccessToken(B)).rejects.toMatchObject({
      status: 'reauthorization_required',
    });

    text = await scrape();
    expect(sample(text, 'wxopen_token_refreshes_total', { kind: 'component', outcome: 'ok' })).toBe(2);
    expect(sample(text, 'wxopen_token_refreshes_total', { kind: 'authorizer', outcome: 'ok' })).toBe(1);
    expect(
      sample(text, 'wxopen_token_refreshes_total', { kind: 'authorizer', outcome: 'reauthorization_required' }),
    ).toBe(1);
    expect(sample(text, 'wxopen_wechat_api_calls_total', { api: 'api_authorizer_token', errcode: '0' })).toBe(1);
    expect(sample(text, 'wxopen_wechat_api_calls_total', { api: 'api_authorizer_token', errcode: '61023' })).toBe(1);
    expect(sample(text, 'wxopen_reauthorizations_required_total', { errcode: '61023' })).toBe(1);
  });

  it('counts WeChat answers that are not usable as errcode "none", and failed refreshes', async () => {
    h.emulator.faults.set('api_component_token', { httpStatus: 502 });
    await expect(h.container.tokenService.getComponentAccessToken()).rejects.toMatchObject({
      code: 'wechat_unavailable',
    });
    const text = await scrape();
    expect(sample(text, 'wxopen_wechat_api_calls_total', { api: 'api_component_token', errcode: 'none' })).toBe(1);
    expect(sample(text, 'wxopen_token_refreshes_total', { kind: 'component', outcome: 'failed' })).toBe(1);
  });

  it('records a refresh-lock wait that timed out', async () => {
    const lease = await h.container.locks.tryAcquire(h.container.keys.componentTokenLock, 10_000);
    try {
      await expect(h.container.tokenService.getComponentAccessToken()).rejects.toMatchObject({ code: 'lock_timeout' });
    } finally {
      await lease!.release();
    }
    const text = await scrape();
    expect(sample(text, 'wxopen_token_lock_wait_seconds_count', { kind: 'component', outcome: 'timeout' })).toBe(1);
    expect(
      sample(text, 'wxopen_token_lock_wait_seconds_sum', { kind: 'component', outcome: 'timeout' }),
    ).toBeGreaterThanOrEqual(0.14);
    expect(sample(text, 'wxopen_token_refreshes_total', { kind: 'component', outcome: 'ok' })).toBeUndefined();
  });

  it('computes the state gauges from Redis at scrape time', async () => {
    await h.container.redis.del(h.container.keys.componentVerifyTicket);
    let text = await scrape();
    expect(sample(text, 'wxopen_component_verify_ticket_age_seconds')).toBe(Infinity);
    expect(sample(text, 'wxopen_component_access_token_ttl_seconds')).toBe(0);
    expect(sample(text, 'wxopen_authorizer_access_token_min_ttl_seconds')).toBe(Infinity);
    expect(sample(text, 'wxopen_authorizers', { status: 'authorized' })).toBe(0);

    await h.seedTicket();
    expect(sample(await scrape(), 'wxopen_component_verify_ticket_age_seconds')).toBeLessThan(5);

    await h.container.tokenService.getComponentAccessToken();
    await h.authorize(A);
    h.clock.advance(5 * MINUTE);
    await h.authorize(B);
    await h.authorize(C);
    await h.container.authorizerStore.markUnauthorized(C);
    await h.container.authorizerStore.markReauthorizationRequired(B, 'test');

    text = await scrape();
    // The clock follows real time plus the 5 minutes: the age is 300 s plus the seconds the test took.
    const ticketAge = sample(text, 'wxopen_component_verify_ticket_age_seconds')!;
    expect(ticketAge).toBeGreaterThanOrEqual(300);
    expect(ticketAge).toBeLessThan(305);
    const componentTtl = sample(text, 'wxopen_component_access_token_ttl_seconds')!;
    expect(componentTtl).toBeGreaterThan(7200 - 300 - 5);
    expect(componentTtl).toBeLessThanOrEqual(7200 - 300);
    // A's token is the older one: five minutes closer to expiry.
    const lowest = sample(text, 'wxopen_authorizer_access_token_min_ttl_seconds')!;
    expect(lowest).toBeGreaterThan(7200 - 300 - 5);
    expect(lowest).toBeLessThanOrEqual(7200 - 300);
    expect(sample(text, 'wxopen_authorizers', { status: 'authorized' })).toBe(1);
    expect(sample(text, 'wxopen_authorizers', { status: 'unauthorized' })).toBe(1);
    expect(sample(text, 'wxopen_authorizers', { status: 'reauthorization_required' })).toBe(1);
  });

  it('still answers while Redis is down: redis_up 0 and unknown (NaN) state, never a stale value', async () => {
    const server = await OwnedRedisServer.start();
    const container = createContainer(testConfig({ REDIS_URL: server.url }));
    try {
      await waitUntilReady(container.redis, 5000);
      const app = createApp(container);
      await container.ticketStore.save('ticket@@@before-the-outage', container.clock.now());
      expect(
        sample((await request(app).get('/metrics').expect(200)).text, 'wxopen_component_verify_ticket_age_seconds'),
      ).toBeLessThan(5);
      await server.stop();
      const text = (await request(app).get('/metrics').expect(200)).text;
      expect(sample(text, 'wxopen_redis_up')).toBe(0);
      expect(sample(text, 'wxopen_component_verify_ticket_age_seconds')).toBeNaN();
      expect(sample(text, 'wxopen_component_access_token_ttl_seconds')).toBeNaN();
      expect(sample(text, 'wxopen_authorizers', { status: 'authorized' })).toBeUndefined();
      expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    } finally {
      await container.close();
      await server.stop();
    }
  });

  it('keeps the counts of two containers in one process apart, and never touches the global registry', async () => {
    const other = await startHarness();
    try {
      expect(await h.emulator.pushTicket()).toMatchObject({ delivered: true });
      const mine = await scrape();
      const theirs = (await request(createApp(other.container)).get('/metrics').expect(200)).text;
      expect(sample(mine, 'wxopen_pushes_total', { info_type: 'component_verify_ticket', outcome: 'handled' })).toBe(1);
      expect(
        sample(theirs, 'wxopen_pushes_total', { info_type: 'component_verify_ticket', outcome: 'handled' }),
      ).toBeUndefined();
      // Process metrics are shared objects: both registries show them.
      expect(sample(theirs, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
      expect(globalRegistry.getSingleMetric('wxopen_pushes_total')).toBeUndefined();
      expect(globalRegistry.getSingleMetric('process_cpu_user_seconds_total')).toBeUndefined();
    } finally {
      await other.close();
    }
  });
});

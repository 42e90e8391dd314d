import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createApp, createInternalApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createContainer, type Container } from '../../src/container';
import { testEnv } from '../support/config';
import { startHarness, type Harness } from '../support/emulator';
import { waitUntilReady } from '../../src/store/redis';
import { eventually } from '../support/eventually';
import { captureLogs } from '../support/log-capture';
import { ServiceProcess } from '../support/service-process';
import { collect, exitOf, spawnTs } from '../support/spawn';

const BILLING = 'billing-secret-0123456789abcdef0123456789';
const CRM = 'crm-secret-0123456789abcdef0123456789abcd';

async function listen(
  app: ReturnType<typeof createApp>,
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** One HTTP request on its own connection (no keep-alive), so a server closing between requests is never a reset. */
function get(url: string, bearer?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { agent: false, headers: bearer ? { authorization: `Bearer ${bearer}` } : {} },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('INTERNAL_PORT: the internal surfaces on their own listener', () => {
  let h: Harness;
  let publicSide: Awaited<ReturnType<typeof listen>>;
  let internalSide: Awaited<ReturnType<typeof listen>>;

  beforeAll(async () => {
    h = await startHarness({ env: { INTERNAL_PORT: '3001', INTERNAL_API_TOKENS: `billing:${BILLING}` } });
    publicSide = await listen(createApp(h.container));
    internalSide = await listen(createInternalApp(h.container));
  });
  afterAll(async () => {
    await publicSide.close();
    await internalSide.close();
    await h.close();
  });

  it('the public port answers 404 for /internal/* (with a valid bearer) and /metrics', async () => {
    for (const path of [
      '/internal/component-access-token',
      '/internal/authorizers',
      '/internal/anything',
      '/metrics',
    ]) {
      expect([path, await get(`${publicSide.url}${path}`, BILLING)]).toEqual([path, 404]);
    }
  });

  it('the public port still serves /auth, /authorize, the message URL, /healthz and /readyz', async () => {
    expect(await get(`${publicSide.url}/healthz`)).toBe(200);
    expect(await get(`${publicSide.url}/readyz`)).toBe(200);
    expect(await get(`${publicSide.url}/authorize`)).toBe(200);
    expect(await get(`${publicSide.url}/auth`)).not.toBe(404); // the admin's redirect without a code: 400
    const message = await fetch(`${publicSide.url}/wx3c5a7e19b2d40f81/callback`, { method: 'POST', body: '<xml/>' });
    expect(message.status).not.toBe(404); // WeChat's message URL (unsigned here: refused, but routed)
    const onInternal = await fetch(`${internalSide.url}/wx3c5a7e19b2d40f81/callback`, {
      method: 'POST',
      body: '<xml/>',
    });
    expect(onInternal.status).toBe(404);
  });

  it('the internal port serves the internal API and /metrics, and not the public pages', async () => {
    expect(await get(`${internalSide.url}/internal/component-access-token`, BILLING)).toBe(200);
    expect(await get(`${internalSide.url}/internal/component-access-token`)).toBe(401);
    expect(await get(`${internalSide.url}/metrics`)).toBe(200);
    expect(await get(`${internalSide.url}/healthz`)).toBe(200);
    expect(await get(`${internalSide.url}/authorize`)).toBe(404);
  });

  it('the real process (src/main.ts) with INTERNAL_PORT: /metrics and /internal/* are 404 on PORT and served on INTERNAL_PORT', async () => {
    const service = await ServiceProcess.start(
      testEnv({ INTERNAL_API_TOKENS: `billing:${BILLING}`, WECHAT_API_BASE_URL: h.emulatorUrl }),
      { internalPort: true },
    );
    try {
      for (const url of [service.url, service.internalUrl]) {
        await eventually(() => fetch(`${url}/healthz`).then((r) => r.ok), {
          timeoutMs: 20_000,
          what: `the listener ${url}`,
        });
      }
      expect(await get(`${service.url}/metrics`)).toBe(404);
      expect(await get(`${service.url}/internal/authorizers`, BILLING)).toBe(404);
      expect(await get(`${service.internalUrl}/metrics`)).toBe(200);
      expect(await get(`${service.internalUrl}/internal/authorizers`, BILLING)).toBe(200);
    } finally {
      await service.kill('SIGTERM');
    }
  });
});

describe('INTERNAL_API_TOKENS: named clients, rotation', () => {
  let h: Harness;
  const logs = captureLogs('info');
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  /** A replica of the service with its own credentials, sharing the harness's Redis prefix and emulator. */
  interface Replica {
    container: Container;
    url: string;
    /** Requests routed to it and not answered yet (what a load balancer drains before the replica stops). */
    inFlight: number;
    close(): Promise<void>;
  }
  async function replica(tokens: string): Promise<Replica> {
    const config = loadConfig(
      testEnv({
        REDIS_KEY_PREFIX: h.config.redis.keyPrefix,
        WECHAT_API_BASE_URL: h.emulatorUrl,
        INTERNAL_API_TOKENS: tokens,
      }),
    );
    const container = createContainer(config, { clock: h.clock, logger: logs.logger });
    // Routed only once ready, as an orchestrator does (/readyz).
    expect(await waitUntilReady(container.redis, 5000)).toBe(true);
    const side = await listen(createApp(container));
    return { container, url: side.url, inFlight: 0, close: async () => (await side.close(), await container.close()) };
  }

  it('accepts every listed secret; the log line and the metrics name the client, never the secret', async () => {
    const r = await replica(`billing:${BILLING},crm:${CRM}`);
    try {
      expect(await get(`${r.url}/internal/component-access-token`, BILLING)).toBe(200);
      expect(await get(`${r.url}/internal/component-access-token`, CRM)).toBe(200);
      expect(await get(`${r.url}/internal/component-access-token`, `${CRM}x`)).toBe(401);
      const lines = logs
        .lines()
        .filter(
          (l) => l.msg === 'request completed' && String((l.req as { url?: string })?.url).startsWith('/internal/'),
        );
      expect(lines.map((l) => [l.client, (l.res as { statusCode: number }).statusCode])).toEqual([
        ['billing', 200],
        ['crm', 200],
        [undefined, 401],
      ]);
      expect(logs.text()).not.toContain(BILLING);
      expect(logs.text()).not.toContain(CRM);
      const metrics = await r.container.metrics.render();
      expect(metrics).toMatch(/^wxopen_internal_api_requests_total\{client="billing"\} 1$/m);
      expect(metrics).toMatch(/^wxopen_internal_api_requests_total\{client="crm"\} 1$/m);
      expect(metrics).toMatch(/^wxopen_internal_api_requests_total\{client="none"\} 1$/m);
      expect(metrics).not.toContain(BILLING);
    } finally {
      await r.close();
    }
  });

  it('a rolling rotation under load (old → old+new → new) fails no request', async () => {
    const OLD = 'rotation-old-secret-0123456789abcdef01';
    const NEW = 'rotation-new-secret-0123456789abcdef01';
    let target = await replica(`billing:${OLD}`);
    let secret = OLD;
    const statuses: number[] = [];
    const TOTAL = 160;
    let sent = 0;
    const client = async () => {
      while (sent < TOTAL) {
        sent += 1;
        const routed = target;
        routed.inFlight += 1;
        statuses.push(await get(`${routed.url}/internal/component-access-token`, secret).catch(() => -1));
        routed.inFlight -= 1;
      }
    };
    const load = Promise.all(Array.from({ length: 4 }, client));
    const swap = async (tokens: string) => {
      const previous = target;
      target = await replica(tokens); // new requests go to the new replica; the old one is drained, then stopped
      await eventually(() => previous.inFlight === 0, { what: 'the old replica drained' });
      await previous.close();
    };
    await eventually(() => sent >= 40, { what: '40 requests on the old secret' });
    await swap(`billing:${OLD},billing:${NEW}`);
    await eventually(() => sent >= 80, { what: '80 requests' });
    secret = NEW; // the clients move to the new secret
    await eventually(() => sent >= 120, { what: '120 requests' });
    await swap(`billing:${NEW}`);
    await load;
    expect(statuses).toHaveLength(TOTAL);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(await get(`${target.url}/internal/component-access-token`, OLD)).toBe(401);
    await target.close();
  });
});

describe('bad webhook configuration stops the start', () => {
  it('one line per problem: a non-URL, an http:// non-loopback URL, a missing secret', async () => {
    const child = spawnTs(
      'src/main.ts',
      testEnv({ WEBHOOK_URLS: 'not a url,http://hooks.example.com/wx,https://ok.example.com/wx' }),
    );
    const output = collect(child);
    expect(await exitOf(child)).toBe(1);
    expect(output.stderr().trim().split('\n')).toEqual([
      'config error: WEBHOOK_URLS: "not a url" is not a URL',
      'config error: WEBHOOK_URLS: http://hooks.example.com: http:// is allowed only for a loopback host; use https://',
      'config error: WEBHOOK_SECRET: is required when WEBHOOK_URLS is set',
    ]);
  });

  it('INTERNAL_API_TOKENS secrets shorter than 32 characters are refused, without quoting them', async () => {
    const child = spawnTs(
      'src/main.ts',
      testEnv({ INTERNAL_API_TOKENS: 'billing:short-secret', INTERNAL_API_TOKEN: 'sixteen-chars-ok' }),
    );
    const output = collect(child);
    expect(await exitOf(child)).toBe(1);
    expect(output.stderr().trim().split('\n').sort()).toEqual(
      [
        'config error: INTERNAL_API_TOKENS: entry 1 ("billing"): the secret must be at least 32 characters',
        'config error: INTERNAL_API_TOKEN: must be at least 32 characters when set',
      ].sort(),
    );
    expect(output.stderr()).not.toContain('short-secret');
  });
});

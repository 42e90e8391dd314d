import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from '../support/global-setup';
import { OwnedRedisServer } from '../support/redis-server';
import {
  authorizeThroughPages,
  pathWithoutRedis,
  startSandboxProcess,
  type SandboxProcess,
} from '../support/sandbox-process';
import { exitOf } from '../support/spawn';

/** `npm run sandbox` as a newcomer runs it: one process, the service and the emulator wired together, using only what it owns. */
describe('the sandbox entry (src/sandbox/run-sandbox.ts) as a child process', () => {
  let sandbox: SandboxProcess | undefined;
  afterEach(async () => {
    await sandbox?.stop();
    sandbox = undefined;
  });

  async function redisAnswers(url: string): Promise<boolean> {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return (await client.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      client.disconnect();
    }
  }

  describe('next to a Redis it was not given (REDIS_URL and a .env in its working directory)', () => {
    let foreign: OwnedRedisServer;
    let foreignClient: Redis;
    beforeAll(async () => {
      foreign = await OwnedRedisServer.start();
      foreignClient = new Redis(foreign.url);
      await foreignClient.set('someone-else:data', 'kept');
    });
    afterAll(async () => {
      await foreignClient.quit();
      await foreign.stop();
    });

    it('never writes that Redis, reads nothing of .env, and runs the whole flow on its own throwaway redis-server at PORT', async () => {
      const cwd = mkdtempSync(join(tmpdir(), 'wxopen-sandbox-cwd-'));
      // A production .env: real WeChat endpoints and credentials, a Redis URL. The sandbox must ignore all of it.
      writeFileSync(
        join(cwd, '.env'),
        [
          `REDIS_URL=${foreign.url}`,
          'REDIS_KEY_PREFIX=prod',
          'WECHAT_API_BASE_URL=http://127.0.0.1:9/unreachable',
          'WECHAT_LOGIN_PAGE_URL=http://127.0.0.1:9/login',
          'WECHAT_COMPONENT_APPID=wxproductionappid01',
          'WECHAT_COMPONENT_APPSECRET=production-secret',
          'PUBLIC_BASE_URL=https://auth.example.com',
          '',
        ].join('\n'),
      );
      const keysBefore = await foreignClient.dbsize();
      const port = await freePort();
      sandbox = startSandboxProcess(
        {
          PORT: String(port),
          REDIS_URL: foreign.url,
          WECHAT_API_BASE_URL: 'http://127.0.0.1:9/unreachable',
          PUBLIC_BASE_URL: 'https://auth.example.com',
        },
        { cwd },
      );
      const banner = await sandbox.started();

      // Everything derived from PORT; the emulator on a port of its own choosing.
      expect(banner.authorizeUrl).toBe(`http://localhost:${port}/authorize`);
      expect(banner.readyzUrl).toBe(`http://localhost:${port}/readyz`);
      expect(banner.emulatorUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const storageLines = sandbox
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('sandbox storage:'));
      expect(storageLines).toHaveLength(1);
      expect(storageLines[0]).toMatch(
        /^sandbox storage: its own throwaway redis-server at redis:\/\/127\.0\.0\.1:\d+\/0 .*keys under wxopen-sandbox:wxa5b0c1d2e3f40718:$/,
      );
      const ownRedis = banner.variables.REDIS_URL!;
      expect(ownRedis).not.toBe(foreign.url);
      expect(banner.variables.P).toBe('wxopen-sandbox:wxa5b0c1d2e3f40718');

      const ready = (await (await fetch(banner.readyzUrl)).json()) as {
        store: string;
        checks: Record<string, unknown>;
      };
      expect(ready.store).toBe('redis');
      expect(ready.checks.redis).toEqual({ ok: true });

      const { appid, resultPage, redirect } = await authorizeThroughPages(banner.authorizeUrl);
      expect(redirect.origin).toBe(`http://localhost:${port}`);
      expect(redirect.searchParams.get('expires_in')).toBe('600');
      expect(resultPage).toContain(appid);

      const own = new Redis(ownRedis);
      try {
        expect(await own.hget(`wxopen-sandbox:wxa5b0c1d2e3f40718:authorizer:{${appid}}`, 'status')).toBe('authorized');
      } finally {
        own.disconnect();
      }
      expect(await foreignClient.dbsize()).toBe(keysBefore);
      expect(await foreignClient.get('someone-else:data')).toBe('kept');
      // The ticket it pushes itself is there before the refresher looks: no "asked WeChat to start pushing" warning.
      expect(sandbox.stdout()).not.toContain('no component_verify_ticket stored');

      // Ctrl+C: one line, exit 0, and its Redis is gone with it.
      const before = sandbox.stdout().length;
      expect(await sandbox.stop()).toBe(0);
      // A request's log line may still be on its way when the signal arrives; the stop line is the last one, once.
      const after = sandbox.stdout().slice(before).trim().split('\n');
      expect(after.at(-1)).toBe('wxopen-auth sandbox stopped.');
      expect(after.filter((line) => !line.startsWith('{'))).toEqual(['wxopen-auth sandbox stopped.']);
      sandbox = undefined;
      expect(await redisAnswers(ownRedis)).toBe(false);
    }, 120_000);
  });

  it('uses an external Redis only when given as SANDBOX_REDIS_URL, under its documented prefix', async () => {
    const external = await OwnedRedisServer.start();
    try {
      sandbox = startSandboxProcess({ PORT: String(await freePort()), SANDBOX_REDIS_URL: external.url });
      const banner = await sandbox.started();
      expect(sandbox.stdout()).toContain(
        `sandbox storage: Redis at SANDBOX_REDIS_URL (${external.url}), keys under wxopen-sandbox:wxa5b0c1d2e3f40718:`,
      );
      expect(banner.variables.REDIS_URL).toBe(external.url);
      const client = new Redis(external.url);
      try {
        const ticketKey =
          'wxopen-sandbox:wxa5b0c1d2e3f40718:secret:{wxa5b0c1d2e3f40718:component}:component_verify_ticket'; // docs/redis-keys.md
        expect(await client.exists(ticketKey)).toBe(1);
      } finally {
        client.disconnect();
      }
      await authorizeThroughPages(banner.authorizeUrl);
    } finally {
      await sandbox?.stop();
      sandbox = undefined;
      await external.stop();
    }
  }, 120_000);

  it('runs on in-memory stores when no redis-server is on PATH, says so in one line, and /readyz says memory', async () => {
    sandbox = startSandboxProcess({ PORT: String(await freePort()), PATH: pathWithoutRedis() });
    const banner = await sandbox.started();
    const storageLines = sandbox
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('sandbox storage:'));
    expect(storageLines).toEqual([
      'sandbox storage: IN-MEMORY (no redis-server on PATH): one process only, nothing survives a restart',
    ]);
    expect(banner.variables).not.toHaveProperty('REDIS_URL');
    const ready = (await (await fetch(banner.readyzUrl)).json()) as { store: string; checks: Record<string, unknown> };
    expect(ready.store).toBe('memory');
    expect(ready.checks).not.toHaveProperty('redis');
    const { appid } = await authorizeThroughPages(banner.authorizeUrl);
    const token = await fetch(`${banner.variables.WXOPEN_AUTH_URL}/internal/authorizers/${appid}/access-token`, {
      headers: { Authorization: `Bearer ${banner.variables.INTERNAL_API_TOKEN}` },
    });
    expect(token.status).toBe(200);
  }, 120_000);

  it('refuses in-memory stores when NODE_ENV=production', async () => {
    sandbox = startSandboxProcess({ PORT: String(await freePort()), PATH: pathWithoutRedis(), NODE_ENV: 'production' });
    expect(await exitOf(sandbox.child, 60_000)).toBe(1);
    expect(sandbox.stderr().trim()).toBe(
      'sandbox: no redis-server found and in-memory storage is refused when NODE_ENV=production: set SANDBOX_REDIS_URL',
    );
  }, 90_000);

  describe('a port that is taken', () => {
    let blocker: Server;
    let taken: number;
    beforeAll(async () => {
      blocker = createServer();
      await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
      taken = (blocker.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((r) => blocker.close(() => r())));

    it.each([
      [
        'PORT',
        (p: number) => ({ PORT: String(p) }),
        (p: number) => `sandbox: port ${p} is already in use: set PORT to a free port`,
      ],
      [
        'SANDBOX_EMULATOR_PORT',
        (p: number) => ({ SANDBOX_EMULATOR_PORT: String(p) }),
        (p: number) =>
          `sandbox: port ${p} is already in use: set SANDBOX_EMULATOR_PORT to a free port, or unset it to pick one`,
      ],
    ])(
      '%s: one line naming the port and the variable, exit 1',
      async (_name, env, message) => {
        sandbox = startSandboxProcess({ PORT: String(await freePort()), ...env(taken) });
        expect(await exitOf(sandbox.child, 60_000)).toBe(1);
        expect(sandbox.stderr().trim()).toBe(message(taken));
        sandbox = undefined;
      },
      90_000,
    );
  });
});

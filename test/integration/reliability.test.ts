import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createNetServer, Socket, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import Redis from 'ioredis';
import { TEST_COMPONENT, testEnv } from '../support/config';
import { startHarness } from '../support/emulator';
import { eventually } from '../support/eventually';
import { freePort } from '../support/global-setup';
import { OwnedRedisServer } from '../support/redis-server';
import { ROOT, waitForHttp } from '../support/spawn';

/**
 * Issue #12 items 2–6 against the real service process (src/main.ts through tsx), in its own process group
 * (so tsx's node child goes with it), with raw sockets where the HTTP framing is what is tested.
 */

const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

interface Service {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

const running = new Set<Service>();

function startService(env: NodeJS.ProcessEnv): Service {
  const child = spawn(TSX, [join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const service: Service = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop() {
      running.delete(service);
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the group is gone already
      }
      await exited;
    },
  };
  running.add(service);
  return service;
}

afterEach(async () => {
  await Promise.all([...running].map((s) => s.stop()));
});

/** The exit code, or a failure naming what the process said when it did not exit within the bound. */
async function exitCode(service: Service, timeoutMs = 20_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `did not exit within ${timeoutMs} ms; stdout: ${service.stdout().slice(0, 500)} stderr: ${service.stderr().slice(0, 500)}`,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([service.exited, bound]);
  } finally {
    clearTimeout(timer);
  }
}

function stderrLines(service: Service): string[] {
  return service.stderr().trim().split('\n').filter(Boolean);
}

async function occupy(port: number): Promise<NetServer> {
  const holder = createNetServer();
  await new Promise<void>((resolve, reject) => {
    holder.once('error', reject);
    holder.listen(port, () => resolve());
  });
  return holder;
}

describe('start-up refusals (issue #12 items 2, 3, 6)', () => {
  it('a port already in use: one line naming the port and PORT, exit 1, and not one call to WeChat', async () => {
    const h = await startHarness(); // a ticket is stored: a started refresher would call api_component_token at once
    const port = await freePort();
    const holder = await occupy(port);
    try {
      const service = startService(
        testEnv({
          PORT: String(port),
          LOG_LEVEL: 'info',
          REFRESHER_ENABLED: 'true',
          REDIS_KEY_PREFIX: h.config.redis.keyPrefix,
          WECHAT_API_BASE_URL: h.emulatorUrl,
        }),
      );
      expect(await exitCode(service)).toBe(1);
      expect(stderrLines(service)).toEqual([`cannot listen on port ${port} (PORT): the address is already in use`]);
      expect(service.stdout()).not.toContain('listening');
      expect(h.emulator.callLog.count('api_component_token')).toBe(0);
    } finally {
      holder.close();
      await h.close();
    }
  });

  it('REDIS_URL naming a database the server does not have: one line, exit 1, database 0 untouched', async () => {
    const redis = await OwnedRedisServer.start();
    const db0 = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      await db0.set('someone-elses-key', 'x');
      const before = await db0.dbsize();
      const service = startService(
        testEnv({ PORT: String(await freePort()), LOG_LEVEL: 'info', REDIS_URL: `redis://127.0.0.1:${redis.port}/99` }),
      );
      expect(await exitCode(service)).toBe(1);
      expect(stderrLines(service)).toEqual([
        expect.stringMatching(/^config error: REDIS_URL: Redis cannot select database 99: .*DB index is out of range/),
      ]);
      expect(service.stdout()).not.toContain('listening');
      expect(await db0.dbsize()).toBe(before);
    } finally {
      db0.disconnect();
      await redis.stop();
    }
  });

  it.each<[string, string, string | RegExp]>([
    ['PORT', '0x1F', 'PORT: must be a decimal integer from 1 to 65535 (got "0x1F")'],
    ['PORT', '4123e1', 'PORT: must be a decimal integer from 1 to 65535 (got "4123e1")'],
    ['PORT', 'abc', 'PORT: must be a decimal integer from 1 to 65535 (got "abc")'],
    [
      'INTERNAL_API_TOKEN',
      'a bearer token with spaces 0123456789',
      /^INTERNAL_API_TOKEN: must contain only the characters /,
    ],
    [
      'INTERNAL_API_TOKEN',
      'bearer-token-non-ascii-é-0123456789ab',
      /^INTERNAL_API_TOKEN: must contain only the characters /,
    ],
    [
      'REDIS_URL',
      'redis://127.0.0.1:6399/abc',
      'REDIS_URL: the database (path "/abc") must be a decimal integer from 0 to 2147483647',
    ],
  ])('%s=%s is refused: one config error line, exit 1', async (name, value, problem) => {
    const service = startService(testEnv({ [name]: value, LOG_LEVEL: 'info' }));
    expect(await exitCode(service)).toBe(1);
    const lines = stderrLines(service);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.startsWith('config error: ')).toBe(true);
    const said = lines[0]!.slice('config error: '.length);
    if (typeof problem === 'string') expect(said).toBe(problem);
    else expect(said).toMatch(problem);
    if (name === 'INTERNAL_API_TOKEN') expect(service.stderr()).not.toContain(value);
    expect(service.stdout()).toBe('');
  });
});

const BEARER = 'internal-bearer-0123456789abcdef';

/** The configured secrets of the test services, and the bearer (a configured secret only when the API is on). */
const COMPONENT_SECRETS = [TEST_COMPONENT.appSecret, TEST_COMPONENT.token, TEST_COMPONENT.aesKey];
const SECRETS = [BEARER, ...COMPONENT_SECRETS];

/** Each way a client can put a value into a URL the service logs. */
function carriers(secret: string): string[] {
  return [
    `/internal/component-access-token?bearer=${secret}`,
    `/internal/component-access-token?api_key=${secret}`,
    `/internal/component-access-token?key=${secret}`,
    `/internal/component-access-token?auth=${secret}`,
    `/internal/authorizers/${secret}/access-token`,
    `/internal/authorizers/${encodeURIComponent(secret).replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`)}/access-token`,
    `/authorize?x=${secret}`,
    `/${secret}`,
  ];
}

describe('no configured secret value in any log line (issue #12 item 4)', () => {
  it.each([
    ['on', { INTERNAL_API_TOKEN: BEARER }, SECRETS],
    ['off', {}, COMPONENT_SECRETS],
  ])(
    'with the internal API %s, whatever URL carries it',
    async (_label, extra: Record<string, string>, configured: string[]) => {
      const port = await freePort();
      const service = startService(testEnv({ PORT: String(port), LOG_LEVEL: 'debug', ...extra }));
      const base = `http://127.0.0.1:${port}`;
      await waitForHttp(`${base}/healthz`);
      const paths = SECRETS.flatMap(carriers);
      for (const path of paths) {
        const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${BEARER}x` } });
        await res.arrayBuffer();
      }
      const completed = () =>
        service
          .stdout()
          .split('\n')
          .filter((l) => l.includes('"msg":"request '));
      await eventually(() => completed().length >= paths.length, { what: 'one completion line per request' });
      const output = service.stdout() + service.stderr();
      for (const secret of configured) expect(output).not.toContain(secret);
      // Still JSON lines an operator can read, with the redaction marked.
      for (const line of service.stdout().trim().split('\n')) expect(() => JSON.parse(line) as unknown).not.toThrow();
      expect(output).toContain('[redacted]');
      expect(completed().some((l) => l.includes('/internal/authorizers/[redacted]/access-token'))).toBe(true);
    },
  );
});

/** Writes `head` on a fresh connection and collects what comes back. */
function rawRequest(
  port: number,
  head: string,
): { socket: Socket; received: () => string; connected: Promise<void>; closed: Promise<void> } {
  const socket = new Socket();
  let data = '';
  socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
  socket.on('error', () => undefined); // a reset after the server's answer is fine
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const connected = new Promise<void>((resolve) => socket.connect(port, '127.0.0.1', () => resolve()));
  socket.write(head);
  return { socket, received: () => data, connected, closed };
}

describe('body limits and server timeouts (issue #12 item 5)', () => {
  let service: Service;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    service = startService(
      testEnv({ PORT: String(port), HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '5000' }),
    );
    await waitForHttp(`http://127.0.0.1:${port}/healthz`);
    running.delete(service); // shared by this block's tests; stopped in afterAll
  });
  afterAll(async () => {
    await service.stop();
  });

  const TEN_MB = 10 * 1024 * 1024;
  const pushHead = (extra: string) =>
    `POST /auth?timestamp=1&nonce=n&msg_signature=s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n${extra}\r\n`;

  it('answers 413 to a declared 10 MB body before any of it is sent, and closes the connection', async () => {
    const req = rawRequest(port, pushHead(`Content-Length: ${TEN_MB}\r\n`));
    try {
      await eventually(() => req.received().includes('\r\n\r\n'), { what: 'a response head', timeoutMs: 10_000 });
      expect(req.received()).toMatch(/^HTTP\/1\.1 413 /);
      expect(req.received()).toMatch(/\r\nconnection: close\r\n/i);
      await eventually(() => req.received().includes('payload_too_large'), { what: 'the error body' });
    } finally {
      req.socket.destroy();
    }
  });

  it('does not send 100 Continue for a declared length over the limit: 413 straight away', async () => {
    const req = rawRequest(port, pushHead(`Content-Length: ${TEN_MB}\r\nExpect: 100-continue\r\n`));
    try {
      await eventually(() => req.received().includes('\r\n\r\n'), { what: 'a response head', timeoutMs: 10_000 });
      expect(req.received()).toMatch(/^HTTP\/1\.1 413 /);
      expect(req.received()).not.toContain('100 Continue');
    } finally {
      req.socket.destroy();
    }
  });

  it('still sends 100 Continue for a body within the limit, then reads it', async () => {
    const body = '<xml><Encrypt>not really</Encrypt></xml>';
    const req = rawRequest(port, pushHead(`Content-Length: ${body.length}\r\nExpect: 100-continue\r\n`));
    try {
      await eventually(() => req.received().startsWith('HTTP/1.1 100 Continue\r\n\r\n'), {
        what: '100 Continue',
        timeoutMs: 10_000,
      });
      req.socket.write(body);
      // The push is refused on its merits (the signature), which shows the body was read.
      await eventually(() => /HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 4\d\d /.test(req.received()), {
        what: 'the final answer',
      });
      expect(req.received()).not.toMatch(/HTTP\/1\.1 413 /);
    } finally {
      req.socket.destroy();
    }
  });

  it('closes a connection that sends its headers byte by byte (slowloris) within the header timeout', async () => {
    const req = rawRequest(port, 'GET /healthz HTTP/1.1\r\n');
    await req.connected;
    let open = true;
    void req.closed.then(() => (open = false));
    const trickle = 'X-Slow: ' + 'a'.repeat(200);
    // One byte every 100 ms, never ending the headers; bounded by the trickle's length (20 s).
    for (let i = 0; open && i < trickle.length; i++) {
      req.socket.write(trickle[i]!);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(open).toBe(false);
    expect(req.received()).toMatch(/^HTTP\/1\.1 408 /);
  });
});

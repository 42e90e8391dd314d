import { freePort } from '../support/global-setup';
import { uniquePrefix, testRedisUrl } from '../support/redis';
import { collect, exitOf, signalGroup, spawnTs, waitForHttp } from '../support/spawn';

/** `npm run sandbox` as a newcomer runs it: one process, the service and the emulator wired together. */
describe('the sandbox entry (src/sandbox/run-sandbox.ts)', () => {
  async function startSandbox(env: Record<string, string>) {
    const port = await freePort();
    const emulatorPort = await freePort();
    const child = spawnTs('src/sandbox/run-sandbox.ts', {
      PORT: String(port),
      SANDBOX_EMULATOR_PORT: String(emulatorPort),
      PUBLIC_BASE_URL: `http://localhost:${port}`,
      LOG_LEVEL: 'info',
      ...env,
    });
    const output = collect(child);
    return { child, output, base: `http://127.0.0.1:${port}`, publicBase: `http://localhost:${port}`, emulator: `http://127.0.0.1:${emulatorPort}` };
  }

  async function authorizeFirstAccount(s: { base: string; publicBase: string }): Promise<string> {
    const wechatUrl = (await fetch(`${s.base}/auth`, { redirect: 'manual' })).headers.get('location') ?? '';
    const page = await (await fetch(wechatUrl, { headers: { Referer: `${s.publicBase}/authorize` } })).text();
    const session = /name="session" value="([^"]+)"/.exec(page)?.[1] ?? '';
    const appid = /data-account="([^"]+)"/.exec(page)?.[1] ?? '';
    const confirmUrl = new URL('/cgi-bin/componentloginpage/confirm', wechatUrl);
    const confirmed = await fetch(confirmUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ session, appid }).toString(),
      redirect: 'manual',
    });
    const back = (confirmed.headers.get('location') ?? '').replace(s.publicBase, s.base);
    const result = await fetch(back);
    expect(result.status).toBe(200);
    expect(await result.text()).toContain(appid);
    return appid;
  }

  it('runs on in-memory stores when no Redis answers, announces it, and serves the whole flow', async () => {
    const deadPort = await freePort();
    const s = await startSandbox({ REDIS_URL: `redis://127.0.0.1:${deadPort}/0` });
    try {
      await waitForHttp(`${s.base}/healthz`, 30_000);
      expect(s.output.stdout()).toContain(`Authorize an account:   ${s.publicBase}/authorize`);
      expect(s.output.stdout()).toContain('IN-MEMORY');
      await waitUntil(async () => (await fetch(`${s.base}/readyz`)).status === 200);
      const appid = await authorizeFirstAccount(s);
      const token = await fetch(`${s.base}/internal/authorizers/${appid}/access-token`, {
        headers: { Authorization: 'Bearer sandbox-internal-api-token' },
      });
      expect(token.status).toBe(200);
      expect(((await token.json()) as { authorizer_access_token?: string }).authorizer_access_token).toBeTruthy();
    } finally {
      signalGroup(s.child, 'SIGINT');
      expect(await exitOf(s.child)).toBe(0);
    }
  }, 60_000);

  it('refuses in-memory stores when NODE_ENV=production', async () => {
    const deadPort = await freePort();
    const s = await startSandbox({ REDIS_URL: `redis://127.0.0.1:${deadPort}/0`, NODE_ENV: 'production' });
    expect(await exitOf(s.child, 30_000)).toBe(1);
    expect(s.output.stderr()).toContain('in-memory storage is refused when NODE_ENV=production');
  }, 40_000);

  it('uses Redis at REDIS_URL when one answers', async () => {
    const s = await startSandbox({ REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: uniquePrefix('sandbox') });
    try {
      await waitForHttp(`${s.base}/healthz`, 30_000);
      expect(s.output.stdout()).toContain('sandbox storage: Redis');
      expect(s.output.stdout()).not.toContain('IN-MEMORY');
      await waitUntil(async () => (await fetch(`${s.base}/readyz`)).status === 200);
      await authorizeFirstAccount(s);
    } finally {
      signalGroup(s.child, 'SIGINT');
      expect(await exitOf(s.child)).toBe(0);
    }
  }, 60_000);
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

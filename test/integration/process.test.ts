import { freePort } from '../support/global-setup';
import { testEnv } from '../support/config';
import { startHarness } from '../support/emulator';
import { collect, exitOf, signalGroup, spawnTs, waitForHttp } from '../support/spawn';

describe('the service process (src/main.ts)', () => {
  it('exits 1 with one line naming the variable when the AES key has 42 characters', async () => {
    const child = spawnTs('src/main.ts', testEnv({ WECHAT_COMPONENT_AES_KEY: 'A'.repeat(42) }));
    const output = collect(child);
    expect(await exitOf(child)).toBe(1);
    const lines = output.stderr().trim().split('\n');
    expect(lines).toEqual(['config error: WECHAT_COMPONENT_AES_KEY: must be exactly 43 characters (got 42)']);
    expect(output.stderr()).not.toMatch(/\bat .*\(.*:\d+:\d+\)/); // no stack trace
  });

  it('exits 1 with one line when WECHAT_COMPONENT_APPID is not an appid (every push would fail appid_mismatch)', async () => {
    const child = spawnTs('src/main.ts', testEnv({ WECHAT_COMPONENT_APPID: 'wx{evil}:x' }));
    const output = collect(child);
    expect(await exitOf(child)).toBe(1);
    expect(output.stderr().trim().split('\n')).toEqual([
      'config error: WECHAT_COMPONENT_APPID: must be a WeChat appid: "wx" followed by 16 letters or digits',
    ]);
  });

  it('serves /healthz and /readyz, then exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const child = spawnTs('src/main.ts', testEnv({ PORT: String(port), LOG_LEVEL: 'info' }));
    const output = collect(child);
    try {
      const health = await waitForHttp(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(200);
      signalGroup(child, 'SIGTERM');
      expect(await exitOf(child, 10_000)).toBe(0);
      expect(output.stdout()).toContain('"msg":"stopped"');
    } finally {
      signalGroup(child, 'SIGKILL');
    }
  });
});

describe('graceful shutdown', () => {
  it('finishes a request in flight when SIGTERM arrives, then exits 0', async () => {
    const h = await startHarness();
    const port = await freePort();
    const child = spawnTs(
      'src/main.ts',
      testEnv({
        PORT: String(port),
        REDIS_KEY_PREFIX: h.config.redis.keyPrefix, // the ticket the harness stored
        WECHAT_API_BASE_URL: h.emulatorUrl,
        WECHAT_LOGIN_PAGE_URL: h.config.wechat.loginPageUrl,
      }),
    );
    try {
      await waitForHttp(`http://127.0.0.1:${port}/healthz`);
      h.emulator.faults.set('api_create_preauthcode', { delayMs: 1500 });
      const inFlight = fetch(`http://127.0.0.1:${port}/auth`, { redirect: 'manual' });
      await waitUntilCalled(() => h.emulator.callLog.count('api_component_token') > 0);
      signalGroup(child, 'SIGTERM');
      const res = await inFlight;
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toContain('pre_auth_code=');
      expect(await exitOf(child, 10_000)).toBe(0);
    } finally {
      signalGroup(child, 'SIGKILL');
      await h.close();
    }
  });
});

async function waitUntilCalled(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('the service never called WeChat');
    await new Promise((r) => setTimeout(r, 20));
  }
}

import type { ChildProcess } from 'node:child_process';
import { createContainer } from '../../src/container';
import { LockTimeoutError } from '../../src/errors';
import { generateAccounts } from '../../src/sandbox/emulator';
import { waitUntilReady } from '../../src/store/redis';
import { testEnv } from '../support/config';
import { startHarness, type Harness } from '../support/emulator';
import { collect, exitOf, signalGroup, spawnTs } from '../support/spawn';
import type { WorkerResult } from '../support/token-worker';

const HOUR = 3600_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** The environment a worker process needs to join this harness's service (same Redis prefix, same emulator). */
function workerEnv(h: Harness, clockOffsetMs: number, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return testEnv({
    REDIS_KEY_PREFIX: h.config.redis.keyPrefix,
    WECHAT_API_BASE_URL: h.emulatorUrl,
    TOKEN_WORKER_CLOCK_OFFSET_MS: String(clockOffsetMs),
    ...extra,
  });
}

/** Starts `processes` workers, releases them together once all are ready, and returns every result. */
async function runWorkers(h: Harness, target: string, processes: number, callsEach: number, clockOffsetMs: number): Promise<WorkerResult[]> {
  const goKey = `${h.config.redis.keyPrefix}:test:go`;
  const env = workerEnv(h, clockOffsetMs, { TOKEN_WORKER_TARGET: target, TOKEN_WORKER_CALLS: String(callsEach), TOKEN_WORKER_GO_KEY: goKey });
  const children = Array.from({ length: processes }, () => spawnTs('test/support/token-worker.ts', env));
  const outputs = children.map(collect);
  try {
    await until('every worker to be ready', () => outputs.every((o) => o.stdout().includes('"ready":true')));
    await h.container.redis.rpush(goKey, ...children.map(() => 'go'));
    const codes = await Promise.all(children.map((c) => exitOf(c, 20_000)));
    outputs.forEach((o, i) => expect({ worker: i, code: codes[i], stderr: o.stderr() }).toEqual({ worker: i, code: 0, stderr: '' }));
    return outputs.flatMap((o) => (JSON.parse(o.stdout().trim().split('\n').pop()!) as { results: WorkerResult[] }).results);
  } finally {
    for (const c of children) signalGroup(c, 'SIGKILL');
  }
}

describe('at most one upstream refresh per token across OS processes', () => {
  let h: Harness;
  afterEach(async () => h.close());

  it('200 concurrent getComponentAccessToken() over 4 processes on an expired token → 1 api_component_token call', async () => {
    h = await startHarness();
    const expired = await h.container.tokenService.getComponentAccessToken();
    h.clock.advance(2 * HOUR + 60_000);
    expect(h.emulator.tokenStatus(expired.token)).toBe('expired');
    h.emulator.callLog.clear();

    const results = await runWorkers(h, 'component', 4, 50, 2 * HOUR + 60_000);
    expect(results).toHaveLength(200);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    const tokens = new Set(results.map((r) => (r.ok ? r.token : '')));
    expect(tokens.size).toBe(1);
    const [token] = [...tokens] as [string];
    expect(token).not.toBe(expired.token);
    expect(h.emulator.tokenStatus(token)).toBe('valid');
    expect(h.emulator.callLog.count('api_component_token')).toBe(1);
  });

  it("200 concurrent reads of one authorizer's expired token over 4 processes → 1 api_authorizer_token call", async () => {
    const [account] = generateAccounts(1);
    h = await startHarness({ emulator: { accounts: [account!] } });
    const A = account!.appid;
    await h.authorize(A);
    const expired = await h.container.tokenService.getAuthorizerAccessToken(A);
    h.clock.advance(2 * HOUR + 60_000); // both the authorizer token and the component token have expired
    h.emulator.callLog.clear();

    const results = await runWorkers(h, `authorizer:${A}`, 4, 50, 2 * HOUR + 60_000);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    const tokens = new Set(results.map((r) => (r.ok ? r.token : '')));
    expect(tokens.size).toBe(1);
    const [token] = [...tokens] as [string];
    expect(token).not.toBe(expired.token);
    expect(h.emulator.tokenStatus(token)).toBe('valid');
    expect(h.emulator.callLog.count('api_authorizer_token')).toBe(1);
    expect(h.emulator.callLog.count('api_component_token')).toBe(1);
  });

  describe('the lock holder is SIGKILLed in the middle of a refresh', () => {
    let holder: ChildProcess | undefined;
    afterEach(() => {
      if (holder) signalGroup(holder, 'SIGKILL');
    });

    /** Starts a worker that takes the refresh lock with `lockTtlMs`, lets it reach the (delayed) WeChat call, and kills it. */
    async function killHolderMidRefresh(lockTtlMs: number): Promise<number> {
      h.emulator.faults.set('api_component_token', { delayMs: 30_000 });
      holder = spawnTs(
        'test/support/token-worker.ts',
        workerEnv(h, 0, { TOKEN_WORKER_TARGET: 'component', TOKEN_WORKER_CALLS: '1', TOKEN_WORKER_LOCK_TTL_MS: String(lockTtlMs) }),
      );
      const output = collect(holder);
      const lockKey = h.container.keys.componentTokenLock;
      await until('the worker to take the refresh lock', async () => (await h.container.redis.exists(lockKey)) === 1);
      const lockedAt = Date.now();
      await sleep(200); // its api_component_token call is now held by the emulator's delay
      signalGroup(holder, 'SIGKILL');
      await exitOf(holder);
      h.emulator.faults.clear('api_component_token'); // only the dead holder's call is held
      expect(output.stdout()).not.toContain('"results"'); // it never finished
      expect(await h.container.redis.exists(lockKey)).toBe(1); // and never released its lock
      return lockedAt;
    }

    it('another process refreshes once the lock TTL has passed; the waiters all get that token', async () => {
      h = await startHarness();
      const lockedAt = await killHolderMidRefresh(1500);
      const results = await Promise.all(Array.from({ length: 20 }, () => h.container.tokenService.getComponentAccessToken()));
      const tookOverAfter = Date.now() - lockedAt;
      expect(tookOverAfter).toBeGreaterThanOrEqual(1300);
      expect(tookOverAfter).toBeLessThan(5000);
      expect(new Set(results.map((r) => r.token)).size).toBe(1);
      expect(h.emulator.tokenStatus(results[0]!.token)).toBe('valid');
      // Only the survivor's call has completed (the killed one is still held by the emulator's delay).
      expect(h.emulator.callLog.count('api_component_token', { ok: true })).toBe(1);
    });

    it('a waiter whose bound is shorter than the TTL gets a clear LockTimeoutError instead of waiting forever', async () => {
      h = await startHarness();
      await killHolderMidRefresh(10_000);
      const impatient = createContainer(h.config, { clock: h.clock, tokenLock: { ttlMs: 10_000, waitMs: 300 } });
      try {
        await waitUntilReady(impatient.redis, 5000);
        const started = Date.now();
        const err = await impatient.tokenService.getComponentAccessToken().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(LockTimeoutError);
        expect((err as Error).message).toMatch(/component_access_token/);
        expect(Date.now() - started).toBeLessThan(1500);
      } finally {
        await impatient.close();
      }
    });
  });
});

import type { ChildProcess } from 'node:child_process';
import { createContainer } from '../../src/container';
import { LockTimeoutError } from '../../src/errors';
import { generateAccounts } from '../../src/sandbox/emulator';
import { LOCK_DEFAULTS } from '../../src/store/lock';
import { waitUntilReady } from '../../src/store/redis';
import { testEnv } from '../support/config';
import { startHarness, type Harness } from '../support/emulator';
import { eventually } from '../support/eventually';
import { collect, exitOf, signalGroup, spawnTs } from '../support/spawn';
import type { WorkerResult } from '../support/token-worker';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Long enough that a slow (delayed) refresh call is not cut short by the service's own HTTP timeout. */
const HTTP_TIMEOUT_MS = '15000';

type Output = ReturnType<typeof collect>;

/** The environment a worker process needs to join this harness's service (same Redis prefix, same emulator). */
function workerEnv(h: Harness, clockOffsetMs: number, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return testEnv({
    REDIS_KEY_PREFIX: h.config.redis.keyPrefix,
    WECHAT_API_BASE_URL: h.emulatorUrl,
    TOKEN_WORKER_CLOCK_OFFSET_MS: String(clockOffsetMs),
    ...extra,
  });
}

/** The results line a worker prints when it is done. */
function resultsOf(output: Output): WorkerResult[] {
  const line = output.stdout().trim().split('\n').pop()!;
  return (JSON.parse(line) as { results: WorkerResult[] }).results;
}

/** Every worker started by a test, stopped (with its process group) after it whatever happened. */
const started: ChildProcess[] = [];
function startWorker(env: NodeJS.ProcessEnv): { child: ChildProcess; output: Output } {
  const child = spawnTs('test/support/token-worker.ts', env);
  started.push(child);
  return { child, output: collect(child) };
}
afterEach(async () => {
  for (const child of started.splice(0)) {
    signalGroup(child, 'SIGCONT');
    signalGroup(child, 'SIGKILL');
    await exitOf(child).catch(() => undefined);
  }
});

/** Starts `processes` workers that wait on a Redis list; returns a function that releases them together. */
async function readyWorkers(h: Harness, processes: number, env: Record<string, string>, clockOffsetMs: number) {
  const goKey = `${h.config.redis.keyPrefix}:test:go:${Math.random().toString(36).slice(2)}`;
  const workers = Array.from({ length: processes }, () =>
    startWorker(workerEnv(h, clockOffsetMs, { ...env, TOKEN_WORKER_GO_KEY: goKey })),
  );
  await eventually(() => workers.every((w) => w.output.stdout().includes('"ready":true')), {
    what: 'every worker to be ready',
    timeoutMs: 30_000,
  });
  return {
    workers,
    go: () => h.container.redis.rpush(goKey, ...workers.map(() => 'go')),
    async results(): Promise<WorkerResult[]> {
      const codes = await Promise.all(workers.map((w) => exitOf(w.child, 120_000)));
      workers.forEach((w, i) =>
        expect({ worker: i, code: codes[i], stderr: w.output.stderr() }).toEqual({ worker: i, code: 0, stderr: '' }),
      );
      return workers.flatMap((w) => resultsOf(w.output));
    },
  };
}

/** An authorized account whose access token has expired while the component token is fresh. */
async function expiredAuthorizerToken(h: Harness, A: string): Promise<{ expired: string; offsetMs: number }> {
  await h.authorize(A);
  const { token: expired } = await h.container.tokenService.getAuthorizerAccessToken(A);
  const offsetMs = 2 * HOUR + MINUTE;
  h.clock.advance(offsetMs);
  await h.container.tokenService.getComponentAccessToken(); // only the authorizer refresh is at stake below
  expect(h.emulator.tokenStatus(expired)).toBe('expired');
  h.emulator.callLog.clear();
  return { expired, offsetMs };
}

describe('at most one upstream refresh per token across OS processes', () => {
  let h: Harness;
  afterEach(async () => h.close());

  it('200 concurrent getComponentAccessToken() over 4 processes on an expired token → 1 api_component_token call', async () => {
    h = await startHarness();
    const expired = await h.container.tokenService.getComponentAccessToken();
    h.clock.advance(2 * HOUR + MINUTE);
    expect(h.emulator.tokenStatus(expired.token)).toBe('expired');
    h.emulator.callLog.clear();

    const run = await readyWorkers(
      h,
      4,
      { TOKEN_WORKER_TARGET: 'component', TOKEN_WORKER_CALLS: '50' },
      2 * HOUR + MINUTE,
    );
    await run.go();
    const results = await run.results();
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
    h.clock.advance(2 * HOUR + MINUTE); // both the authorizer token and the component token have expired
    h.emulator.callLog.clear();

    const run = await readyWorkers(
      h,
      4,
      { TOKEN_WORKER_TARGET: `authorizer:${A}`, TOKEN_WORKER_CALLS: '50' },
      2 * HOUR + MINUTE,
    );
    await run.go();
    const results = await run.results();
    expect(results.filter((r) => !r.ok)).toEqual([]);
    const tokens = new Set(results.map((r) => (r.ok ? r.token : '')));
    expect(tokens.size).toBe(1);
    const [token] = [...tokens] as [string];
    expect(token).not.toBe(expired.token);
    expect(h.emulator.tokenStatus(token)).toBe('valid');
    expect(h.emulator.callLog.count('api_authorizer_token')).toBe(1);
    expect(h.emulator.callLog.count('api_component_token')).toBe(1);
  });
});

describe('a refresh-lock holder that dies or stalls mid-refresh (three instances, slow WeChat)', () => {
  let h: Harness;
  let A: string;
  beforeEach(async () => {
    const [account] = generateAccounts(1);
    A = account!.appid;
    h = await startHarness({ emulator: { accounts: [account!] }, env: { WECHAT_HTTP_TIMEOUT_MS: HTTP_TIMEOUT_MS } });
  });
  afterEach(async () => h.close());

  const lockKey = () => h.container.keys.authorizerTokenLock(A);
  const storedToken = () => h.container.redis.get(h.container.keys.authorizerAccessToken(A));

  it('SIGKILLed mid-call: its lock is gone within the short TTL, every reader of the other instances gets the taken-over token, one refresh is stored', async () => {
    const { expired, offsetMs } = await expiredAuthorizerToken(h, A);
    const env = { TOKEN_WORKER_TARGET: `authorizer:${A}`, WECHAT_HTTP_TIMEOUT_MS: HTTP_TIMEOUT_MS };
    // Instance 1 takes the lock and calls WeChat, which holds that call (logged as it arrives).
    h.emulator.faults.set('api_authorizer_token', { hang: true, times: 1 });
    const holder = startWorker(workerEnv(h, offsetMs, { ...env, TOKEN_WORKER_CALLS: '1' }));
    await eventually(() => h.emulator.callLog.entries('api_authorizer_token').length === 1, {
      what: "the holder's call to reach WeChat",
      timeoutMs: 30_000,
    });
    const deadOwner = await h.container.redis.get(lockKey());
    expect(deadOwner).toBeTruthy();

    // Instances 2 and 3: ten readers each, waiting for the refresh; WeChat is slow for the takeover too, slower
    // than the lock TTL, so the successor's lock has to be kept alive while it works.
    const readers = await readyWorkers(h, 2, { ...env, TOKEN_WORKER_CALLS: '10' }, offsetMs);
    await readers.go();
    h.emulator.faults.set('api_authorizer_token', { delayMs: LOCK_DEFAULTS.keepAliveTtlMs + 1000 });
    signalGroup(holder.child, 'SIGKILL');
    await exitOf(holder.child);
    expect(holder.output.stdout()).not.toContain('"results"'); // it never finished

    // Nobody renews the dead holder's lock: it lives at most the short TTL, then a survivor takes it over.
    const [owner, pttl] = await Promise.all([h.container.redis.get(lockKey()), h.container.redis.pttl(lockKey())]);
    expect(owner).toBe(deadOwner);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(LOCK_DEFAULTS.keepAliveTtlMs);
    await eventually(async () => (await h.container.redis.get(lockKey())) !== deadOwner, {
      what: "the dead holder's lock to be gone",
      timeoutMs: 30_000,
    });

    const results = await readers.results();
    expect(results).toHaveLength(20);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    const tokens = new Set(results.map((r) => (r.ok ? r.token : '')));
    expect(tokens.size).toBe(1);
    const [token] = [...tokens] as [string];
    expect(token).not.toBe(expired);
    expect(h.emulator.tokenStatus(token)).toBe('valid');
    expect(await storedToken()).toBe(token);
    // The dead holder's call (still held) and the successor's: one completed refresh, and no third call although
    // the successor's call outlasted a lock TTL.
    expect(h.emulator.callLog.count('api_authorizer_token')).toBe(2);
    expect(h.emulator.callLog.count('api_authorizer_token', { ok: true })).toBe(1);
  }, 120_000);

  it('stalled past its TTL (SIGSTOP): a successor refreshes; the stalled holder, resumed, does not write its token and returns the successor’s', async () => {
    const { offsetMs } = await expiredAuthorizerToken(h, A);
    // WeChat holds the holder's call a while: the holder is stopped in the middle of it, before it can write.
    h.emulator.faults.set('api_authorizer_token', { delayMs: LOCK_DEFAULTS.keepAliveTtlMs, times: 1 });
    const holder = startWorker(
      workerEnv(h, offsetMs, {
        TOKEN_WORKER_TARGET: `authorizer:${A}`,
        TOKEN_WORKER_CALLS: '1',
        WECHAT_HTTP_TIMEOUT_MS: HTTP_TIMEOUT_MS,
        LOG_LEVEL: 'warn',
      }),
    );
    const stalledOwner = await eventually(() => h.container.redis.get(lockKey()).then((v) => v ?? undefined), {
      what: 'the holder to take the lock',
      timeoutMs: 30_000,
    });
    // One renewal by its watchdog (the lock's TTL going back up): the holder has been running well past sending its call.
    let lowest = Infinity;
    await eventually(
      async () => {
        const pttl = await h.container.redis.pttl(lockKey());
        lowest = Math.min(lowest, pttl);
        return pttl > lowest + 1000;
      },
      { what: "the holder's watchdog to renew its lock", timeoutMs: 30_000 },
    );
    signalGroup(holder.child, 'SIGSTOP');
    // WeChat answers the stopped holder's call: its token is waiting, unread, in its socket.
    await eventually(() => h.emulator.callLog.count('api_authorizer_token', { ok: true }) === 1, {
      what: "WeChat to answer the holder's call",
      timeoutMs: 30_000,
    });

    // Another instance (this process) waits out the stalled holder's lock and refreshes.
    const successor = await h.container.tokenService.getAuthorizerAccessToken(A);
    expect(await storedToken()).toBe(successor.token);
    expect(await h.container.redis.get(lockKey())).not.toBe(stalledOwner);

    signalGroup(holder.child, 'SIGCONT');
    expect(await exitOf(holder.child, 60_000)).toBe(0);
    // Both fetched a token from WeChat…
    expect(h.emulator.callLog.count('api_authorizer_token', { ok: true })).toBe(2);
    // …but only the successor's is stored: the resumed holder's fenced write was refused, and it served the stored one.
    expect(await storedToken()).toBe(successor.token);
    expect(resultsOf(holder.output)).toEqual([{ ok: true, token: successor.token }]);
    expect(holder.output.stdout()).toContain('refresh lock lost before the write');
    expect(h.emulator.tokenStatus(successor.token)).toBe('valid');
  }, 120_000);

  it('a live holder keeps its lock; a waiter with a bound shorter than that gets a clear LockTimeoutError after one re-read', async () => {
    const { offsetMs } = await expiredAuthorizerToken(h, A);
    h.emulator.faults.set('api_authorizer_token', { hang: true, times: 1 });
    startWorker(
      workerEnv(h, offsetMs, {
        TOKEN_WORKER_TARGET: `authorizer:${A}`,
        TOKEN_WORKER_CALLS: '1',
        WECHAT_HTTP_TIMEOUT_MS: HTTP_TIMEOUT_MS,
      }),
    );
    await eventually(() => h.emulator.callLog.entries('api_authorizer_token').length === 1, {
      what: "the holder's call to reach WeChat",
      timeoutMs: 30_000,
    });
    const holderOwner = await h.container.redis.get(lockKey());

    const impatient = createContainer(h.config, { clock: h.clock, tokenLock: { waitMs: 300 } });
    try {
      await waitUntilReady(impatient.redis, 5000);
      const err = await impatient.tokenService.getAuthorizerAccessToken(A).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LockTimeoutError);
      expect((err as Error).message).toMatch(new RegExp(`${A}.*waited \\d+ ms`));
      // It gave up while the holder still held the lock (and was still calling WeChat): the bound, not the refresh, ended it.
      expect(await h.container.redis.get(lockKey())).toBe(holderOwner);
      expect(h.emulator.callLog.count('api_authorizer_token', { ok: true })).toBe(0);
    } finally {
      await impatient.close();
    }
  }, 120_000);
});

/**
 * One OS process of the multi-process token tests: builds a service container from the
 * environment, waits for the test's "go" (a Redis list), then asks the token service for a
 * token TOKEN_WORKER_CALLS times at once and prints one JSON line with every result.
 *
 * TOKEN_WORKER_TARGET     `component` or `authorizer:<appid>`
 * TOKEN_WORKER_CALLS      concurrent calls (default 50)
 * TOKEN_WORKER_GO_KEY     Redis list to BLPOP before starting (optional)
 * TOKEN_WORKER_CLOCK_OFFSET_MS  how far the test advanced its ManualClock (the emulator's clock)
 * TOKEN_WORKER_LOCK_TTL_MS / TOKEN_WORKER_LOCK_WAIT_MS  refresh-lock options
 */
import { ManualClock } from '../../src/clock';
import { loadConfig } from '../../src/config';
import { createContainer } from '../../src/container';
import { AppError } from '../../src/errors';
import { waitUntilReady } from '../../src/store/redis';
import { blockingDuplicate } from './redis';

export type WorkerResult = { ok: true; token: string } | { ok: false; code: string; message: string };

function numberFrom(name: string): number | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : Number(value);
}

async function main(): Promise<void> {
  const config = loadConfig();
  const clock = new ManualClock();
  clock.advance(numberFrom('TOKEN_WORKER_CLOCK_OFFSET_MS') ?? 0);
  const container = createContainer(config, {
    clock,
    tokenLock: { lockTtlMs: numberFrom('TOKEN_WORKER_LOCK_TTL_MS'), waitMs: numberFrom('TOKEN_WORKER_LOCK_WAIT_MS') },
  });
  if (!(await waitUntilReady(container.redis, 5000))) throw new Error('redis not reachable');
  const target = process.env.TOKEN_WORKER_TARGET ?? 'component';
  const calls = numberFrom('TOKEN_WORKER_CALLS') ?? 50;
  const goKey = process.env.TOKEN_WORKER_GO_KEY;

  // A second connection for BLPOP: it blocks its connection, and the container's client has a command timeout.
  const waiter = goKey ? blockingDuplicate(container.redis) : undefined;
  if (waiter && !(await waitUntilReady(waiter, 5000))) throw new Error('redis not reachable');
  process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`);
  if (waiter && goKey) {
    await waiter.blpop(goKey, 20);
    waiter.disconnect();
  }

  const get = () =>
    target === 'component'
      ? container.tokenService.getComponentAccessToken()
      : container.tokenService.getAuthorizerAccessToken(target.replace(/^authorizer:/, ''));
  const started = Date.now();
  const results: WorkerResult[] = await Promise.all(
    Array.from({ length: calls }, () =>
      get().then(
        (t): WorkerResult => ({ ok: true, token: t.token }),
        (err: unknown): WorkerResult => ({
          ok: false,
          code: err instanceof AppError ? err.code : 'unexpected',
          message: (err as Error).message,
        }),
      ),
    ),
  );
  process.stdout.write(`${JSON.stringify({ results, durationMs: Date.now() - started })}\n`);
  await container.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`token-worker failed: ${(err as Error).stack}\n`);
  process.exit(1);
});

/**
 * A service process the benchmark can steer: the same container and Express app as src/main.ts (config from the
 * environment, listening on PORT), plus an IPC channel for what a benchmark needs from inside the process:
 *
 *   { cmd: 'advance', ms }          moves this process's ManualClock (the emulator's is moved by the runner)
 *   { cmd: 'tick', advanceMs }      advances the clock, then runs one refresher round (what the timer does every 30 s)
 *   { cmd: 'read', appid, count }   `count` concurrent getAuthorizerAccessToken() calls, with each one's latency
 *   { cmd: 'warm', ticket }         one api_component_token call, so this process's HTTP client (fetch) is loaded
 *                                   and connected, as in a service that has been running
 *   { cmd: 'memory' }               process.memoryUsage()
 *   { cmd: 'idle' }                 resolves once the token refreshes this process started in the background are done
 *
 * The background refresher is never started here: the runner drives its rounds so simulated hours pass in seconds.
 */
import type { Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createApp } from '../../src/app';
import { ManualClock } from '../../src/clock';
import { loadConfig } from '../../src/config';
import { createContainer } from '../../src/container';
import { AppError } from '../../src/errors';
import { waitUntilReady } from '../../src/store/redis';

export type WorkerRequest =
  | { id: number; cmd: 'advance'; ms: number }
  | { id: number; cmd: 'tick'; advanceMs: number }
  | { id: number; cmd: 'read'; appid: string; count: number }
  | { id: number; cmd: 'warm'; ticket: string }
  | { id: number; cmd: 'memory' }
  | { id: number; cmd: 'idle' };

export interface TickReply {
  checked: number;
  /** Batches (of ≤ batchSize due accounts) the round took. */
  batches: number;
  failed: number;
  componentToken: 'ok' | 'failed';
  ms: number;
  rss: number;
  heapUsed: number;
}

export interface ReadReply {
  /** Date.now() when the command arrived (to tell IPC delivery from the reads themselves). */
  receivedAt: number;
  latenciesMs: number[];
  tokens: string[];
  errors: string[];
}

async function main(): Promise<void> {
  const config = loadConfig();
  const clock = new ManualClock();
  const container = createContainer(config, { clock });
  await waitUntilReady(container.redis, 5000);
  const app = createApp(container);
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(config.port, '127.0.0.1', () => resolve(s));
  });

  const handle = async (msg: WorkerRequest): Promise<unknown> => {
    switch (msg.cmd) {
      case 'advance':
        clock.advance(msg.ms);
        return { now: clock.now() };
      case 'tick': {
        clock.advance(msg.advanceMs);
        const started = performance.now();
        const round = await container.refresher.runOnce();
        const ms = performance.now() - started;
        const mem = process.memoryUsage();
        const reply: TickReply = {
          checked: round.checked,
          batches: round.batches,
          failed: round.failed.length,
          componentToken: round.componentToken,
          ms,
          rss: mem.rss,
          heapUsed: mem.heapUsed,
        };
        return reply;
      }
      case 'read': {
        const reply: ReadReply = { receivedAt: Date.now(), latenciesMs: [], tokens: [], errors: [] };
        await Promise.all(
          Array.from({ length: msg.count }, async () => {
            const started = performance.now();
            try {
              const token = await container.tokenService.getAuthorizerAccessToken(msg.appid);
              reply.tokens.push(token.token);
            } catch (err) {
              reply.errors.push(err instanceof AppError ? err.code : (err as Error).message);
            }
            reply.latenciesMs.push(performance.now() - started);
          }),
        );
        return reply;
      }
      case 'warm':
        await container.componentApi.getComponentAccessToken(msg.ticket);
        return {};
      case 'memory':
        return process.memoryUsage();
      case 'idle':
        await container.tokenService.idle();
        return {};
    }
  };

  process.on('message', (msg: WorkerRequest) => {
    handle(msg).then(
      (result) => process.send?.({ id: msg.id, ok: true, result }),
      (err: unknown) => process.send?.({ id: msg.id, ok: false, error: (err as Error).message }),
    );
  });
  const stop = () => {
    server.close();
    server.closeAllConnections();
    void container.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench service worker failed: ${(err as Error).stack}\n`);
  process.exit(1);
});

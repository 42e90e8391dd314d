import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from './global-setup';
import { signalGroup, spawnGroup } from './spawn';

/**
 * A redis-server this test owns, so it may stop and restart it (outage tests).
 * Never used to stop a Redis the test did not start.
 */
export class OwnedRedisServer {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'wxopen-owned-redis-'));
  private constructor(
    readonly port: number,
    /** AOF with fsync on every write: what was acknowledged survives a kill, as in production (compose). */
    private readonly persistent: boolean,
  ) {}

  static async start(opts: { persistent?: boolean } = {}): Promise<OwnedRedisServer> {
    const server = new OwnedRedisServer(await freePort(), opts.persistent ?? false);
    await server.resume();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  async resume(): Promise<void> {
    // Its own process group, so stop() and a test file that ends early (spawn.ts) both reach it.
    this.child = spawnGroup(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--dir',
        this.dir,
        ...(this.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
      ],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        await probe.ping();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        // A refused probe has ended already; disconnect() would arm ioredis' 2 s destroy timer on its closed
        // stream, which nothing clears (it waits for a 'close' that came before), keeping the test process alive.
        if (probe.status !== 'end') probe.disconnect();
      }
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      signalGroup(child, 'SIGKILL');
    });
  }
}

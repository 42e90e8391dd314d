import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './global-setup';
import { ROOT } from './spawn';

/**
 * The real service (src/main.ts) in its own OS process group, on free ports. `kill()` sends a
 * signal to the whole group, so nothing it started outlives the test.
 */
export class ServiceProcess {
  private output = '';
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly internalUrl: string | undefined,
  ) {
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
  }

  static async start(env: NodeJS.ProcessEnv, opts: { internalPort?: boolean } = {}): Promise<ServiceProcess> {
    const port = await freePort();
    const internalPort = opts.internalPort ? await freePort() : undefined;
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts')], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...env,
        PORT: String(port),
        ...(internalPort ? { INTERNAL_PORT: String(internalPort) } : {}),
      },
    });
    return new ServiceProcess(
      child,
      `http://127.0.0.1:${port}`,
      internalPort ? `http://127.0.0.1:${internalPort}` : undefined,
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  logs(): string {
    return this.output;
  }

  /** Log lines (JSON) that parse. */
  lines(): Record<string, unknown>[] {
    return this.output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return {};
        }
      });
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.exited) return Promise.resolve();
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    try {
      process.kill(-this.pid, signal);
    } catch {
      // already gone
    }
    return exited;
  }
}

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

/**
 * Every process a test starts leads its own process group (`detached: true`), so that stopping it stops its
 * children too: tsx runs the entry in a child node process, and a sandbox runs its own redis-server. A plain
 * `child.kill()` would reach only the leader and orphan them.
 */
const running = new Set<ChildProcess>();

export function spawnGroup(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options, detached: true });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** Last resort when a test file ends with a group still running (a failed assertion skipped its stop). */
process.once('exit', () => {
  for (const child of running) signalGroup(child, 'SIGKILL');
});

/** Sends `signal` to the child's whole process group; a group that is already gone is not an error. */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Stops the group: `signal`, and SIGKILL for whatever is left after `graceMs`. Resolves with the leader's exit code. */
export async function stopGroup(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 10_000,
): Promise<number | null> {
  if (child.exitCode === null && child.signalCode === null) signalGroup(child, signal);
  try {
    return await exitOf(child, graceMs);
  } catch {
    signalGroup(child, 'SIGKILL');
    return exitOf(child, 5000).catch(() => null);
  } finally {
    // Children that outlived their leader (none should) go with the group.
    signalGroup(child, 'SIGKILL');
  }
}

/** Runs a TypeScript entry of the project in its own OS process (through tsx), as the leader of its own group. */
export function spawnTs(
  entry: string,
  env: NodeJS.ProcessEnv,
  args: string[] = [],
  options: { cwd?: string } = {},
): ChildProcess {
  return spawnGroup(TSX, [join(ROOT, entry), ...args], {
    cwd: options.cwd ?? ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
}

export function collect(child: ChildProcess): { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return { stdout: () => out, stderr: () => err };
}

export function exitOf(child: ChildProcess, timeoutMs = 15_000): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => reject(new Error(`process did not exit within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

export async function waitForHttp(url: string, timeoutMs = 15_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fetch(url);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

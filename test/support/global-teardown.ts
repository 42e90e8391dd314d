import type { ChildProcess } from 'node:child_process';

/** Stops the throwaway redis-server of global-setup by its process group (SIGTERM, then SIGKILL after 3 s). */
export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __testTopologyStop?: () => Promise<void> }).__testTopologyStop?.();
  const child = (globalThis as { __testRedis?: ChildProcess }).__testRedis;
  if (!child?.pid || child.exitCode !== null) return;
  const pid = child.pid;
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pid, signal);
    } catch {
      // the group is gone already
    }
  };
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    signalGroup('SIGTERM');
    setTimeout(() => {
      signalGroup('SIGKILL');
      resolve();
    }, 3000).unref();
  });
}

/**
 * Server processes of the benchmark. Every server — the service and each baseline — runs in its own OS
 * process started the same way (`node <transpiled entry>`, see build.ts), so the runtime and the flags are
 * identical for all of them and none shares the event loop of the load generator.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BUILD_DIR, builtEntry } from './build';
import { freePort, sleep } from './common';

export interface ServerProcess {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Peak resident set size (VmHWM) in bytes, when /proc tells it. */
  peakRss(): number | undefined;
  stderr(): string;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  /** TypeScript source relative to the repository root, e.g. `src/main.ts` (its transpiled file is run). */
  entry: string;
  port: number;
  env: NodeJS.ProcessEnv;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  ipc?: boolean;
  /** Path answering 2xx once the server is up. */
  readyPath?: string;
}

export function spawnServer(
  entry: string,
  env: NodeJS.ProcessEnv,
  opts: { nodeArgs?: string[]; ipc?: boolean } = {},
): ChildProcess {
  return spawn(process.execPath, [...(opts.nodeArgs ?? []), builtEntry(entry)], {
    // Not the repository: src/main.ts loads a developer's .env from the working directory.
    cwd: BUILD_DIR,
    env,
    // stdout (the service's JSON logs) goes to /dev/null; stderr is kept for error reports.
    stdio: opts.ipc ? ['ignore', 'ignore', 'pipe', 'ipc'] : ['ignore', 'ignore', 'pipe'],
  });
}

export async function startServer(opts: SpawnOptions): Promise<ServerProcess> {
  const child = spawnServer(opts.entry, opts.env, { nodeArgs: opts.nodeArgs, ipc: opts.ipc });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (err.length < 20_000) err += d.toString();
  });
  const url = `http://127.0.0.1:${opts.port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${opts.name} exited (${child.exitCode}) before listening:\n${err}`);
    try {
      const res = await fetch(`${url}${opts.readyPath ?? '/healthz'}`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${opts.name} did not start listening within 30 s:\n${err}`);
    }
    await sleep(100);
  }
  return {
    name: opts.name,
    url,
    port: opts.port,
    child,
    peakRss: () => peakRssOf(child.pid),
    stderr: () => err,
    stop: () => stopChild(child),
  };
}

export function peakRssOf(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** SIGTERM (graceful: the service finishes in-flight work and writes its CPU profile), SIGKILL after 12 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(12_000)]);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await exited;
  }
}

let nextId = 1;

/** One request/answer over a worker's IPC channel (bench/workers/service.ts). */
export function ipcCall<T>(child: ChildProcess, msg: Record<string, unknown>, timeoutMs = 120_000): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`worker did not answer ${String(msg.cmd)} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (reply: { id: number; ok: boolean; result?: T; error?: string }) => {
      if (reply.id !== id) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      if (reply.ok) resolve(reply.result as T);
      else reject(new Error(reply.error));
    };
    child.on('message', onMessage);
    child.send({ ...msg, id });
  });
}

/**
 * Starts servers for one scenario on free ports, each in its own process, and remembers them so the
 * scenario can stop them all; `profile` adds a V8 CPU profile (--cpu-prof) into `profileDir`.
 */
export function serverStarter(profileDir: string): {
  servers: ServerProcess[];
  start: (name: string, entry: string, env: NodeJS.ProcessEnv, profile?: boolean) => Promise<ServerProcess>;
} {
  const servers: ServerProcess[] = [];
  return {
    servers,
    async start(name, entry, env, profile = false) {
      const port = await freePort();
      const server = await startServer({
        name,
        entry,
        port,
        env: { ...env, PORT: String(port) },
        nodeArgs: profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [],
      });
      servers.push(server);
      return server;
    },
  };
}

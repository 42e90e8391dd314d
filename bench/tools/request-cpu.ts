/**
 * CPU time the service process spends per token read (GET /internal/authorizers/:appid/access-token, a cache
 * hit), compared between the working tree and a git ref (default `main`):
 *
 *   npx tsx bench/tools/request-cpu.ts [--against=main] [--bursts=12] [--burst-seconds=1.5] [--log-level=info] [--profile=DIR]
 *
 * Both builds run at once as two processes; the load (autocannon, this process) alternates between them in
 * short bursts, and each burst's CPU (user + system, from /proc/<pid>/stat) is divided by its requests. CPU per
 * request, unlike req/s, hardly depends on what else the machine runs, and alternation spreads what remains
 * over both builds alike. Prints the median µs per request of each and their ratio, as one JSON line.
 * `--profile=DIR` also writes each build's V8 CPU profile under DIR/<build> and prints the share of each build's
 * busy time spent in request logging (a sample counts as logging when the code nearest its leaf that is either
 * request logging — pino-http, src/routes/request-logging — or anything else of the app, Express and the router
 * is request logging; pino's own write below it counts with its caller). A share of busy samples, unlike a
 * duration, does not depend on the machine's load.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { BENCH_COMPONENT, INTERNAL_API_TOKEN, ROOT, freePort, median, serviceEnv, uniquePrefix } from '../lib/common';
import { runLoad } from '../lib/load';
import { stopChild } from '../lib/procs';
import { startBenchRedis } from '../lib/redis';
import { seedAuthorizers } from '../lib/seed';
import { createKeys } from '../../src/store/keys';
import { generateAccounts } from '../../src/sandbox/emulator';
import { spawn, type ChildProcess } from 'node:child_process';

const arg = (name: string, fallback: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const CACHE = join(ROOT, 'node_modules', '.cache');

/** Transpiles `srcDir` (a tree of .ts files) to `<CACHE>/<label>/src`, where `require` still finds node_modules. */
function transpile(srcDir: string, label: string): string {
  const out = join(CACHE, label);
  rmSync(out, { recursive: true, force: true });
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
        const target = join(out, 'src', relative(srcDir, path)).replace(/\.ts$/, '.js');
        const { outputText } = ts.transpileModule(readFileSync(path, 'utf8'), {
          fileName: path,
          compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
        });
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, outputText);
      }
    }
  };
  walk(srcDir);
  symlinkSync(join(ROOT, 'views'), join(out, 'views'), 'dir');
  return out;
}

/** utime + stime of a process in ms (Linux clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function startBuild(
  dir: string,
  env: NodeJS.ProcessEnv,
  port: number,
  profileDir: string | undefined,
): Promise<ChildProcess> {
  const nodeArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const child = spawn(process.execPath, [...nodeArgs, join(dir, 'src', 'main.js')], {
    cwd: dir,
    env: { ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return child;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${dir} did not start`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

interface ProfileNode {
  id: number;
  callFrame: { url: string };
  children?: number[];
}

/** The share of a profile's busy samples that request logging accounts for (see the header). */
function loggingShare(file: string): number {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const verdict = new Map<number, 'logging' | 'other' | 'none'>();
  const classify = (id: number): 'logging' | 'other' | 'none' => {
    const known = verdict.get(id);
    if (known) return known;
    const url = byId.get(id)!.callFrame.url;
    let v: 'logging' | 'other' | 'none';
    if (/node_modules\/pino-http\/|\/src\/routes\/request-logging\.js/.test(url)) v = 'logging';
    else if (/node_modules\/(express|router)\/|\/src\/(?!logger\.js)/.test(url)) v = 'other';
    else {
      const up = parent.get(id);
      v = up === undefined ? 'none' : classify(up);
    }
    verdict.set(id, v);
    return v;
  };
  let busy = 0;
  let logging = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const v = classify(id);
    if (v === 'none') return; // idle, GC, start-up, timers: no request's
    busy += dt;
    if (v === 'logging') logging += dt;
  });
  return logging / busy;
}

async function main(): Promise<void> {
  const against = arg('against', 'main');
  const bursts = Number(arg('bursts', '12'));
  const burstS = Number(arg('burst-seconds', '1.5'));
  const refTree = join(CACHE, 'wxopen-cpu-ref-src');
  rmSync(refTree, { recursive: true, force: true });
  mkdirSync(refTree, { recursive: true });
  execFileSync('sh', ['-c', `git archive ${against} src | tar -x -C ${refTree}`], { cwd: ROOT });
  const builds = {
    current: transpile(join(ROOT, 'src'), 'wxopen-cpu-current'),
    [against]: transpile(join(refTree, 'src'), 'wxopen-cpu-ref'),
  };

  const redis = await startBenchRedis();
  const prefix = uniquePrefix('cpu');
  const keys = createKeys(prefix, BENCH_COMPONENT.appId);
  const appids = generateAccounts(100).map((a) => a.appid);
  const now = Date.now();
  await seedAuthorizers(
    redis.client(),
    keys,
    appids.map((appid) => ({
      appid,
      refreshToken: `refreshtoken@@@${randomBytes(33).toString('base64url')}`,
      accessToken: `82_${randomBytes(72).toString('base64url')}`,
      expiresIn: 7200,
      funcInfo: [],
    })),
    now,
    () => now + 7200_000,
  );
  const env = serviceEnv({
    port: 1,
    redisUrl: redis.url,
    keyPrefix: prefix,
    apiBaseUrl: 'http://127.0.0.1:9',
    logLevel: arg('log-level', 'info'),
  });
  const servers: { label: string; child: ChildProcess; port: number; samples: number[] }[] = [];
  try {
    for (const [label, dir] of Object.entries(builds)) {
      const port = await freePort();
      const profile = arg('profile', '');
      servers.push({
        label,
        child: await startBuild(dir, env, port, profile ? join(profile, label) : undefined),
        port,
        samples: [],
      });
    }
    const burst = async (s: (typeof servers)[number], durationS: number) => {
      const before = cpuMs(s.child.pid!);
      const result = await runLoad({
        url: `http://127.0.0.1:${s.port}`,
        connections: 16,
        durationS,
        request: (i) => ({
          method: 'GET',
          path: `/internal/authorizers/${appids[i % appids.length]}/access-token`,
          headers: { authorization: `Bearer ${INTERNAL_API_TOKEN}` },
        }),
      });
      if (result.errors > 0) throw new Error(`${s.label}: ${result.errors} errors`);
      return ((cpuMs(s.child.pid!) - before) * 1000) / result.requests;
    };
    for (const s of servers) await burst(s, 2); // warm-up: JIT, connections
    for (let i = 0; i < bursts; i++) {
      for (const s of i % 2 === 0 ? servers : [...servers].reverse()) s.samples.push(await burst(s, burstS));
    }
    const medians = Object.fromEntries(servers.map((s) => [s.label, Math.round(median(s.samples))]));
    const [a, b] = servers;
    process.stdout.write(
      `${JSON.stringify({ cpuUsPerRequest: medians, ratio: Number((median(a!.samples) / median(b!.samples)).toFixed(3)), bursts })}\n`,
    );
  } finally {
    for (const s of servers) await stopChild(s.child);
    const profile = arg('profile', '');
    if (profile) {
      for (const s of servers) {
        const dir = join(profile, s.label);
        for (const f of readdirSync(dir).filter((n) => n.endsWith('.cpuprofile'))) {
          process.stdout.write(
            `${JSON.stringify({ build: s.label, profile: join(dir, f), requestLoggingShare: Number(loggingShare(join(dir, f)).toFixed(3)) })}\n`,
          );
        }
      }
    }
    await redis.stop();
    for (const dir of [...Object.values(builds), refTree]) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});

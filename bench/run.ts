/**
 * `npm run bench` — the service's speed as ratios to baselines measured in the same run on the same machine.
 *
 *   npm run bench                 full mode (under 10 minutes)
 *   npm run bench -- --quick      CI smoke mode (under 2 minutes; the scale scenario uses 10 000 accounts)
 *   npm run bench -- --only=push,storm     some scenarios only (push, message, token, storm, scale, cluster, console)
 *   npm run bench -- --profile    the service processes write V8 CPU profiles (node --cpu-prof) to a temp dir
 *
 * Redis: REDIS_URL when set, otherwise a throwaway redis-server. Traffic stays on 127.0.0.1. Prints a table with
 * PASS/FAIL next to each target and writes bench/results/latest.json; a missed target never fails the command, a
 * scenario that crashed does (exit 1).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildServers } from './lib/build';
import { machineInfo, progress } from './lib/common';
import { startBenchRedis, type BenchRedis } from './lib/redis';
import { renderTable, writeReport, type BenchReport, type ScenarioResult } from './lib/report';
import { clusterScenario } from './scenarios/cluster';
import { consoleScenario } from './scenarios/console';
import { messageScenario } from './scenarios/message';
import { pushScenario } from './scenarios/push';
import { scaleScenario } from './scenarios/scale';
import { stormScenario } from './scenarios/storm';
import { tokenReadScenario } from './scenarios/token-read';

export interface BenchContext {
  quick: boolean;
  redis: BenchRedis;
  /** Whether service processes run with --cpu-prof. */
  profile: boolean;
  profileDir: string;
}

/** A scenario gives one result block, or several (the cluster scenario: a million accounts, then the scale run). */
const SCENARIOS: Record<string, (ctx: BenchContext) => Promise<ScenarioResult | ScenarioResult[]>> = {
  push: pushScenario,
  message: messageScenario,
  token: tokenReadScenario,
  storm: stormScenario,
  scale: scaleScenario,
  cluster: clusterScenario,
  console: consoleScenario,
};

function parseArgs(argv: string[]): { quick: boolean; only: string[]; profile: boolean } {
  const quick = argv.includes('--quick');
  const profile = argv.includes('--profile');
  const onlyArg = argv.find((a) => a.startsWith('--only='));
  const only = onlyArg ? onlyArg.slice('--only='.length).split(',').filter(Boolean) : Object.keys(SCENARIOS);
  for (const name of only)
    if (!SCENARIOS[name]) throw new Error(`unknown scenario ${name} (known: ${Object.keys(SCENARIOS).join(', ')})`);
  const unknown = argv.filter((a) => a !== '--quick' && a !== '--profile' && !a.startsWith('--only='));
  if (unknown.length) throw new Error(`unknown argument(s): ${unknown.join(' ')}`);
  return { quick, only, profile };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  progress(`transpiled ${buildServers()} server files (src, bench/servers, bench/workers)`);
  const redis = await startBenchRedis();
  const machine = { ...machineInfo(), redis: `${redis.version}${redis.owned ? ' (throwaway)' : ' (REDIS_URL)'}` };
  const ctx: BenchContext = {
    quick: args.quick,
    redis,
    profile: args.profile,
    profileDir: args.profile ? mkdtempSync(join(tmpdir(), 'wxopen-bench-prof-')) : '',
  };
  progress(
    `${args.quick ? 'quick' : 'full'} mode: ${args.only.join(', ')} — ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}`,
  );
  const scenarios: ScenarioResult[] = [];
  const crashed: string[] = [];
  try {
    for (const name of args.only) {
      const t0 = Date.now();
      try {
        scenarios.push(...[await SCENARIOS[name]!(ctx)].flat());
      } catch (err) {
        progress(`${name} failed: ${(err as Error).stack}`);
        crashed.push(name);
        scenarios.push({
          id: name,
          title: name,
          method: 'the scenario crashed',
          rows: [{ name: 'error', note: (err as Error).message.split('\n')[0] }],
          checks: [],
        });
      }
      progress(`${name} done in ${Math.round((Date.now() - t0) / 1000)} s`);
    }
  } finally {
    await redis.stop();
  }
  const report: BenchReport = {
    mode: args.quick ? 'quick' : 'full',
    startedAt: new Date(started).toISOString(),
    durationS: (Date.now() - started) / 1000,
    machine,
    scenarios,
  };
  const file = writeReport(report);
  console.log(renderTable(report));
  console.log(`\nwritten: ${file}`);
  if (args.profile) console.log(`CPU profiles: ${ctx.profileDir}`);
  // A missed target is information; a scenario that could not run at all is a broken benchmark.
  if (crashed.length > 0) {
    console.error(`bench: ${crashed.length} scenario(s) crashed: ${crashed.join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${(err as Error).stack}`);
  process.exit(1);
});

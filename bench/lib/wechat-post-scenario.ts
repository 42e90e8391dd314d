/**
 * The scenario shape shared by the push (`POST /auth`) and message (`POST /:appid/callback`) benchmarks: WeChat's
 * distinct, valid, encrypted POSTs from a pre-generated pool, against baselines started in the same run, each server
 * its own process, in alternating rounds (rounds.ts). The service starts every run on a clean de-duplication slate
 * and takes requests from the start of the pool, so within a run each request is new to it; the pool is grown
 * (outside the measured time) to cover the next run.
 */
import { createKeys, type Keys } from '../../src/store/keys';
import type { BenchContext } from '../run';
import { BENCH_COMPONENT, progress, serviceEnv, uniquePrefix } from './common';
import type { RequestSpec } from './load';
import { serverStarter, type ServerProcess } from './procs';
import { deletePrefix, type BenchRedis } from './redis';
import { ratioCheck, type ScenarioResult } from './report';
import { runRounds, type Target } from './rounds';

type Redis = ReturnType<BenchRedis['client']>;

export interface RequestPool {
  readonly size: number;
  ensure(n: number): void;
  get(i: number): RequestSpec;
}

export interface Baseline {
  readonly id: string;
  /** The server process's name, and the other rows' notes ("0.45× bare Express"). */
  readonly name: string;
  /** Names its ratio in the details: `serviceTo<ratioName>`. */
  readonly ratioName: string;
  readonly label: string;
  /** The server's source, e.g. `bench/servers/naive-express.ts`. */
  readonly file: string;
}

/** Bare Express 5 with a text body parser, answering `success`. */
export const BARE_EXPRESS: Baseline = Object.freeze({
  id: 'bare-express',
  name: 'bare Express',
  ratioName: 'BareExpress',
  label: 'bare Express 5 + text parser → success',
  file: 'bench/servers/bare-express.ts',
});

/** The naive tutorial handler (body-parser-xml, xml2js, inline decrypt), ending in `write` (its one Redis command). */
export function naiveExpress(write: string): Baseline {
  return {
    id: 'naive',
    name: 'naive Express',
    ratioName: 'Naive',
    label: `naive Express (xml2js, decrypt, ${write})`,
    file: 'bench/servers/naive-express.ts',
  };
}

export interface WeChatPostScenario {
  readonly id: string;
  readonly title: string;
  /** What the requests are, in the warnings ("pushes", "messages"). */
  readonly noun: string;
  readonly pool: RequestPool;
  /** BASELINE_MODE of the baseline servers. */
  readonly baselineMode: string;
  readonly baselines: readonly Baseline[];
  /** Each row's note is its ratio to this baseline (the first one, itself, has none). */
  readonly noteAgainst: string;
  readonly serviceLabel: string;
  /** Key pattern under `P:` of the service's de-duplication records, deleted before each of its runs. */
  readonly dedupPattern: string;
  /** Targets: the minimum service / baseline ratio, by baseline id. */
  readonly targets: ReadonlyArray<{ readonly what: string; readonly against: string; readonly min: number }>;
  readonly methodNote?: string;
  /** Before the servers start: what the service must find in Redis (e.g. the authorized account). */
  seed?(redis: Redis, keys: Keys): Promise<void>;
  /** Scenario-specific figures for the details, read after the rounds. */
  details?(redis: Redis, keys: Keys): Promise<Record<string, unknown>>;
}

export async function runWeChatPostScenario(ctx: BenchContext, spec: WeChatPostScenario): Promise<ScenarioResult> {
  const { quick } = ctx;
  const prefix = uniquePrefix(spec.id);
  const keys = createKeys(prefix, BENCH_COMPONENT.appId);
  const redis = ctx.redis.client();
  const { pool } = spec;
  pool.ensure(quick ? 20_000 : 40_000);
  const opts = { rounds: quick ? 3 : 5, durationS: quick ? 2 : 5, warmupS: quick ? 0.75 : 2, connections: 32 };

  const { servers, start } = serverStarter(ctx.profileDir);
  const baseEnv = serviceEnv({ port: 0, redisUrl: ctx.redis.url, keyPrefix: prefix, apiBaseUrl: 'http://127.0.0.1:9' });
  const baselineEnv = { ...baseEnv, BASELINE_MODE: spec.baselineMode, BASELINE_KEY_ROOT: keys.root };

  try {
    await spec.seed?.(redis, keys);
    progress(`${spec.id}: starting servers`);
    const started: Array<{ baseline: Baseline; server: ServerProcess }> = [];
    for (const baseline of spec.baselines) {
      started.push({ baseline, server: await start(baseline.name, baseline.file, baselineEnv) });
    }
    const service = await start('wxopen-auth', 'src/main.ts', baseEnv, ctx.profile);

    let serviceDuplicates = 0;
    const baselineTarget = ({ id, label }: Baseline, server: ServerProcess): Target => {
      let offset = 0;
      return {
        id,
        label,
        server,
        request: (i) => pool.get(offset + i),
        afterRun: (r) => {
          offset += r.requests;
          return undefined;
        },
      };
    };
    const targets: Target[] = [
      ...started.map(({ baseline, server }) => baselineTarget(baseline, server)),
      {
        id: 'service',
        label: spec.serviceLabel,
        server: service,
        request: (i) => pool.get(i),
        beforeRun: async () => {
          await deletePrefix(redis, keys.root, spec.dedupPattern);
        },
        afterRun: (r) => {
          const repeats = Math.max(0, r.requests - pool.size);
          serviceDuplicates += repeats;
          pool.ensure(Math.ceil(r.requests * (opts.durationS / r.durationS) * 1.5));
          if (repeats > 0) return `${repeats} ${spec.noun} were repeats (pool too small)`;
          return r.non2xx > 0 ? `${r.non2xx} non-2xx answers` : undefined;
        },
      },
    ];
    const summary = await runRounds(spec.id, targets, opts);
    const by = (id: string) => summary.find((s) => s.id === id)!;
    const svc = by('service');
    const reference = by(spec.noteAgainst);
    const referenceName = spec.baselines.find((b) => b.id === spec.noteAgainst)?.name ?? spec.noteAgainst;
    return {
      id: spec.id,
      title: spec.title,
      method: `${opts.rounds} alternating rounds × ${opts.durationS} s per target (warm-up ${opts.warmupS} s), ${opts.connections} connections, medians; each server its own process${spec.methodNote ? `; ${spec.methodNote}` : ''}`,
      rows: summary.map((s) => ({
        name: s.label,
        reqPerSec: s.reqPerSec,
        p50: s.p50,
        p99: s.p99,
        errors: s.errors,
        note: [
          s.id !== spec.noteAgainst ? `${(s.reqPerSec / reference.reqPerSec).toFixed(2)}× ${referenceName}` : '',
          ...s.warnings,
        ]
          .filter(Boolean)
          .join('; '),
      })),
      checks: spec.targets.map((t) => ratioCheck(t.what, svc.reqPerSec / by(t.against).reqPerSec, t.min)),
      details: {
        ratios: Object.fromEntries(
          spec.baselines.map((b) => [`serviceTo${b.ratioName}`, svc.reqPerSec / by(b.id).reqPerSec]),
        ),
        poolSize: pool.size,
        serviceDuplicates,
        ...(await spec.details?.(redis, keys)),
        targets: summary,
        serviceStderr: service.stderr().slice(0, 2000),
      },
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await deletePrefix(redis, prefix);
    await deletePrefix(redis, keys.root);
  }
}

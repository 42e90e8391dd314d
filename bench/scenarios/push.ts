/**
 * Scenario 1 — Push: POST /auth with distinct, valid, encrypted component_verify_ticket pushes.
 * Baselines: bare node:http answering `success`; bare Express 5 with a text body parser; the naive tutorial
 * handler (body-parser-xml + xml2js + decrypt + ioredis SET). The service is src/main.ts, as deployed.
 */
import { createKeys } from '../../src/store/keys';
import { BENCH_COMPONENT, progress, serviceEnv, uniquePrefix } from '../lib/common';
import { PushPool } from '../lib/pushes';
import { deletePrefix } from '../lib/redis';
import { ratioCheck, type ScenarioResult } from '../lib/report';
import { runRounds, type Target } from '../lib/rounds';
import { serverStarter, type ServerProcess } from '../lib/procs';
import type { BenchContext } from '../run';

export async function pushScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { quick } = ctx;
  const prefix = uniquePrefix('push');
  const keys = createKeys(prefix, BENCH_COMPONENT.appId);
  const redis = ctx.redis.client();
  const pool = new PushPool();
  pool.ensure(quick ? 20_000 : 40_000);
  const opts = { rounds: quick ? 3 : 5, durationS: quick ? 2 : 5, warmupS: quick ? 0.75 : 2, connections: 32 };

  const { servers, start } = serverStarter(ctx.profileDir);
  const baseEnv = serviceEnv({ port: 0, redisUrl: ctx.redis.url, keyPrefix: prefix, apiBaseUrl: 'http://127.0.0.1:9' });
  const baselineEnv = { ...baseEnv, BASELINE_MODE: 'push', BASELINE_KEY_ROOT: keys.root };

  try {
    progress('push: starting servers');
    const bareHttp = await start('bare node:http', 'bench/servers/bare-http.ts', baselineEnv);
    const bareExpress = await start('bare Express', 'bench/servers/bare-express.ts', baselineEnv);
    const naive = await start('naive Express', 'bench/servers/naive-express.ts', baselineEnv);
    const service = await start('wxopen-auth', 'src/main.ts', baseEnv, ctx.profile);

    // Each run of the service starts on a clean de-duplication slate and takes pushes from the start of the pool,
    // so within one run every push is new to it; the pool is grown (outside the measured time) to cover a run.
    let serviceDuplicates = 0;
    const baseline = (id: string, label: string, server: ServerProcess): Target => {
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
      baseline('bare-http', 'bare node:http → success', bareHttp),
      baseline('bare-express', 'bare Express 5 + text parser → success', bareExpress),
      baseline('naive', 'naive Express (xml2js, decrypt, SET)', naive),
      {
        id: 'service',
        label: 'wxopen-auth POST /auth',
        server: service,
        request: (i) => pool.get(i),
        beforeRun: async () => {
          await deletePrefix(redis, keys.root, 'push:*');
        },
        afterRun: (r) => {
          const repeats = Math.max(0, r.requests - pool.size);
          serviceDuplicates += repeats;
          pool.ensure(Math.ceil(r.requests * (opts.durationS / r.durationS) * 1.5));
          if (repeats > 0) return `${repeats} pushes were repeats (pool too small)`;
          return r.non2xx > 0 ? `${r.non2xx} non-2xx answers` : undefined;
        },
      },
    ];
    const summary = await runRounds('push', targets, opts);
    const by = (id: string) => summary.find((s) => s.id === id)!;
    const svc = by('service');
    return {
      id: 'push',
      title: 'Push: POST /auth, distinct valid encrypted ticket pushes',
      method: `${opts.rounds} alternating rounds × ${opts.durationS} s per target (warm-up ${opts.warmupS} s), ${opts.connections} connections, medians; each server its own process; service LOG_LEVEL=info to /dev/null`,
      rows: summary.map((s) => ({
        name: s.label,
        reqPerSec: s.reqPerSec,
        p50: s.p50,
        p99: s.p99,
        errors: s.errors,
        note: [
          s.id !== 'bare-http' ? `${(s.reqPerSec / by('bare-http').reqPerSec).toFixed(2)}× bare http` : '',
          ...s.warnings,
        ]
          .filter(Boolean)
          .join('; '),
      })),
      checks: [
        ratioCheck('service / bare Express', svc.reqPerSec / by('bare-express').reqPerSec, 0.8),
        ratioCheck('service / naive Express handler', svc.reqPerSec / by('naive').reqPerSec, 1.3),
      ],
      details: {
        ratios: {
          serviceToBareHttp: svc.reqPerSec / by('bare-http').reqPerSec,
          serviceToBareExpress: svc.reqPerSec / by('bare-express').reqPerSec,
          serviceToNaive: svc.reqPerSec / by('naive').reqPerSec,
        },
        pushPoolSize: pool.size,
        serviceDuplicates,
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

/**
 * Scenario — Message URL: POST /:appid/callback with distinct valid encrypted user text messages.
 * Baselines: bare Express 5 with a text body parser answering `success`; the naive tutorial handler
 * (body-parser-xml + xml2js + decrypt + XADD, no de-duplication). The service does more than the naive one
 * (signature in constant time, strict XML, de-duplication across replicas, the stream append), and its target is
 * still ≥ 1.0× the naive handler.
 */
import { createKeys } from '../../src/store/keys';
import { BENCH_COMPONENT, progress, serviceEnv, uniquePrefix } from '../lib/common';
import { MessagePool } from '../lib/messages';
import { deletePrefix } from '../lib/redis';
import { ratioCheck, type ScenarioResult } from '../lib/report';
import { runRounds, type Target } from '../lib/rounds';
import { serverStarter, type ServerProcess } from '../lib/procs';
import type { BenchContext } from '../run';

export async function messageScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { quick } = ctx;
  const prefix = uniquePrefix('message');
  const keys = createKeys(prefix, BENCH_COMPONENT.appId);
  const redis = ctx.redis.client();
  const pool = new MessagePool();
  pool.ensure(quick ? 20_000 : 40_000);
  const opts = { rounds: quick ? 3 : 5, durationS: quick ? 2 : 5, warmupS: quick ? 0.75 : 2, connections: 32 };

  const { servers, start } = serverStarter(ctx.profileDir);
  const baseEnv = serviceEnv({ port: 0, redisUrl: ctx.redis.url, keyPrefix: prefix, apiBaseUrl: 'http://127.0.0.1:9' });
  const baselineEnv = { ...baseEnv, BASELINE_MODE: 'message', BASELINE_KEY_ROOT: keys.root };

  try {
    progress('message: starting servers');
    const bareExpress = await start('bare Express', 'bench/servers/bare-express.ts', baselineEnv);
    const naive = await start('naive Express', 'bench/servers/naive-express.ts', baselineEnv);
    const service = await start('wxopen-auth', 'src/main.ts', baseEnv, ctx.profile);

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
      baseline('bare-express', 'bare Express 5 + text parser → success', bareExpress),
      baseline('naive', 'naive Express (xml2js, decrypt, XADD)', naive),
      {
        id: 'service',
        label: 'wxopen-auth POST /:appid/callback',
        server: service,
        request: (i) => pool.get(i),
        // Every run starts on a clean de-duplication slate, so each message is new to the service.
        beforeRun: async () => {
          await deletePrefix(redis, keys.root, 'message_dedup:*');
        },
        afterRun: (r) => {
          const repeats = Math.max(0, r.requests - pool.size);
          pool.ensure(Math.ceil(r.requests * (opts.durationS / r.durationS) * 1.5));
          if (repeats > 0) return `${repeats} messages were repeats (pool too small)`;
          return r.non2xx > 0 ? `${r.non2xx} non-2xx answers` : undefined;
        },
      },
    ];
    const summary = await runRounds('message', targets, opts);
    const by = (id: string) => summary.find((s) => s.id === id)!;
    const svc = by('service');
    const stored = await redis.xlen(keys.messages);
    return {
      id: 'message',
      title: 'Message URL: POST /:appid/callback, distinct valid encrypted text messages',
      method: `${opts.rounds} alternating rounds × ${opts.durationS} s per target (warm-up ${opts.warmupS} s), ${opts.connections} connections, medians; each server its own process`,
      rows: summary.map((s) => ({
        name: s.label,
        reqPerSec: s.reqPerSec,
        p50: s.p50,
        p99: s.p99,
        errors: s.errors,
        note: [
          s.id !== 'bare-express' ? `${(s.reqPerSec / by('bare-express').reqPerSec).toFixed(2)}× bare Express` : '',
          ...s.warnings,
        ]
          .filter(Boolean)
          .join('; '),
      })),
      checks: [ratioCheck('service / naive Express handler', svc.reqPerSec / by('naive').reqPerSec, 1.0)],
      details: {
        ratios: {
          serviceToBareExpress: svc.reqPerSec / by('bare-express').reqPerSec,
          serviceToNaive: svc.reqPerSec / by('naive').reqPerSec,
        },
        streamEntries: stored,
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

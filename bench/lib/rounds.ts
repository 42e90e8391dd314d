/**
 * Alternating rounds: every target (baselines and the service) is warmed up, then measured once per round, in an
 * order that rotates from round to round, and each figure is the median over the rounds. Targets run one at a
 * time, each in its own process; the idle ones use no CPU, so the one under load shares the two cores only with
 * the load generator (and Redis when it uses it).
 */
import { median, progress, round } from './common';
import { runLoad, type LoadResult, type RequestSpec } from './load';
import type { ServerProcess } from './procs';

export interface Target {
  /** Short id used in ratios and JSON. */
  id: string;
  label: string;
  server: ServerProcess;
  request: (i: number) => RequestSpec;
  /** Runs before every load run of this target (outside the measured time). */
  beforeRun?: (kind: 'warmup' | 'measure') => Promise<void>;
  /** Checks a finished run; a string is a warning printed with the results. */
  afterRun?: (result: LoadResult) => string | undefined;
}

export interface RoundsOptions {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
}

export interface TargetSummary {
  id: string;
  label: string;
  reqPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
  rounds: Array<{ reqPerSec: number; p50: number; p99: number; errors: number; requests: number }>;
  warnings: string[];
}

export async function runRounds(scenario: string, targets: Target[], opts: RoundsOptions): Promise<TargetSummary[]> {
  const perTarget = new Map<string, LoadResult[]>(targets.map((t) => [t.id, []]));
  const warnings = new Map<string, string[]>(targets.map((t) => [t.id, []]));
  const once = async (t: Target, kind: 'warmup' | 'measure') => {
    await t.beforeRun?.(kind);
    const result = await runLoad({
      url: t.server.url,
      connections: opts.connections,
      durationS: kind === 'warmup' ? opts.warmupS : opts.durationS,
      request: t.request,
    });
    const warning = t.afterRun?.(result);
    if (warning && kind === 'measure') warnings.get(t.id)!.push(warning);
    return result;
  };
  for (const t of targets) {
    progress(`${scenario}: warm-up ${t.label}`);
    await once(t, 'warmup');
  }
  for (let r = 0; r < opts.rounds; r++) {
    const order = targets.map((_, i) => targets[(i + r) % targets.length]!);
    for (const t of order) {
      const result = await once(t, 'measure');
      perTarget.get(t.id)!.push(result);
      progress(
        `${scenario}: round ${r + 1}/${opts.rounds} ${t.label}: ${Math.round(result.reqPerSec)} req/s, p50 ${round(result.p50)} ms, p99 ${round(result.p99)} ms, errors ${result.errors}`,
      );
    }
  }
  return targets.map((t) => {
    const results = perTarget.get(t.id)!;
    return {
      id: t.id,
      label: t.label,
      reqPerSec: median(results.map((r) => r.reqPerSec)),
      p50: median(results.map((r) => r.p50)),
      p99: median(results.map((r) => r.p99)),
      errors: results.reduce((sum, r) => sum + r.errors, 0),
      requests: results.reduce((sum, r) => sum + r.requests, 0),
      rounds: results.map((r) => ({
        reqPerSec: round(r.reqPerSec, 1),
        p50: round(r.p50, 3),
        p99: round(r.p99, 3),
        errors: r.errors,
        requests: r.requests,
      })),
      warnings: warnings.get(t.id)!,
    };
  });
}

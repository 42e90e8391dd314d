/**
 * Scenario 3 — Refresh storm: 1 000 concurrent reads of one authorizer's token, spread over 4 service processes,
 * at the moment both the component token and that authorizer token have expired (their keys gone, as when their
 * TTL runs out), while the emulator adds 100 ms to each refresh call. Counts the upstream refresh calls in the
 * emulator's call log (the target: exactly 1 each) and the readers' latency. The same burst on the cached tokens,
 * and on the same tokens inside the refresh margin but valid: there readers must not wait for the (background)
 * refresh, so their p99 is compared with the cached reads' p99 of the same run (target: within 10 ms).
 *
 * Two kinds of readers, each measured in its own rounds: over the internal HTTP API (when the route exists), and
 * in-process (each process calls its token service directly, the code the route calls). The first shows the
 * whole system under the herd on two cores, the second the refresh coordination alone.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { createEmulator, generateAccounts } from '../../src/sandbox/emulator';
import { createKeys } from '../../src/store/keys';
import {
  BENCH_COMPONENT,
  INTERNAL_API_TOKEN,
  freePort,
  median,
  percentiles,
  progress,
  round,
  serviceEnv,
  uniquePrefix,
} from '../lib/common';
import { deletePrefix } from '../lib/redis';
import type { Check, Row, ScenarioResult } from '../lib/report';
import { ipcCall, startServer, type ServerProcess } from '../lib/procs';
import { authorizeAccounts, issueTicket, seedAuthorizers, seedTicket } from '../lib/seed';
import type { ReadReply } from '../workers/service';
import type { BenchContext } from '../run';
import { probeTokenRoute } from './token-read';

const PROCESSES = 4;
const READERS = 1000;
const DELAY_MS = 100;
const REFRESH_ENDPOINTS = ['api_component_token', 'api_authorizer_token'] as const;

interface StormRound {
  min: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  distinctTokens: number;
  tokenValid: boolean;
  upstream: Record<string, number>;
  /** Sum of the refresh calls' durations as the emulator logged them. */
  upstreamMs: number;
  timeline: string[];
  /** In-process readers: when each process got its read command, from the round's start (ms). */
  ipcDeliveryMs: number[];
  /** Inside the margin: every reader got the token stored before the burst (nobody waited for the refresh). */
  servedCached?: boolean;
}

type Mode = 'http' | 'in-process';
const PHASES = ['expired', 'cached', 'in-margin'] as const;
type Phase = (typeof PHASES)[number];

function httpGet(agent: http.Agent, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        agent,
        headers: { authorization: `Bearer ${INTERNAL_API_TOKEN}` },
        timeout: 20_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export async function stormScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const rounds = ctx.quick ? 3 : 5;
  const prefix = uniquePrefix('storm');
  const keys = createKeys(prefix, BENCH_COMPONENT.appId);
  const redis = ctx.redis.client();
  const [account] = generateAccounts(1);
  const A = account!.appid;
  const emulator = createEmulator({
    componentAppId: BENCH_COMPONENT.appId,
    componentAppSecret: BENCH_COMPONENT.appSecret,
    token: BENCH_COMPONENT.token,
    encodingAesKey: BENCH_COMPONENT.aesKey,
    ticketIntervalMs: 0,
    accounts: [account!],
  });
  const emulatorUrl = await emulator.listen(0, '127.0.0.1');
  const workers: ServerProcess[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: READERS / PROCESSES });
  try {
    const ticket = await issueTicket(emulator);
    await seedTicket(redis, keys, ticket, Date.now());
    const [authorized] = await authorizeAccounts(emulator, emulatorUrl, ticket, [A]);
    const now = Date.now();
    await seedAuthorizers(redis, keys, [authorized!], now, () => now + authorized!.expiresIn * 1000);

    progress(`storm: starting ${PROCESSES} service processes`);
    for (let i = 0; i < PROCESSES; i++) {
      const port = await freePort();
      workers.push(
        await startServer({
          name: `service ${i + 1}`,
          entry: 'bench/workers/service.ts',
          port,
          env: serviceEnv({ port, redisUrl: ctx.redis.url, keyPrefix: prefix, apiBaseUrl: emulatorUrl }),
          ipc: true,
          nodeArgs: ctx.profile ? ['--cpu-prof', '--cpu-prof-dir', ctx.profileDir] : [],
        }),
      );
    }
    const probe = await probeTokenRoute(workers[0]!.url, A);
    // Readers over HTTP measure the whole system under the herd (1 000 requests from one client process, on the
    // same two cores); in-process readers measure the refresh coordination itself. Both are reported.
    const modes: Mode[] = probe.present ? ['http', 'in-process'] : ['in-process'];
    if (!probe.present) progress(`storm: internal API ${probe.detail}; readers in-process only`);

    // Node's fetch loads and connects on first use (tens of ms here); a running service has long done that.
    await Promise.all(workers.map((w) => ipcCall(w.child, { cmd: 'warm', ticket })));

    const perProcess = READERS / PROCESSES;

    /** One burst of READERS concurrent reads of A's token over every process; the emulator's calls meanwhile. */
    const burst = async (
      mode: Mode,
    ): Promise<Omit<StormRound, 'upstream' | 'upstreamMs' | 'timeline'> & { tokens: Set<string> }> => {
      if (mode === 'http') {
        // Every reader's keep-alive connection is open beforehand: the storm measures refreshes, not TCP handshakes.
        // A connection that fails here is opened again by the burst (and counted there if it fails again).
        await Promise.all(
          workers.flatMap((w) =>
            Array.from({ length: perProcess }, () => httpGet(agent, w.port, '/healthz').catch(() => undefined)),
          ),
        );
      }
      const roundStart = Date.now();
      let latencies: number[] = [];
      const tokens = new Set<string>();
      let errors = 0;
      let delivery: number[] = [];
      if (mode === 'http') {
        const reads = workers.flatMap((w) =>
          Array.from({ length: perProcess }, async () => {
            const started = performance.now();
            try {
              const res = await httpGet(agent, w.port, `/internal/authorizers/${A}/access-token`);
              if (res.status !== 200) errors++;
              else tokens.add((JSON.parse(res.body) as { authorizer_access_token: string }).authorizer_access_token);
            } catch {
              errors++;
            }
            latencies.push(performance.now() - started);
          }),
        );
        await Promise.all(reads);
      } else {
        const replies = await Promise.all(
          workers.map((w) => ipcCall<ReadReply>(w.child, { cmd: 'read', appid: A, count: perProcess })),
        );
        delivery = replies.map((reply) => reply.receivedAt - roundStart);
        for (const reply of replies) {
          latencies = latencies.concat(reply.latenciesMs);
          reply.tokens.forEach((t) => tokens.add(t));
          errors += reply.errors.length;
        }
      }
      const [min, p50, p99, max] = percentiles(latencies, [0, 50, 99, 100]);
      const [token] = [...tokens];
      return {
        min: min!,
        p50: p50!,
        p99: p99!,
        max: max!,
        errors,
        distinctTokens: tokens.size,
        tokenValid: !!token && emulator.tokenStatus(token) === 'valid',
        ipcDeliveryMs: delivery,
        tokens,
      };
    };
    /** The refresh calls the emulator saw since `since` (ms, real time), as counts, total duration and a timeline. */
    const upstreamSince = (since: number) => {
      const upstream = Object.fromEntries(REFRESH_ENDPOINTS.map((e) => [e, emulator.callLog.count(e)]));
      const timeline = REFRESH_ENDPOINTS.flatMap((e) =>
        emulator.callLog
          .entries(e)
          .map(
            (entry) =>
              `${e.replace('api_', '')} ${Math.round(entry.at - entry.durationMs - since)}→${Math.round(entry.at - since)}`,
          ),
      );
      const upstreamMs = REFRESH_ENDPOINTS.reduce(
        (sum, e) => sum + emulator.callLog.entries(e).reduce((acc, entry) => acc + entry.durationMs, 0),
        0,
      );
      return { upstream, upstreamMs, timeline };
    };
    const storedToken = () => redis.get(keys.authorizerAccessToken(A));

    const byPhase = new Map<string, StormRound[]>();
    const record = (mode: Mode, phase: Phase, result: StormRound) => {
      const id = `${mode}|${phase}`;
      byPhase.set(id, [...(byPhase.get(id) ?? []), result]);
      progress(
        `storm (${mode}, ${phase}): upstream ${JSON.stringify(result.upstream)} (${round(result.upstreamMs, 0)} ms), p50 ${round(result.p50, 1)} ms, p99 ${round(result.p99, 1)} ms, errors ${result.errors}, tokens ${result.distinctTokens}${result.timeline.length ? `; emulator saw ${result.timeline.join(', ')}` : ''}`,
      );
    };

    for (const mode of modes) {
      for (let r = 0; r < rounds; r++) {
        // 1. Expired, as Redis expires them: the tokens' keys are gone, the schedule still holds the old expiry.
        await redis
          .multi()
          .del(keys.componentAccessToken, keys.componentAccessTokenExpiry, keys.authorizerAccessToken(A))
          .hset(keys.authorizer(A), 'access_token_expires_at', Date.now() - 1)
          .zadd(keys.authorizerSchedule(keys.scheduleShardOf(A)), Date.now() - 1, A)
          .exec();
        for (const endpoint of REFRESH_ENDPOINTS) emulator.faults.set(endpoint, { delayMs: DELAY_MS });
        emulator.callLog.clear();
        let since = Date.now();
        const expired = await burst(mode);
        emulator.faults.clear();
        record(mode, 'expired', { ...expired, ...upstreamSince(since) });

        // 2. Cached: the tokens just stored are fresh; the reads this service is for most of the time.
        emulator.callLog.clear();
        since = Date.now();
        const cached = await burst(mode);
        record(mode, 'cached', { ...cached, ...upstreamSince(since) });

        // 3. Inside the margin but valid: the same tokens with 5 minutes left (margin 15): readers get them at
        // once while one refresh per token runs behind them, held DELAY_MS by the emulator.
        const before = await storedToken();
        const soon = Date.now() + 5 * 60_000;
        await redis.hset(keys.authorizer(A), 'access_token_expires_at', soon);
        await redis.zadd(keys.scheduleOf(A), soon, A);
        await redis.set(keys.componentAccessTokenExpiry, String(soon), 'KEEPTTL');
        for (const endpoint of REFRESH_ENDPOINTS) emulator.faults.set(endpoint, { delayMs: DELAY_MS });
        emulator.callLog.clear();
        since = Date.now();
        const margin = await burst(mode);
        // The background refreshes of every process settled (so none runs into the next round's expiry).
        await Promise.all(workers.map((w) => ipcCall(w.child, { cmd: 'idle' })));
        emulator.faults.clear();
        const servedCached =
          margin.distinctTokens === 1 && margin.tokens.has(before ?? '') && (await storedToken()) !== before;
        record(mode, 'in-margin', { ...margin, ...upstreamSince(since), servedCached });
      }
    }

    const phasesOf = (phase: Phase) =>
      [...byPhase.entries()].filter(([id]) => id.endsWith(`|${phase}`)).flatMap(([, results]) => results);
    const label: Record<Mode, string> = {
      http: 'HTTP readers (internal API)',
      'in-process': 'in-process readers (token service)',
    };
    const callsOf = (results: StormRound[]) =>
      REFRESH_ENDPOINTS.map((e) => {
        const calls = results.map((r) => r.upstream[e] ?? 0);
        const [lo, hi] = [Math.min(...calls), Math.max(...calls)];
        return lo === hi ? `${hi}` : `${lo}..${hi}`;
      }).join(' + ');
    const exactlyOnce = (results: StormRound[]) =>
      results.every((r) => REFRESH_ENDPOINTS.every((e) => r.upstream[e] === 1));
    const expiredRounds = phasesOf('expired');
    const marginRounds = phasesOf('in-margin');
    const checks: Check[] = [
      {
        what: `expired tokens: upstream refreshes per token, all ${expiredRounds.length} rounds`,
        value: callsOf(expiredRounds),
        target: 'exactly 1 + 1 (component + authorizer)',
        pass:
          exactlyOnce(expiredRounds) &&
          expiredRounds.every((r) => r.errors === 0 && r.distinctTokens === 1 && r.tokenValid),
      },
      {
        what: `inside the margin: upstream refreshes per token (in the background), all ${marginRounds.length} rounds`,
        value: callsOf(marginRounds),
        target: 'exactly 1 + 1, every reader served the cached token',
        pass: exactlyOnce(marginRounds) && marginRounds.every((r) => r.errors === 0 && r.servedCached === true),
      },
    ];
    const rows: Row[] = [];
    for (const mode of modes) {
      const of = (phase: Phase) => byPhase.get(`${mode}|${phase}`) ?? [];
      const p99Of = (phase: Phase) => median(of(phase).map((r) => r.p99));
      for (const phase of PHASES) {
        const results = of(phase);
        rows.push({
          name: `${READERS} ${label[mode]}, ${phase}`,
          p50: median(results.map((r) => r.p50)),
          p99: p99Of(phase),
          errors: results.reduce((sum, r) => sum + r.errors, 0),
          note: `max ${round(Math.max(...results.map((r) => r.max)), 1)} ms; upstream calls per round ${results.map((r) => REFRESH_ENDPOINTS.map((e) => r.upstream[e]).join('+')).join(', ')}`,
        });
      }
      const upstreamMs = median(of('expired').map((r) => r.upstreamMs));
      const limit = upstreamMs + 50;
      checks.push({
        what: `expired tokens: reader p99, ${label[mode]}`,
        value: `${round(p99Of('expired'), 1)} ms`,
        target: `≤ ${round(limit, 0)} ms (upstream ${round(upstreamMs, 0)} ms + 50)`,
        pass: p99Of('expired') <= limit,
      });
      const cachedP99 = p99Of('cached');
      checks.push({
        what: `inside the margin: reader p99, ${label[mode]}`,
        value: `${round(p99Of('in-margin'), 1)} ms`,
        target: `≤ ${round(cachedP99 + 10, 1)} ms (cached-read p99 ${round(cachedP99, 1)} ms of the same run + 10)`,
        pass: p99Of('in-margin') <= cachedP99 + 10,
      });
    }
    return {
      id: 'storm',
      title: `Refresh storm: ${READERS} concurrent reads over ${PROCESSES} service processes as both tokens expire, and inside the margin`,
      method: `${rounds} rounds per reader kind, medians; each round: expired tokens, then the cached tokens, then the same tokens inside the margin (5 min left of 15); emulator delay ${DELAY_MS} ms on ${REFRESH_ENDPOINTS.join(' and ')} (sequential: the authorizer refresh needs the component token), so "upstream" ≈ 2 × ${DELAY_MS} ms${probe.present ? '' : `; internal API: ${probe.detail}`}`,
      rows,
      checks,
      details: { route: probe.detail, rounds: Object.fromEntries(byPhase) },
    };
  } finally {
    agent.destroy();
    await Promise.all(workers.map((w) => w.stop()));
    await emulator.close();
    await deletePrefix(redis, prefix);
  }
}

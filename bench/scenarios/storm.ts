/**
 * Scenario 3 — Refresh storm: 1 000 concurrent reads of one authorizer's token, spread over 4 service processes,
 * at the moment both the component token and that authorizer token have expired (their keys gone, as when their
 * TTL runs out), while the emulator adds 100 ms to each refresh call. Counts the upstream refresh calls in the
 * emulator's call log (the target: exactly 1 each) and the readers' latency.
 *
 * Two kinds of readers, each measured in its own rounds: over the internal HTTP API (when the route exists), and
 * in-process (each process calls its token service directly, the code the route calls). The first shows the
 * whole system under the herd on two cores, the second the refresh coordination alone.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { createEmulator, generateAccounts } from '../../src/sandbox/emulator';
import { createKeys } from '../../src/store/keys';
import { BENCH_COMPONENT, INTERNAL_API_TOKEN, freePort, median, percentiles, progress, round, serviceEnv, uniquePrefix } from '../lib/common';
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
}

type Mode = 'http' | 'in-process';

function httpGet(agent: http.Agent, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, agent, headers: { authorization: `Bearer ${INTERNAL_API_TOKEN}` }, timeout: 20_000 },
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
    const byMode = new Map<Mode, StormRound[]>();
    for (const mode of modes) {
      const results: StormRound[] = [];
      byMode.set(mode, results);
      for (let r = 0; r < rounds; r++) {
        if (mode === 'http') {
          // Every reader's keep-alive connection is open beforehand: the storm measures refreshes, not TCP handshakes.
          await Promise.all(workers.flatMap((w) => Array.from({ length: perProcess }, () => httpGet(agent, w.port, '/healthz'))));
        }
        // Expiry as Redis does it: the tokens' keys are gone, the schedule still holds the old expiry.
        await redis
          .multi()
          .del(keys.componentAccessToken, keys.componentAccessTokenExpiry, keys.authorizerAccessToken(A))
          .zadd(keys.authorizers, Date.now() - 1, A)
          .exec();
        for (const endpoint of REFRESH_ENDPOINTS) emulator.faults.set(endpoint, { delayMs: DELAY_MS });
        emulator.callLog.clear();
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
          const replies = await Promise.all(workers.map((w) => ipcCall<ReadReply>(w.child, { cmd: 'read', appid: A, count: perProcess })));
          delivery = replies.map((reply) => reply.receivedAt - roundStart);
          for (const reply of replies) {
            latencies = latencies.concat(reply.latenciesMs);
            reply.tokens.forEach((t) => tokens.add(t));
            errors += reply.errors.length;
          }
        }
        emulator.faults.clear();
        const upstream = Object.fromEntries(REFRESH_ENDPOINTS.map((e) => [e, emulator.callLog.count(e)]));
        // When each refresh call reached the emulator and when it answered, from the round's start (ms).
        const timeline = REFRESH_ENDPOINTS.flatMap((e) =>
          emulator.callLog.entries(e).map((entry) => `${e.replace('api_', '')} ${Math.round(entry.at - entry.durationMs - roundStart)}→${Math.round(entry.at - roundStart)}`),
        );
        const upstreamMs = REFRESH_ENDPOINTS.reduce(
          (sum, e) => sum + emulator.callLog.entries(e).reduce((acc, entry) => acc + entry.durationMs, 0),
          0,
        );
        const [min, p50, p99, max] = percentiles(latencies, [0, 50, 99, 100]);
        const [token] = [...tokens];
        results.push({
          min: min!,
          p50: p50!,
          p99: p99!,
          max: max!,
          errors,
          distinctTokens: tokens.size,
          tokenValid: !!token && emulator.tokenStatus(token) === 'valid',
          upstream,
          upstreamMs,
          timeline,
          ipcDeliveryMs: delivery,
        });
        progress(
          `storm (${mode}): round ${r + 1}/${rounds}: upstream ${JSON.stringify(upstream)} (${round(upstreamMs, 0)} ms), p50 ${round(p50!, 1)} ms, p99 ${round(p99!, 1)} ms, errors ${errors}, tokens ${tokens.size}; emulator saw ${timeline.join(', ')}`,
        );
      }
    }

    const all = [...byMode.values()].flat();
    const exactlyOnce = all.every((r) => REFRESH_ENDPOINTS.every((e) => r.upstream[e] === 1));
    const worstCalls = Object.fromEntries(REFRESH_ENDPOINTS.map((e) => [e, Math.max(...all.map((r) => r.upstream[e] ?? 0))]));
    const fewestCalls = Object.fromEntries(REFRESH_ENDPOINTS.map((e) => [e, Math.min(...all.map((r) => r.upstream[e] ?? 0))]));
    const errors = all.reduce((sum, r) => sum + r.errors, 0);
    const label: Record<Mode, string> = { http: 'HTTP readers (internal API)', 'in-process': 'in-process readers (token service)' };
    const checks: Check[] = [
      {
        what: `upstream refreshes per token, all ${all.length} rounds`,
        value: REFRESH_ENDPOINTS.map((e) => (worstCalls[e] === fewestCalls[e] ? `${worstCalls[e]}` : `${fewestCalls[e]}..${worstCalls[e]}`)).join(' + '),
        target: 'exactly 1 + 1 (component + authorizer)',
        pass: exactlyOnce && errors === 0 && all.every((r) => r.distinctTokens === 1 && r.tokenValid),
      },
    ];
    const rows: Row[] = [];
    for (const [mode, results] of byMode) {
      const p99 = median(results.map((r) => r.p99));
      const upstreamMs = median(results.map((r) => r.upstreamMs));
      const limit = upstreamMs + 50;
      rows.push({
        name: `${READERS} ${label[mode]}`,
        p50: median(results.map((r) => r.p50)),
        p99,
        errors: results.reduce((sum, r) => sum + r.errors, 0),
        note: `max ${round(Math.max(...results.map((r) => r.max)), 1)} ms; upstream calls per round ${results.map((r) => REFRESH_ENDPOINTS.map((e) => r.upstream[e]).join('+')).join(', ')}`,
      });
      checks.push({
        what: `reader p99, ${label[mode]}`,
        value: `${round(p99, 1)} ms`,
        target: `≤ ${round(limit, 0)} ms (upstream ${round(upstreamMs, 0)} ms + 50)`,
        pass: p99 <= limit,
      });
    }
    return {
      id: 'storm',
      title: `Refresh storm: ${READERS} concurrent reads over ${PROCESSES} service processes as both tokens expire`,
      method: `${rounds} rounds per reader kind, medians; emulator delay ${DELAY_MS} ms on ${REFRESH_ENDPOINTS.join(' and ')} (sequential: the authorizer refresh needs the component token), so "upstream" ≈ 2 × ${DELAY_MS} ms${probe.present ? '' : `; internal API: ${probe.detail}`}`,
      rows,
      checks,
      details: { route: probe.detail, rounds: Object.fromEntries(byMode) },
    };
  } finally {
    agent.destroy();
    await Promise.all(workers.map((w) => w.stop()));
    await emulator.close();
    await deletePrefix(redis, prefix);
  }
}

/**
 * Scenario 4 — Scale: N authorized accounts (100 000; 10 000 in --quick) seeded in Redis, kept fresh by the
 * refresher against the emulator for two simulated hours and more.
 *
 * The accounts are authorized in the emulator and their codes exchanged with api_query_auth (so every refresh
 * token is real to the emulator), then written to Redis with pipelines in the key contract's shape. Their tokens
 * expire uniformly over the next two hours — the steady state of a platform whose refresher has been keeping up.
 * A ManualClock shared by the emulator (here) and the service process (moved over IPC in step) accelerates time:
 * each tick advances both clocks by the refresher's interval (30 s) and runs one refresher round, exactly what
 * the service's timer does in production. Between ticks a reader GETs random accounts' public token keys, as
 * internal services do, and asks the emulator whether the token it got is still valid; every 20 simulated
 * minutes (and at the end) it reads every account's token.
 */
import { ManualClock } from '../../src/clock';
import { createEmulator, generateAccounts } from '../../src/sandbox/emulator';
import { createKeys } from '../../src/store/keys';
import { BENCH_COMPONENT, freePort, progress, round, uniquePrefix } from '../lib/common';
import { execByNode, serviceEnvOn, singleNode, type BenchTopology } from '../lib/topology';
import type { ScenarioResult } from '../lib/report';
import { ipcCall, startServer, type ServerProcess } from '../lib/procs';
import { authorizeAccounts, issueTicket, countScheduledUntil, seedAuthorizers, seedTicket } from '../lib/seed';
import type { TickReply } from '../workers/service';
import type { BenchContext } from '../run';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const TICK_MS = 30_000; // the refresher's intervalMs (src/container.ts)
const MARGIN_MS = 900_000; // TOKEN_REFRESH_MARGIN_SECONDS' default
/** A refresher outage shorter than the margin: no token expires during it, every one is refreshable after it. */
const OUTAGE_MS = 10 * 60_000;
const OUTAGE_MAX_ROUNDS = 20;
const RSS_LIMIT = 200 * 2 ** 20;

export function scaleScenario(ctx: BenchContext): Promise<ScenarioResult> {
  return runScale(ctx, singleNode(ctx.redis), { id: 'scale', title: 'Scale' });
}

/**
 * The scale run on a given topology (the cluster scenario runs it on its Cluster). The refresher, the reads and
 * the targets are the same on every topology; only where the keys live changes.
 */
export async function runScale(
  ctx: BenchContext,
  topology: BenchTopology,
  opts: { id: string; title: string; wallBudgetS?: number },
): Promise<ScenarioResult> {
  const n = ctx.quick ? 10_000 : 100_000;
  const simulatedMs = 2 * HOUR + 10 * MINUTE;
  const samplePerTick = 500;
  const sweepEveryTicks = (20 * MINUTE) / TICK_MS;
  // The simulation is also bounded in real time; a run cut short says how far it got.
  const wallBudgetMs = (opts.wallBudgetS ?? (ctx.quick ? 70 : 300)) * 1000;
  const prefix = uniquePrefix('scale');
  const keys = createKeys(prefix, BENCH_COMPONENT.appId);
  const redis = topology.client;
  const clock = new ManualClock();
  const accounts = generateAccounts(n);
  const appids = accounts.map((a) => a.appid);
  const emulator = createEmulator({
    componentAppId: BENCH_COMPONENT.appId,
    componentAppSecret: BENCH_COMPONENT.appSecret,
    token: BENCH_COMPONENT.token,
    encodingAesKey: BENCH_COMPONENT.aesKey,
    ticketIntervalMs: 0,
    clock,
    accounts,
    callLogLimit: 1000,
  });
  const emulatorUrl = await emulator.listen(0, '127.0.0.1');
  let worker: ServerProcess | undefined;
  try {
    // --- seed ---
    const ticket = await issueTicket(emulator);
    const memBefore = await topology.usedMemory();
    const t0 = clock.now();
    let started = Date.now();
    progress(`${opts.id}: authorizing ${n} accounts in the emulator (api_query_auth over HTTP)`);
    const authorized = await authorizeAccounts(emulator, emulatorUrl, ticket, appids);
    const authorizeS = (Date.now() - started) / 1000;
    const now = clock.now();
    // Uniform over [now + 20 min, t0 + 2 h]: none is due yet, and none outlives the token the emulator issued.
    const earliest = now + 20 * MINUTE;
    const latest = t0 + authorized[0]!.expiresIn * 1000;
    started = Date.now();
    await seedTicket(redis, keys, ticket, now);
    await seedAuthorizers(redis, keys, authorized, now, (i) =>
      Math.floor(earliest + ((latest - earliest) * (i + 0.5)) / n),
    );
    const seedS = (Date.now() - started) / 1000;
    const memAfter = await topology.usedMemory();
    const bytesPerAccount = (memAfter - memBefore) / n;
    progress(
      `${opts.id}: seeded ${n} accounts in ${round(seedS, 1)} s (authorize ${round(authorizeS, 1)} s); Redis +${round(bytesPerAccount, 0)} B/account`,
    );

    // --- service process ---
    const port = await freePort();
    worker = await startServer({
      name: 'service',
      entry: 'bench/workers/service.ts',
      port,
      env: serviceEnvOn(topology, { port, redisUrl: ctx.redis.url, keyPrefix: prefix, apiBaseUrl: emulatorUrl }),
      ipc: true,
      nodeArgs: ctx.profile ? ['--cpu-prof', '--cpu-prof-dir', ctx.profileDir] : [],
    });
    const rssAtStart = (await ipcCall<NodeJS.MemoryUsage>(worker.child, { cmd: 'memory' })).rss;

    // --- simulation ---
    const mainReads = { total: 0, expired: 0, missing: 0, unknown: 0 };
    const reads = mainReads;
    const expiredSamples: string[] = [];
    const readTokens = async (ids: readonly string[], reads = mainReads) => {
      for (let i = 0; i < ids.length; i += 10_000) {
        const chunk = ids.slice(i, i + 10_000);
        const results = await execByNode(redis, (to) => {
          for (const appid of chunk) {
            const key = keys.authorizerAccessToken(appid);
            to(key).get(key);
          }
        });
        results.forEach((token, j) => {
          reads.total++;
          if (typeof token !== 'string') {
            reads.missing++;
            return;
          }
          const status = emulator.tokenStatus(token);
          if (status === 'expired') {
            reads.expired++;
            if (expiredSamples.length < 5) expiredSamples.push(chunk[j]!);
          } else if (status === 'unknown') reads.unknown++;
        });
      }
    };
    const ticks = Math.ceil(simulatedMs / TICK_MS);
    let refreshed = 0;
    let failed = 0;
    let busyMs = 0;
    let maxRoundMs = 0;
    let maxRss = rssAtStart;
    let componentFailures = 0;
    const wallStart = Date.now();
    progress(`${opts.id}: ${ticks} refresher rounds (${round(simulatedMs / HOUR, 2)} simulated hours)`);
    let ticksRun = 0;
    let fullBatches = 0;
    let maxBatches = 0;
    let maxChecked = 0;
    // After each round: accounts with less than the margin left (the refresher's backlog), and the worst of them.
    let maxOverdue = 0;
    let roundsWithBacklog = 0;
    for (let t = 1; t <= ticks; t++) {
      if (Date.now() - wallStart > wallBudgetMs) {
        progress(`${opts.id}: wall-clock budget of ${wallBudgetMs / 1000} s reached after ${t - 1} rounds`);
        await readTokens(appids);
        break;
      }
      ticksRun = t;
      clock.advance(TICK_MS);
      const reply = await ipcCall<TickReply>(worker.child, { cmd: 'tick', advanceMs: TICK_MS });
      refreshed += reply.checked - reply.failed;
      failed += reply.failed;
      if (reply.componentToken !== 'ok') componentFailures++;
      if (reply.checked > 0) busyMs += reply.ms;
      // Rounds that refreshed a full batch's worth (500): all a round could refresh when it took one batch.
      if (reply.checked >= 500) fullBatches++;
      maxBatches = Math.max(maxBatches, reply.batches);
      maxChecked = Math.max(maxChecked, reply.checked);
      const overdueNow = await countScheduledUntil(redis, keys, clock.now() + MARGIN_MS);
      maxOverdue = Math.max(maxOverdue, overdueNow);
      if (overdueNow > 0) roundsWithBacklog++;
      maxRoundMs = Math.max(maxRoundMs, reply.ms);
      maxRss = Math.max(maxRss, reply.rss);
      const sample = Array.from({ length: samplePerTick }, () => appids[Math.floor(Math.random() * n)]!);
      await readTokens(sample);
      if (t % sweepEveryTicks === 0 || t === ticks) await readTokens(appids);
      if (t % 40 === 0) {
        progress(
          `${opts.id}: ${round((t * TICK_MS) / HOUR, 2)} h simulated, ${refreshed} refreshed, rss ${round(reply.rss / 2 ** 20, 0)} MB (heap used ${round(reply.heapUsed / 2 ** 20, 0)} MB), expired reads ${reads.expired}`,
        );
      }
    }
    const wallS = (Date.now() - wallStart) / 1000;
    // Accounts the refresher should already have refreshed (less than the 900 s margin left): its backlog.
    const overdue = await countScheduledUntil(redis, keys, clock.now() + MARGIN_MS);

    // --- catch-up: no refresher at all for OUTAGE_MS (every instance down, less than the margin), then rounds again ---
    const outage = {
      ran: false,
      backlog: 0,
      left: 0,
      rounds: 0,
      cleared: false,
      refreshed: 0,
      maxBatches: 0,
      wallMs: 0,
      reads: { total: 0, expired: 0, missing: 0, unknown: 0 },
    };
    if (ticksRun === ticks) {
      progress(
        `${opts.id}: a ${OUTAGE_MS / MINUTE}-minute refresher outage, then rounds until no account is past the margin`,
      );
      outage.ran = true;
      clock.advance(OUTAGE_MS);
      await ipcCall(worker.child, { cmd: 'advance', ms: OUTAGE_MS });
      outage.backlog = await countScheduledUntil(redis, keys, clock.now() + MARGIN_MS);
      const started = Date.now();
      for (let r = 1; r <= OUTAGE_MAX_ROUNDS; r++) {
        clock.advance(TICK_MS);
        const reply = await ipcCall<TickReply>(worker.child, { cmd: 'tick', advanceMs: TICK_MS });
        outage.rounds = r;
        outage.refreshed += reply.checked - reply.failed;
        outage.maxBatches = Math.max(outage.maxBatches, reply.batches);
        maxRss = Math.max(maxRss, reply.rss);
        const left = await countScheduledUntil(redis, keys, clock.now() + MARGIN_MS);
        outage.left = left;
        await readTokens(
          r === 1 || left === 0
            ? appids
            : Array.from({ length: samplePerTick }, () => appids[Math.floor(Math.random() * n)]!),
          outage.reads,
        );
        if (left === 0) {
          outage.cleared = true;
          break;
        }
      }
      outage.wallMs = Date.now() - started;
      progress(
        `${opts.id}: backlog ${outage.backlog} after the outage; ${outage.cleared ? 'cleared' : 'not cleared'} in ${outage.rounds} rounds (${outage.wallMs} ms), expired reads ${outage.reads.expired}`,
      );
    }
    const fullRounds = fullBatches;
    const simulatedHours = (ticksRun * TICK_MS) / HOUR;
    const cutShort = ticksRun < ticks ? ` — cut short by the ${wallBudgetMs / 1000} s budget` : '';
    const peakRss = Math.max(worker.peakRss() ?? 0, maxRss);
    const upstreamRefreshes = emulator.callLog.count('api_authorizer_token', { ok: true });
    const refreshesPerSec = busyMs > 0 ? refreshed / (busyMs / 1000) : NaN;
    // Each token is refreshed when 900–1200 s (margin + spread) are left: once per ~6 150 s of its 7 200 s life.
    const neededPerSec = n / (authorized[0]!.expiresIn - 1050);
    const label = ctx.quick
      ? `${n.toLocaleString('en')} accounts (--quick; the target is stated for 100 000)`
      : `${n.toLocaleString('en')} accounts`;
    return {
      id: opts.id,
      title: `${opts.title}: ${label}, refresher against the emulator, ${round(simulatedHours, 2)} simulated hours${cutShort}`,
      method: `seeded with pipelines (${round(seedS, 1)} s; authorizing in the emulator ${round(authorizeS, 1)} s); ${ticksRun} refresher rounds of 30 simulated s (${round(wallS, 0)} s wall); ${samplePerTick} random reads per round + a full read every 20 simulated min`,
      rows: [
        {
          name: 'refreshes per second (while refreshing)',
          note: `${round(refreshesPerSec, 0)} /s — ${refreshed} refreshed, ${failed} failed, ${upstreamRefreshes} api_authorizer_token calls; slowest round ${round(maxRoundMs, 0)} ms`,
        },
        {
          name: 'refresh schedule',
          note: `needs ~${round(neededPerSec, 1)} /s for ${n} accounts; ${fullRounds} of ${ticksRun} rounds refreshed ≥ 500 (one batch; most in one round ${maxChecked}, up to ${maxBatches} batches read per round); accounts past the margin after a round: max ${maxOverdue}, in ${roundsWithBacklog} rounds; ${overdue} at the end`,
        },
        {
          name: `after a ${OUTAGE_MS / MINUTE}-min refresher outage`,
          note: outage.ran
            ? `${outage.backlog} accounts past the margin; ${outage.cleared ? `none left after ${outage.rounds} round${outage.rounds === 1 ? '' : 's'}` : `${outage.left} still after ${outage.rounds} rounds`} (${outage.refreshed} refreshed, ${round(outage.wallMs / 1000, 1)} s wall, up to ${outage.maxBatches} batches per round); ${outage.reads.total} reads: ${outage.reads.expired} expired, ${outage.reads.missing} missing`
            : 'not run (the simulation was cut short)',
        },
        {
          name: 'service RSS',
          note: `peak ${round(peakRss / 2 ** 20, 1)} MB (${round(rssAtStart / 2 ** 20, 1)} MB after start)`,
        },
        {
          name: 'Redis memory per account',
          note: `${round(bytesPerAccount, 0)} B (INFO used_memory +${round((memAfter - memBefore) / 2 ** 20, 1)} MB)`,
        },
        {
          name: 'token reads',
          note: `${reads.total} reads: ${reads.expired} expired, ${reads.missing} missing, ${reads.unknown} unknown to the emulator; component token refresh failures ${componentFailures}`,
        },
      ],
      checks: [
        {
          what: 'expired / missing token reads',
          value: `${reads.expired} / ${reads.missing}`,
          target: '0 / 0',
          pass: reads.expired === 0 && reads.missing === 0,
        },
        {
          what: `backlog after a ${OUTAGE_MS / MINUTE}-min outage, cleared in`,
          value: outage.ran
            ? outage.cleared
              ? `${outage.rounds} round${outage.rounds === 1 ? '' : 's'}`
              : `> ${outage.rounds} rounds`
            : 'not run',
          target: '≤ 2 rounds, 0 expired reads',
          pass: outage.ran
            ? outage.cleared && outage.rounds <= 2 && outage.reads.expired === 0 && outage.reads.missing === 0
            : null,
        },
        {
          what: `service peak RSS at ${n.toLocaleString('en')} accounts`,
          value: `${round(peakRss / 2 ** 20, 1)} MB`,
          target: '< 200 MB',
          pass: peakRss < RSS_LIMIT,
        },
      ],
      details: {
        accounts: n,
        simulatedHours,
        plannedSimulatedHours: simulatedMs / HOUR,
        refreshed,
        failed,
        upstreamRefreshes,
        refreshesPerSec,
        busyMs,
        maxRoundMs,
        fullBatchRounds: fullRounds,
        maxBatchesPerRound: maxBatches,
        maxCheckedPerRound: maxChecked,
        maxOverdueAfterRound: maxOverdue,
        roundsWithBacklog,
        outage: { ms: OUTAGE_MS, ...outage },
        overdueAtEnd: overdue,
        neededPerSec,
        peakRssBytes: peakRss,
        rssAtStartBytes: rssAtStart,
        redisBytesPerAccount: bytesPerAccount,
        redisUsedMemoryBefore: memBefore,
        redisUsedMemoryAfter: memAfter,
        reads,
        expiredSamples,
        seedSeconds: seedS,
        authorizeSeconds: authorizeS,
        wallSeconds: wallS,
      },
    };
  } finally {
    await worker?.stop();
    await emulator.close();
    await topology.cleanup(prefix);
  }
}

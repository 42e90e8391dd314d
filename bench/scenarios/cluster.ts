/**
 * Scenario 5 — A local 3-master Redis Cluster (issue 14), two parts, each on a Cluster of its own:
 *
 * 1. A million authorized accounts (20 000 in --quick): seeding time, Redis memory per account (INFO used_memory
 *    summed over the masters), the service's RSS, the time of a /metrics scrape (which must not depend on the
 *    account count) and the refresher's throughput against the emulator, as a multiple of the rate a million
 *    accounts need. The accounts are written by the benchmark's seeder (bench/lib/seed.ts: one pipeline per master,
 *    the shard keys one command per shard and batch); one account is first stored through the service's own
 *    AuthorizerStore.saveAuthorization and the seeder's keys are checked against it, so a layout change that the
 *    seeder misses stops the run instead of measuring another layout. `realAccounts` of them are authorized in the
 *    emulator (real refresh tokens) and due at once; the others' tokens expire uniformly 30 min to 2 h ahead.
 * 2. The scale scenario (scale.ts) on the Cluster: 100 000 accounts through 2.2 simulated hours (10 000 in --quick).
 *
 * BENCH_CLUSTER_TOPOLOGY=standalone runs both parts on the benchmark's single node (to compare).
 * BENCH_REFRESHER_CONCURRENCY=N runs part 1's service with REFRESHER_CONCURRENCY=N (default: the service's default).
 */
import { performance } from 'node:perf_hooks';
import { ManualClock } from '../../src/clock';
import { loadConfig } from '../../src/config';
import { createContainer, type Container } from '../../src/container';
import { createLogger } from '../../src/logger';
import { createEmulator, generateAccounts } from '../../src/sandbox/emulator';
import type { FuncInfo } from '../../src/store/authorizer-store';
import { createKeys, type Keys } from '../../src/store/keys';
import { BENCH_COMPONENT, freePort, median, progress, round, uniquePrefix } from '../lib/common';
import { ipcCall, startServer, type ServerProcess } from '../lib/procs';
import type { ScenarioResult } from '../lib/report';
import { authorizeAccounts, issueTicket, seedAuthorizers, type AuthorizedAccount } from '../lib/seed';
import { serviceEnvOn, singleNode, startBenchCluster, type BenchClient, type BenchTopology } from '../lib/topology';
import type { TickReply } from '../workers/service';
import type { BenchContext } from '../run';
import { runScale } from './scale';

const MINUTE = 60_000;
const WAIT_MS = 7 * MINUTE;
const RSS_LIMIT = 256 * 2 ** 20;
const SCRAPE_LIMIT_MS = 50;
/** Accounts per pipeline round, and pipeline rounds in flight at once. */
const SEED_BATCH = 2000;
const SEED_PARALLEL = 3;

/** REFRESHER_CONCURRENCY for the service of part 1 when BENCH_REFRESHER_CONCURRENCY is set. */
function concurrencyOverride(): Record<string, string> {
  const n = process.env.BENCH_REFRESHER_CONCURRENCY;
  return n ? { REFRESHER_CONCURRENCY: n } : {};
}

function startTopology(ctx: BenchContext): Promise<BenchTopology> {
  return process.env.BENCH_CLUSTER_TOPOLOGY === 'standalone'
    ? Promise.resolve(singleNode(ctx.redis))
    : startBenchCluster();
}

export async function clusterScenario(ctx: BenchContext): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  let topology = await startTopology(ctx);
  try {
    results.push(await manyAccounts(ctx, topology));
  } finally {
    await topology.stop();
  }
  topology = await startTopology(ctx);
  try {
    results.push(
      await runScale(ctx, topology, {
        id: 'cluster-scale',
        title: `Scale on ${topology.label}`,
        // The Cluster's pipelines per master cost more than one node's: room for the whole simulation.
        wallBudgetS: ctx.quick ? 120 : 900,
      }),
    );
  } finally {
    await topology.stop();
  }
  return results;
}

/** The keys of one account and what they hold, with the appid taken out, to compare two accounts' shapes. */
async function shapeOf(redis: BenchClient, keys: Keys, appid: string): Promise<Record<string, unknown>> {
  const shard = keys.scheduleShardOf(appid);
  const hash = await redis.hgetall(keys.authorizer(appid));
  const listing = await redis.zrangebylex(keys.authorizerIndex, `[${appid}\0`, `(${appid}\x01`);
  return {
    hashFields: Object.keys(hash).sort(),
    status: hash.status,
    revision: hash.revision,
    accessTokenTtl: (await redis.pttl(keys.authorizerAccessToken(appid))) > 0,
    refreshTokenType: await redis.type(keys.authorizerRefreshToken(appid)),
    scheduled: (await redis.zscore(keys.authorizerSchedule(shard), appid)) !== null,
    shardIndex: await redis.hget(keys.authorizerShardIndex(shard), appid),
    listing: listing.map((m) => m.split(appid).join('<appid>').split(appid.toLowerCase()).join('<appid>')),
  };
}

async function manyAccounts(ctx: BenchContext, topology: BenchTopology): Promise<ScenarioResult> {
  const n = ctx.quick ? 20_000 : 1_000_000;
  const realAccounts = ctx.quick ? 2_000 : 20_000;
  // Refreshed in a first round that is not measured: a service that has been running has its connections open
  // and its code compiled. The reference account (0) is one of them.
  const warmup = ctx.quick ? 300 : 1000;
  const prefix = uniquePrefix('cluster');
  const keys = createKeys(prefix, BENCH_COMPONENT.appId);
  const redis = topology.client;
  const clock = new ManualClock();
  const real = generateAccounts(realAccounts);
  const emulator = createEmulator({
    componentAppId: BENCH_COMPONENT.appId,
    componentAppSecret: BENCH_COMPONENT.appSecret,
    token: BENCH_COMPONENT.token,
    encodingAesKey: BENCH_COMPONENT.aesKey,
    ticketIntervalMs: 0,
    clock,
    accounts: real,
    callLogLimit: 1000,
  });
  let seeder: Container | undefined;
  let worker: ServerProcess | undefined;
  try {
    const emulatorUrl = await emulator.listen(0, '127.0.0.1');
    const port = await freePort();
    const env = serviceEnvOn(topology, {
      port,
      redisUrl: ctx.redis.url,
      keyPrefix: prefix,
      apiBaseUrl: emulatorUrl,
      logLevel: 'warn',
      extra: concurrencyOverride(),
    });
    // The service's own stores, for the ticket, the layout's first start and the reference account.
    seeder = createContainer(loadConfig(env), { clock, logger: createLogger('warn') });
    await seeder.storage.waitUntilReady(10_000);
    await seeder.prepareStorage();
    const ticket = await issueTicket(emulator);
    await seeder.ticketStore.save(ticket, clock.now());
    progress(`cluster: authorizing ${realAccounts} accounts in the emulator`);
    let started = performance.now();
    const authorized = await authorizeAccounts(
      emulator,
      emulatorUrl,
      ticket,
      real.map((a) => a.appid),
    );
    const authorizeS = (performance.now() - started) / 1000;
    const now = clock.now();

    // --- the reference account, through the service's store; the seeder must write the same shape ---
    const reference = authorized[0]!;
    await seeder.authorizerStore.saveAuthorization({
      ...reference,
      funcInfo: reference.funcInfo as FuncInfo,
      authorizedAt: now,
      expiresIn: 600,
    });
    const memBefore = await topology.usedMemory();

    // --- seed the rest: real accounts due in the first round, the others not during the run ---
    // Synthetic accounts look like a real one (token lengths, permission sets), so the memory per account is real.
    const accountAt = (i: number): AuthorizedAccount => {
      if (authorized[i]) return authorized[i];
      const like = authorized[i % realAccounts]!;
      return {
        // 16 hex digits as built, not as a number: past 2^53 consecutive integers collide.
        appid: `wxc${i.toString(16).padStart(15, '0')}`,
        refreshToken: `refreshtoken@@@synthetic${i}@`.padEnd(like.refreshToken.length, 'r'),
        accessToken: `synthetic${i}@`.padEnd(like.accessToken.length, 'a'),
        expiresIn: like.expiresIn,
        funcInfo: like.funcInfo,
      };
    };
    // Warm-up accounts are due now, the measured ones once the clocks moved WAIT_MS (1320 s left: past every
    // account's threshold, 900–1200 s, now; under the lowest after the wait), the synthetic ones never in the run.
    const expiryOf = (i: number) =>
      i < warmup
        ? now + 600_000
        : i < realAccounts
          ? now + 1_320_000
          : now + 30 * MINUTE + Math.floor((90 * MINUTE * (i - realAccounts)) / n);
    started = performance.now();
    let next = 1;
    let stored = 1;
    const seedWorker = async () => {
      while (next < n) {
        const from = next;
        next = Math.min(n, next + SEED_BATCH);
        const batch = Array.from({ length: next - from }, (_, j) => accountAt(from + j));
        await seedAuthorizers(redis, keys, batch, now, (j) => expiryOf(from + j), SEED_BATCH, undefined, {
          listing: true,
        });
        const before = stored;
        stored += batch.length;
        if (Math.floor(stored / 100_000) > Math.floor(before / 100_000))
          progress(`cluster: ${stored} accounts stored (${round((performance.now() - started) / 1000, 1)} s)`);
      }
    };
    await Promise.all(Array.from({ length: SEED_PARALLEL }, seedWorker));
    const seedS = (performance.now() - started) / 1000;
    const memAfter = await topology.usedMemory();
    const bytesPerAccount = (memAfter - memBefore) / (n - 1);
    const [want, got] = [await shapeOf(redis, keys, reference.appid), await shapeOf(redis, keys, accountAt(1).appid)];
    if (JSON.stringify(want) !== JSON.stringify(got))
      throw new Error(
        `the seeder's keys differ from the store's: store ${JSON.stringify(want)}, seeder ${JSON.stringify(got)}`,
      );
    progress(
      `cluster: ${n} accounts stored in ${round(seedS, 1)} s on ${topology.label}; Redis +${round(bytesPerAccount, 0)} B/account`,
    );

    // --- the service process on the same topology ---
    worker = await startServer({
      name: 'service',
      entry: 'bench/workers/service.ts',
      port,
      env,
      ipc: true,
      nodeArgs: ctx.profile ? ['--cpu-prof', '--cpu-prof-dir', ctx.profileDir] : [],
    });
    const rssAtStart = (await ipcCall<NodeJS.MemoryUsage>(worker.child, { cmd: 'memory' })).rss;
    const scrapes: number[] = [];
    let scrapeStatus = 0;
    let authorizedGauge = NaN;
    for (let i = 0; i < 11; i++) {
      const t0 = performance.now();
      const res = await fetch(`${worker.url}/metrics`);
      const text = await res.text();
      scrapes.push(performance.now() - t0);
      scrapeStatus = res.status;
      authorizedGauge = Number(/^wxopen_authorizers\{status="authorized"\} (\d+)$/m.exec(text)?.[1] ?? NaN);
    }
    const scrapeMs = median(scrapes.slice(1)); // the first one warms prom-client up
    progress(`cluster: /metrics median ${round(scrapeMs, 1)} ms (gauge: ${authorizedGauge} authorized)`);

    // --- refresher throughput: the real accounts are all due ---
    const warm = await ipcCall<TickReply>(worker.child, { cmd: 'tick', advanceMs: 0 });
    if (warm.checked !== warmup || warm.failed > 0)
      throw new Error(`warm-up round refreshed ${warm.checked - warm.failed} of ${warmup} accounts`);
    clock.advance(WAIT_MS);
    await ipcCall(worker.child, { cmd: 'advance', ms: WAIT_MS });
    const measured = realAccounts - warmup;
    let refreshed = 0;
    let failed = 0;
    let busyMs = 0;
    let rounds = 0;
    let maxRss = Math.max(rssAtStart, warm.rss);
    for (let r = 0; r < 20 && refreshed + failed < measured; r++) {
      const reply = await ipcCall<TickReply>(worker.child, { cmd: 'tick', advanceMs: 0 });
      if (reply.checked === 0) break;
      rounds++;
      refreshed += reply.checked - reply.failed;
      failed += reply.failed;
      busyMs += reply.ms;
      maxRss = Math.max(maxRss, reply.rss);
    }
    const refreshesPerSec = busyMs > 0 ? refreshed / (busyMs / 1000) : NaN;
    // Each token is refreshed with 900–1200 s of its 7200 s left: once per ~6150 s.
    const neededPerSec = 1_000_000 / (7200 - 1050);
    const concurrency = loadConfig(env).refresher.concurrency;
    const multiple = refreshesPerSec / neededPerSec;
    const rss = (await ipcCall<NodeJS.MemoryUsage>(worker.child, { cmd: 'memory' })).rss;
    const peakRss = Math.max(worker.peakRss() ?? 0, rss, maxRss);
    progress(
      `cluster: ${refreshed} refreshed at ${round(refreshesPerSec, 0)} /s; RSS peak ${round(peakRss / 2 ** 20, 1)} MB`,
    );
    const mb = (bytes: number) => round(bytes / 2 ** 20, 1);
    return {
      id: 'cluster',
      title: `${n.toLocaleString('en')} accounts on ${topology.label}${ctx.quick ? ' (--quick; targets stated for 1 000 000)' : ''}`,
      method: `seeded with one pipeline per master (${SEED_BATCH} accounts a round, ${SEED_PARALLEL} rounds in flight; shape checked against AuthorizerStore.saveAuthorization); ${realAccounts} of them authorized in the emulator and due (${warmup} in a warm-up round not measured, then the others); refresher rounds until they are refreshed; 10 /metrics scrapes after a warm-up`,
      rows: [
        {
          name: 'seeding',
          note: `${round(seedS, 1)} s (${round(n / seedS, 0)} accounts/s); authorizing ${realAccounts} in the emulator ${round(authorizeS, 1)} s`,
        },
        {
          name: 'Redis memory per account',
          note: `${round(bytesPerAccount, 0)} B (used_memory over the masters +${mb(memAfter - memBefore)} MB)`,
        },
        {
          name: 'refresher throughput',
          note: `${round(refreshesPerSec, 0)} /s at REFRESHER_CONCURRENCY ${concurrency} (${refreshed} refreshed, ${failed} failed, ${rounds} rounds, ${round(busyMs / 1000, 1)} s); 1 000 000 accounts need ${round(neededPerSec, 1)} /s`,
        },
        {
          name: '/metrics scrape',
          note: `median ${round(scrapeMs, 1)} ms, max ${round(Math.max(...scrapes.slice(1)), 1)} ms (HTTP ${scrapeStatus}; wxopen_authorizers{status="authorized"} ${authorizedGauge})`,
        },
        {
          name: 'service RSS',
          note: `${mb(peakRss)} MB peak (${mb(rssAtStart)} MB after start, ${mb(rss)} MB at the end)`,
        },
      ],
      checks: [
        {
          what: `service peak RSS at ${n.toLocaleString('en')} accounts`,
          value: `${mb(peakRss)} MB`,
          target: '< 256 MB',
          pass: peakRss < RSS_LIMIT,
        },
        {
          what: '/metrics scrape (median)',
          value: `${round(scrapeMs, 1)} ms`,
          target: `< ${SCRAPE_LIMIT_MS} ms, counts every account`,
          pass: scrapeStatus === 200 && scrapeMs < SCRAPE_LIMIT_MS && authorizedGauge === n,
        },
        {
          what: 'refresher throughput / what 1 000 000 need',
          value: `${round(multiple, 1)}×`,
          target: '≥ 3×, 0 failed',
          pass: failed === 0 && refreshed === measured && multiple >= 3,
        },
      ],
      details: {
        accounts: n,
        realAccounts,
        warmupAccounts: warmup,
        warmupRoundMs: warm.ms,
        topology: topology.label,
        seedSeconds: seedS,
        authorizeSeconds: authorizeS,
        bytesPerAccount,
        redisUsedMemoryBefore: memBefore,
        redisUsedMemoryAfter: memAfter,
        refreshed,
        failed,
        refreshRounds: rounds,
        refreshBusyMs: busyMs,
        refreshesPerSec,
        refresherConcurrency: concurrency,
        neededPerSec,
        scrapesMs: scrapes,
        authorizedGauge,
        rssAtStartBytes: rssAtStart,
        peakRssBytes: peakRss,
      },
    };
  } finally {
    await worker?.stop();
    await seeder?.close();
    await emulator.close();
    await topology.cleanup(prefix);
  }
}

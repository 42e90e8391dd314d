/**
 * Scenario 5 — A million accounts on a local 3-master Redis Cluster (20 000 in --quick).
 *
 * Seeding goes through the service's own AuthorizerStore (saveAuthorization), so whatever the key layout
 * (src/store/keys.ts) is, the accounts are stored exactly as the service stores them. Most accounts get
 * tokens that are not due during the run; `realAccounts` of them are authorized in the emulator (real refresh
 * tokens) and made due at once, so the refresher's rounds measure its throughput against the emulator.
 * Then: Redis memory per account (INFO used_memory summed over the masters), the service's RSS, and the time of
 * a /metrics scrape (which must not depend on the account count).
 *
 * BENCH_CLUSTER_TOPOLOGY=standalone runs the same scenario on the benchmark's single node (to compare).
 */
import { performance } from 'node:perf_hooks';
import Redis, { Cluster } from 'ioredis';
import { ManualClock } from '../../src/clock';
import { loadConfig } from '../../src/config';
import { createContainer } from '../../src/container';
import { StorageUnavailableError } from '../../src/errors';
import { createLogger } from '../../src/logger';
import { createEmulator, generateAccounts } from '../../src/sandbox/emulator';
import { TestCluster } from '../../test/support/redis-topologies';
import { BENCH_COMPONENT, freePort, median, progress, round, serviceEnv, uniquePrefix } from '../lib/common';
import { ipcCall, startServer, type ServerProcess } from '../lib/procs';
import type { ScenarioResult } from '../lib/report';
import { authorizeAccounts, issueTicket } from '../lib/seed';
import type { TickReply } from '../workers/service';
import type { BenchContext } from '../run';

const MINUTE = 60_000;
const RSS_LIMIT = 256 * 2 ** 20;
const SCRAPE_LIMIT_MS = 50;
const SEED_CONCURRENCY = 64;
const SEED_ATTEMPTS = 3;

async function usedMemoryOf(nodes: Redis[]): Promise<number> {
  let total = 0;
  for (const node of nodes) total += Number(/used_memory:(\d+)/.exec(await node.info('memory'))?.[1] ?? NaN);
  return total;
}

export async function clusterScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const n = ctx.quick ? 20_000 : 1_000_000;
  const realAccounts = ctx.quick ? 2_000 : 20_000;
  const onCluster = process.env.BENCH_CLUSTER_TOPOLOGY !== 'standalone';
  const prefix = uniquePrefix('cluster');
  const cluster = onCluster ? await TestCluster.start() : undefined;
  const redisEnv: Record<string, string> = cluster
    ? { REDIS_CLUSTER_NODES: cluster.nodesSetting }
    : { REDIS_URL: ctx.redis.url };
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
  const emulatorUrl = await emulator.listen(0, '127.0.0.1');
  const env = serviceEnv({
    port: 0,
    redisUrl: ctx.redis.url,
    keyPrefix: prefix,
    apiBaseUrl: emulatorUrl,
    logLevel: 'warn',
    extra: redisEnv,
  });
  if (cluster) delete env.REDIS_URL;
  const seeder = createContainer(loadConfig(env), { clock, logger: createLogger('warn') });
  const masters: Redis[] = seeder.redis instanceof Cluster ? [] : [seeder.redis];
  let worker: ServerProcess | undefined;
  try {
    await seeder.storage.waitUntilReady(10_000);
    if (seeder.redis instanceof Cluster) masters.push(...seeder.redis.nodes('master'));
    const memBefore = await usedMemoryOf(masters);

    // --- seed: real accounts first (authorized in the emulator), then synthetic ones, all through the store ---
    const ticket = await issueTicket(emulator);
    await seeder.ticketStore.save(ticket, clock.now());
    progress(`cluster: authorizing ${realAccounts} accounts in the emulator`);
    const authorized = await authorizeAccounts(
      emulator,
      emulatorUrl,
      ticket,
      real.map((a) => a.appid),
    );
    const started = performance.now();
    const now = clock.now();
    let next = 0;
    const save = async () => {
      for (let i = next++; i < n; i = next++) {
        const account = authorized[i];
        const authorization = {
          appid: account?.appid ?? `wx${(0xc0000000000000 + i).toString(16).padStart(16, '0')}`,
          refreshToken: account?.refreshToken ?? `refreshtoken@@@synthetic${i}`,
          accessToken: account?.accessToken ?? `82_synthetic${String(i).padStart(40, '0')}`,
          // Real accounts are due in the first round; the others not before the run ends.
          expiresIn: account ? 600 : 7200,
          funcInfo: [],
          authorizedAt: now,
        };
        // A loaded machine can make one command outlast the client's 2 s timeout: try again, as WeChat would.
        for (let attempt = 1; ; attempt++) {
          try {
            await seeder.authorizerStore.saveAuthorization(authorization);
            break;
          } catch (err) {
            if (attempt >= SEED_ATTEMPTS || !(err instanceof StorageUnavailableError)) throw err;
          }
        }
        if (i % 100_000 === 0 && i > 0) progress(`cluster: ${i} accounts stored`);
      }
    };
    await Promise.all(Array.from({ length: SEED_CONCURRENCY }, save));
    const seedS = (performance.now() - started) / 1000;
    const memAfter = await usedMemoryOf(masters);
    const bytesPerAccount = (memAfter - memBefore) / n;
    progress(`cluster: ${n} accounts stored in ${round(seedS, 1)} s; Redis +${round(bytesPerAccount, 0)} B/account`);

    // --- the service process on the same topology ---
    const port = await freePort();
    worker = await startServer({
      name: 'service',
      entry: 'bench/workers/service.ts',
      port,
      env: { ...env, PORT: String(port), PUBLIC_BASE_URL: `http://127.0.0.1:${port}` },
      ipc: true,
    });
    const scrapes: number[] = [];
    let scrapeStatus = 0;
    for (let i = 0; i < 11; i++) {
      const t0 = performance.now();
      const res = await fetch(`${worker.url}/metrics`);
      await res.text();
      scrapeStatus = res.status;
      scrapes.push(performance.now() - t0);
    }
    const scrapeMs = median(scrapes.slice(1)); // the first one warms prom-client up

    // --- refresher throughput: the real accounts are all due ---
    clock.advance(MINUTE);
    await ipcCall(worker.child, { cmd: 'advance', ms: MINUTE });
    let refreshed = 0;
    let failed = 0;
    let busyMs = 0;
    for (let r = 0; r < 20 && refreshed + failed < realAccounts; r++) {
      const reply = await ipcCall<TickReply>(worker.child, { cmd: 'tick', advanceMs: 0 });
      refreshed += reply.checked - reply.failed;
      failed += reply.failed;
      busyMs += reply.ms;
      if (reply.checked === 0) break;
    }
    const refreshesPerSec = busyMs > 0 ? refreshed / (busyMs / 1000) : NaN;
    // Each token is refreshed with 900–1200 s of its 7200 s left: once per ~6150 s.
    const neededPerSec = n / (7200 - 1050);
    const multiple = refreshesPerSec / neededPerSec;
    const rss = (await ipcCall<NodeJS.MemoryUsage>(worker.child, { cmd: 'memory' })).rss;
    const peakRss = Math.max(worker.peakRss() ?? 0, rss);
    const where = cluster ? 'a local 3-master Cluster' : 'one Redis node';
    return {
      id: 'cluster',
      title: `${n.toLocaleString('en')} accounts on ${where}${ctx.quick ? ' (--quick; targets stated for 1 000 000)' : ''}`,
      method: `stored through AuthorizerStore.saveAuthorization (${SEED_CONCURRENCY} concurrent); ${realAccounts} of them authorized in the emulator and due; refresher rounds until they are refreshed; 10 /metrics scrapes`,
      rows: [
        { name: 'seeding', note: `${round(seedS, 1)} s (${round(n / seedS, 0)} accounts/s)` },
        {
          name: 'Redis memory per account',
          note: `${round(bytesPerAccount, 0)} B (used_memory over the masters +${round((memAfter - memBefore) / 2 ** 20, 1)} MB)`,
        },
        {
          name: 'refresher throughput',
          note: `${round(refreshesPerSec, 0)} /s (${refreshed} refreshed, ${failed} failed); ${n} accounts need ${round(neededPerSec, 1)} /s`,
        },
        { name: '/metrics scrape', note: `median ${round(scrapeMs, 1)} ms (HTTP ${scrapeStatus})` },
        { name: 'service RSS', note: `${round(peakRss / 2 ** 20, 1)} MB peak` },
      ],
      checks: [
        {
          what: 'service RSS',
          value: `${round(peakRss / 2 ** 20, 1)} MB`,
          target: '< 256 MB',
          pass: peakRss < RSS_LIMIT,
        },
        {
          what: '/metrics scrape',
          value: `${round(scrapeMs, 1)} ms`,
          target: `< ${SCRAPE_LIMIT_MS} ms`,
          pass: scrapeStatus === 200 && scrapeMs < SCRAPE_LIMIT_MS,
        },
        {
          what: 'refresher throughput / need',
          value: `${round(multiple, 1)}×`,
          target: '≥ 3×',
          pass: failed === 0 && multiple >= 3,
        },
      ],
      details: {
        accounts: n,
        realAccounts,
        onCluster,
        seedSeconds: seedS,
        bytesPerAccount,
        refreshesPerSec,
        neededPerSec,
        scrapesMs: scrapes,
        peakRssBytes: peakRss,
      },
    };
  } finally {
    await worker?.stop();
    await seeder.close();
    await emulator.close();
    await cluster?.stop();
  }
}

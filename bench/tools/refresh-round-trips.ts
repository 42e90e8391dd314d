/**
 * Counts the Redis commands and the sequential round trips of one background refresh (the refresher's path),
 * on one node and on a local 3-master Cluster: every command the service's client sends is recorded with the
 * node it went to and when it was sent and answered.
 *
 *   npx tsx bench/tools/refresh-round-trips.ts [standalone|cluster] [accounts=20]
 *
 * First one round with one due account and concurrency 1: its commands in order, grouped into steps (commands
 * in flight together form one step, so the number of steps is the number of round trips waited for one after
 * the other). Then a round over `accounts` due accounts (REFRESHER_CONCURRENCY as configured): commands per
 * refresh by name. The emulator runs in this process; its HTTP calls show as the gaps between steps.
 */
import { performance } from 'node:perf_hooks';
import IORedis from 'ioredis';
import { ManualClock } from '../../src/clock';
import { loadConfig } from '../../src/config';
import { createContainer } from '../../src/container';
import { createLogger } from '../../src/logger';
import { createEmulator, generateAccounts } from '../../src/sandbox/emulator';
import { TestCluster } from '../../test/support/redis-topologies';
import { BENCH_COMPONENT, uniquePrefix } from '../lib/common';
import { startBenchRedis } from '../lib/redis';
import { serviceEnvOn, singleNode, type BenchTopology } from '../lib/topology';

interface Sent {
  name: string;
  node: string;
  key: string;
  sentAt: number;
  doneAt: number;
}

const HOUR = 3_600_000;

/** Records every command any ioredis connection of this process sends (a Cluster's nodes are IORedis too). */
function recordCommands(): { log: Sent[]; scripts: Map<string, string> } {
  const log: Sent[] = [];
  const scripts = new Map<string, string>();
  const proto = IORedis.prototype as unknown as {
    sendCommand: (
      this: IORedis,
      command: { name: string; args: unknown[]; promise: Promise<unknown> },
      ...rest: unknown[]
    ) => unknown;
  };
  const original = proto.sendCommand;
  proto.sendCommand = function (this: IORedis, command, ...rest) {
    const args = command.args.map(String);
    const evalsha = command.name === 'evalsha';
    const name = evalsha ? (scripts.get(args[0]!) ?? `evalsha ${args[0]!.slice(0, 8)}`) : command.name;
    const key = evalsha ? (args[2] ?? '') : (args[0] ?? '');
    const entry: Sent = { name, node: String(this.options.port), key, sentAt: performance.now(), doneAt: NaN };
    log.push(entry);
    const done = () => {
      entry.doneAt = performance.now();
    };
    command.promise.then(done, done);
    return original.call(this, command, ...rest);
  };
  return { log, scripts };
}

/** Commands in flight at the same time are one step: the round trips a refresh waits for one after another. */
function steps(log: Sent[]): Sent[][] {
  const sorted = [...log].sort((a, b) => a.sentAt - b.sentAt);
  const groups: Sent[][] = [];
  let end = -Infinity;
  for (const c of sorted) {
    if (c.sentAt > end) groups.push([]);
    groups.at(-1)!.push(c);
    end = Math.max(end, c.doneAt);
  }
  return groups;
}

async function main(): Promise<void> {
  const kind = process.argv[2] === 'cluster' ? 'cluster' : 'standalone';
  const n = Number(process.argv[3] ?? 20);
  const { log, scripts } = recordCommands();
  const benchRedis = kind === 'standalone' ? await startBenchRedis() : undefined;
  const cluster = kind === 'cluster' ? await TestCluster.start() : undefined;
  const topology: BenchTopology = benchRedis
    ? singleNode(benchRedis)
    : {
        label: 'cluster',
        client: undefined as never,
        serviceRedisEnv: { REDIS_CLUSTER_NODES: cluster!.nodesSetting },
        usedMemory: () => Promise.resolve(0),
        cleanup: () => Promise.resolve(),
        stop: () => Promise.resolve(),
      };
  const clock = new ManualClock();
  const accounts = generateAccounts(n + 1);
  const emulator = createEmulator({
    componentAppId: BENCH_COMPONENT.appId,
    componentAppSecret: BENCH_COMPONENT.appSecret,
    token: BENCH_COMPONENT.token,
    encodingAesKey: BENCH_COMPONENT.aesKey,
    ticketIntervalMs: 0,
    clock,
    accounts,
  });
  const emulatorUrl = await emulator.listen(0, '127.0.0.1');
  const env = serviceEnvOn(topology, {
    port: 1,
    redisUrl: benchRedis?.url ?? 'redis://unused',
    keyPrefix: uniquePrefix('rtt'),
    apiBaseUrl: emulatorUrl,
    logLevel: 'warn',
  });
  const container = createContainer(loadConfig(env), { clock, logger: createLogger('warn') });
  try {
    await container.storage.waitUntilReady(10_000);
    await container.prepareStorage();
    for (const [name, script] of Object.entries(
      (container.redis as unknown as { scriptsSet: Record<string, { sha: string }> }).scriptsSet,
    ))
      scripts.set(script.sha, name);
    await emulator.pushTicket();
    await container.ticketStore.save(emulator.currentTicket()!, clock.now());
    for (const a of accounts) {
      const { authCode } = await emulator.authorize(a.appid, { push: false });
      await container.authorizationService.exchangeAuthCode(authCode);
    }
    // Everything due, the component token fresh (fetched before the round, as it is in a running service).
    clock.advance(2 * HOUR - 10 * 60_000);
    await container.tokenService.getComponentAccessToken();
    await container.tokenService.idle();

    // One account, concurrency 1: the chain of one refresh.
    const one = createContainer(loadConfig({ ...env, REFRESHER_CONCURRENCY: '1' }), {
      clock,
      logger: createLogger('warn'),
      redis: container.redis,
      refresher: { batchSize: 1, roundBudgetMs: 0 },
    });
    log.length = 0;
    const started = performance.now();
    const first = await one.refresher.runOnce();
    await one.tokenService.idle(); // the lock's release is sent, not waited for
    const chain = steps(log);
    console.log(`${kind}: a round with one account refreshed (${first.checked} checked, batch 1, concurrency 1):`);
    console.log(`${log.length} commands in ${chain.length} sequential steps`);
    let previousEnd = started;
    chain.forEach((group, i) => {
      const sentAt = group[0]!.sentAt;
      const doneAt = Math.max(...group.map((c) => c.doneAt));
      const names = group.map(
        (c) =>
          `${c.name}@${c.node}${c.key.includes('shard') || /:\d+$/.test(c.key) ? `(${c.key.split(':').slice(1).join(':')})` : ''}`,
      );
      console.log(
        `  ${String(i + 1).padStart(2)}. +${(sentAt - previousEnd).toFixed(2)} ms gap, ${(doneAt - sentAt).toFixed(2)} ms: ${names.join(', ')}`,
      );
      previousEnd = doneAt;
    });

    // Every other account in one round, as configured.
    log.length = 0;
    const t0 = performance.now();
    const round = await container.refresher.runOnce();
    const ms = performance.now() - t0;
    await container.tokenService.idle();
    const byName = new Map<string, number>();
    for (const c of log) byName.set(c.name, (byName.get(c.name) ?? 0) + 1);
    const refreshed = round.checked - round.failed.length;
    console.log(
      `\n${kind}: a round of ${refreshed} refreshes (concurrency ${container.config.refresher.concurrency}) in ${ms.toFixed(1)} ms: ${log.length} commands, ${(log.length / Math.max(1, refreshed)).toFixed(2)} per refresh`,
    );
    for (const [name, count] of [...byName].sort((a, b) => b[1] - a[1]))
      console.log(`  ${name}: ${count} (${(count / Math.max(1, refreshed)).toFixed(2)} per refresh)`);
  } finally {
    await container.close();
    await emulator.close();
    await topology.stop();
    await benchRedis?.stop();
    await cluster?.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

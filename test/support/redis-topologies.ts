import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { eventually } from './eventually';
import { freePort } from './global-setup';

/**
 * Real Redis topologies on loopback for the tests: a 3-master Cluster, a Sentinel group
 * (1 master, 1 replica, 3 sentinels) and a TLS node. Every process runs in its own process group
 * (detached) in a temp dir, and stop() kills each group, so nothing outlives the test run.
 */

const run = promisify(execFile);
export const SENTINEL_MASTER_NAME = 'wxopen-test';

export interface Endpoint {
  host: string;
  port: number;
}

/** One detached redis-server (or sentinel) and its directory. */
class RedisProcess {
  private child: ChildProcess | undefined;
  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly args: string[],
  ) {}

  start(): void {
    this.child = spawn('redis-server', this.args, { cwd: this.dir, stdio: 'ignore', detached: true });
    this.child.once('error', () => undefined);
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL to the whole group; resolves once the process has exited. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      return; // already gone
    }
    await exited;
  }
}

function baseArgs(port: number, dir: string): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--protected-mode',
    'no',
  ];
}

async function answersPing(
  endpoint: Endpoint,
  options: Partial<import('ioredis').RedisOptions> = {},
): Promise<boolean> {
  const probe = new Redis({
    ...endpoint,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    ...options,
  });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } finally {
    probe.disconnect();
  }
}

/** Runs one command on one node and disconnects (cluster and sentinel bookkeeping). */
export async function commandOn(endpoint: Endpoint, command: string, ...args: (string | number)[]): Promise<unknown> {
  const client = new Redis({ ...endpoint, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(command, ...args);
  } finally {
    client.disconnect();
  }
}

abstract class ProcessGroup {
  protected readonly processes: RedisProcess[] = [];
  protected readonly root: string;
  constructor(label: string) {
    this.root = mkdtempSync(join(tmpdir(), `wxopen-${label}-`));
  }

  protected async spawnRedis(
    name: string,
    extraArgs: (dir: string, port: number) => string[],
    port?: number,
  ): Promise<RedisProcess> {
    const p = port ?? (await freePort());
    const dir = join(this.root, name);
    mkdirSync(dir, { recursive: true });
    const proc = new RedisProcess(p, dir, extraArgs(dir, p));
    this.processes.push(proc);
    proc.start();
    return proc;
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.kill()));
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** 3 masters, no replicas: `redis-cli --cluster create`, then every node reports cluster_state:ok. */
export class TestCluster extends ProcessGroup {
  private constructor() {
    super('cluster');
  }

  static async start(masters = 3): Promise<TestCluster> {
    const cluster = new TestCluster();
    try {
      for (let i = 0; i < masters; i++) {
        // The cluster bus gets its own free port: port + 10000 may be taken or beyond 65535.
        const busPort = await freePort();
        await cluster.spawnRedis(`node-${i}`, (dir, port) => [
          ...baseArgs(port, dir),
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, 'nodes.conf'),
          '--cluster-port',
          String(busPort),
          '--cluster-node-timeout',
          '3000',
        ]);
      }
      for (const node of cluster.nodes)
        await eventually(() => answersPing(node), { what: `cluster node ${node.port} up`, timeoutMs: 10_000 });
      await run(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...cluster.nodes.map((n) => `${n.host}:${n.port}`),
          '--cluster-replicas',
          '0',
          '--cluster-yes',
        ],
        {
          timeout: 30_000,
        },
      );
      for (const node of cluster.nodes) {
        await eventually(async () => String(await commandOn(node, 'CLUSTER', 'INFO')).includes('cluster_state:ok'), {
          what: `cluster_state:ok on ${node.port}`,
          timeoutMs: 20_000,
          intervalMs: 100,
        });
      }
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  get nodes(): Endpoint[] {
    return this.processes.map((p) => ({ host: '127.0.0.1', port: p.port }));
  }

  /** REDIS_CLUSTER_NODES for the service's config. */
  get nodesSetting(): string {
    return this.nodes.map((n) => `${n.host}:${n.port}`).join(',');
  }
}

/** 1 master, 1 replica, 3 sentinels (quorum 2), short timeouts so a failover takes seconds. */
export class TestSentinelGroup extends ProcessGroup {
  private constructor() {
    super('sentinel');
  }

  static async start(): Promise<TestSentinelGroup> {
    const group = new TestSentinelGroup();
    try {
      // A master that lost its replica refuses writes (NOREPLICAS): during a failover, the old master
      // cannot acknowledge writes that the promoted replica will never see.
      // No 5 s wait before a full sync: a demoted master catches up as soon as it is reconfigured.
      const durability = [
        '--min-replicas-to-write',
        '1',
        '--min-replicas-max-lag',
        '5',
        '--repl-diskless-sync-delay',
        '0',
      ];
      const master = await group.spawnRedis('master', (dir, port) => [...baseArgs(port, dir), ...durability]);
      await eventually(() => answersPing(group.endpointOf(master)), { what: 'sentinel master up', timeoutMs: 10_000 });
      const replica = await group.spawnRedis('replica', (dir, port) => [
        ...baseArgs(port, dir),
        ...durability,
        '--replicaof',
        '127.0.0.1',
        String(master.port),
      ]);
      await eventually(
        async () =>
          String(await commandOn(group.endpointOf(replica), 'INFO', 'replication')).includes('master_link_status:up'),
        {
          what: 'replica in sync',
          timeoutMs: 15_000,
          intervalMs: 100,
        },
      );
      for (let i = 0; i < 3; i++) {
        await group.spawnRedis(`sentinel-${i}`, (dir, port) => {
          const conf = join(dir, 'sentinel.conf');
          writeFileSync(
            conf,
            [
              `port ${port}`,
              'bind 127.0.0.1',
              'protected-mode no',
              `dir ${dir}`,
              `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${master.port} 2`,
              `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 1000`,
              `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 10000`,
              `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
              '',
            ].join('\n'),
          );
          return [conf, '--sentinel'];
        });
      }
      await group.untilSettled();
      return group;
    } catch (err) {
      await group.stop();
      throw err;
    }
  }

  private endpointOf(p: RedisProcess): Endpoint {
    return { host: '127.0.0.1', port: p.port };
  }

  get sentinels(): Endpoint[] {
    return this.processes.slice(2).map((p) => this.endpointOf(p));
  }

  /** REDIS_SENTINELS for the service's config. */
  get sentinelsSetting(): string {
    return this.sentinels.map((n) => `${n.host}:${n.port}`).join(',');
  }

  /** The master as the sentinels currently name it. */
  async master(): Promise<Endpoint> {
    const [host, port] = (await commandOn(
      this.sentinels[0]!,
      'SENTINEL',
      'GET-MASTER-ADDR-BY-NAME',
      SENTINEL_MASTER_NAME,
    )) as [string, string];
    return { host, port: Number(port) };
  }

  /**
   * Every sentinel sees the master, a healthy replica and the two other sentinels: only then does a
   * SENTINEL FAILOVER (or the quorum for an automatic one) work.
   */
  async untilSettled(timeoutMs = 30_000): Promise<void> {
    const master = await eventually(() => this.master(), { what: 'a sentinel answers', timeoutMs: 10_000 });
    for (const sentinel of this.sentinels) {
      await eventually(
        async () => {
          const [addrHost, addrPort] = (await commandOn(
            sentinel,
            'SENTINEL',
            'GET-MASTER-ADDR-BY-NAME',
            SENTINEL_MASTER_NAME,
          )) as [string, string];
          if (addrHost !== master.host || Number(addrPort) !== master.port) return false;
          const replicas = fieldsOf(
            (await commandOn(sentinel, 'SENTINEL', 'REPLICAS', SENTINEL_MASTER_NAME)) as string[][],
          );
          const others = (await commandOn(sentinel, 'SENTINEL', 'SENTINELS', SENTINEL_MASTER_NAME)) as unknown[];
          return (
            others.length === 2 &&
            replicas.some(
              (r) => r.flags === 'slave' && r['master-link-status'] === 'ok' && Number(r.port) !== master.port,
            )
          );
        },
        {
          what: `sentinel ${sentinel.port} sees the master, a healthy replica and 2 other sentinels`,
          timeoutMs,
          intervalMs: 200,
        },
      );
    }
  }

  /**
   * SENTINEL FAILOVER: the replica is promoted without the master failing. Resolves with the new
   * master once every sentinel names it and it answers as a master.
   */
  async failover(): Promise<Endpoint> {
    const before = await this.master();
    await commandOn(this.sentinels[0]!, 'SENTINEL', 'FAILOVER', SENTINEL_MASTER_NAME);
    const after = await eventually(
      async () => {
        const now = await this.master();
        return now.port !== before.port ? now : undefined;
      },
      { what: 'the sentinels name a new master', timeoutMs: 30_000, intervalMs: 100 },
    );
    await eventually(async () => String(await commandOn(after, 'ROLE')).startsWith('master'), {
      what: 'the new master answers as master',
      timeoutMs: 15_000,
      intervalMs: 100,
    });
    return after;
  }
}

function fieldsOf(replies: string[][]): Record<string, string>[] {
  return replies.map((flat) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    return fields;
  });
}

/** Whether this redis-server was built with TLS (Debian's is). */
export async function redisHasTls(): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'wxopen-tls-probe-'));
  try {
    // A TLS build refuses to start without a certificate; a build without TLS rejects the option itself.
    const { stdout, stderr } = await run('redis-server', ['--port', '0', '--tls-port', '1', '--dir', dir], {
      timeout: 5000,
    }).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? '' }));
    return !/Bad directive|not supported|wrong number of arguments/i.test(`${stdout}${stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface TlsMaterial {
  dir: string;
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A throwaway CA and, signed by it, a server certificate for 127.0.0.1/localhost and a client one. */
export async function makeTlsMaterial(): Promise<TlsMaterial> {
  const dir = mkdtempSync(join(tmpdir(), 'wxopen-tls-'));
  const f = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir, timeout: 30_000 });
  await openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=wxopen-test-ca',
  );
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const who of ['server', 'client']) {
    await openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      f(`${who}.key`),
      '-out',
      f(`${who}.csr`),
      '-subj',
      `/CN=wxopen-test-${who}`,
    );
    await openssl(
      'x509',
      '-req',
      '-in',
      f(`${who}.csr`),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f(`${who}.crt`),
      '-days',
      '2',
      ...(who === 'server' ? ['-extfile', f('server.ext')] : []),
    );
  }
  return {
    dir,
    caFile: f('ca.crt'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
  };
}

/** A redis-server that listens on TLS only and requires a client certificate signed by the test CA. */
export class TestTlsRedis extends ProcessGroup {
  port = 0;
  private constructor(readonly tls: TlsMaterial) {
    super('tls');
  }

  static async start(tls: TlsMaterial): Promise<TestTlsRedis> {
    const server = new TestTlsRedis(tls);
    try {
      const proc = await server.spawnRedis('node', (dir, port) => [
        ...baseArgs(0, dir),
        '--tls-port',
        String(port),
        '--tls-cert-file',
        tls.serverCert,
        '--tls-key-file',
        tls.serverKey,
        '--tls-ca-cert-file',
        tls.caFile,
        '--tls-auth-clients',
        'yes',
      ]);
      server.port = proc.port;
      const tlsOptions = {
        ca: await readText(tls.caFile),
        cert: await readText(tls.clientCert),
        key: await readText(tls.clientKey),
      };
      await eventually(() => answersPing({ host: '127.0.0.1', port: proc.port }, { tls: tlsOptions }), {
        what: 'TLS redis up',
        timeoutMs: 10_000,
      });
      return server;
    } catch (err) {
      await server.stop();
      throw err;
    }
  }

  get url(): string {
    return `rediss://127.0.0.1:${this.port}/0`;
  }

  override async stop(): Promise<void> {
    await super.stop();
    rmSync(this.tls.dir, { recursive: true, force: true });
  }
}

async function readText(path: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return readFile(path, 'utf8');
}

/**
 * The global setup's part for TEST_REDIS_TOPOLOGY=cluster|sentinel: starts the group once per jest
 * run and publishes it to the test workers through TEST_REDIS_* variables (never REDIS_SENTINELS /
 * REDIS_CLUSTER_NODES themselves, which would clash with REDIS_URL in a child's environment).
 */
export async function startSharedTopology(topology: string): Promise<() => Promise<void>> {
  if (topology === 'cluster') {
    const cluster = await TestCluster.start();
    process.env.TEST_REDIS_CLUSTER_NODES = cluster.nodesSetting;
    process.env.REDIS_URL = `redis://${cluster.nodesSetting.split(',')[0]}/0`;
    return () => cluster.stop();
  }
  if (topology === 'sentinel') {
    const group = await TestSentinelGroup.start();
    const master = await group.master();
    process.env.TEST_REDIS_SENTINELS = group.sentinelsSetting;
    process.env.TEST_REDIS_SENTINEL_NAME = SENTINEL_MASTER_NAME;
    process.env.REDIS_URL = `redis://${master.host}:${master.port}/0`;
    return () => group.stop();
  }
  throw new Error(`TEST_REDIS_TOPOLOGY must be standalone, cluster or sentinel (got ${topology})`);
}

import { readFileSync } from 'node:fs';
import { Cluster } from 'ioredis';
import { startHarness, type Harness } from '../support/emulator';
import { testConfig } from '../support/config';
import { createContainer } from '../../src/container';
import { waitUntilReady } from '../../src/store/redis';
import {
  makeTlsMaterial,
  redisHasTls,
  TestCluster,
  TestSentinelGroup,
  TestTlsRedis,
  type TlsMaterial,
} from '../support/redis-topologies';

/**
 * The service on each topology the configuration offers, each started by the test on loopback:
 * a TLS node (rediss://, CA, client certificate, ACL user), a 3-master Cluster and a Sentinel group.
 * The full suites run on Cluster and Sentinel through `npm run test:topologies`.
 */

/** Stores a ticket, fetches the component token from the emulator and reads it back from Redis. */
async function roundTrip(h: Harness): Promise<void> {
  const fetched = await h.container.tokenService.getComponentAccessToken();
  expect(h.emulator.tokenStatus(fetched.token)).toBe('valid');
  expect(await h.container.redis.get(h.container.keys.componentAccessToken)).toBe(fetched.token);
  const lease = await h.container.locks.tryAcquire(h.container.keys.lock('topology-test'), 5000);
  expect(lease).toBeDefined();
  expect(await lease!.release()).toBe(true);
}

describe('Redis over TLS (rediss://, REDIS_TLS_CA, client certificate) and an ACL user', () => {
  let tls: TlsMaterial;
  let server: TestTlsRedis;
  let hasTls = true;
  beforeAll(async () => {
    hasTls = await redisHasTls();
    if (!hasTls) return;
    tls = await makeTlsMaterial();
    server = await TestTlsRedis.start(tls);
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  const tlsEnv = () => ({
    REDIS_URL: server.url,
    REDIS_TLS_CA: tls.caFile,
    REDIS_TLS_CERT: tls.clientCert,
    REDIS_TLS_KEY: tls.clientKey,
  });

  it('connects with the CA and the client certificate; without the CA the server is not trusted', async () => {
    if (!hasTls) return; // redis-server built without TLS: nothing to prove here
    const h = await startHarness({ env: tlsEnv() });
    try {
      await roundTrip(h);
    } finally {
      await h.close();
    }
    const untrusting = createContainer(testConfig({ ...tlsEnv(), REDIS_TLS_CA: undefined }));
    try {
      expect(await waitUntilReady(untrusting.redis, 1500)).toBe(false);
      expect(await untrusting.storage.ping()).toMatchObject({ ok: false });
    } finally {
      await untrusting.close();
    }
  });

  it('logs in as the ACL user REDIS_USERNAME / REDIS_PASSWORD, and a wrong password is refused', async () => {
    if (!hasTls) return;
    const admin = createContainer(testConfig(tlsEnv()));
    try {
      expect(await waitUntilReady(admin.redis, 5000)).toBe(true);
      await admin.redis.call('ACL', 'SETUSER', 'wxopen-service', 'on', '>service-password', '~*', '&*', '+@all');
      await admin.redis.call('ACL', 'SETUSER', 'default', 'off'); // from now on, only named users get in
    } finally {
      await admin.close();
    }
    const h = await startHarness({
      env: { ...tlsEnv(), REDIS_USERNAME: 'wxopen-service', REDIS_PASSWORD: 'service-password' },
    });
    try {
      expect(await h.container.redis.call('ACL', 'WHOAMI')).toBe('wxopen-service');
      await roundTrip(h);
    } finally {
      await h.close();
    }
    const wrong = createContainer(
      testConfig({ ...tlsEnv(), REDIS_USERNAME: 'wxopen-service', REDIS_PASSWORD: 'wrong' }),
    );
    try {
      expect(await waitUntilReady(wrong.redis, 1500)).toBe(false);
    } finally {
      await wrong.close();
    }
  });

  it('reads the CA inline as well as from a file', async () => {
    if (!hasTls) return;
    const h = await startHarness({
      env: {
        ...tlsEnv(),
        REDIS_TLS_CA: readFileSync(tls.caFile, 'utf8'),
        REDIS_USERNAME: 'wxopen-service',
        REDIS_PASSWORD: 'service-password',
      },
    });
    try {
      await roundTrip(h);
    } finally {
      await h.close();
    }
  });
});

describe('Redis Cluster (3 masters, REDIS_CLUSTER_NODES)', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await TestCluster.start();
  }, 60_000);
  afterAll(() => cluster?.stop());

  it('gives the stores a Cluster client that follows the slots of every master', async () => {
    // One seed node is enough: ioredis discovers the others.
    const h = await startHarness({
      env: { REDIS_CLUSTER_NODES: cluster.nodesSetting.split(',')[0] },
      withTicket: false,
    });
    try {
      expect(h.container.redis).toBeInstanceOf(Cluster);
      expect((h.container.redis as Cluster).nodes('master')).toHaveLength(3);
      expect(await h.container.storage.ping()).toEqual({ ok: true });
      // Single-key commands land on the owner of their slot, whichever master that is.
      const keys = Array.from({ length: 30 }, (_, i) => `${h.config.redis.keyPrefix}:probe:${i}`);
      await Promise.all(keys.map((k) => h.container.redis.set(k, k, 'EX', 60)));
      expect(await Promise.all(keys.map((k) => h.container.redis.get(k)))).toEqual(keys);
      const lease = await h.container.locks.tryAcquire(h.container.keys.lock('cluster-test'), 5000);
      expect(await lease!.release()).toBe(true);
    } finally {
      await h.close();
    }
  });
});

describe('Redis Sentinel (1 master, 1 replica, 3 sentinels; REDIS_SENTINELS)', () => {
  let group: TestSentinelGroup;
  beforeAll(async () => {
    group = await TestSentinelGroup.start();
  }, 60_000);
  afterAll(() => group?.stop());

  it('reaches the master the sentinels name, and works end to end', async () => {
    const h = await startHarness({
      env: { REDIS_SENTINELS: group.sentinelsSetting, REDIS_SENTINEL_NAME: 'wxopen-test' },
    });
    try {
      await roundTrip(h);
      const master = await group.master();
      const info = String(await h.container.redis.info('server'));
      expect(info).toContain(`tcp_port:${master.port}`);
    } finally {
      await h.close();
    }
  });
});

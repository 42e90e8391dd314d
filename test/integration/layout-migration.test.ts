import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import Redis from 'ioredis';
import { createContainer } from '../../src/container';
import { createKeys, type Keys } from '../../src/store/keys';
import { REFRESH_TOKEN_FIELD } from '../../src/store/redis-authorizer-store';
import { waitUntilReady } from '../../src/store/redis';
import { SecretCipher, sealedKeyId } from '../../src/store/secret-cipher';
import { parseEncryptionKeys } from '../../src/store/secret-cipher';
import { TEST_ENCRYPTION_KEYS } from '../support/account-keys';
import { TEST_COMPONENT, testConfig, testEnv } from '../support/config';
import { eventually } from '../support/eventually';
import { freePort } from '../support/global-setup';
import { captureLogs } from '../support/log-capture';
import { uniquePrefix } from '../support/redis';
import { OwnedRedisServer } from '../support/redis-server';
import { ROOT, waitForHttp } from '../support/spawn';

const NOW = Date.now();
const appidOf = (i: number) => `wx${i.toString(16).padStart(16, '0')}`;
const refreshTokenOf = (i: number) => `refreshtoken@@@legacy-${i}`;
const expiryOf = (i: number) => NOW + 3600_000 + i;
const cipher = new SecretCipher(parseEncryptionKeys(TEST_ENCRYPTION_KEYS).keys);

/**
 * Today's layout, as the previous version wrote it: the refresh token inside the public hash, one schedule
 * zset `P:authorizers`, the known set, the ticket at `P:component_verify_ticket`. Every 10th account is
 * unauthorized (no refresh token, not scheduled).
 */
async function seedLegacy(redis: Redis, keys: Keys, count: number): Promise<void> {
  const { legacy } = keys;
  for (let start = 0; start < count; start += 2000) {
    const p = redis.pipeline();
    for (let i = start; i < Math.min(count, start + 2000); i++) {
      const appid = appidOf(i);
      if (i % 10 === 9) {
        p.hset(keys.authorizer(appid), {
          status: 'unauthorized',
          updated_at: String(NOW),
          unauthorized_at: String(NOW),
        });
      } else {
        p.hset(keys.authorizer(appid), {
          status: 'authorized',
          refresh_token: refreshTokenOf(i),
          func_info: '[]',
          authorized_at: String(NOW),
          updated_at: String(NOW),
        });
        p.set(keys.authorizerAccessToken(appid), `token-${i}`, 'PX', 3600_000);
        p.zadd(legacy.authorizers, expiryOf(i), appid);
      }
      p.sadd(legacy.knownAuthorizers, appid);
    }
    await p.exec();
  }
  await redis.set(legacy.componentVerifyTicket, 'ticket@@@legacy', 'EX', 3600);
  await redis.set(legacy.ticketMeta, JSON.stringify({ receivedAt: NOW }), 'EX', 3600);
  await redis.set(
    legacy.pendingAuthorization(appidOf(0)),
    JSON.stringify({ appid: appidOf(0), infoType: 'authorized', receivedAt: NOW, error: 'x', retryable: true }),
    'EX',
    600,
  );
}

/** Every account as the migration must leave it. */
async function expectMigrated(redis: Redis, keys: Keys, count: number): Promise<void> {
  expect(
    await redis.exists(keys.legacy.authorizers, keys.legacy.knownAuthorizers, keys.legacy.componentVerifyTicket),
  ).toBe(0);
  expect(await redis.get(keys.componentVerifyTicket)).toBe('ticket@@@legacy');
  for (let start = 0; start < count; start += 1000) {
    const p = redis.pipeline();
    const batch = Array.from({ length: Math.min(count, start + 1000) - start }, (_, k) => start + k);
    for (const i of batch) {
      const appid = appidOf(i);
      p.hget(keys.authorizer(appid), 'refresh_token')
        .hget(keys.authorizer(appid), 'status')
        .get(keys.authorizerRefreshToken(appid))
        .zscore(keys.scheduleOf(appid), appid);
    }
    const replies = (await p.exec())!.map(([, v]) => v as string | null);
    // One assertion for the whole batch: a per-field expect() over 20 000 accounts costs more than the migration.
    const wrong: string[] = [];
    batch.forEach((i, k) => {
      const [field, status, secret, score] = replies.slice(k * 4, k * 4 + 4) as [
        string | null,
        string | null,
        string | null,
        string | null,
      ];
      const appid = appidOf(i);
      if (field !== null) wrong.push(`${appid}: refresh_token still in the hash`);
      if (i % 10 === 9) {
        if (status !== 'unauthorized' || secret !== null || score !== null)
          wrong.push(`${appid}: unauthorized account changed`);
        return;
      }
      const opened = secret === null ? undefined : cipher.unseal(secret, appid, REFRESH_TOKEN_FIELD);
      if (status !== 'authorized') wrong.push(`${appid}: status ${status}`);
      if (secret === null || sealedKeyId(secret) !== 'test1' || !opened?.ok || opened.plaintext !== refreshTokenOf(i))
        wrong.push(`${appid}: refresh token not intact`);
      if (Number(score) !== expiryOf(i)) wrong.push(`${appid}: schedule score ${score}`);
    });
    expect(wrong).toEqual([]);
  }
}

/** The service as its own process group (`node --import tsx`), so SIGKILL reaches the process itself. */
function startService(env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
}

function killGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    process.kill(-child.pid!, 'SIGKILL');
  });
}

describe('migration of a deployment of the previous layout (on start, a Redis this test starts)', () => {
  let server: OwnedRedisServer;
  let redis: Redis;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    server = await OwnedRedisServer.start();
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    for (const child of children) await killGroup(child);
    redis?.disconnect();
    await server?.stop();
  });

  it('in process: moves refresh tokens to their own keys, the schedule into shards, counts right; a second run changes nothing', async () => {
    const prefix = uniquePrefix('migrate');
    const keys = createKeys(prefix, TEST_COMPONENT.appId);
    await seedLegacy(redis, keys, 50);
    const logs = captureLogs('info');
    const c = createContainer(testConfig({ REDIS_URL: server.url, REDIS_KEY_PREFIX: prefix }), { logger: logs.logger });
    try {
      await waitUntilReady(c.redis, 5000);
      await c.prepareStorage();
      await expectMigrated(redis, keys, 50);
      expect(await c.authorizerStore.countByStatus()).toEqual({
        authorized: 45,
        unauthorized: 5,
        reauthorization_required: 0,
      });
      expect(await redis.exists(keys.pendingAuthorization(appidOf(0)))).toBe(1);
      expect(logs.lines().map((l) => l.msg)).toEqual(
        expect.arrayContaining([
          'storage layout migrated: refresh tokens moved to their own keys, schedule split into shards',
          'refresh tokens encrypted at rest: 45 plaintext refresh token(s) encrypted',
        ]),
      );
      const snapshot = await redis.hgetall(keys.authorizerCounts(0));
      await c.prepareStorage();
      await expectMigrated(redis, keys, 50);
      expect(await redis.hgetall(keys.authorizerCounts(0))).toEqual(snapshot);
      expect((await c.authorizerStore.dueForRefresh(Number.MAX_SAFE_INTEGER, 3)).map((d) => d.appid)).toEqual([
        appidOf(0),
        appidOf(1),
        appidOf(2),
      ]);
    } finally {
      await c.close();
    }
  });

  it('SIGKILL half-way through a large migration, restart: every refresh token intact, every account in place', async () => {
    const COUNT = 20_000;
    const prefix = uniquePrefix('migrate-kill');
    const keys = createKeys(prefix, TEST_COMPONENT.appId);
    await seedLegacy(redis, keys, COUNT);
    const scheduled = await redis.zcard(keys.legacy.authorizers);
    const env = testEnv({ REDIS_URL: server.url, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'info' });

    const first = startService({ ...env, PORT: String(await freePort()) });
    children.push(first);
    // Half-way: some accounts migrated (the legacy schedule shrank), not all.
    await eventually(async () => (await redis.zcard(keys.legacy.authorizers)) < scheduled, {
      intervalMs: 5,
      timeoutMs: 60_000,
      what: 'the migration to start',
    });
    await killGroup(first);
    const left = await redis.zcard(keys.legacy.authorizers);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(scheduled);

    const port = await freePort();
    const second = startService({ ...env, PORT: String(port) });
    children.push(second);
    expect((await waitForHttp(`http://127.0.0.1:${port}/healthz`, 120_000)).status).toBe(200); // it listens once prepared
    await expectMigrated(redis, keys, COUNT);
    const c = createContainer(testConfig({ REDIS_URL: server.url, REDIS_KEY_PREFIX: prefix }), {
      logger: captureLogs('silent').logger,
    });
    try {
      await waitUntilReady(c.redis, 5000);
      expect(await c.authorizerStore.countByStatus()).toEqual({
        authorized: COUNT * 0.9,
        unauthorized: COUNT * 0.1,
        reauthorization_required: 0,
      });
      expect((await c.authorizerStore.scheduleSizes()).reduce((a, b) => a + b, 0)).toBe(COUNT * 0.9);
    } finally {
      await c.close();
    }
    await killGroup(second);
  }, 240_000);
});

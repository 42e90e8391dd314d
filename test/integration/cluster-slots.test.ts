import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import request from 'supertest';
import { createApp } from '../../src/app';
import { generateAccounts } from '../../src/sandbox/emulator';
import { fakeMsgId, MessageSender, type OutgoingMessage } from '../../src/sandbox/message-sender';
import { startHarness, type Harness } from '../support/emulator';
import { eventually } from '../support/eventually';
import { freePort } from '../support/global-setup';
import { uniquePrefix } from '../support/redis';

const HOUR = 3600_000;

/**
 * A one-node Redis Cluster (cluster mode, every slot on this node): a plain client reaches every key, and
 * Redis still refuses any multi-key command, transaction or script whose keys span hash slots (CROSSSLOT).
 * Everything the service writes runs here, so a key layout that Cluster would refuse fails this test.
 * (Multi-node Cluster and Sentinel topologies: test/support/redis-topologies.ts.)
 */
describe('every multi-key write stays in one hash slot (a cluster-mode Redis this test starts)', () => {
  let redis: ChildProcess;
  let port: number;
  let admin: Redis;
  let h: Harness;
  let service: Server;
  const accounts = generateAccounts(3);
  const [A, B, C] = accounts.map((a) => a.appid) as [string, string, string];

  beforeAll(async () => {
    port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'wxopen-cluster-slots-'));
    redis = spawn(
      'redis-server',
      [
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
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, 'nodes.conf'),
      ],
      { stdio: 'ignore', detached: true },
    );
    admin = new Redis({
      port,
      host: '127.0.0.1',
      maxRetriesPerRequest: 1,
      retryStrategy: (n) => (n > 100 ? null : 50),
    });
    await eventually(async () => (await admin.ping()) === 'PONG', { what: 'the cluster-mode Redis to answer' });
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    await eventually(async () => /cluster_state:ok/.test(String(await admin.call('CLUSTER', 'INFO'))), {
      what: 'cluster_state:ok',
    });
    // The guard itself: this Redis refuses a cross-slot write.
    await expect(admin.mset('a-key', '1', 'another-key', '2')).rejects.toThrow(/CROSSSLOT/);

    h = await startHarness({
      emulator: { accounts },
      env: {
        REDIS_URL: `redis://127.0.0.1:${port}/0`,
        REDIS_KEY_PREFIX: uniquePrefix('slots'),
        INTERNAL_API_TOKEN: 'internal-api-token-for-tests-0123456789',
      },
    });
    service = createApp(h.container).listen(0, '127.0.0.1');
    await new Promise<void>((r) => service.once('listening', () => r()));
    h.emulator.setPushUrl(`http://127.0.0.1:${(service.address() as AddressInfo).port}/auth`);
  });
  afterAll(async () => {
    await new Promise((r) => service?.close(r));
    await h?.close();
    admin?.disconnect();
    if (redis?.pid && redis.exitCode === null) {
      const exited = new Promise((r) => redis.once('exit', r));
      process.kill(-redis.pid, 'SIGKILL');
      await exited;
    }
  });

  it('pushes, authorizations, refreshes with rotation, revocation, re-authorization, recovery, scrapes, start-up preparation, reencrypt', async () => {
    await h.container.prepareStorage();
    expect(await h.emulator.pushTicket()).toMatchObject({ delivered: true });
    for (const appid of [A, B, C]) expect((await h.emulator.authorize(appid)).push).toMatchObject({ delivered: true });
    h.emulator.setRotateRefreshTokens(true);
    h.clock.advance(2 * HOUR - 5 * 60_000);
    expect((await h.container.refresher.runOnce()).failed).toEqual([]);
    await h.container.tokenService.invalidate(
      'authorizer',
      (await h.container.tokenService.getAuthorizerAccessToken(A)).token,
      A,
    );
    await h.emulator.revoke(B);
    await eventually(async () => (await h.container.authorizerStore.get(B))?.status === 'unauthorized');
    h.emulator.faults.set('api_authorizer_token', { errcode: 61023, times: 1 });
    h.clock.advance(2 * HOUR);
    await h.container.tokenService.getAuthorizerAccessToken(C).catch(() => undefined);
    expect((await h.container.authorizerStore.get(C))?.status).toBe('reauthorization_required');
    expect((await h.emulator.authorize(B)).push).toMatchObject({ delivered: true });
    await h.container.recovery.run();
    await h.container.authorizerStore.saveAccountInfo(A, { nickName: 'renamed' });
    await h.container.authorizerStore.dropAccessToken(A);
    const app = createApp(h.container);
    await request(app).get('/metrics').expect(200);
    expect((await request(app).get('/readyz')).body.checks.redis).toEqual({ ok: true });
    await request(app)
      .get('/internal/authorizers')
      .set('Authorization', 'Bearer internal-api-token-for-tests-0123456789')
      .expect(200);
    expect(await h.container.reencryptRefreshTokens()).toMatchObject({ unreadable: 0 });
    // The message URL: the de-duplication record and the stream entry are one script; a re-send writes nothing.
    const sender = new MessageSender({
      componentAppId: h.config.component.appId,
      token: h.config.component.token,
      encodingAesKey: h.config.component.aesKey,
      clock: h.clock,
    });
    const message: OutgoingMessage = {
      toUserName: 'gh_000000000001',
      fromUserName: 'oClusterUser',
      msgType: 'text',
      fields: [
        ['Content', 'hello'],
        ['MsgId', fakeMsgId()],
      ],
    };
    const callback = `http://127.0.0.1:${(service.address() as AddressInfo).port}/${A}/callback`;
    for (let i = 0; i < 2; i++)
      expect(await sender.send(callback, message)).toMatchObject({ status: 200, body: 'success' });
    expect(await admin.xlen(h.container.keys.messages)).toBe(1);
    // No CROSSSLOT on the way, and the counters agree with what happened (C's listed token is the one that failed).
    expect(await h.container.authorizerStore.countByStatus()).toEqual({
      authorized: 2,
      unauthorized: 0,
      reauthorization_required: 1,
    });
  });
});

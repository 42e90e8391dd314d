import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis, { ReplyError } from 'ioredis';
import request from 'supertest';
import { createApp } from '../../src/app';
import { uniquePrefix } from '../support/redis';
import { OwnedRedisServer } from '../support/redis-server';
import { startHarness, type Harness } from '../support/emulator';
import { ROOT } from '../support/spawn';
import { TEST_COMPONENT } from '../support/config';

const run = promisify(execFile);
const OA = 'wx3c5a7e19b2d40f81';
const HOUR = 3600_000;
const READER_PASSWORD = 'reader-password-for-tests-only';
const SERVICE_PASSWORD = 'service-password-for-tests-only';

/** The ACL recipe of docs/redis-keys.md, line by line, as an operator would paste it. */
function aclRecipe(): string {
  const doc = readFileSync(join(ROOT, 'docs/redis-keys.md'), 'utf8');
  const block = /<!-- acl recipe:[^>]*-->\s*```sh\n([\s\S]*?)```/.exec(doc)?.[1];
  if (!block) throw new Error('docs/redis-keys.md has no ACL recipe block');
  return block;
}

describe('Redis ACL recipe (docs/redis-keys.md) on a Redis this test starts', () => {
  let server: OwnedRedisServer;
  let admin: Redis;
  let h: Harness;
  let service: Server;
  const prefix = uniquePrefix('acl');
  const P = `${prefix}:${TEST_COMPONENT.appId}`;
  const as = (user: string, password: string) =>
    new Redis({
      port: server.port,
      host: '127.0.0.1',
      username: user,
      password,
      maxRetriesPerRequest: 1,
      lazyConnect: true,
    });

  beforeAll(async () => {
    server = await OwnedRedisServer.start();
    admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    await run('bash', ['-euo', 'pipefail', '-c', aclRecipe()], {
      env: { PATH: process.env.PATH, REDIS_ADMIN_URL: server.url, P, READER_PASSWORD, SERVICE_PASSWORD },
    });
    // The service runs entirely as the ACL user of the recipe.
    h = await startHarness({
      env: {
        REDIS_URL: `redis://wxopen-service:${SERVICE_PASSWORD}@127.0.0.1:${server.port}/0`,
        REDIS_KEY_PREFIX: prefix,
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
    await server?.stop();
  });

  it('the service works fully as wxopen-service: start-up preparation, pushes, tokens, refresh, readiness, metrics, recovery', async () => {
    await h.container.prepareStorage();
    expect(await h.emulator.pushTicket()).toMatchObject({ delivered: true }); // over HTTP to POST /auth
    expect(await h.container.ticketStore.get()).toMatchObject({ ticket: h.emulator.currentTicket() });
    const { push } = await h.emulator.authorize(OA);
    expect(push).toMatchObject({ delivered: true });
    const first = await h.container.tokenService.getAuthorizerAccessToken(OA);
    expect(h.emulator.tokenStatus(first.token)).toBe('valid');
    h.clock.advance(2 * HOUR - 10 * 60_000);
    expect((await h.container.refresher.runOnce()).failed).toEqual([]);
    const second = await h.container.tokenService.getAuthorizerAccessToken(OA);
    expect(second.token).not.toBe(first.token);
    const app = createApp(h.container);
    expect((await request(app).get('/readyz').expect(200)).body.checks.redis).toEqual({ ok: true });
    expect((await request(app).get('/metrics').expect(200)).text).toMatch(
      /wxopen_authorizers\{status="authorized"\} 1/,
    );
    expect(
      (
        await request(app)
          .get('/internal/authorizers')
          .set('Authorization', 'Bearer internal-api-token-for-tests-0123456789')
          .expect(200)
      ).body.authorizers,
    ).toHaveLength(1);
    expect(await h.container.recovery.run()).toMatchObject({ failures: [] });
    expect(await h.container.reencryptRefreshTokens()).toMatchObject({ unreadable: 0 });
  });

  it('wxopen-reader GETs tokens and HGETALLs status, and is refused (NOPERM) the refresh token, the ticket and any write', async () => {
    const keys = h.container.keys;
    await h.container.tokenService.getComponentAccessToken();
    await h.container.tokenService.getAuthorizerAccessToken(OA);
    const reader = as('wxopen-reader', READER_PASSWORD);
    await reader.connect();
    try {
      expect(await reader.get(keys.componentAccessToken)).toBe(await admin.get(keys.componentAccessToken));
      expect(await reader.get(keys.authorizerAccessToken(OA))).toBe(
        (await h.container.tokenService.getAuthorizerAccessToken(OA)).token,
      );
      expect(await reader.ttl(keys.authorizerAccessToken(OA))).toBeGreaterThan(0);
      const status = await reader.hgetall(keys.authorizer(OA));
      expect(status.status).toBe('authorized');
      expect(status.refresh_token).toBeUndefined();

      // The secrets exist (the admin sees them), and the reader may not read them.
      expect(await admin.exists(keys.authorizerRefreshToken(OA), keys.componentVerifyTicket)).toBe(2);
      for (const secret of [keys.authorizerRefreshToken(OA), keys.componentVerifyTicket, keys.ticketMeta]) {
        const refused = await reader.get(secret).catch((err: unknown) => err);
        expect(refused).toBeInstanceOf(ReplyError);
        expect((refused as Error).message).toMatch(/^NOPERM/);
      }
      await expect(reader.set(keys.authorizerAccessToken(OA), 'forged')).rejects.toThrow(/^NOPERM/);
      await expect(reader.keys('*')).rejects.toThrow(/^NOPERM/);
    } finally {
      reader.disconnect();
    }
  });

  it('wxopen-service is confined to P:* and refused dangerous commands', async () => {
    const svc = as('wxopen-service', SERVICE_PASSWORD);
    await svc.connect();
    try {
      await expect(svc.get('another-app:key')).rejects.toThrow(/^NOPERM/);
      await expect(svc.flushall()).rejects.toThrow(/^NOPERM/);
      await expect(svc.keys(`${P}:*`)).rejects.toThrow(/^NOPERM/);
    } finally {
      svc.disconnect();
    }
  });
});

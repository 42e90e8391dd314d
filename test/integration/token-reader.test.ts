import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type Redis from 'ioredis';
import { createApp } from '../../src/app';
import {
  readAuthorizerAccessToken,
  readComponentAccessToken,
  reportRejectedAuthorizerToken,
  TokenReadError,
  type TokenReaderOptions,
} from '../../src/client/token-reader';
import { generateAccounts } from '../../src/sandbox/emulator';
import { startHarness, type Harness } from '../support/emulator';
import { newTestRedis, testRedisUrl, testTopology } from '../support/redis';
import { ROOT } from '../support/spawn';

const SECRET = 'reader-test-internal-secret-0123';
const run = promisify(execFile);

describe('reader contract: src/client/token-reader.ts and docs/redis-keys.md (sandbox over HTTP, real Redis)', () => {
  let h: Harness;
  let server: Server;
  let baseUrl: string;
  let redis: Redis;
  const accounts = generateAccounts(2);
  const [A, B] = accounts.map((a) => a.appid) as [string, string];

  beforeAll(() => {
    redis = newTestRedis(); // the reader's own client, as in another service
  });
  afterAll(() => redis.quit());
  beforeEach(async () => {
    h = await startHarness({ env: { INTERNAL_API_TOKEN: SECRET }, emulator: { accounts } });
    server = createApp(h.container).listen(0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise((r) => server.close(r));
    await h.close();
  });

  const options = (overrides: Partial<TokenReaderOptions> = {}): TokenReaderOptions => ({
    redis,
    keyPrefix: h.config.redis.keyPrefix,
    componentAppId: h.config.component.appId,
    internalApi: { baseUrl, bearerToken: SECRET },
    ...overrides,
  });
  const calls = (endpoint: string) => h.emulator.callLog.count(endpoint);

  it('reads a cached authorizer token with one GET, without asking the service or WeChat', async () => {
    await h.authorize(A);
    const read = await readAuthorizerAccessToken(options({ internalApi: undefined }), A);
    expect(read).toEqual({ token: await redis.get(h.container.keys.authorizerAccessToken(A)), source: 'redis' });
    expect(h.emulator.tokenStatus(read.token)).toBe('valid');
    expect(calls('api_authorizer_token')).toBe(0);
  });

  it('falls back to the internal API on a miss, which refreshes and stores the token for the next GET', async () => {
    await h.authorize(A);
    await redis.del(h.container.keys.authorizerAccessToken(A));
    const read = await readAuthorizerAccessToken(options(), A);
    expect(read.source).toBe('internal_api');
    expect(read.expiresIn).toBeGreaterThan(7100);
    expect(h.emulator.tokenStatus(read.token)).toBe('valid');
    expect(calls('api_authorizer_token')).toBe(1);
    expect(await readAuthorizerAccessToken(options(), A)).toEqual({ token: read.token, source: 'redis' });
  });

  it('reads the component token from Redis, or through the internal API before one exists', async () => {
    const first = await readComponentAccessToken(options());
    expect(first.source).toBe('internal_api');
    expect(h.emulator.tokenStatus(first.token)).toBe('valid');
    expect(await readComponentAccessToken(options())).toEqual({ token: first.token, source: 'redis' });
    expect(calls('api_component_token')).toBe(1);
  });

  it('reports a token WeChat rejected and gets the replacement', async () => {
    await h.authorize(A);
    const { token: stale } = await readAuthorizerAccessToken(options(), A);
    h.emulator.invalidateToken(stale);
    const replacement = await reportRejectedAuthorizerToken(options(), A, stale);
    expect(replacement.token).not.toBe(stale);
    expect(h.emulator.tokenStatus(replacement.token)).toBe('valid');
    expect((await readAuthorizerAccessToken(options(), A)).token).toBe(replacement.token);
  });

  it("turns the internal API's errors into TokenReadErrors with its code, HTTP status and account status", async () => {
    const unknown = await readAuthorizerAccessToken(options(), 'wx0123456789abcdef').catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(TokenReadError);
    expect(unknown).toMatchObject({ code: 'authorizer_not_found', httpStatus: 404 });

    await h.authorize(B);
    await h.container.authorizerStore.markUnauthorized(B);
    await expect(readAuthorizerAccessToken(options(), B)).rejects.toMatchObject({
      code: 'authorizer_not_authorized',
      httpStatus: 409,
      status: 'unauthorized',
    });

    const wrongBearer = options({ internalApi: { baseUrl, bearerToken: 'not-the-secret-at-all' } });
    await expect(readAuthorizerAccessToken(wrongBearer, B)).rejects.toMatchObject({
      code: 'unauthorized',
      httpStatus: 401,
    });
  });

  it('says clearly when the token is not cached and there is no internal API to ask, or the API is unreachable', async () => {
    await expect(readAuthorizerAccessToken(options({ internalApi: undefined }), A)).rejects.toMatchObject({
      code: 'token_not_cached',
    });
    const closed = options({ internalApi: { baseUrl: 'http://127.0.0.1:1', bearerToken: SECRET } });
    await expect(readComponentAccessToken(closed)).rejects.toMatchObject({ code: 'internal_api_unreachable' });
  });

  it('asks the internal API when its Redis fails, and reports a Redis failure when there is no API', async () => {
    await h.authorize(A);
    const broken = { get: () => Promise.reject(new Error('connection lost')) };
    const read = await readAuthorizerAccessToken(options({ redis: broken }), A);
    expect(read.source).toBe('internal_api');
    expect(h.emulator.tokenStatus(read.token)).toBe('valid');
    await expect(
      readAuthorizerAccessToken(options({ redis: broken, internalApi: undefined }), A),
    ).rejects.toMatchObject({ code: 'redis_unavailable' });
  });

  it("imports nothing of the service but the key builder (services can use it without the service's code)", () => {
    const source = readFileSync(join(ROOT, 'src/client/token-reader.ts'), 'utf8');
    const imports = [...source.matchAll(/^import\s[^;]*?from\s+'([^']+)'/gm)].map((m) => m[1]);
    expect(imports).toEqual(['../store/keys']);
    const keysSource = readFileSync(join(ROOT, 'src/store/keys.ts'), 'utf8');
    expect(keysSource).not.toMatch(/^import\s/m);
  });

  it("docs/redis-keys.md: the redis-cli example works against the sandbox's Redis, line by line", async () => {
    await h.container.tokenService.getComponentAccessToken();
    await h.authorize(A);
    const doc = readFileSync(join(ROOT, 'docs/redis-keys.md'), 'utf8');
    const block = /<!-- redis-cli example:[^>]*-->\s*```sh\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block).toBeDefined();
    const commands = block!.trim().split('\n');
    expect(commands.every((line) => line.startsWith('redis-cli '))).toBe(true);

    // On a Cluster, redis-cli follows MOVED redirections only with -c (docs/redis-topologies.md).
    const script = testTopology() === 'cluster' ? block!.replaceAll('redis-cli ', 'redis-cli -c ') : block!;
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], {
      env: { PATH: process.env.PATH, REDIS_URL: testRedisUrl(), P: h.container.keys.root, A },
    });
    const [componentToken, authorizerToken, ttl, status, ...rest] = stdout.trim().split('\n');
    expect(componentToken).toBe(await redis.get(h.container.keys.componentAccessToken));
    expect(h.emulator.tokenStatus(componentToken!)).toBe('valid');
    expect(authorizerToken).toBe((await h.container.tokenService.getAuthorizerAccessToken(A)).token);
    expect(h.emulator.tokenStatus(authorizerToken!)).toBe('valid');
    expect(Number(ttl)).toBeGreaterThan(7100);
    expect(Number(ttl)).toBeLessThanOrEqual(7200);
    expect(status).toBe('authorized');
    expect(rest).toEqual([]);
  });
});

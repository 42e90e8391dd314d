import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { createApp } from '../../src/app';
import { createContainer, type Container } from '../../src/container';
import { RefreshTokenUnreadableError } from '../../src/errors';
import { generateAccounts } from '../../src/sandbox/emulator';
import { waitUntilReady } from '../../src/store/redis';
import { sealedKeyId } from '../../src/store/secret-cipher';
import { TEST_ENCRYPTION_KEYS } from '../support/account-keys';
import { testConfig } from '../support/config';
import { startHarness, type Harness } from '../support/emulator';
import { captureLogs } from '../support/log-capture';
import { collect, exitOf, spawnTs } from '../support/spawn';
import { testEnv } from '../support/config';

const HOUR = 3600_000;
const BEARER = 'internal-api-token-for-tests-0123456789';
const key = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

describe('refresh tokens encrypted at rest (TOKEN_ENCRYPTION_KEYS, real Redis, emulator over HTTP)', () => {
  let h: Harness;
  const accounts = generateAccounts(3);
  const appids = accounts.map((a) => a.appid);
  const extra: Container[] = [];

  /** Another instance of the service on the same Redis, prefix and emulator, with its own keys. */
  const instance = async (keys: string | undefined, logger = captureLogs('info').logger) => {
    const config = testConfig({
      WECHAT_API_BASE_URL: h.emulatorUrl,
      REDIS_KEY_PREFIX: h.config.redis.keyPrefix,
      TOKEN_ENCRYPTION_KEYS: keys,
      INTERNAL_API_TOKEN: BEARER,
    });
    const c = createContainer(config, { clock: h.clock, logger });
    extra.push(c);
    await waitUntilReady(c.redis, 5000);
    return c;
  };
  const raw = (appid: string) => h.container.redis.get(h.container.keys.authorizerRefreshToken(appid));

  afterEach(async () => {
    for (const c of extra.splice(0)) await c.close();
    await h.close();
  });

  it('stores a sealed value under the first key, never the plaintext, and refreshes with it', async () => {
    h = await startHarness({ emulator: { accounts } });
    h.emulator.setRotateRefreshTokens(true);
    await h.authorize(appids[0]!);
    const stored = (await raw(appids[0]!))!;
    expect(sealedKeyId(stored)).toBe('test1');
    expect(stored).not.toMatch(/refreshtoken@@@/);
    h.clock.advance(2 * HOUR); // expired: the read refreshes before it answers (inside the margin it would refresh behind)
    await h.container.tokenService.getAuthorizerAccessToken(appids[0]!);
    const rotated = (await raw(appids[0]!))!;
    expect(rotated).not.toBe(stored);
    expect(sealedKeyId(rotated)).toBe('test1');
  });

  it('without a key: plaintext at rest and a /readyz warning; the first start with a key seals them all (one info line)', async () => {
    h = await startHarness({ emulator: { accounts }, env: { TOKEN_ENCRYPTION_KEYS: undefined } });
    for (const appid of appids) await h.authorize(appid);
    for (const appid of appids) expect(await raw(appid)).toMatch(/^refreshtoken@@@/);
    await h.container.prepareStorage();
    const ready = await request(createApp(h.container)).get('/readyz').expect(200);
    expect(ready.body.warnings).toContain('refresh tokens are stored in plaintext: set TOKEN_ENCRYPTION_KEYS');

    const logs = captureLogs('info');
    const keyed = await instance(TEST_ENCRYPTION_KEYS, logs.logger);
    await keyed.prepareStorage();
    const lines = logs.lines().filter((l) => String(l.msg).startsWith('refresh tokens encrypted at rest'));
    expect(lines).toEqual([
      expect.objectContaining({
        level: 30,
        encrypted: 3,
        msg: 'refresh tokens encrypted at rest: 3 plaintext refresh token(s) encrypted',
      }),
    ]);
    expect(logs.text()).not.toMatch(/refreshtoken@@@/);
    for (const appid of appids) expect(sealedKeyId((await raw(appid))!)).toBe('test1');
    expect((await request(createApp(keyed)).get('/readyz').expect(200)).body.warnings).not.toContain(
      'refresh tokens are stored in plaintext: set TOKEN_ENCRYPTION_KEYS',
    );

    // Idempotent: a second start seals nothing (and says nothing).
    const again = captureLogs('info');
    await (await instance(TEST_ENCRYPTION_KEYS, again.logger)).prepareStorage();
    expect(again.text()).not.toMatch(/refresh tokens encrypted at rest/);
    h.clock.advance(2 * HOUR);
    for (const appid of appids)
      expect(h.emulator.tokenStatus((await keyed.tokenService.getAuthorizerAccessToken(appid)).token)).toBe('valid');
  });

  it('a wrong or missing key is a named error (500 refresh_token_unreadable): no crash, nothing deleted or marked', async () => {
    h = await startHarness({ emulator: { accounts } });
    await h.authorize(appids[0]!);
    const before = await raw(appids[0]!);
    h.clock.advance(2 * HOUR); // the token must be refreshed, so the refresh token must be read
    const wrongKey = await instance(`test1:${randomBytes(32).toString('base64')}`);
    const unknownKey = await instance(key('other'));
    const noKey = await instance(undefined);
    for (const [c, reason] of [
      [wrongKey, 'wrong_key_or_tampered'],
      [unknownKey, 'unknown_key'],
      [noKey, 'no_keys'],
    ] as const) {
      const err = await c.tokenService.getAuthorizerAccessToken(appids[0]!).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RefreshTokenUnreadableError);
      expect(err).toMatchObject({
        code: 'refresh_token_unreadable',
        httpStatus: 500,
        details: expect.objectContaining({ reason }),
      });
      const res = await request(createApp(c))
        .get(`/internal/authorizers/${appids[0]}/access-token`)
        .set('Authorization', `Bearer ${BEARER}`)
        .expect(500);
      expect(res.body.error.code).toBe('refresh_token_unreadable');
      // The refresher backs off instead of crashing or marking the account.
      expect((await c.refresher.runOnce()).failed).toEqual([appids[0]]);
      // Listing still works (the token is reported unreadable, not thrown).
      await request(createApp(c)).get('/internal/authorizers').set('Authorization', `Bearer ${BEARER}`).expect(200);
    }
    expect(await raw(appids[0]!)).toBe(before);
    expect((await h.container.authorizerStore.get(appids[0]!))?.status).toBe('authorized');
    expect(h.emulator.tokenStatus((await h.container.tokenService.getAuthorizerAccessToken(appids[0]!)).token)).toBe(
      'valid',
    );
  });

  it('npm run reencrypt rewrites every refresh token under the new first key, and a second run finds them current', async () => {
    h = await startHarness({ emulator: { accounts } });
    for (const appid of appids) await h.authorize(appid);
    const rotatedKeys = `${key('k2')},${TEST_ENCRYPTION_KEYS}`;
    const env = testEnv({ REDIS_KEY_PREFIX: h.config.redis.keyPrefix, TOKEN_ENCRYPTION_KEYS: rotatedKeys });
    const first = spawnTs('src/cli/reencrypt.ts', env);
    const out = collect(first);
    expect(await exitOf(first, 30_000)).toBe(0);
    expect(JSON.parse(out.stdout())).toEqual({
      key_id: 'k2',
      checked: 3,
      resealed: 3,
      current: 0,
      absent: 0,
      changed: 0,
      unreadable: 0,
    });
    for (const appid of appids) expect(sealedKeyId((await raw(appid))!)).toBe('k2');

    const second = spawnTs('src/cli/reencrypt.ts', env);
    const out2 = collect(second);
    expect(await exitOf(second, 30_000)).toBe(0);
    expect(JSON.parse(out2.stdout())).toMatchObject({ checked: 3, resealed: 0, current: 3 });
    // The service with the rotated keys reads them; with the old key alone it cannot (named error).
    h.clock.advance(2 * HOUR);
    const rotated = await instance(rotatedKeys);
    expect(h.emulator.tokenStatus((await rotated.tokenService.getAuthorizerAccessToken(appids[0]!)).token)).toBe(
      'valid',
    );
    await expect(h.container.tokenService.getAuthorizerAccessToken(appids[1]!)).rejects.toMatchObject({
      code: 'refresh_token_unreadable',
    });

    const noKey = spawnTs(
      'src/cli/reencrypt.ts',
      testEnv({ REDIS_KEY_PREFIX: h.config.redis.keyPrefix, TOKEN_ENCRYPTION_KEYS: undefined }),
    );
    const out3 = collect(noKey);
    expect(await exitOf(noKey, 30_000)).toBe(1);
    expect(out3.stderr()).toMatch(/TOKEN_ENCRYPTION_KEYS is not set/);
  });
});

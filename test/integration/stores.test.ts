import type Redis from 'ioredis';
import { ManualClock } from '../../src/clock';
import { RedisAuthorizerStore } from '../../src/store/redis-authorizer-store';
import { createKeys } from '../../src/store/keys';
import { RedisTicketStore } from '../../src/store/ticket-store';
import { RedisComponentTokenStore } from '../../src/store/token-store';
import { newTestRedis, uniquePrefix } from '../support/redis';

const APPID = 'wxcomponent0001';
const HOUR = 3600_000;

/** Key names are spelled out here on purpose: they are a public contract (design.md), not whatever keys.ts says. */
describe('stores (real Redis, public key contract)', () => {
  let redis: Redis;
  let prefix: string;
  let P: string;
  let clock: ManualClock;
  beforeAll(() => {
    redis = newTestRedis();
  });
  afterAll(() => redis.disconnect());
  beforeEach(() => {
    prefix = uniquePrefix('stores');
    P = `${prefix}:${APPID}`;
    clock = new ManualClock({ now: () => 1_790_000_000_000 }); // frozen: exact expiry assertions
  });
  const keys = () => createKeys(prefix, APPID);
  /** docs/redis-keys.md: shard = 32-bit FNV-1a of the appid's bytes, modulo the shard count (16). */
  const schedule = (appid: string) => {
    let hash = 0x811c9dc5;
    for (const byte of Buffer.from(appid)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
    const shard = hash % 16;
    return `${P}:authorizers:{${APPID}:s${String(shard).padStart(3, '0')}}:schedule`;
  };
  const ticketKey = () => `${P}:secret:{${APPID}:component}:component_verify_ticket`;

  describe('ticket store', () => {
    it('stores the bare ticket under P:secret:{C:component}:component_verify_ticket for 12 h, with when it arrived', async () => {
      const store = new RedisTicketStore(redis, keys());
      expect(await store.get()).toBeUndefined();
      await store.save('ticket@@@one', 1_700_000_000_000);
      expect(await redis.get(ticketKey())).toBe('ticket@@@one');
      const ttl = await redis.ttl(ticketKey());
      expect(ttl).toBeGreaterThan(12 * 3600 - 5);
      expect(ttl).toBeLessThanOrEqual(12 * 3600);
      expect(await store.get()).toEqual({ ticket: 'ticket@@@one', receivedAt: 1_700_000_000_000 });
    });

    it('keeps the last good ticket when an empty one is offered', async () => {
      const store = new RedisTicketStore(redis, keys());
      await store.save('ticket@@@good', 1);
      await store.save('  ', 2);
      expect(await store.get()).toEqual({ ticket: 'ticket@@@good', receivedAt: 1 });
      await store.save('ticket@@@newer', 3);
      expect(await store.get()).toEqual({ ticket: 'ticket@@@newer', receivedAt: 3 });
    });
  });

  describe('component token store', () => {
    it('writes the plain token with a TTL equal to its real remaining life, and the expiry privately', async () => {
      const store = new RedisComponentTokenStore(redis, keys(), clock);
      await store.save({ token: 'ctoken-1', expiresAt: clock.now() + 7200_000 });
      expect(await redis.get(`${P}:component_access_token`)).toBe('ctoken-1');
      const pttl = await redis.pttl(`${P}:component_access_token`);
      expect(pttl).toBeGreaterThan(7190_000);
      expect(pttl).toBeLessThanOrEqual(7200_000);
      const read = await store.get();
      expect(read?.token).toBe('ctoken-1');
      expect(read!.expiresAt - clock.now()).toBeGreaterThan(7190_000);
    });

    it('judges age with the injected clock, and never stores an already expired token', async () => {
      const store = new RedisComponentTokenStore(redis, keys(), clock);
      const expiresAt = clock.now() + 2 * HOUR;
      await store.save({ token: 'ctoken-2', expiresAt });
      clock.advance(3 * HOUR);
      expect((await store.get())!.expiresAt).toBe(expiresAt); // the service sees it expired…
      expect(expiresAt).toBeLessThan(clock.now());
      await store.save({ token: 'ctoken-late', expiresAt: clock.now() - 1 });
      expect(await redis.get(`${P}:component_access_token`)).toBe('ctoken-2');
    });

    it('treats a token without its private expiry as expiring now', async () => {
      await redis.set(`${P}:component_access_token`, 'hand-written', 'PX', 60_000);
      const read = await new RedisComponentTokenStore(redis, keys(), clock).get();
      expect(read).toEqual({ token: 'hand-written', expiresAt: clock.now() });
    });
  });

  describe('authorizer store', () => {
    const A = 'wxauthorizer0001';
    const funcInfo = [{ funcscope_category: { id: 1 } }, { funcscope_category: { id: 18 } }];

    it('saveAuthorization writes hash, access token and schedule together', async () => {
      const store = new RedisAuthorizerStore(redis, keys(), clock);
      const authorizedAt = clock.now();
      await store.saveAuthorization({
        appid: A,
        refreshToken: 'refresh-1',
        accessToken: 'atoken-1',
        expiresIn: 7200,
        funcInfo,
        authorizedAt,
      });
      const hash = await redis.hgetall(`${P}:authorizer:{${A}}`);
      expect(hash).toMatchObject({ status: 'authorized', authorized_at: String(authorizedAt) });
      expect(hash.refresh_token).toBeUndefined(); // readers HGETALL the hash: the refresh token is kept apart
      expect(await redis.get(`${P}:secret:{${A}}:refresh_token`)).toBe('refresh-1');
      expect(JSON.parse(hash.func_info!)).toEqual(funcInfo);
      expect(await redis.ttl(`${P}:authorizer:{${A}}`)).toBe(-1); // durable
      expect(await redis.get(`${P}:authorizer:{${A}}:access_token`)).toBe('atoken-1');
      expect(await redis.pttl(`${P}:authorizer:{${A}}:access_token`)).toBeGreaterThan(7190_000);
      expect(Number(await redis.zscore(schedule(A), A))).toBe(clock.now() + 7200_000);
      const record = await store.get(A);
      expect(record).toMatchObject({
        appid: A,
        status: 'authorized',
        refreshToken: 'refresh-1',
        funcInfo,
        authorizedAt,
      });
      expect(record?.accessToken).toEqual({ token: 'atoken-1', expiresAt: clock.now() + 7200_000 });
    });

    it('a record of the previous layout (refresh token in the hash) still refreshes, and keeps it on re-authorization without one', async () => {
      const store = new RedisAuthorizerStore(redis, keys(), clock);
      await redis.hset(`${P}:authorizer:{${A}}`, {
        status: 'authorized',
        refresh_token: 'refresh-legacy',
        func_info: '[]',
        authorized_at: '1',
        updated_at: '1',
      });
      expect((await store.get(A))?.refreshToken).toBe('refresh-legacy');
      await store.saveAuthorization({ appid: A, funcInfo, authorizedAt: clock.now() }); // granted no API permission
      expect(await redis.hget(`${P}:authorizer:{${A}}`, 'refresh_token')).toBeNull();
      expect(await redis.get(`${P}:secret:{${A}}:refresh_token`)).toBe('refresh-legacy');
      expect((await store.get(A))?.refreshToken).toBe('refresh-legacy');
    });

    it('getTokenState reads the public token key by EVALSHA, and still works once Redis forgot the script', async () => {
      const store = new RedisAuthorizerStore(redis, keys(), clock);
      await store.saveAuthorization({
        appid: A,
        refreshToken: 'refresh-1',
        accessToken: 'atoken-1',
        expiresIn: 7200,
        funcInfo,
        authorizedAt: clock.now(),
      });
      const expected = { status: 'authorized', accessToken: { token: 'atoken-1', expiresAt: clock.now() + 7200_000 } };
      expect(await store.getTokenState(A)).toEqual(expected);
      await redis.script('FLUSH'); // as after a Redis restart: EVALSHA answers NOSCRIPT
      expect(await store.getTokenState(A)).toEqual(expected);
      await redis.set(`${P}:authorizer:{${A}}:access_token`, 'set-by-hand');
      expect(await store.getTokenState(A)).toEqual({
        ...expected,
        accessToken: { token: 'set-by-hand', expiresAt: clock.now() + 7200_000 },
      });
    });

    it('schedules an account authorized without a token for an immediate refresh', async () => {
      const store = new RedisAuthorizerStore(redis, keys(), clock);
      await store.saveAuthorization({ appid: A, refreshToken: 'refresh-1', funcInfo, authorizedAt: clock.now() });
      expect(await redis.zscore(schedule(A), A)).toBe('0');
      expect((await store.dueForRefresh(clock.now(), 10)).map((d) => d.appid)).toEqual([A]);
    });

    it('saveAccessToken stores a rotated refresh token with its access token, only while authorized', async () => {
      const store = new RedisAuthorizerStore(redis, keys(), clock);
      await store.saveAuthorization({
        appid: A,
        refreshToken: 'refresh-1',
        accessToken: 'atoken-1',
        expiresIn: 7200,
        funcInfo,
        authorizedAt: 1,
      });
      clock.advance(HOUR);
      expect(await store.saveAccessToken(A, 'atoken-2', clock.now() + 7200_000, 'refresh-2')).toBe(true);
      expect(await redis.get(`${P}:secret:{${A}}:refresh_token`)).toBe('refresh-2');
      expect(await redis.get(`${P}:authorizer:{${A}}:access_token`)).toBe('atoken-2');
      expect(Number(await redis.zscore(schedule(A), A))).toBe(clock.now() + 7200_000);

      await store.markUnauthorized(A);
      // A refresh that finishes after the revocation must not bring the token back.
      expect(await store.saveAccessToken(A, 'atoken-3', clock.now() + 7200_000, 'refresh-3')).toBe(false);
      expect(await redis.exists(`${P}:authorizer:{${A}}:access_token`)).toBe(0);
      expect(await redis.zscore(schedule(A), A)).toBeNull();
    });

    it('markUnauthorized deletes the tokens, keeps the account listed, and unschedules it', async () => {
      const store = new RedisAuthorizerStore(redis, keys(), clock);
      await store.saveAuthorization({
        appid: A,
        refreshToken: 'refresh-1',
        accessToken: 'atoken-1',
        expiresIn: 7200,
        funcInfo,
        authorizedAt: 1,
      });
      await store.markUnauthorized(A);
      const hash = await redis.hgetall(`${P}:authorizer:{${A}}`);
      expect(hash.status).toBe('unauthorized');
      expect(await redis.exists(`${P}:secret:{${A}}:refresh_token`)).toBe(0);
      expect(await redis.exists(`${P}:authorizer:{${A}}:access_token`)).toBe(0);
      expect(await store.dueForRefresh(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
      expect((await store.list()).map((r) => [r.appid, r.status])).toEqual([[A, 'unauthorized']]);
    });

    it('markReauthorizationRequired keeps the refresh token, and ignores a stale failure', async () => {
      const store = new RedisAuthorizerStore(redis, keys(), clock);
      await store.saveAuthorization({
        appid: A,
        refreshToken: 'refresh-new',
        accessToken: 'atoken-1',
        expiresIn: 7200,
        funcInfo,
        authorizedAt: 1,
      });
      // A 61023 for a refresh token the account has already replaced says nothing about the new one.
      expect(await store.markReauthorizationRequired(A, 'errcode 61023', 'refresh-old')).toBe(false);
      expect((await store.get(A))?.status).toBe('authorized');
      expect(await store.markReauthorizationRequired(A, 'errcode 61023', 'refresh-new')).toBe(true);
      const record = await store.get(A);
      expect(record).toMatchObject({
        status: 'reauthorization_required',
        refreshToken: 'refresh-new',
        reauthorizationReason: 'errcode 61023',
      });
      expect(record?.accessToken).toBeUndefined();
      expect(await redis.zscore(schedule(A), A)).toBeNull();
      // Authorizing again clears it.
      await store.saveAuthorization({
        appid: A,
        refreshToken: 'refresh-3',
        accessToken: 'atoken-3',
        expiresIn: 7200,
        funcInfo,
        authorizedAt: 2,
      });
      expect(await store.get(A)).toMatchObject({ status: 'authorized', reauthorizationReason: undefined });
    });

    it('saveAccountInfo updates known accounts only; dropAccessToken schedules a refresh now', async () => {
      const store = new RedisAuthorizerStore(redis, keys(), clock);
      expect(await store.saveAccountInfo('wxunknown', { nickName: 'Nobody' })).toBe(false);
      expect(await redis.exists(`${P}:authorizer:{wxunknown}`)).toBe(0);
      await store.saveAuthorization({
        appid: A,
        refreshToken: 'refresh-1',
        accessToken: 'atoken-1',
        expiresIn: 7200,
        funcInfo,
        authorizedAt: 1,
      });
      expect(await store.saveAccountInfo(A, { nickName: '测试号', userName: 'gh_0001', kind: 'mini_program' })).toBe(
        true,
      );
      expect(await redis.hgetall(`${P}:authorizer:{${A}}`)).toMatchObject({
        nick_name: '测试号',
        user_name: 'gh_0001',
        kind: 'mini_program',
      });
      await store.dropAccessToken(A);
      expect(await redis.exists(`${P}:authorizer:{${A}}:access_token`)).toBe(0);
      expect(await redis.zscore(schedule(A), A)).toBe('0');
    });

    it('dueForRefresh returns the soonest-expiring accounts up to a time, bounded by the limit', async () => {
      const store = new RedisAuthorizerStore(redis, keys(), clock);
      const now = clock.now();
      for (const [appid, expiresIn] of [
        ['wxa', 3000],
        ['wxb', 1000],
        ['wxc', 7200],
        ['wxd', 2000],
      ] as const) {
        await store.saveAuthorization({
          appid,
          refreshToken: `r-${appid}`,
          accessToken: `t-${appid}`,
          expiresIn,
          funcInfo,
          authorizedAt: now,
        });
      }
      expect(await store.dueForRefresh(now + 3000_000, 10)).toEqual([
        { appid: 'wxb', expiresAt: now + 1000_000 },
        { appid: 'wxd', expiresAt: now + 2000_000 },
        { appid: 'wxa', expiresAt: now + 3000_000 },
      ]);
      expect((await store.dueForRefresh(now + 3000_000, 2)).map((d) => d.appid)).toEqual(['wxb', 'wxd']);
      expect((await store.list()).map((r) => r.appid)).toEqual(['wxa', 'wxb', 'wxc', 'wxd']);
    });
  });
});

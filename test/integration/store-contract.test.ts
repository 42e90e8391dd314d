import type Redis from 'ioredis';
import { ManualClock } from '../../src/clock';
import { LockLostError, LockTimeoutError } from '../../src/errors';
import {
  authCodeDigest,
  RedisAuthCodeStore,
  type AuthCodeStore,
  type PendingAuthorization,
} from '../../src/store/auth-code-store';
import type { AuthorizerStore } from '../../src/store/authorizer-store';
import { createKeys, type Keys } from '../../src/store/keys';
import { RedisLocks, type Locks } from '../../src/store/lock';
import { createMemoryStores } from '../../src/store/memory';
import {
  MemoryMessageStream,
  RedisMessageStream,
  type MessageStream,
  type ReceivedMessage,
} from '../../src/store/message-stream';
import { RedisPushDedupStore, type PushDedupStore } from '../../src/store/push-dedup-store';
import { RedisAuthorizerStore } from '../../src/store/redis-authorizer-store';
import { SecretCipher } from '../../src/store/secret-cipher';
import { RedisTicketStore, type TicketStore } from '../../src/store/ticket-store';
import { RedisComponentTokenStore, type ComponentTokenStore } from '../../src/store/token-store';
import { newTestRedis, uniquePrefix } from '../support/redis';

/**
 * The store contract: the same cases run against the Redis implementations (real Redis) and the
 * in-memory ones of the Redis-less sandbox, so that the sandbox behaves as production does.
 * Where Redis judges a TTL by real time (PX/EX) and memory by the clock, the case states the TTL
 * once and each harness proves it its own way (`expectExpiry`); everything judged by the clock
 * (token expiries, the refresh schedule) is asserted identically for both.
 */

const HOUR = 3600_000;
const NOW = 1_790_000_000_000;
const A = 'wxauthorizer0001';
const funcInfo = [{ funcscope_category: { id: 1 } }, { funcscope_category: { id: 18 } }];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A stored entry whose TTL is checked: its Redis key, and how the stores show it is still there. */
interface TtlProbe {
  readonly redisKey: string;
  present(): Promise<boolean>;
}

interface Harness {
  /** Frozen at NOW unless advanced: exact expiry assertions. */
  readonly clock: ManualClock;
  readonly keys: Keys;
  readonly ticketStore: TicketStore;
  readonly componentTokenStore: ComponentTokenStore;
  readonly authorizerStore: AuthorizerStore;
  readonly locks: Locks;
  /** Another process's locks for Redis (another connection); memory has one process, so the same. */
  readonly otherLocks: Locks;
  readonly pushDedup: PushDedupStore;
  readonly authCodes: AuthCodeStore;
  /** `P:messages`, capped at MESSAGES_MAX_LEN entries (exactly in memory, `~` in Redis). */
  readonly messages: MessageStream;
  /** The same stream through another process's connection (memory: the same). */
  readonly otherMessages: MessageStream;
  /** The stream's entries, oldest first, as flat field maps. */
  messageEntries(): Promise<Array<Record<string, string>>>;
  /** Lets `ms` pass for every TTL: the clock moves, and for Redis real time too (its PX/EX TTLs). */
  elapse(ms: number): Promise<void>;
  /**
   * Proves an entry lives exactly `ttlMs` from now. Memory: by moving the clock to the edge of it
   * (so it advances the clock). Redis, whose TTL is real time: by the TTL stored on the key.
   */
  expectExpiry(probe: TtlProbe, ttlMs: number): Promise<void>;
}

let redis: Redis;
let otherRedis: Redis;
beforeAll(() => {
  redis = newTestRedis();
  otherRedis = newTestRedis(); // a second connection stands for a second process
});
afterAll(() => {
  redis.disconnect();
  otherRedis.disconnect();
});

const frozenClock = () => new ManualClock({ now: () => NOW });

const MESSAGES_MAX_LEN = 1000;

function makeRedis(cipher?: SecretCipher): Harness {
  const clock = frozenClock();
  const keys = createKeys(uniquePrefix('contract'), 'wxcomponent');
  return {
    messages: new RedisMessageStream(redis, keys, MESSAGES_MAX_LEN),
    otherMessages: new RedisMessageStream(otherRedis, keys, MESSAGES_MAX_LEN),
    async messageEntries() {
      const entries = await redis.xrange(keys.messages, '-', '+');
      return entries.map(([, flat]) => {
        const fields: Record<string, string> = {};
        for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
        return fields;
      });
    },
    clock,
    keys,
    ticketStore: new RedisTicketStore(redis, keys),
    componentTokenStore: new RedisComponentTokenStore(redis, keys, clock),
    authorizerStore: new RedisAuthorizerStore(redis, keys, clock, cipher),
    locks: new RedisLocks(redis),
    otherLocks: new RedisLocks(otherRedis),
    pushDedup: new RedisPushDedupStore(redis, keys),
    authCodes: new RedisAuthCodeStore(redis, keys),
    async elapse(ms) {
      clock.advance(ms);
      await sleep(ms);
    },
    async expectExpiry(probe, ttlMs) {
      expect(await probe.present()).toBe(true);
      const pttl = await redis.pttl(probe.redisKey);
      expect(pttl).toBeGreaterThan(ttlMs - 5000);
      expect(pttl).toBeLessThanOrEqual(ttlMs);
    },
  };
}

function makeMemory(): Harness {
  const clock = frozenClock();
  const stores = createMemoryStores(clock);
  const messages = new MemoryMessageStream(MESSAGES_MAX_LEN, clock);
  return {
    clock,
    keys: createKeys(uniquePrefix('contract'), 'wxcomponent'),
    ...stores,
    otherLocks: stores.locks,
    messages,
    otherMessages: messages,
    messageEntries() {
      return Promise.resolve(messages.entries.map((e) => e.fields));
    },
    elapse(ms) {
      clock.advance(ms);
      return Promise.resolve();
    },
    async expectExpiry(probe, ttlMs) {
      expect(await probe.present()).toBe(true);
      clock.advance(ttlMs - 1);
      expect(await probe.present()).toBe(true);
      clock.advance(1);
      expect(await probe.present()).toBe(false);
    },
  };
}

/** Refresh tokens sealed at rest: every case holds the same with encryption on. */
const makeRedisEncrypted = () => makeRedis(new SecretCipher([{ id: 'contract', key: Buffer.alloc(32, 3) }]));

describe.each([
  ['redis', () => makeRedis()],
  ['redis (refresh tokens encrypted)', makeRedisEncrypted],
  ['memory', makeMemory],
] as const)('store contract: %s', (_name, make) => {
  let h: Harness;
  beforeEach(() => {
    h = make();
  });

  describe('TicketStore', () => {
    const probe = (): TtlProbe => ({
      redisKey: h.keys.componentVerifyTicket,
      present: async () => (await h.ticketStore.get()) !== undefined,
    });

    it('has no ticket until one is saved, then the ticket with when it arrived', async () => {
      expect(await h.ticketStore.get()).toBeUndefined();
      await h.ticketStore.save('ticket@@@one', 1_700_000_000_000);
      expect(await h.ticketStore.get()).toEqual({ ticket: 'ticket@@@one', receivedAt: 1_700_000_000_000 });
    });

    it('keeps the last good ticket when an empty one is offered, and replaces it with a newer one', async () => {
      await h.ticketStore.save('ticket@@@good', 1);
      await h.ticketStore.save('  ', 2);
      await h.ticketStore.save('', 3);
      expect(await h.ticketStore.get()).toEqual({ ticket: 'ticket@@@good', receivedAt: 1 });
      await h.ticketStore.save('ticket@@@newer', 4);
      expect(await h.ticketStore.get()).toEqual({ ticket: 'ticket@@@newer', receivedAt: 4 });
    });

    it('returns a copy', async () => {
      await h.ticketStore.save('ticket@@@one', 1);
      const read = (await h.ticketStore.get()) as { ticket: string };
      read.ticket = 'mutated';
      expect((await h.ticketStore.get())?.ticket).toBe('ticket@@@one');
    });

    it('keeps a ticket 12 hours from its save', async () => {
      await h.ticketStore.save('ticket@@@one', 1);
      await h.expectExpiry(probe(), 12 * HOUR);
    });

    it('restarts the 12 hours with every new ticket', async () => {
      await h.ticketStore.save('ticket@@@one', 1);
      await h.elapse(5);
      await h.ticketStore.save('ticket@@@two', 2);
      await h.expectExpiry(probe(), 12 * HOUR);
    });
  });

  describe('ComponentTokenStore', () => {
    it('returns the saved token with its expiry, as a copy', async () => {
      expect(await h.componentTokenStore.get()).toBeUndefined();
      const expiresAt = h.clock.now() + 2 * HOUR;
      await h.componentTokenStore.save({ token: 'ctoken-1', expiresAt });
      const read = (await h.componentTokenStore.get()) as { token: string; expiresAt: number };
      expect(read).toEqual({ token: 'ctoken-1', expiresAt });
      read.token = 'mutated';
      expect(await h.componentTokenStore.get()).toEqual({ token: 'ctoken-1', expiresAt });
    });

    it('never hands out a token the clock says has expired, and never stores an expired one', async () => {
      const expiresAt = h.clock.now() + 2 * HOUR;
      await h.componentTokenStore.save({ token: 'ctoken-2', expiresAt });
      h.clock.advance(3 * HOUR);
      // Redis still holds it (its TTL is real time) but with the expiry passed; memory dropped it.
      const read = await h.componentTokenStore.get();
      expect(read === undefined || (read.token === 'ctoken-2' && read.expiresAt === expiresAt)).toBe(true);
      expect(read === undefined || read.expiresAt < h.clock.now()).toBe(true);
      await h.componentTokenStore.save({ token: 'ctoken-late', expiresAt: h.clock.now() - 1 });
      await h.componentTokenStore.save({ token: 'ctoken-now', expiresAt: h.clock.now() });
      expect([undefined, 'ctoken-2']).toContain((await h.componentTokenStore.get())?.token);
    });

    it('replaces the token with a newer one', async () => {
      await h.componentTokenStore.save({ token: 'ctoken-1', expiresAt: h.clock.now() + HOUR });
      await h.componentTokenStore.save({ token: 'ctoken-2', expiresAt: h.clock.now() + 2 * HOUR });
      expect(await h.componentTokenStore.get()).toEqual({ token: 'ctoken-2', expiresAt: h.clock.now() + 2 * HOUR });
    });

    it('a fenced save writes only while its lock holds that owner; otherwise LockLostError and nothing written', async () => {
      const expiresAt = h.clock.now() + 2 * HOUR;
      const lease = await h.locks.tryAcquire(h.keys.componentTokenLock, 5000);
      await h.componentTokenStore.save({ token: 'ctoken-1', expiresAt }, lease!.fence);
      expect(await h.componentTokenStore.get()).toEqual({ token: 'ctoken-1', expiresAt });
      await lease!.release();
      await expect(
        h.componentTokenStore.save({ token: 'ctoken-late', expiresAt }, lease!.fence),
      ).rejects.toBeInstanceOf(LockLostError);
      const successor = await h.otherLocks.tryAcquire(h.keys.componentTokenLock, 5000);
      await expect(
        h.componentTokenStore.save({ token: 'ctoken-late', expiresAt }, lease!.fence),
      ).rejects.toBeInstanceOf(LockLostError);
      expect(await h.componentTokenStore.get()).toEqual({ token: 'ctoken-1', expiresAt });
      await h.componentTokenStore.save({ token: 'ctoken-2', expiresAt }, successor!.fence);
      expect((await h.componentTokenStore.get())?.token).toBe('ctoken-2');
      await successor!.release();
    });

    it('keeps the token exactly until its expiry', async () => {
      await h.componentTokenStore.save({ token: 'ctoken-1', expiresAt: h.clock.now() + 2 * HOUR });
      const present = async () => (await h.componentTokenStore.get()) !== undefined;
      await h.expectExpiry({ redisKey: h.keys.componentAccessToken, present }, 2 * HOUR);
    });
  });

  describe('AuthorizerStore: event order (CreateTime)', () => {
    const authorize = (eventTime: number | undefined, refreshToken = `refresh-${eventTime}`) =>
      h.authorizerStore.saveAuthorization({
        appid: A,
        refreshToken,
        accessToken: 'atoken',
        expiresIn: 7200,
        funcInfo,
        authorizedAt: 1,
        eventTime,
      });

    it('an unauthorized event older than the applied authorization changes nothing', async () => {
      expect(await authorize(2000)).toBe(true);
      expect(await h.authorizerStore.markUnauthorized(A, 1999)).toBe(false);
      expect(await h.authorizerStore.get(A)).toMatchObject({
        status: 'authorized',
        refreshToken: 'refresh-2000',
        lastEventTime: 2000,
      });
      expect(await h.authorizerStore.getTokenState(A)).toMatchObject({ accessToken: { token: 'atoken' } });
    });

    it('an authorization older than the applied unauthorized changes nothing; a newer one applies', async () => {
      expect(await h.authorizerStore.markUnauthorized(A, 3000)).toBe(true);
      expect(await authorize(2999)).toBe(false);
      expect(await h.authorizerStore.get(A)).toMatchObject({ status: 'unauthorized', lastEventTime: 3000 });
      expect(await authorize(3001)).toBe(true);
      expect(await h.authorizerStore.get(A)).toMatchObject({ status: 'authorized', lastEventTime: 3001 });
    });

    it('an event of the same second applies (arrival order); a write without an event time is not ordered', async () => {
      expect(await authorize(4000)).toBe(true);
      expect(await h.authorizerStore.markUnauthorized(A, 4000)).toBe(true);
      expect(await authorize(undefined, 'refresh-tool')).toBe(true);
      expect(await h.authorizerStore.get(A)).toMatchObject({
        status: 'authorized',
        refreshToken: 'refresh-tool',
        lastEventTime: 4000,
      });
      expect(await h.authorizerStore.markUnauthorized(A, 3999)).toBe(false);
    });
  });

  describe('TicketStore: push order (CreateTime)', () => {
    it('a ticket from an older push does not replace the stored one; a newer or an unordered one does', async () => {
      expect(await h.ticketStore.save('ticket@@@new', 2, 2000)).toBe(true);
      expect(await h.ticketStore.save('ticket@@@old', 3, 1999)).toBe(false);
      expect(await h.ticketStore.get()).toEqual({ ticket: 'ticket@@@new', receivedAt: 2 });
      expect(await h.ticketStore.save('ticket@@@same-second', 4, 2000)).toBe(true);
      expect(await h.ticketStore.save('ticket@@@newer', 5, 2600)).toBe(true);
      expect(await h.ticketStore.get()).toEqual({ ticket: 'ticket@@@newer', receivedAt: 5 });
      expect(await h.ticketStore.save('  ', 6, 9999)).toBe(false);
      expect(await h.ticketStore.get()).toEqual({ ticket: 'ticket@@@newer', receivedAt: 5 });
    });
  });

  describe('AuthorizerStore', () => {
    const authorize = (appid = A, more: { refreshToken?: string; accessToken?: string; expiresIn?: number } = {}) =>
      h.authorizerStore.saveAuthorization({
        appid,
        refreshToken: 'refresh-1',
        accessToken: 'atoken-1',
        expiresIn: 7200,
        funcInfo,
        authorizedAt: h.clock.now(),
        ...more,
      });

    it('knows no account before one is saved', async () => {
      expect(await h.authorizerStore.get(A)).toBeUndefined();
      expect(await h.authorizerStore.list()).toEqual([]);
      expect(await h.authorizerStore.dueForRefresh(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    });

    it('saveAuthorization stores the record, the access token and its schedule', async () => {
      const authorizedAt = h.clock.now() - 5;
      await h.authorizerStore.saveAuthorization({
        appid: A,
        refreshToken: 'refresh-1',
        accessToken: 'atoken-1',
        expiresIn: 7200,
        funcInfo,
        authorizedAt,
      });
      const record = await h.authorizerStore.get(A);
      expect(record).toEqual({
        appid: A,
        status: 'authorized',
        refreshToken: 'refresh-1',
        funcInfo,
        authorizedAt,
        updatedAt: NOW,
        accessToken: { token: 'atoken-1', expiresAt: NOW + 7200_000 },
      });
      expect(await h.authorizerStore.dueForRefresh(NOW + 7200_000 - 1, 10)).toEqual([]);
      expect(await h.authorizerStore.dueForRefresh(NOW + 7200_000, 10)).toEqual([
        { appid: A, expiresAt: NOW + 7200_000 },
      ]);
      expect(await h.authorizerStore.list()).toEqual([record]);
    });

    it('returns copies that callers cannot use to change what is stored', async () => {
      await authorize();
      const record = (await h.authorizerStore.get(A)) as unknown as {
        status: string;
        funcInfo: unknown[];
        accessToken: { token: string };
      };
      record.status = 'unauthorized';
      record.funcInfo.push({ injected: true });
      (record.funcInfo[0] as { funcscope_category: { id: number } }).funcscope_category.id = 99;
      record.accessToken.token = 'mutated';
      const listed = (await h.authorizerStore.list()) as unknown as { status: string }[];
      listed[0]!.status = 'unauthorized';
      const due = (await h.authorizerStore.dueForRefresh(Number.MAX_SAFE_INTEGER, 10)) as { expiresAt: number }[];
      due[0]!.expiresAt = 0;
      expect(await h.authorizerStore.get(A)).toMatchObject({
        status: 'authorized',
        funcInfo,
        accessToken: { token: 'atoken-1', expiresAt: NOW + 7200_000 },
      });
      expect(await h.authorizerStore.dueForRefresh(NOW, 10)).toEqual([]);
    });

    it('does not keep a reference to the funcInfo it was given', async () => {
      const given = [{ funcscope_category: { id: 1 } }];
      await h.authorizerStore.saveAuthorization({ appid: A, refreshToken: 'r', funcInfo: given, authorizedAt: 1 });
      given[0]!.funcscope_category.id = 2;
      expect((await h.authorizerStore.get(A))?.funcInfo).toEqual([{ funcscope_category: { id: 1 } }]);
    });

    it('schedules an account authorized with a refresh token but no access token for an immediate refresh', async () => {
      await authorize(A, { accessToken: undefined, expiresIn: undefined });
      expect((await h.authorizerStore.get(A))?.accessToken).toBeUndefined();
      expect(await h.authorizerStore.dueForRefresh(0, 10)).toEqual([{ appid: A, expiresAt: 0 }]);
    });

    it('does not schedule an account authorized without a refresh token, and keeps a stored one', async () => {
      await authorize('wxnew', { refreshToken: undefined, accessToken: undefined, expiresIn: undefined });
      expect(await h.authorizerStore.get('wxnew')).toMatchObject({
        status: 'authorized',
        refreshToken: undefined,
        accessToken: undefined,
      });
      await authorize(A);
      h.clock.advance(10);
      // Authorized again with no API permission: the old refresh token stays, the token and schedule go.
      await authorize(A, { refreshToken: undefined, accessToken: undefined, expiresIn: undefined });
      expect(await h.authorizerStore.get(A)).toMatchObject({
        status: 'authorized',
        refreshToken: 'refresh-1',
        authorizedAt: NOW + 10,
        updatedAt: NOW + 10,
      });
      expect((await h.authorizerStore.get(A))?.accessToken).toBeUndefined();
      expect(await h.authorizerStore.dueForRefresh(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
      expect((await h.authorizerStore.list()).map((r) => r.appid)).toEqual([A, 'wxnew']);
    });

    it('a token-less authorization with an expiresIn of 0 stores no token', async () => {
      await authorize(A, { expiresIn: 0 });
      expect((await h.authorizerStore.get(A))?.accessToken).toBeUndefined();
      expect(await h.authorizerStore.dueForRefresh(0, 10)).toEqual([{ appid: A, expiresAt: 0 }]);
    });

    it('saveAccessToken stores a rotated refresh token with its access token, and reschedules', async () => {
      await authorize();
      h.clock.advance(HOUR);
      expect(await h.authorizerStore.saveAccessToken(A, 'atoken-2', h.clock.now() + 7200_000, 'refresh-2')).toBe(true);
      expect(await h.authorizerStore.get(A)).toMatchObject({
        status: 'authorized',
        refreshToken: 'refresh-2',
        authorizedAt: NOW,
        updatedAt: NOW + HOUR,
        tokenRefreshedAt: NOW + HOUR,
        accessToken: { token: 'atoken-2', expiresAt: NOW + HOUR + 7200_000 },
      });
      expect(await h.authorizerStore.dueForRefresh(Number.MAX_SAFE_INTEGER, 10)).toEqual([
        { appid: A, expiresAt: NOW + HOUR + 7200_000 },
      ]);
      // Without a rotated (or with an empty) refresh token the stored one stays.
      expect(await h.authorizerStore.saveAccessToken(A, 'atoken-3', h.clock.now() + 600_000)).toBe(true);
      expect(await h.authorizerStore.saveAccessToken(A, 'atoken-4', h.clock.now() + 600_000, '')).toBe(true);
      expect(await h.authorizerStore.get(A)).toMatchObject({
        refreshToken: 'refresh-2',
        accessToken: { token: 'atoken-4', expiresAt: NOW + HOUR + 600_000 },
      });
    });

    it('a fenced saveAccessToken writes only while its lock holds that owner; otherwise LockLostError and nothing written', async () => {
      await authorize();
      const lockKey = h.keys.authorizerTokenLock(A);
      const lease = await h.locks.tryAcquire(lockKey, 5000);
      expect(
        await h.authorizerStore.saveAccessToken(A, 'atoken-2', h.clock.now() + HOUR, 'refresh-2', lease!.fence),
      ).toBe(true);
      await lease!.release();
      const successor = await h.otherLocks.tryAcquire(lockKey, 5000);
      await expect(
        h.authorizerStore.saveAccessToken(A, 'atoken-late', h.clock.now() + 2 * HOUR, 'refresh-late', lease!.fence),
      ).rejects.toBeInstanceOf(LockLostError);
      expect(await h.authorizerStore.get(A)).toMatchObject({
        refreshToken: 'refresh-2',
        accessToken: { token: 'atoken-2', expiresAt: NOW + HOUR },
      });
      expect(await h.authorizerStore.dueForRefresh(Number.MAX_SAFE_INTEGER, 10)).toEqual([
        { appid: A, expiresAt: NOW + HOUR },
      ]);
      await successor!.release();
    });

    it('takeLockAndGet (Redis): takes the refresh lock and reads the account as get() does, in one step; nothing while the lock is held', async () => {
      const take = h.authorizerStore.takeLockAndGet?.bind(h.authorizerStore);
      if (!take) {
        // Memory stores have no such step, and memory locks refuse a lock taken by a store's script.
        await expect(
          h.locks.tryAcquire(h.keys.authorizerTokenLock(A), 5000, { takeWith: () => Promise.resolve(true) }),
        ).rejects.toBeInstanceOf(TypeError);
        return;
      }
      await authorize();
      const lockKey = h.keys.authorizerTokenLock(A);
      let read: Awaited<ReturnType<typeof take>>;
      const lease = await h.locks.tryAcquire(lockKey, 5000, {
        keepAlive: true,
        takeWith: async (owner, ttlMs) => (read = await take(A, { lockKey, owner }, ttlMs)) !== undefined,
      });
      expect(lease).toBeDefined();
      expect(read!()).toEqual(await h.authorizerStore.get(A));
      // Held: another process neither gets the lock nor reads anything through it.
      expect(await h.otherLocks.tryAcquire(lockKey, 5000)).toBeUndefined();
      expect(await take(A, { lockKey, owner: 'someone-else' }, 5000)).toBeUndefined();
      // The lease is an ordinary one: its fence writes, its release frees the lock.
      expect(
        await h.authorizerStore.saveAccessToken(A, 'atoken-2', h.clock.now() + HOUR, undefined, lease!.fence),
      ).toBe(true);
      expect(await lease!.release()).toBe(true);
      const next = await h.otherLocks.tryAcquire(lockKey, 5000);
      expect(next).toBeDefined();
      await next!.release();
      // An unknown account: the lock is taken (and released by its caller), there is no record.
      const unknownLock = h.keys.authorizerTokenLock('wxunknown');
      expect((await take('wxunknown', { lockKey: unknownLock, owner: 'o' }, 5000))!()).toBeUndefined();
      expect(await h.otherLocks.tryAcquire(unknownLock, 5000)).toBeUndefined();
    });

    it('saveAccessToken writes nothing for an account that is unknown or no longer authorized', async () => {
      expect(await h.authorizerStore.saveAccessToken('wxunknown', 'atoken', h.clock.now() + HOUR, 'refresh')).toBe(
        false,
      );
      expect(await h.authorizerStore.get('wxunknown')).toBeUndefined();
      expect(await h.authorizerStore.list()).toEqual([]);

      await authorize();
      await h.authorizerStore.markUnauthorized(A);
      // A refresh that finishes after the revocation must not bring the token back.
      expect(await h.authorizerStore.saveAccessToken(A, 'atoken-3', h.clock.now() + 7200_000, 'refresh-3')).toBe(false);
      expect(await h.authorizerStore.get(A)).toMatchObject({
        status: 'unauthorized',
        refreshToken: undefined,
        accessToken: undefined,
      });
      expect(await h.authorizerStore.dueForRefresh(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);

      await authorize('wxb');
      expect(await h.authorizerStore.markReauthorizationRequired('wxb', 'errcode 61023')).toBe(true);
      expect(await h.authorizerStore.saveAccessToken('wxb', 'atoken-3', h.clock.now() + 7200_000, 'refresh-3')).toBe(
        false,
      );
      expect(await h.authorizerStore.get('wxb')).toMatchObject({
        status: 'reauthorization_required',
        refreshToken: 'refresh-1',
        accessToken: undefined,
      });
    });

    it('dropAccessToken deletes the token and makes a scheduled account due now', async () => {
      await authorize();
      await h.authorizerStore.dropAccessToken(A);
      expect((await h.authorizerStore.get(A))?.accessToken).toBeUndefined();
      expect(await h.authorizerStore.dueForRefresh(0, 10)).toEqual([{ appid: A, expiresAt: 0 }]);
    });

    it('dropAccessToken neither schedules an unscheduled account nor creates an unknown one', async () => {
      await authorize();
      await h.authorizerStore.markUnauthorized(A);
      await h.authorizerStore.dropAccessToken(A);
      await h.authorizerStore.dropAccessToken('wxunknown');
      expect(await h.authorizerStore.dueForRefresh(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
      expect((await h.authorizerStore.list()).map((r) => r.appid)).toEqual([A]);
    });

    it('markUnauthorized deletes the tokens, keeps the account and its info listed, and unschedules it', async () => {
      await authorize();
      await h.authorizerStore.saveAccountInfo(A, { nickName: '测试号' });
      h.clock.advance(1000);
      await h.authorizerStore.markUnauthorized(A);
      const record = await h.authorizerStore.get(A);
      expect(record).toEqual({
        appid: A,
        status: 'unauthorized',
        funcInfo,
        authorizedAt: NOW,
        updatedAt: NOW + 1000,
        nickName: '测试号',
      });
      expect(await h.authorizerStore.dueForRefresh(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
      expect(await h.authorizerStore.list()).toEqual([record]);
    });

    it('markUnauthorized of an account never seen records it as unauthorized', async () => {
      await h.authorizerStore.markUnauthorized('wxstranger');
      expect(await h.authorizerStore.get('wxstranger')).toEqual({
        appid: 'wxstranger',
        status: 'unauthorized',
        funcInfo: [],
        updatedAt: NOW,
      });
      expect((await h.authorizerStore.list()).map((r) => r.status)).toEqual(['unauthorized']);
    });

    it('markReauthorizationRequired keeps the refresh token, and ignores a stale failure', async () => {
      await authorize(A, { refreshToken: 'refresh-new' });
      // A 61023 for a refresh token the account has already replaced says nothing about the new one.
      expect(await h.authorizerStore.markReauthorizationRequired(A, 'errcode 61023', 'refresh-old')).toBe(false);
      expect(await h.authorizerStore.get(A)).toMatchObject({
        status: 'authorized',
        accessToken: { token: 'atoken-1' },
      });
      h.clock.advance(1000);
      expect(await h.authorizerStore.markReauthorizationRequired(A, 'errcode 61023', 'refresh-new')).toBe(true);
      const record = await h.authorizerStore.get(A);
      expect(record).toMatchObject({
        status: 'reauthorization_required',
        refreshToken: 'refresh-new',
        reauthorizationReason: 'errcode 61023',
        updatedAt: NOW + 1000,
      });
      expect(record?.accessToken).toBeUndefined();
      expect(await h.authorizerStore.dueForRefresh(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
      expect(await h.authorizerStore.list()).toEqual([record]);
      // Only an authorized account can be marked.
      expect(await h.authorizerStore.markReauthorizationRequired(A, 'again')).toBe(false);
      expect((await h.authorizerStore.get(A))?.reauthorizationReason).toBe('errcode 61023');
      // Authorizing again clears it.
      await authorize(A, { refreshToken: 'refresh-3' });
      const again = await h.authorizerStore.get(A);
      expect(again).toMatchObject({
        status: 'authorized',
        refreshToken: 'refresh-3',
        reauthorizationReason: undefined,
      });
      expect(again?.accessToken).toEqual({ token: 'atoken-1', expiresAt: h.clock.now() + 7200_000 });
    });

    it('markReauthorizationRequired without a failed token marks any authorized account; never unknown or unauthorized ones', async () => {
      expect(await h.authorizerStore.markReauthorizationRequired('wxunknown', 'errcode 61003')).toBe(false);
      expect(await h.authorizerStore.get('wxunknown')).toBeUndefined();
      await authorize();
      await authorize('wxb');
      await h.authorizerStore.markUnauthorized('wxb');
      expect(await h.authorizerStore.markReauthorizationRequired('wxb', 'errcode 61003')).toBe(false);
      expect(await h.authorizerStore.markReauthorizationRequired(A, 'errcode 61003')).toBe(true);
      expect((await h.authorizerStore.list()).map((r) => [r.appid, r.status])).toEqual([
        [A, 'reauthorization_required'],
        ['wxb', 'unauthorized'],
      ]);
    });

    it('markReauthorizationRequired with a failed token refuses an account without a refresh token', async () => {
      await authorize(A, { refreshToken: undefined, accessToken: undefined, expiresIn: undefined });
      expect(await h.authorizerStore.markReauthorizationRequired(A, 'errcode 61023', 'refresh-x')).toBe(false);
      expect((await h.authorizerStore.get(A))?.status).toBe('authorized');
    });

    it('saveAccountInfo updates known accounts only, field by field', async () => {
      expect(await h.authorizerStore.saveAccountInfo('wxunknown', { nickName: 'Nobody' })).toBe(false);
      expect(await h.authorizerStore.get('wxunknown')).toBeUndefined();
      expect(await h.authorizerStore.list()).toEqual([]);
      await authorize();
      h.clock.advance(1000);
      const info = {
        nickName: '测试号',
        userName: 'gh_0001',
        kind: 'mini_program',
        headImg: 'https://img/x',
        principalName: '某公司',
      };
      expect(await h.authorizerStore.saveAccountInfo(A, info)).toBe(true);
      expect(await h.authorizerStore.get(A)).toMatchObject({
        ...info,
        status: 'authorized',
        refreshToken: 'refresh-1',
        updatedAt: NOW + 1000,
      });
      h.clock.advance(1000);
      expect(await h.authorizerStore.saveAccountInfo(A, { nickName: '新名字' })).toBe(true);
      expect(await h.authorizerStore.get(A)).toMatchObject({ ...info, nickName: '新名字', updatedAt: NOW + 2000 });
      // The info outlives a new authorization.
      await authorize();
      expect(await h.authorizerStore.get(A)).toMatchObject({ ...info, nickName: '新名字' });
    });

    it('saveAccountInfo also updates an account that is no longer authorized', async () => {
      await h.authorizerStore.markUnauthorized(A);
      expect(await h.authorizerStore.saveAccountInfo(A, { nickName: 'Gone' })).toBe(true);
      expect(await h.authorizerStore.get(A)).toMatchObject({ status: 'unauthorized', nickName: 'Gone' });
    });

    it('dueForRefresh returns the soonest-expiring accounts up to a time, bounded by the limit', async () => {
      for (const [appid, expiresIn] of [
        ['wxa', 3000],
        ['wxb', 1000],
        ['wxc', 7200],
        ['wxd', 2000],
      ] as const) {
        await authorize(appid, { refreshToken: `r-${appid}`, accessToken: `t-${appid}`, expiresIn });
      }
      expect(await h.authorizerStore.dueForRefresh(NOW + 3000_000, 10)).toEqual([
        { appid: 'wxb', expiresAt: NOW + 1000_000 },
        { appid: 'wxd', expiresAt: NOW + 2000_000 },
        { appid: 'wxa', expiresAt: NOW + 3000_000 },
      ]);
      expect((await h.authorizerStore.dueForRefresh(NOW + 3000_000, 2)).map((d) => d.appid)).toEqual(['wxb', 'wxd']);
      expect(await h.authorizerStore.dueForRefresh(NOW + 3000_000, 0)).toEqual([]);
      expect(await h.authorizerStore.dueForRefresh(NOW + 999_999, 10)).toEqual([]);
      expect((await h.authorizerStore.list()).map((r) => r.appid)).toEqual(['wxa', 'wxb', 'wxc', 'wxd']);
    });

    it('dueForRefresh skips the first `offset` due accounts (pages through the schedule)', async () => {
      for (const [appid, expiresIn] of [
        ['wxa', 3000],
        ['wxb', 1000],
        ['wxc', 7200],
        ['wxd', 2000],
      ] as const) {
        await authorize(appid, { refreshToken: `r-${appid}`, accessToken: `t-${appid}`, expiresIn });
      }
      await authorize('wxe', { accessToken: undefined, expiresIn: undefined });
      const page = async (offset: number, limit: number) =>
        (await h.authorizerStore.dueForRefresh(NOW + 3000_000, limit, offset)).map((d) => d.appid);
      expect(await page(0, 2)).toEqual(['wxe', 'wxb']);
      expect(await page(2, 2)).toEqual(['wxd', 'wxa']);
      expect(await page(4, 2)).toEqual([]);
      expect(await page(1, 10)).toEqual(['wxb', 'wxd', 'wxa']);
      expect(await page(3, -1)).toEqual(['wxa']);
      expect(await h.authorizerStore.dueForRefresh(NOW + 3000_000, 1, 3)).toEqual([
        { appid: 'wxa', expiresAt: NOW + 3000_000 },
      ]);
    });

    it('dueForRefresh orders accounts due at the same time by appid', async () => {
      for (const appid of ['wxc', 'wxa', 'wxb'])
        await authorize(appid, { accessToken: undefined, expiresIn: undefined });
      await authorize('wxd', { expiresIn: 60 });
      expect(await h.authorizerStore.dueForRefresh(NOW + 60_000, 10)).toEqual([
        { appid: 'wxa', expiresAt: 0 },
        { appid: 'wxb', expiresAt: 0 },
        { appid: 'wxc', expiresAt: 0 },
        { appid: 'wxd', expiresAt: NOW + 60_000 },
      ]);
    });

    it('list returns every account whatever its status, sorted by appid', async () => {
      await authorize('wxc');
      await authorize('wxa');
      await authorize('wxb');
      await h.authorizerStore.markUnauthorized('wxc');
      await h.authorizerStore.markReauthorizationRequired('wxa', 'errcode 61023', 'refresh-1');
      expect((await h.authorizerStore.list()).map((r) => [r.appid, r.status])).toEqual([
        ['wxa', 'reauthorization_required'],
        ['wxb', 'authorized'],
        ['wxc', 'unauthorized'],
      ]);
    });

    describe('search (the console listing)', () => {
      const seed = async () => {
        for (const appid of ['wxd4', 'wxa1', 'wxc3', 'wxb2']) await authorize(appid);
        await h.authorizerStore.saveAccountInfo('wxa1', { nickName: '湖畔咖啡' });
        await h.authorizerStore.saveAccountInfo('wxb2', { nickName: 'City Cycling' });
        await h.authorizerStore.saveAccountInfo('wxc3', { nickName: '湖畔咖啡点单' });
        await h.authorizerStore.markUnauthorized('wxd4');
      };

      it('pages through every account, whatever its status, sorted by appid', async () => {
        await seed();
        const first = await h.authorizerStore.search({ offset: 0, limit: 3 });
        expect(first.total).toBe(4);
        expect(first.records.map((r) => r.appid)).toEqual(['wxa1', 'wxb2', 'wxc3']);
        const second = await h.authorizerStore.search({ offset: 3, limit: 3 });
        expect(second).toEqual({ total: 4, records: [await h.authorizerStore.get('wxd4')] });
        expect(await h.authorizerStore.search({ offset: 9, limit: 3 })).toEqual({ total: 4, records: [] });
      });

      it('finds accounts by a part of the appid or of the name, ignoring case', async () => {
        await seed();
        const appids = async (text: string) =>
          (await h.authorizerStore.search({ text, offset: 0, limit: 10 })).records.map((r) => r.appid);
        expect(await appids('湖畔')).toEqual(['wxa1', 'wxc3']);
        expect(await appids('cycling')).toEqual(['wxb2']);
        expect(await appids('XC3')).toEqual(['wxc3']);
        expect(await appids('  点单 ')).toEqual(['wxc3']);
        expect(await appids('nothing-like-it')).toEqual([]);
        expect((await h.authorizerStore.search({ text: '湖畔', offset: 1, limit: 10 })).total).toBe(2);
      });

      it('finds an account by a name changed later', async () => {
        await seed();
        await h.authorizerStore.saveAccountInfo('wxb2', { nickName: '城市骑行' });
        expect(
          (await h.authorizerStore.search({ text: '骑行', offset: 0, limit: 10 })).records.map((r) => r.appid),
        ).toEqual(['wxb2']);
        expect((await h.authorizerStore.search({ text: 'cycling', offset: 0, limit: 10 })).total).toBe(0);
      });
    });

    it('countByStatus counts every stored account by status', async () => {
      expect(await h.authorizerStore.countByStatus()).toEqual({
        authorized: 0,
        unauthorized: 0,
        reauthorization_required: 0,
      });
      for (const appid of ['wxa', 'wxb', 'wxc', 'wxd']) await authorize(appid);
      await authorize('wxe', { refreshToken: undefined, accessToken: undefined, expiresIn: undefined });
      await h.authorizerStore.markUnauthorized('wxb');
      await h.authorizerStore.markUnauthorized('wxstranger');
      await h.authorizerStore.markReauthorizationRequired('wxc', 'errcode 61023', 'refresh-1');
      expect(await h.authorizerStore.countByStatus()).toEqual({
        authorized: 3,
        unauthorized: 2,
        reauthorization_required: 1,
      });
    });

    it('countByStatus stays exact through repeated, re-applied and reversed transitions (maintained counters)', async () => {
      const counts = () => h.authorizerStore.countByStatus();
      await authorize('wxa');
      await authorize('wxa'); // updateauthorized: still one account
      await authorize('wxb');
      expect(await counts()).toEqual({ authorized: 2, unauthorized: 0, reauthorization_required: 0 });
      await h.authorizerStore.markUnauthorized('wxa');
      await h.authorizerStore.markUnauthorized('wxa');
      expect(await counts()).toEqual({ authorized: 1, unauthorized: 1, reauthorization_required: 0 });
      await authorize('wxa'); // authorizes again
      await h.authorizerStore.markReauthorizationRequired('wxb', 'errcode 61023', 'refresh-1');
      expect(await h.authorizerStore.markReauthorizationRequired('wxb', 'errcode 61023', 'refresh-1')).toBe(false);
      expect(await counts()).toEqual({ authorized: 1, unauthorized: 0, reauthorization_required: 1 });
      await h.authorizerStore.restoreRefreshToken({
        appid: 'wxb',
        refreshToken: 'refresh-listed',
        authorizedAt: NOW,
        funcInfo: [],
        listedAt: NOW,
      });
      await h.authorizerStore.dropAccessToken('wxa');
      await h.authorizerStore.saveAccessToken('wxa', 'token-new', NOW + HOUR);
      expect(await counts()).toEqual({ authorized: 2, unauthorized: 0, reauthorization_required: 0 });
    });

    it('scheduleSizes sum to the scheduled accounts; reindex changes nothing that is right', async () => {
      for (const appid of ['wxa', 'wxb', 'wxc', 'wxd']) await authorize(appid);
      await h.authorizerStore.markUnauthorized('wxd');
      const total = async () => (await h.authorizerStore.scheduleSizes()).reduce((a, b) => a + b, 0);
      expect(await total()).toBe(3);
      const before = {
        list: await h.authorizerStore.list(),
        due: await h.authorizerStore.dueForRefresh(Number.MAX_SAFE_INTEGER, 10),
        counts: await h.authorizerStore.countByStatus(),
      };
      for (const appid of ['wxa', 'wxb', 'wxc', 'wxd', 'wxunknown']) await h.authorizerStore.reindex(appid);
      expect({
        list: await h.authorizerStore.list(),
        due: await h.authorizerStore.dueForRefresh(Number.MAX_SAFE_INTEGER, 10),
        counts: await h.authorizerStore.countByStatus(),
      }).toEqual(before);
      expect(await total()).toBe(3);
    });

    describe('restoreRefreshToken (recovery after a data loss)', () => {
      const restore = (more: { appid?: string; refreshToken?: string; listedAt?: number } = {}) =>
        h.authorizerStore.restoreRefreshToken({
          appid: A,
          refreshToken: 'refresh-listed',
          authorizedAt: NOW - HOUR,
          funcInfo: [{ funcscope_category: { id: 7 } }],
          listedAt: h.clock.now(),
          ...more,
        });

      it('restores an account it does not know, due for a refresh now', async () => {
        h.clock.advance(1000);
        expect(await restore()).toBe('restored');
        const record = await h.authorizerStore.get(A);
        expect(record).toEqual({
          appid: A,
          status: 'authorized',
          refreshToken: 'refresh-listed',
          funcInfo: [{ funcscope_category: { id: 7 } }],
          authorizedAt: NOW - HOUR,
          updatedAt: NOW + 1000,
        });
        expect(await h.authorizerStore.dueForRefresh(0, 10)).toEqual([{ appid: A, expiresAt: 0 }]);
        expect(await h.authorizerStore.list()).toEqual([record]);
        expect(await h.authorizerStore.countByStatus()).toEqual({
          authorized: 1,
          unauthorized: 0,
          reauthorization_required: 0,
        });
        // Restored, it is an ordinary authorized account again.
        expect(await h.authorizerStore.saveAccessToken(A, 'atoken-r', h.clock.now() + HOUR)).toBe(true);
        expect(await restore({ refreshToken: 'refresh-other' })).toBe('not_needed');
      });

      it('leaves an authorized account with a refresh token alone', async () => {
        await authorize();
        expect(await restore()).toBe('not_needed');
        expect(await h.authorizerStore.get(A)).toMatchObject({
          status: 'authorized',
          refreshToken: 'refresh-1',
          funcInfo,
          authorizedAt: NOW,
          accessToken: { token: 'atoken-1', expiresAt: NOW + 7200_000 },
        });
        expect(await h.authorizerStore.dueForRefresh(NOW, 10)).toEqual([]);
      });

      it('gives an authorized account without a refresh token the listed one, keeping what the record has', async () => {
        await authorize(A, { refreshToken: undefined });
        await h.authorizerStore.saveAccountInfo(A, { nickName: '测试号' });
        h.clock.advance(1000);
        expect(await restore()).toBe('restored');
        const record = await h.authorizerStore.get(A);
        expect(record).toEqual({
          appid: A,
          status: 'authorized',
          refreshToken: 'refresh-listed',
          funcInfo,
          authorizedAt: NOW,
          updatedAt: NOW + 1000,
          nickName: '测试号',
        });
        // The access token is dropped so that the next read verifies the restored refresh token.
        expect(await h.authorizerStore.dueForRefresh(0, 10)).toEqual([{ appid: A, expiresAt: 0 }]);
      });

      it('refuses the refresh token that already failed, and restores another one', async () => {
        await authorize(A, { refreshToken: 'refresh-listed' });
        await h.authorizerStore.markReauthorizationRequired(A, 'errcode 61023', 'refresh-listed');
        expect(await restore()).toBe('known_bad');
        expect(await h.authorizerStore.get(A)).toMatchObject({
          status: 'reauthorization_required',
          reauthorizationReason: 'errcode 61023',
        });
        expect(await h.authorizerStore.dueForRefresh(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
        expect(await restore({ refreshToken: 'refresh-newer' })).toBe('restored');
        expect(await h.authorizerStore.get(A)).toMatchObject({
          status: 'authorized',
          refreshToken: 'refresh-newer',
          reauthorizationReason: undefined,
        });
        expect(await h.authorizerStore.dueForRefresh(0, 10)).toEqual([{ appid: A, expiresAt: 0 }]);
      });

      it('lets a revocation stored after the list was read win, and restores an older one', async () => {
        await authorize();
        const listedAt = h.clock.now();
        h.clock.advance(1000);
        await h.authorizerStore.markUnauthorized(A); // updatedAt = listedAt + 1000
        expect(await restore({ listedAt })).toBe('revoked_since');
        expect(await h.authorizerStore.get(A)).toMatchObject({ status: 'unauthorized', refreshToken: undefined });
        expect(await restore({ listedAt: listedAt + 1000 })).toBe('restored');
        expect(await h.authorizerStore.get(A)).toMatchObject({
          status: 'authorized',
          refreshToken: 'refresh-listed',
          funcInfo,
          authorizedAt: NOW,
        });
        expect(await h.authorizerStore.dueForRefresh(0, 10)).toEqual([{ appid: A, expiresAt: 0 }]);
      });
    });

    it('the access token lives until its expiry; the schedule keeps the account due', async () => {
      await authorize();
      const present = async () => (await h.authorizerStore.get(A))?.accessToken !== undefined;
      await h.expectExpiry({ redisKey: h.keys.authorizerAccessToken(A), present }, 7200_000);
      expect(await h.authorizerStore.dueForRefresh(NOW + 7200_000, 10)).toEqual([
        { appid: A, expiresAt: NOW + 7200_000 },
      ]);
      expect(await h.authorizerStore.get(A)).toMatchObject({ status: 'authorized', refreshToken: 'refresh-1' });
    });

    describe('getTokenState (the token read)', () => {
      /** getTokenState must show exactly the status and access token that get() shows. */
      const expectSameAsGet = async (appid: string) => {
        const record = await h.authorizerStore.get(appid);
        const state = await h.authorizerStore.getTokenState(appid);
        expect(state).toEqual(record && { status: record.status, accessToken: record.accessToken });
        return state;
      };

      it('is undefined for an unknown account', async () => {
        expect(await h.authorizerStore.getTokenState(A)).toBeUndefined();
        await authorize('wxother');
        expect(await h.authorizerStore.getTokenState(A)).toBeUndefined();
      });

      it('shows the status and access token through every change, as get() does', async () => {
        await authorize();
        expect(await expectSameAsGet(A)).toEqual({
          status: 'authorized',
          accessToken: { token: 'atoken-1', expiresAt: NOW + 7200_000 },
        });
        h.clock.advance(HOUR);
        await h.authorizerStore.saveAccessToken(A, 'atoken-2', h.clock.now() + 7200_000, 'refresh-2');
        expect(await expectSameAsGet(A)).toEqual({
          status: 'authorized',
          accessToken: { token: 'atoken-2', expiresAt: NOW + HOUR + 7200_000 },
        });
        await h.authorizerStore.dropAccessToken(A);
        expect(await expectSameAsGet(A)).toEqual({ status: 'authorized', accessToken: undefined });
        await h.authorizerStore.saveAccessToken(A, 'atoken-3', h.clock.now() + 7200_000);
        await h.authorizerStore.markReauthorizationRequired(A, 'errcode 61023');
        expect(await expectSameAsGet(A)).toEqual({ status: 'reauthorization_required', accessToken: undefined });
        await authorize(A, { accessToken: undefined, expiresIn: undefined });
        expect(await expectSameAsGet(A)).toEqual({ status: 'authorized', accessToken: undefined });
        await h.authorizerStore.markUnauthorized(A);
        expect(await expectSameAsGet(A)).toEqual({ status: 'unauthorized', accessToken: undefined });
        // Revoked before it was ever authorized: a record with a status, and no token.
        await h.authorizerStore.markUnauthorized('wxnever');
        expect(await expectSameAsGet('wxnever')).toEqual({ status: 'unauthorized', accessToken: undefined });
      });

      it('loses the access token at its expiry, as get() does', async () => {
        await authorize();
        const present = async () => (await h.authorizerStore.getTokenState(A))?.accessToken?.token === 'atoken-1';
        await h.expectExpiry({ redisKey: h.keys.authorizerAccessToken(A), present }, 7200_000);
        await expectSameAsGet(A);
      });
    });

    it('a refreshed access token lives until the expiry it was saved with', async () => {
      await authorize();
      h.clock.advance(HOUR);
      await h.authorizerStore.saveAccessToken(A, 'atoken-2', h.clock.now() + 1800_000);
      const present = async () => (await h.authorizerStore.get(A))?.accessToken?.token === 'atoken-2';
      await h.expectExpiry({ redisKey: h.keys.authorizerAccessToken(A), present }, 1800_000);
    });
  });

  describe('Locks', () => {
    const key = () => h.keys.lock('x');

    it('lets exactly one of many contenders in at a time', async () => {
      let inside = 0;
      let maxInside = 0;
      let entered = 0;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? h.otherLocks : h.locks).withLock(key(), { ttlMs: 5000, waitMs: 10_000 }, async () => {
            inside++;
            entered++;
            maxInside = Math.max(maxInside, inside);
            await sleep(2);
            inside--;
            return i;
          }),
        ),
      );
      expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(entered).toBe(20);
      expect(maxInside).toBe(1);
      expect(await h.locks.tryAcquire(key(), 5000)).toBeDefined(); // every holder released it
    });

    it('refuses a second holder while the lock is held, and gives up after the wait bound', async () => {
      const held = await h.locks.tryAcquire(key(), 5000);
      expect(held?.key).toBe(key());
      expect(await h.otherLocks.tryAcquire(key(), 5000)).toBeUndefined();
      expect(await h.locks.tryAcquire(key(), 5000)).toBeUndefined();
      const started = Date.now();
      expect(await h.otherLocks.acquire(key(), { ttlMs: 5000, waitMs: 150 })).toBeUndefined();
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(140);
      expect(waited).toBeLessThan(1000);
      let ran = false;
      await expect(
        h.otherLocks.withLock(key(), { ttlMs: 5000, waitMs: 50 }, () => {
          ran = true;
          return Promise.resolve();
        }),
      ).rejects.toBeInstanceOf(LockTimeoutError);
      expect(ran).toBe(false);
      expect(await held!.release()).toBe(true);
      expect(await held!.release()).toBe(false); // already released
      expect(await h.otherLocks.tryAcquire(key(), 5000)).toBeDefined();
    });

    it('makes one try when waitMs is 0', async () => {
      const held = await h.locks.tryAcquire(key(), 5000);
      const started = Date.now();
      expect(await h.otherLocks.acquire(key(), { ttlMs: 5000, waitMs: 0 })).toBeUndefined();
      expect(Date.now() - started).toBeLessThan(100);
      await held!.release();
      const lease = await h.otherLocks.acquire(key(), { ttlMs: 5000, waitMs: 0 });
      expect(lease).toBeDefined();
      await lease!.release();
    });

    it('hands the lock to a waiter soon after its release', async () => {
      const held = await h.locks.tryAcquire(key(), 5000);
      const started = Date.now();
      const waiting = h.otherLocks.acquire(key(), { ttlMs: 5000, waitMs: 2000 });
      await sleep(30);
      await held!.release();
      const lease = await waiting;
      expect(lease).toBeDefined();
      expect(Date.now() - started).toBeLessThan(500);
      expect(await lease!.release()).toBe(true);
    });

    it('does not exclude holders of different keys', async () => {
      const one = await h.locks.tryAcquire(h.keys.lock('one'), 5000);
      const two = await h.otherLocks.tryAcquire(h.keys.lock('two'), 5000);
      expect(one).toBeDefined();
      expect(two).toBeDefined();
      expect(await one!.release()).toBe(true);
      expect(await two!.release()).toBe(true);
    });

    it('expires by its TTL when the holder never releases (a crashed holder)', async () => {
      expect(await h.locks.tryAcquire(key(), 150)).toBeDefined();
      const waiting = h.otherLocks.acquire(key(), { ttlMs: 5000, waitMs: 3000 });
      await h.elapse(200);
      const lease = await waiting;
      expect(lease).toBeDefined();
      expect(await lease!.release()).toBe(true);
    });

    it('never deletes a lock it does not own', async () => {
      const first = await h.locks.tryAcquire(key(), 100);
      await h.elapse(150); // first's lock expired…
      const second = await h.otherLocks.tryAcquire(key(), 5000); // …and now belongs to someone else
      expect(second).toBeDefined();
      expect(await first!.release()).toBe(false);
      expect(await h.locks.tryAcquire(key(), 5000)).toBeUndefined();
      expect(await second!.release()).toBe(true);
      expect(await h.locks.tryAcquire(key(), 5000)).toBeDefined();
    });

    it('reports a release after expiry as failed even when nobody took the lock', async () => {
      const lease = await h.locks.tryAcquire(key(), 100);
      await h.elapse(150);
      expect(await lease!.release()).toBe(false);
      expect(await h.otherLocks.tryAcquire(key(), 5000)).toBeDefined();
    });

    it('withLock returns the result and releases the lock, also when the work throws', async () => {
      expect(await h.locks.withLock(key(), { ttlMs: 5000, waitMs: 0 }, () => Promise.resolve('done'))).toBe('done');
      await expect(
        h.locks.withLock(key(), { ttlMs: 5000, waitMs: 0 }, async () => Promise.reject(new Error('boom'))),
      ).rejects.toThrow('boom');
      const lease = await h.otherLocks.tryAcquire(key(), 5000);
      expect(lease).toBeDefined();
      await lease!.release();
    });
  });

  describe('PushDedupStore', () => {
    it('claim → in_progress for a second claimer → done after markDone', async () => {
      expect(await h.pushDedup.state('p1')).toBe('none');
      expect(await h.pushDedup.claim('p1')).toBe('claimed');
      expect(await h.pushDedup.state('p1')).toBe('in_progress');
      expect(await h.pushDedup.claim('p1')).toBe('in_progress');
      await h.pushDedup.markDone('p1', 3600);
      expect(await h.pushDedup.state('p1')).toBe('done');
      expect(await h.pushDedup.claim('p1')).toBe('done');
      expect(await h.pushDedup.state('p2')).toBe('none');
      expect(await h.pushDedup.claim('p2')).toBe('claimed');
    });

    it('release lets a retry do the work again', async () => {
      expect(await h.pushDedup.claim('p1')).toBe('claimed');
      await h.pushDedup.release('p1');
      expect(await h.pushDedup.state('p1')).toBe('none');
      expect(await h.pushDedup.claim('p1')).toBe('claimed');
      await h.pushDedup.release('never-claimed');
      expect(await h.pushDedup.state('never-claimed')).toBe('none');
    });

    it('a processing claim lives 15 s, so a crashed instance does not block the retry', async () => {
      await h.pushDedup.claim('p1');
      await h.expectExpiry(
        { redisKey: h.keys.pushDedup('p1'), present: async () => (await h.pushDedup.state('p1')) === 'in_progress' },
        15_000,
      );
    });

    it('a done push is remembered as long as asked (the push service: longer than its replay window)', async () => {
      await h.pushDedup.claim('p1');
      await h.pushDedup.markDone('p1', 2 * 3600);
      await h.expectExpiry(
        { redisKey: h.keys.pushDedup('p1'), present: async () => (await h.pushDedup.state('p1')) === 'done' },
        2 * HOUR,
      );
    });
  });

  describe('MessageStream', () => {
    const message = (messageId: string, authorizerAppid = A): ReceivedMessage => ({
      authorizerAppid,
      known: true,
      msgType: 'text',
      event: '',
      messageId,
      fields: { MsgType: 'text', Content: '你好', MsgId: messageId },
      rawXml: `<xml><MsgId>${messageId}</MsgId></xml>`,
      receivedAt: NOW,
    });

    it('appends a message once: a re-send (same appid and message id) writes nothing, whoever sends it', async () => {
      expect(await h.messages.appendOnce(message('1001'))).toEqual(expect.any(String));
      expect(await h.messages.appendOnce(message('1001'))).toBeUndefined();
      expect(await h.otherMessages.appendOnce(message('1001'))).toBeUndefined();
      expect(await h.messages.appendOnce(message('1002'))).toEqual(expect.any(String));
      // The same message id for another account is another message.
      expect(await h.messages.appendOnce(message('1001', 'wxauthorizer0002'))).toEqual(expect.any(String));
      const entries = await h.messageEntries();
      expect(entries.map((e) => [e.authorizer_appid, e.message_id])).toEqual([
        [A, '1001'],
        [A, '1002'],
        ['wxauthorizer0002', '1001'],
      ]);
      expect(entries[0]).toEqual({
        authorizer_appid: A,
        known: '1',
        msg_type: 'text',
        event: '',
        message_id: '1001',
        fields: JSON.stringify({ MsgType: 'text', Content: '你好', MsgId: '1001' }),
        raw_xml: '<xml><MsgId>1001</MsgId></xml>',
        received_at: String(NOW),
      });
    });

    it('of simultaneous copies of one message, exactly one is stored', async () => {
      const ids = await Promise.all(
        Array.from({ length: 6 }, (_, i) => (i % 2 ? h.otherMessages : h.messages).appendOnce(message('2001'))),
      );
      expect(ids.filter((id) => id !== undefined)).toHaveLength(1);
      expect(await h.messageEntries()).toHaveLength(1);
    });

    it('remembers a stored message for an hour', async () => {
      await h.messages.appendOnce(message('3001'));
      // Present = a re-send is still turned away (once forgotten, the probe stores it again: the last probe only).
      const present = async () => (await h.messages.appendOnce(message('3001'))) === undefined;
      await h.expectExpiry({ redisKey: h.keys.messageDedup(A, '3001'), present }, HOUR);
    });
  });

  describe('AuthCodeStore', () => {
    const pending: PendingAuthorization = {
      appid: A,
      infoType: 'authorized',
      receivedAt: NOW,
      error: 'wechat_unavailable',
      retryable: true,
    };

    it('remembers which account a code was used for', async () => {
      expect(await h.authCodes.usedBy('queryauthcode@@@1')).toBeUndefined();
      await h.authCodes.markUsed('queryauthcode@@@1', A, 3600);
      expect(await h.authCodes.usedBy('queryauthcode@@@1')).toBe(A);
      expect(await h.authCodes.usedBy('queryauthcode@@@2')).toBeUndefined();
      await h.authCodes.markUsed('queryauthcode@@@1', 'wxother', 3600);
      expect(await h.authCodes.usedBy('queryauthcode@@@1')).toBe('wxother');
    });

    it('keeps a used code for its TTL', async () => {
      await h.authCodes.markUsed('queryauthcode@@@1', A, 1200);
      const present = async () => (await h.authCodes.usedBy('queryauthcode@@@1')) !== undefined;
      await h.expectExpiry({ redisKey: h.keys.usedAuthCode(authCodeDigest('queryauthcode@@@1')), present }, 1200_000);
    });

    it('keeps a pending authorization per account until cleared', async () => {
      expect(await h.authCodes.getPending(A)).toBeUndefined();
      await h.authCodes.savePending(pending, 1200);
      expect(await h.authCodes.getPending(A)).toEqual(pending);
      expect(await h.authCodes.getPending('wxother')).toBeUndefined();
      const replaced = { ...pending, error: 'code expired', retryable: false };
      await h.authCodes.savePending(replaced, 1200);
      const read = (await h.authCodes.getPending(A)) as { error: string };
      expect(read).toEqual(replaced);
      read.error = 'mutated';
      expect((await h.authCodes.getPending(A))?.error).toBe('code expired');
      await h.authCodes.clearPending(A);
      expect(await h.authCodes.getPending(A)).toBeUndefined();
      await h.authCodes.clearPending('wxother');
    });

    it('refuses a TTL Redis would refuse', async () => {
      await expect(h.authCodes.markUsed('queryauthcode@@@1', A, 0)).rejects.toThrow();
      await expect(h.authCodes.savePending(pending, -1)).rejects.toThrow();
      expect(await h.authCodes.usedBy('queryauthcode@@@1')).toBeUndefined();
      expect(await h.authCodes.getPending(A)).toBeUndefined();
    });

    it('keeps a pending authorization for its TTL', async () => {
      await h.authCodes.savePending(pending, 600);
      const present = async () => (await h.authCodes.getPending(A)) !== undefined;
      await h.expectExpiry({ redisKey: h.keys.pendingAuthorization(A), present }, 600_000);
    });
  });
});

describe('createMemoryStores', () => {
  it('gives every call its own state (one process, nothing shared or kept)', async () => {
    const clock = frozenClock();
    const one = createMemoryStores(clock);
    const two = createMemoryStores(clock);
    await one.ticketStore.save('ticket@@@one', 1);
    await one.authorizerStore.saveAuthorization({ appid: A, refreshToken: 'r', funcInfo: [], authorizedAt: 1 });
    expect(await one.locks.tryAcquire('k', 1000)).toBeDefined();
    expect(await two.ticketStore.get()).toBeUndefined();
    expect(await two.authorizerStore.list()).toEqual([]);
    expect(await two.locks.tryAcquire('k', 1000)).toBeDefined();
  });
});

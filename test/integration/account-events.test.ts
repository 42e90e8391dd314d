import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { newEventId } from '../../src/client/account-events';
import { createContainer } from '../../src/container';
import { ReauthorizationRequiredError } from '../../src/errors';
import { RedisEventStream } from '../../src/store/event-stream';
import { waitUntilReady } from '../../src/store/redis';
import { accountHash } from '../support/account-keys';
import { eventually } from '../support/eventually';
import { listenApp, streamEvents } from '../support/events';
import { startHarness, type Harness } from '../support/emulator';
import { captureLogs } from '../support/log-capture';
import { authorizationPayload, signedPush, unauthorizedPayload } from '../support/push';
import { newTestRedis } from '../support/redis';

/** The emulator's first demo Official Account. */
const OA = 'wx3c5a7e19b2d40f81';
const HOUR = 3600_000;

describe('account events in P:events', () => {
  let h: Harness;
  let service: Awaited<ReturnType<typeof listenApp>>;
  const redis = newTestRedis();
  const logs = captureLogs('info');

  beforeEach(async () => {
    h = await startHarness({ container: { logger: logs.logger } });
    service = await listenApp(h.container);
    h.emulator.setPushUrl(`${service.url}/auth`);
  });
  afterEach(async () => {
    await service.close();
    await h.close();
  });
  afterAll(() => redis.quit());

  const events = () => streamEvents(redis, h.container.keys.events);
  const post = (push: { path: string; body: string }) =>
    request(service.url).post(push.path).set('Content-Type', 'text/xml').send(push.body);

  it('authorize, update (other permission sets) and revoke through the emulator: exactly three events, in order, no secret in them', async () => {
    const granted = [...h.emulator.accounts().find((a) => a.appid === OA)!.funcInfo].sort((a, b) => a - b);
    const first = await h.emulator.authorize(OA);
    const refreshToken = (await accountHash(redis, h.container.keys, h.container.config, OA)).refresh_token!;
    const accessToken = (await redis.get(h.container.keys.authorizerAccessToken(OA)))!;
    const second = await h.emulator.authorize(OA, { funcInfo: [1, 15] });
    await h.emulator.revoke(OA);

    const all = await events();
    expect(all.map((e) => e.type)).toEqual(['authorized', 'updateauthorized', 'unauthorized']);
    expect(all[0]).toEqual({
      streamId: expect.any(String),
      event_id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      type: 'authorized',
      authorizer_appid: OA,
      occurred_at: expect.any(Number),
      permissions: granted,
    });
    expect(all[1]).toMatchObject({ type: 'updateauthorized', permissions_before: granted, permissions_after: [1, 15] });
    expect(Object.keys(all[2]!).sort()).toEqual(['authorizer_appid', 'event_id', 'occurred_at', 'streamId', 'type']);
    expect(new Set(all.map((e) => e.event_id)).size).toBe(3);
    expect(all.map((e) => e.occurred_at)).toEqual([...all.map((e) => e.occurred_at)].sort((a, b) => a - b));

    const raw = JSON.stringify(await redis.xrange(h.container.keys.events, '-', '+'));
    for (const secret of [refreshToken, accessToken, first.authCode, second.authCode])
      expect(raw).not.toContain(secret);
    // Nothing left behind: the outbox and the unpublished set are empty once the events are in the stream.
    expect(await redis.exists(h.container.keys.authorizerOutbox(OA))).toBe(0);
    expect(await redis.scard(h.container.keys.eventsUnpublished)).toBe(0);
  });

  it('a repeated revocation is no second event', async () => {
    await h.emulator.authorize(OA);
    await post(signedPush(unauthorizedPayload(OA))).expect(200, 'success');
    await post(signedPush(unauthorizedPayload(OA))).expect(200, 'success');
    expect((await events()).map((e) => e.type)).toEqual(['authorized', 'unauthorized']);
  });

  it('the admin redirect and the push with the same code make one event', async () => {
    const { authCode } = await h.emulator.authorize(OA, { push: false });
    await request(service.url).get(`/auth?auth_code=${encodeURIComponent(authCode)}&expires_in=3600`);
    await post(signedPush(authorizationPayload('authorized', OA, authCode))).expect(200, 'success');
    expect((await events()).map((e) => e.type)).toEqual(['authorized']);
  });

  it('reauthorization_required carries the errcode (61023)', async () => {
    await h.emulator.authorize(OA);
    await h.emulator.revoke(OA, { push: false }); // the revocation push never reached us: the refresh finds out
    h.clock.advance(2 * HOUR);
    await expect(h.container.tokenService.getAuthorizerAccessToken(OA)).rejects.toBeInstanceOf(
      ReauthorizationRequiredError,
    );
    const all = await events();
    expect(all.map((e) => e.type)).toEqual(['authorized', 'reauthorization_required']);
    expect(all[1]).toMatchObject({ authorizer_appid: OA, errcode: 61023 });
  });

  it('authorization_failed when WeChat refuses the code (the admin must authorize again); a retryable failure is no event', async () => {
    h.emulator.faults.set('api_query_auth', { httpStatus: 500, times: 1 });
    const { authCode } = await h.emulator.authorize(OA, { push: false });
    await post(signedPush(authorizationPayload('authorized', OA, authCode))).expect(502);
    expect(await events()).toEqual([]);
    await post(signedPush(authorizationPayload('updateauthorized', OA, 'queryauthcode@@@never-issued'))).expect(
      200,
      'success',
    );
    const all = await events();
    expect(all).toEqual([
      expect.objectContaining({
        type: 'authorization_failed',
        authorizer_appid: OA,
        info_type: 'updateauthorized',
        reason: expect.stringMatching(/61009/),
      }),
    ]);
    expect(JSON.stringify(all)).not.toContain('never-issued');
  });

  it('recovered when recovery restores a lost refresh token', async () => {
    await h.authorize(OA);
    await redis.del(h.container.keys.authorizer(OA));
    await h.container.recovery.run();
    expect((await events()).map((e) => e.type)).toEqual(['authorized', 'recovered']);
    await h.container.recovery.run(); // nothing to restore: no event
    expect((await events()).map((e) => e.type)).toEqual(['authorized', 'recovered']);
  });

  it('an event whose XADD failed after its state change stays in the outbox and is appended once at the next start', async () => {
    await h.emulator.authorize(OA);
    const key = h.container.keys.events;
    // The stream cannot be written (a key of the wrong type), while the account's own keys can.
    await redis.rename(key, `${key}:aside`);
    await redis.set(key, 'not a stream');
    await h.emulator.revoke(OA);
    expect(await redis.hget(h.container.keys.authorizer(OA), 'status')).toBe('unauthorized');
    expect(await redis.hlen(h.container.keys.authorizerOutbox(OA))).toBe(1);
    expect(logs.lines().some((l) => l.msg === 'event kept in the outbox; the sweep will append it to the stream')).toBe(
      true,
    );
    await redis.del(key);
    await redis.rename(`${key}:aside`, key);

    // A restart: the new instance's start sweep finds the outbox entry through the unpublished set.
    const restarted = createContainer(h.config, { clock: h.clock, logger: logs.logger, events: { sweepGraceMs: 0 } });
    try {
      expect(await waitUntilReady(restarted.redis, 5000)).toBe(true);
      restarted.start();
      // Appended, then cleared from the outbox and the unpublished set.
      await eventually(
        async () =>
          (await events()).length === 2 &&
          (await redis.exists(h.container.keys.authorizerOutbox(OA))) === 0 &&
          (await redis.scard(h.container.keys.eventsUnpublished)) === 0,
        { what: 'the re-emitted event' },
      );
    } finally {
      await restarted.close();
    }
    expect((await events()).map((e) => e.type)).toEqual(['authorized', 'unauthorized']);
  });

  it('the sweep forgets a reserved event whose state change never happened, and leaves young entries to their writer', async () => {
    const stream = new RedisEventStream(h.container.redis, h.container.keys, 1000);
    const eventId = '00000000-0000-7000-8000-000000000000'; // from 1970: older than any grace
    await stream.reserve(OA, eventId);
    const young = newEventId(h.clock.now(), randomBytes); // within the grace: its writer may still be on its way
    await stream.reserve(OA, young);
    expect(await h.container.accountEvents!.sweep()).toBe(0);
    expect(await redis.smembers(h.container.keys.eventsUnpublished)).toEqual([`${OA} ${young}`]);
    expect(await events()).toEqual([]);
  });

  it('the stream is capped near EVENTS_MAX_LEN (MAXLEN ~)', async () => {
    const stream = new RedisEventStream(h.container.redis, h.container.keys, 100);
    const outbox = h.container.keys.authorizerOutbox(OA);
    for (let i = 0; i < 400; i++) {
      const event = {
        event_id: newEventId(Date.now(), randomBytes),
        type: 'recovered',
        authorizer_appid: OA,
        occurred_at: Date.now(),
      };
      await redis.hset(outbox, event.event_id, JSON.stringify(event));
      await stream.flush(OA);
    }
    const length = await redis.xlen(h.container.keys.events);
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThan(300);
  });
});

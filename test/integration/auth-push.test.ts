import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import request from 'supertest';
import { createApp } from '../../src/app';
import { createContainer, type Container } from '../../src/container';
import { captureLogs } from '../support/log-capture';
import { eventually } from '../support/eventually';
import { startHarness, type Harness } from '../support/emulator';
import { authorizationPayload, randomTicket, signedPush, ticketPayload, unauthorizedPayload } from '../support/push';
import { keysUnder, newTestRedis } from '../support/redis';
import { accountHash } from '../support/account-keys';
import { OwnedRedisServer } from '../support/redis-server';
import { waitUntilReady } from '../../src/store/redis';
import { computeMsgSignature } from '../../src/wechat/crypto';

/** The emulator's first demo Official Account. */
const OA = 'wx3c5a7e19b2d40f81';

async function listen(container: Container): Promise<{ server: Server; url: string }> {
  const server = createApp(container).listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('POST /auth (authorization-event pushes)', () => {
  let h: Harness;
  let service: { server: Server; url: string };
  const redis = newTestRedis();
  const logs = captureLogs('info');

  beforeEach(async () => {
    h = await startHarness({ container: { logger: logs.logger } });
    service = await listen(h.container);
    h.emulator.setPushUrl(`${service.url}/auth`);
  });
  afterEach(async () => {
    await new Promise((r) => service.server.close(r));
    await h.close();
  });
  afterAll(() => redis.quit());

  const post = (push: { path: string; body: string }) =>
    request(service.url).post(push.path).set('Content-Type', 'text/xml').send(push.body);
  /** The account's hash, with its refresh token (kept in its own secret key) shown as `refresh_token`. */
  const hash = (appid: string) => accountHash(redis, h.container.keys, h.container.config, appid);

  describe('component_verify_ticket', () => {
    it('stores the ticket pushed (and signed) by the emulator', async () => {
      const result = await h.emulator.pushTicket();
      expect(result).toMatchObject({ delivered: true, attempts: 1 });
      expect(await redis.get(h.container.keys.componentVerifyTicket)).toBe(h.emulator.currentTicket());
      expect(await redis.ttl(h.container.keys.componentVerifyTicket)).toBeGreaterThan(11 * 3600);
    });

    it.each([true, false])(
      'stores a hand-written ticket push (CDATA: %s) and answers exactly "success"',
      async (cdata) => {
        const ticket = randomTicket();
        const res = await post(signedPush(ticketPayload(ticket, { cdata }))).expect(200);
        expect(res.text).toBe('success');
        expect(res.headers['content-type']).toMatch(/^text\/plain/);
        expect(await redis.get(h.container.keys.componentVerifyTicket)).toBe(ticket);
      },
    );
  });

  describe('component_verify_ticket: one storage step, one log line', () => {
    const WAITING = 'the same push is being handled elsewhere; waiting for it';
    const pushIdOf = (push: { query: Record<string, string> }) =>
      createHash('sha1')
        .update(`${push.query.msg_signature}:${push.query.timestamp}:${push.query.nonce}`)
        .digest('hex');

    it('stores the ticket and remembers the push as done in the same step; a re-send changes nothing', async () => {
      const ticket = randomTicket();
      const push = signedPush(ticketPayload(ticket));
      await post(push).expect(200, 'success');
      expect(await redis.get(h.container.keys.componentVerifyTicket)).toBe(ticket);
      expect(JSON.parse((await redis.get(h.container.keys.ticketMeta)) ?? 'null')).toEqual({
        receivedAt: expect.any(Number),
        createTime: expect.any(Number),
      });
      expect(await redis.get(h.container.keys.pushDedup(pushIdOf(push)))).toBe('done');
      expect(await redis.ttl(h.container.keys.pushDedup(pushIdOf(push)))).toBeGreaterThan(3500);

      await redis.set(h.container.keys.componentVerifyTicket, 'ticket@@@newer'); // as if a newer push had arrived since
      await post(push).expect(200, 'success');
      expect(await redis.get(h.container.keys.componentVerifyTicket)).toBe('ticket@@@newer');
    });

    it('waits for another instance that is handling the same push, and does not store it a second time', async () => {
      const push = signedPush(ticketPayload(randomTicket()));
      const dedupKey = h.container.keys.pushDedup(pushIdOf(push));
      await redis.set(dedupKey, 'processing', 'PX', 15_000); // the other instance's claim
      const before = await redis.get(h.container.keys.componentVerifyTicket);
      const answer = post(push).then((r) => r);
      await eventually(() => logs.lines().some((l) => l.pushId === pushIdOf(push) && l.msg === WAITING), {
        what: 'the service waiting',
      });
      await redis.set(dedupKey, 'done', 'EX', 3600); // the other instance finished (its ticket is its business)
      const res = await answer;
      expect([res.status, res.text]).toEqual([200, 'success']);
      expect(await redis.get(h.container.keys.componentVerifyTicket)).toBe(before);
    });

    it('answers 503 when the instance handling it gives up, so that WeChat re-sends it', async () => {
      const push = signedPush(ticketPayload(randomTicket()));
      const dedupKey = h.container.keys.pushDedup(pushIdOf(push));
      await redis.set(dedupKey, 'processing', 'PX', 15_000);
      const answer = post(push).then((r) => r);
      await eventually(() => logs.lines().some((l) => l.pushId === pushIdOf(push) && l.msg === WAITING), {
        what: 'the service waiting',
      });
      await redis.del(dedupKey); // the other instance failed and released it
      const res = await answer;
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('push_in_progress');
      await post(push).expect(200, 'success');
    });

    it('writes one line from the push path: "push acknowledged" with the InfoType, CreateTime and duplicate flag', async () => {
      const payload = ticketPayload(randomTicket());
      const createTime = Number(/<CreateTime>(\d+)</.exec(payload)?.[1]);
      const push = signedPush(payload);
      const first = await post(push).expect(200, 'success');
      const again = await post(push).expect(200, 'success');
      const linesOf = (res: { headers: Record<string, string> }) =>
        logs
          .lines()
          .filter((l) => (l.req as { id?: string } | undefined)?.id === res.headers['x-request-id'] && 'infoType' in l);
      expect(linesOf(first)).toEqual([
        expect.objectContaining({
          level: 30,
          msg: 'push acknowledged',
          infoType: 'component_verify_ticket',
          createTime,
          duplicate: false,
        }),
      ]);
      expect(linesOf(again)).toEqual([expect.objectContaining({ msg: 'push acknowledged', duplicate: true })]);
      expect(logs.text()).not.toMatch(/component_verify_ticket stored/);
    });

    it('accepts an envelope with an XML declaration, comments and attributes', async () => {
      const ticket = randomTicket();
      const push = signedPush(ticketPayload(ticket));
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<!-- from WeChat -->\n${push.body.replace('<xml>', '<xml version="1">')}`;
      await post({ ...push, body }).expect(200, 'success');
      expect(await redis.get(h.container.keys.componentVerifyTicket)).toBe(ticket);
    });

    it('accepts an envelope and a payload with CR LF line ends, and a "<!DOCTYPE" inside CDATA as text', async () => {
      const ticket = `ticket@@@<!DOCTYPE x [<!ENTITY e "boom">]>${randomTicket()}`;
      const push = signedPush(ticketPayload(ticket).replace(/\n/g, '\r\n'));
      await post({ ...push, body: push.body.replace(/\n/g, '\r\n') }).expect(200, 'success');
      expect(await redis.get(h.container.keys.componentVerifyTicket)).toBe(ticket);
    });

    it('is routed as Express routes POST /auth (any case, optional trailing slash) and nothing else', async () => {
      const push = signedPush(ticketPayload(randomTicket()));
      await post({ ...push, path: push.path.replace('/auth?', '/auth/?') }).expect(200, 'success');
      const other = signedPush(ticketPayload(randomTicket()));
      await post({ ...other, path: other.path.replace('/auth?', '/AUTH?') }).expect(200, 'success');
      const get = await request(service.url).get('/auth'); // the authorization redirect's route (routes/authorize.ts)
      expect(get.text).not.toBe('success');
      await post({ ...push, path: push.path.replace('/auth?', '/auth/more?') }).expect(404);
      await post({ ...push, path: push.path.replace('/auth?', '/authx?') }).expect(404);
    });
  });

  describe('authorized / updateauthorized / unauthorized', () => {
    it('authorized (pushed by the emulator): stores the account, its refresh token, access token and schedule', async () => {
      const { push } = await h.emulator.authorize(OA);
      expect(push).toMatchObject({ delivered: true });
      const stored = await hash(OA);
      expect(stored.status).toBe('authorized');
      expect(stored.refresh_token).toBeTruthy();
      expect(JSON.parse(stored.func_info ?? '[]').length).toBeGreaterThan(0);
      expect(Number(stored.authorized_at)).toBeGreaterThan(0);
      expect(stored.nick_name).toBeTruthy();
      const token = await redis.get(h.container.keys.authorizerAccessToken(OA));
      expect(token && h.emulator.tokenStatus(token)).toBe('valid');
      expect(await redis.zscore(h.container.keys.scheduleOf(OA), OA)).not.toBeNull();
    });

    it.each([true, false])('authorized written by hand (CDATA: %s) exchanges the code once', async (cdata) => {
      const { authCode } = await h.emulator.authorize(OA, { push: false });
      await post(signedPush(authorizationPayload('authorized', OA, authCode, { cdata }))).expect(200, 'success');
      expect((await hash(OA)).status).toBe('authorized');
      expect(h.emulator.callLog.count('api_query_auth')).toBe(1);
    });

    it('updateauthorized drops the old access token; the next read returns the new one', async () => {
      await h.emulator.authorize(OA);
      const before = await redis.get(h.container.keys.authorizerAccessToken(OA));
      const { push } = await h.emulator.authorize(OA); // already authorized → updateauthorized
      expect(push).toMatchObject({ delivered: true });
      const after = await redis.get(h.container.keys.authorizerAccessToken(OA));
      expect(after).toBeTruthy();
      expect(after).not.toBe(before);
      const read = await h.container.tokenService.getAuthorizerAccessToken(OA);
      expect(read.token).toBe(after);
      expect(h.emulator.tokenStatus(read.token)).toBe('valid');
    });

    it('unauthorized: status unauthorized, tokens deleted, out of the schedule', async () => {
      await h.emulator.authorize(OA);
      await h.emulator.revoke(OA);
      const stored = await hash(OA);
      expect(stored.status).toBe('unauthorized');
      expect(stored.refresh_token).toBeUndefined();
      expect(await redis.exists(h.container.keys.authorizerAccessToken(OA))).toBe(0);
      expect(await redis.zscore(h.container.keys.scheduleOf(OA), OA)).toBeNull();
    });

    it('unauthorized written by hand in the bare form', async () => {
      await h.emulator.authorize(OA);
      await post(signedPush(unauthorizedPayload(OA, { cdata: false }))).expect(200, 'success');
      expect((await hash(OA)).status).toBe('unauthorized');
    });

    it('an unknown InfoType is acknowledged with one info line naming it, and changes nothing', async () => {
      const before = await keysUnder(redis, h.config.redis.keyPrefix);
      const payload =
        `<xml><AppId><![CDATA[${h.config.component.appId}]]></AppId>\n<CreateTime>1712110558</CreateTime>\n` +
        '<InfoType><![CDATA[notify_third_fasteregister]]></InfoType><appid>wxnew</appid><status>0</status></xml>';
      await post(signedPush(payload)).expect(200, 'success');
      const lines = logs.lines().filter((l) => l.infoType === 'notify_third_fasteregister' && l.level === 30);
      expect(lines.some((l) => String(l.msg).includes('does not act on'))).toBe(true);
      const after = (await keysUnder(redis, h.config.redis.keyPrefix)).filter((k) => !k.includes(':push:'));
      expect(after).toEqual(before);
    });
  });

  describe('bad input: the right status and nothing written', () => {
    const validTicket = () => signedPush(ticketPayload(randomTicket()));
    const flipEncryptByte = (body: string) =>
      body.replace(/<Encrypt><!\[CDATA\[(.*)\]\]><\/Encrypt>/, (_m, enc: string) => {
        const bytes = Buffer.from(enc, 'base64');
        bytes[40] = (bytes[40] ?? 0) ^ 0x01;
        return `<Encrypt><![CDATA[${bytes.toString('base64')}]]></Encrypt>`;
      });

    const cases: Array<[string, () => { path: string; body: string }, number, RegExp]> = [
      [
        'a wrong msg_signature',
        () => {
          const p = validTicket();
          return { ...p, path: p.path.replace(/msg_signature=[0-9a-f]+/, `msg_signature=${'0'.repeat(40)}`) };
        },
        401,
        /invalid_signature/,
      ],
      [
        'one flipped ciphertext byte (correctly signed)',
        () => {
          const p = validTicket();
          const body = flipEncryptByte(p.body);
          const enc = /CDATA\[([^\]]*)\]\]><\/Encrypt>/.exec(body)?.[1] ?? '';
          // Re-signed, so the signature check passes and decryption must catch the change.
          const sig = computeMsgSignature(h.config.component.token, p.query.timestamp!, p.query.nonce!, enc);
          return { body, path: p.path.replace(/msg_signature=[0-9a-f]+/, `msg_signature=${sig}`) };
        },
        400,
        /invalid_push|appid_mismatch/,
      ],
      [
        'a ciphertext for another appid',
        () => signedPush(ticketPayload(randomTicket()), { receiveId: 'wxsomeoneelse00001' }),
        400,
        /appid_mismatch/,
      ],
      [
        'a payload naming another AppId',
        () =>
          signedPush(ticketPayload(randomTicket(), { appId: 'wxsomeoneelse00001' }), {
            receiveId: h.config.component.appId,
          }),
        400,
        /appid_mismatch/,
      ],
      ['a payload that is not XML', () => signedPush('not xml at all'), 400, /invalid_push/],
      ['malformed envelope XML', () => ({ ...validTicket(), body: '<xml><Encrypt>abc</Encrypt' }), 400, /bad_request/],
      [
        'an envelope with a DOCTYPE',
        () => {
          const p = validTicket();
          return { ...p, body: `<!DOCTYPE xml>${p.body}` };
        },
        400,
        /DOCTYPE/,
      ],
      [
        'an envelope with an entity',
        () => {
          const p = validTicket();
          return { ...p, body: `<!DOCTYPE x [<!ENTITY e "boom">]>${p.body.replace('<xml>', '<xml><X>&e;</X>')}` };
        },
        400,
        /DOCTYPE/,
      ],
      [
        'an empty Encrypt',
        () => ({ ...validTicket(), body: '<xml><AppId>x</AppId><Encrypt><![CDATA[]]></Encrypt></xml>' }),
        400,
        /Encrypt/,
      ],
      [
        'two Encrypt elements',
        () => {
          const p = validTicket();
          return { ...p, body: p.body.replace('</xml>', '<Encrypt>AAAA</Encrypt></xml>') };
        },
        400,
        /Encrypt/,
      ],
      // The envelope reader's rules (src/wechat/xml-reading.ts), over HTTP.
      [
        'an envelope whose root is not <xml>',
        () => {
          const p = validTicket();
          return { ...p, body: p.body.replace('<xml>', '<envelope>').replace('</xml>', '</envelope>') };
        },
        400,
        /bad_request.*root element must be <xml>/,
      ],
      [
        'loose text in the envelope root',
        () => {
          const p = validTicket();
          return { ...p, body: p.body.replace('</xml>', 'loose</xml>') };
        },
        400,
        /bad_request.*text directly inside/,
      ],
      [
        '"]]>" in envelope text',
        () => {
          const p = validTicket();
          return { ...p, body: p.body.replace('</xml>', '<Note>a]]>b</Note></xml>') };
        },
        400,
        /bad_request.*\]\]>/,
      ],
      [
        'a duplicate attribute in the envelope',
        () => {
          const p = validTicket();
          return { ...p, body: p.body.replace('<xml>', '<xml a="1" a="2">') };
        },
        400,
        /bad_request.*duplicate attribute/,
      ],
      [
        'a second root after the envelope',
        () => {
          const p = validTicket();
          return { ...p, body: `${p.body}<xml><Encrypt>AAAA</Encrypt></xml>` };
        },
        400,
        /bad_request.*content after the root/,
      ],
      [
        'an element named __proto__ in the envelope',
        () => {
          const p = validTicket();
          return { ...p, body: p.body.replace('</xml>', '<__proto__><Encrypt>AAAA</Encrypt></__proto__></xml>') };
        },
        400,
        /bad_request.*__proto__/,
      ],
      [
        'a signed payload whose root is not <xml>',
        () => signedPush(ticketPayload(randomTicket()).replace('<xml>', '<root>').replace('</xml>', '</root>')),
        400,
        /invalid_push.*root element/,
      ],
      [
        'a signed payload with loose text in its root',
        () => signedPush(ticketPayload(randomTicket()).replace('</xml>', 'loose</xml>')),
        400,
        /invalid_push.*text directly inside/,
      ],
      [
        'a signed payload with two InfoType elements',
        () => signedPush(ticketPayload(randomTicket()).replace('</xml>', '<InfoType>unauthorized</InfoType></xml>')),
        400,
        /invalid_push.*InfoType> appears more than once/,
      ],
      // Issue 12 item 7: signed pushes whose AuthorizerAppid is not an appid (it would become a Redis key).
      [
        'a signed authorized push with a hostile AuthorizerAppid',
        () => signedPush(authorizationPayload('authorized', `{${'../'.repeat(69)}}wx`, 'queryauthcode@@@x')),
        400,
        /invalid_push.*AuthorizerAppid/,
      ],
      [
        'a signed unauthorized push with a hostile AuthorizerAppid',
        () => signedPush(unauthorizedPayload(`wx{${'a'.repeat(200)}}/../x`)),
        400,
        /invalid_push.*AuthorizerAppid/,
      ],
      [
        'a signed updateauthorized push with a short AuthorizerAppid',
        () => signedPush(authorizationPayload('updateauthorized', 'wx123', 'queryauthcode@@@x')),
        400,
        /AuthorizerAppid/,
      ],
      [
        'a signed unauthorized push with an AuthorizerAppid padded by a space',
        () => signedPush(unauthorizedPayload(`${OA} `)),
        400,
        /AuthorizerAppid/,
      ],
      [
        'a body over 64 KiB',
        () => ({ ...validTicket(), body: `<xml><Encrypt>${'A'.repeat(70 * 1024)}</Encrypt></xml>` }),
        413,
        /payload_too_large/,
      ],
      ...(['timestamp', 'nonce', 'msg_signature'] as const).map(
        (name): [string, () => { path: string; body: string }, number, RegExp] => [
          `no ${name} query parameter`,
          () => {
            const p = validTicket();
            const q = new URLSearchParams(p.query);
            q.delete(name);
            return { ...p, path: `/auth?${q}` };
          },
          400,
          new RegExp(name),
        ],
      ),
    ];

    it.each(cases)('%s', async (_label, make, status, message) => {
      const before = await keysUnder(redis, h.config.redis.keyPrefix);
      const res = await post(make()).expect(status);
      expect(JSON.stringify(res.body)).toMatch(message);
      expect(res.text).not.toBe('success');
      expect(await keysUnder(redis, h.config.redis.keyPrefix)).toEqual(before);
    });
  });

  describe('idempotency', () => {
    it('a re-sent push (same signature, timestamp, nonce) has one effect and is still answered success', async () => {
      const { authCode } = await h.emulator.authorize(OA, { push: false });
      const push = signedPush(authorizationPayload('authorized', OA, authCode));
      await post(push).expect(200, 'success');
      await post(push).expect(200, 'success');
      expect(h.emulator.callLog.count('api_query_auth')).toBe(1);
    });

    it('two instances receiving the same push concurrently have one effect', async () => {
      const second = createContainer(h.config, { clock: h.clock, logger: logs.logger });
      await waitUntilReady(second.redis, 5000);
      const other = await listen(second);
      try {
        const { authCode } = await h.emulator.authorize(OA, { push: false });
        const push = signedPush(authorizationPayload('authorized', OA, authCode));
        const answers = await Promise.all([
          request(service.url).post(push.path).set('Content-Type', 'text/xml').send(push.body),
          request(other.url).post(push.path).set('Content-Type', 'text/xml').send(push.body),
        ]);
        expect(answers.map((a) => [a.status, a.text])).toEqual([
          [200, 'success'],
          [200, 'success'],
        ]);
        expect(h.emulator.callLog.count('api_query_auth')).toBe(1);
        expect((await hash(OA)).status).toBe('authorized');
      } finally {
        await new Promise((r) => other.server.close(r));
        await second.close();
      }
    });
  });

  describe('failures upstream and in storage', () => {
    it("a failed code exchange is recorded as pending, answered 502, and completed by WeChat's re-send", async () => {
      const { authCode } = await h.emulator.authorize(OA, { push: false });
      const push = signedPush(authorizationPayload('authorized', OA, authCode));
      h.emulator.faults.set('api_query_auth', { httpStatus: 500 });
      const failed = await post(push).expect(502);
      expect(failed.body.error.code).toBe('wechat_unavailable');
      const pending = JSON.parse((await redis.get(h.container.keys.pendingAuthorization(OA))) ?? 'null');
      expect(pending).toMatchObject({ appid: OA, infoType: 'authorized', retryable: true });
      expect(await redis.exists(h.container.keys.authorizer(OA))).toBe(0);

      h.emulator.faults.clear('api_query_auth');
      await post(push).expect(200, 'success');
      expect((await hash(OA)).status).toBe('authorized');
      expect(await redis.exists(h.container.keys.pendingAuthorization(OA))).toBe(0);
    });

    it('a code WeChat refuses (61009) is recorded as not retryable and acknowledged', async () => {
      const push = signedPush(authorizationPayload('authorized', OA, 'queryauthcode@@@never-issued'));
      await post(push).expect(200, 'success');
      const pending = JSON.parse((await redis.get(h.container.keys.pendingAuthorization(OA))) ?? 'null');
      expect(pending).toMatchObject({ appid: OA, retryable: false });
      expect(pending.error).toMatch(/61009/);
      expect(await redis.exists(h.container.keys.authorizer(OA))).toBe(0);
    });

    it('a re-send whose code our lost write already used (61009) restores the account from api_get_authorizer_info', async () => {
      const { authCode } = await h.emulator.authorize(OA, { push: false });
      // Our earlier exchange reached WeChat, and its write never reached Redis (a failover between the two).
      const exchanged = await h.container.tokenService.withComponentToken((token) =>
        h.container.componentApi.queryAuth(token, authCode),
      );
      expect(await redis.exists(h.container.keys.authorizer(OA))).toBe(0);

      await post(signedPush(authorizationPayload('authorized', OA, authCode))).expect(200, 'success');
      expect(h.emulator.callLog.count('api_query_auth', { ok: false })).toBe(1); // the re-send's 61009
      expect(h.emulator.callLog.count('api_get_authorizer_info')).toBeGreaterThanOrEqual(1);
      expect(await hash(OA)).toMatchObject({ status: 'authorized' });
      expect(await redis.exists(h.container.keys.pendingAuthorization(OA))).toBe(0);
      // The restored refresh token is the one WeChat issued, and it works.
      const record = await h.container.authorizerStore.get(OA);
      expect(record?.refreshToken).toBe(exchanged.authorizerRefreshToken);
      const { token } = await h.container.tokenService.getAuthorizerAccessToken(OA);
      expect(h.emulator.tokenStatus(token)).toBe('valid');
    });

    it('answers (502) before WeChat gives up when the code exchange hangs', async () => {
      const { authCode } = await h.emulator.authorize(OA, { push: false });
      h.emulator.faults.set('api_query_auth', { hang: true });
      const res = await post(signedPush(authorizationPayload('authorized', OA, authCode)));
      expect(res.status).toBe(502); // the per-call timeout (WECHAT_HTTP_TIMEOUT_MS) ends it; WeChat re-sends
      expect(res.body.error.code).toBe('wechat_unavailable');
      h.emulator.faults.clear('api_query_auth');
    }, 15_000);
  });

  describe('replay window and event order (issue 12 item 8)', () => {
    const seconds = () => Math.floor(h.clock.now() / 1000);

    it('is on by default: a push older than PUSH_MAX_AGE_SECONDS (or as far ahead) is 400 and writes nothing', async () => {
      expect(h.config.pushMaxAgeSeconds).toBe(1800);
      const before = await keysUnder(redis, h.config.redis.keyPrefix);
      // Ahead by a minute more than the window: the service reads its clock a moment later than this line (under
      // load, in the next second), which would bring a push only 1801 s ahead back inside the window.
      for (const timestamp of [seconds() - 1801, seconds() - 30 * 86400, seconds() + 1860]) {
        const res = await post(signedPush(ticketPayload(randomTicket()), { timestamp: String(timestamp) })).expect(400);
        expect(res.body.error.message).toMatch(/PUSH_MAX_AGE_SECONDS/);
      }
      expect(await keysUnder(redis, h.config.redis.keyPrefix)).toEqual(before);
      // Inside the window, WeChat's re-sends (which keep the original timestamp) are accepted.
      await post(signedPush(ticketPayload(randomTicket()), { timestamp: String(seconds() - 1700) })).expect(
        200,
        'success',
      );
    });

    it('remembers a handled push at least twice as long as the window, so a replay inside it is a known duplicate', async () => {
      const wide = createContainer({ ...h.config, pushMaxAgeSeconds: 7200 }, { clock: h.clock, logger: logs.logger });
      await waitUntilReady(wide.redis, 5000);
      const other = await listen(wide);
      try {
        const push = signedPush(ticketPayload(randomTicket()));
        await request(other.url).post(push.path).send(push.body).expect(200, 'success');
        const dedup = createHash('sha1')
          .update(`${push.query.msg_signature}:${push.query.timestamp}:${push.query.nonce}`)
          .digest('hex');
        expect(await redis.ttl(h.container.keys.pushDedup(dedup))).toBeGreaterThan(2 * 7200 - 60);
      } finally {
        await new Promise((r) => other.server.close(r));
        await wide.close();
      }
    });

    it('an old unauthorized arriving after a newer authorized does not revoke the account', async () => {
      const { authCode } = await h.emulator.authorize(OA, { push: false });
      await post(signedPush(authorizationPayload('authorized', OA, authCode, { createTime: seconds() }))).expect(
        200,
        'success',
      );
      const token = await redis.get(h.container.keys.authorizerAccessToken(OA));
      expect(token).toBeTruthy();

      await post(signedPush(unauthorizedPayload(OA, { createTime: seconds() - 120 }))).expect(200, 'success');
      const stored = await hash(OA);
      expect(stored.status).toBe('authorized');
      expect(stored.refresh_token).toBeTruthy();
      expect(await redis.get(h.container.keys.authorizerAccessToken(OA))).toBe(token);
      expect(await redis.zscore(h.container.keys.scheduleOf(OA), OA)).not.toBeNull();
      expect(logs.lines().some((l) => String(l.msg).startsWith('unauthorized event older than'))).toBe(true);

      await post(signedPush(unauthorizedPayload(OA, { createTime: seconds() + 1 }))).expect(200, 'success');
      expect((await hash(OA)).status).toBe('unauthorized'); // a newer one does
    });

    it('an old authorized arriving after a newer unauthorized changes nothing and exchanges no code', async () => {
      await h.emulator.authorize(OA);
      await post(signedPush(unauthorizedPayload(OA, { createTime: seconds() + 1 }))).expect(200, 'success');
      const { authCode } = await h.emulator.authorize(OA, { push: false });
      const calls = h.emulator.callLog.count('api_query_auth');
      await post(signedPush(authorizationPayload('authorized', OA, authCode, { createTime: seconds() - 120 }))).expect(
        200,
        'success',
      );
      expect((await hash(OA)).status).toBe('unauthorized');
      expect(h.emulator.callLog.count('api_query_auth')).toBe(calls);
    });

    it('a ticket from an older push does not replace a newer stored ticket', async () => {
      const newer = randomTicket();
      await post(signedPush(ticketPayload(newer, { createTime: seconds() }))).expect(200, 'success');
      const older = randomTicket();
      await post(signedPush(ticketPayload(older, { createTime: seconds() - 600 }))).expect(200, 'success');
      expect(await redis.get(h.container.keys.componentVerifyTicket)).toBe(newer);
      const next = randomTicket();
      await post(signedPush(ticketPayload(next, { createTime: seconds() + 1 }))).expect(200, 'success');
      expect(await redis.get(h.container.keys.componentVerifyTicket)).toBe(next);
    });
  });
});

describe('POST /auth while Redis is down', () => {
  let owned: OwnedRedisServer;
  let h: Harness;
  let service: { server: Server; url: string };
  let direct: ReturnType<typeof newTestRedisAt>;
  beforeEach(async () => {
    owned = await OwnedRedisServer.start({ persistent: true });
    h = await startHarness({ env: { REDIS_URL: owned.url } });
    service = await listen(h.container);
    direct = newTestRedisAt(owned.url);
  });
  afterEach(async () => {
    direct.disconnect();
    await new Promise((r) => service.server.close(r));
    await h.close();
    await owned.stop();
  });

  const authorizerKeys = async () => {
    const k = h.container.keys;
    return {
      hash: await direct.exists(k.authorizer(OA)),
      token: await direct.exists(k.authorizerAccessToken(OA)),
      scheduled: (await direct.zscore(k.scheduleOf(OA), OA)) !== null,
    };
  };

  it('answers 503 when Redis is down at arrival, writes nothing, and the re-send succeeds once it is back', async () => {
    const { authCode } = await h.emulator.authorize(OA, { push: false });
    const push = signedPush(authorizationPayload('authorized', OA, authCode));
    const before = await keysUnder(direct, h.config.redis.keyPrefix);

    await owned.stop();
    const down = await request(service.url).post(push.path).send(push.body);
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe('storage_unavailable');

    await owned.resume();
    await waitUntilReady(h.container.redis, 10_000);
    await waitUntilReady(direct, 10_000);
    expect(await keysUnder(direct, h.config.redis.keyPrefix)).toEqual(before); // the AOF kept the ticket, nothing new

    await request(service.url).post(push.path).send(push.body).expect(200, 'success');
    expect(await direct.hget(h.container.keys.authorizer(OA), 'status')).toBe('authorized');
  });

  it('a ticket push: 503 while Redis is down, nothing written; the re-send after the restart stores it once', async () => {
    const k = h.container.keys;
    const loaded = signedPush(ticketPayload(randomTicket())); // loads the push script into this Redis
    await request(service.url).post(loaded.path).send(loaded.body).expect(200, 'success');
    const ticket = randomTicket();
    const push = signedPush(ticketPayload(ticket));
    const before = await keysUnder(direct, h.config.redis.keyPrefix);

    await owned.stop();
    const down = await request(service.url).post(push.path).send(push.body);
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe('storage_unavailable');

    await owned.resume(); // a restarted Redis has no scripts cached: the re-send meets NOSCRIPT first
    await waitUntilReady(h.container.redis, 10_000);
    await waitUntilReady(direct, 10_000);
    expect(await keysUnder(direct, h.config.redis.keyPrefix)).toEqual(before);
    expect(await direct.get(k.componentVerifyTicket)).not.toBe(ticket);

    await request(service.url).post(push.path).send(push.body).expect(200, 'success');
    expect(await direct.get(k.componentVerifyTicket)).toBe(ticket);
    await direct.set(k.componentVerifyTicket, 'ticket@@@newer');
    await request(service.url).post(push.path).send(push.body).expect(200, 'success'); // WeChat's late retry
    expect(await direct.get(k.componentVerifyTicket)).toBe('ticket@@@newer');
  });

  it('Redis dying in the middle of a push leaves no half-written account', async () => {
    const { authCode } = await h.emulator.authorize(OA, { push: false });
    const push = signedPush(authorizationPayload('authorized', OA, authCode));
    // A hung call is in the emulator's log as soon as it arrives: then the exchange is under way upstream.
    h.emulator.faults.set('api_query_auth', { hang: true });
    const answer = request(service.url)
      .post(push.path)
      .send(push.body)
      .then((r) => r);
    await eventually(() => h.emulator.callLog.count('api_query_auth') === 1, { what: 'the code exchange under way' });
    await owned.stop();
    expect((await answer).status).toBe(503);
    h.emulator.faults.clear('api_query_auth');

    await owned.resume();
    await waitUntilReady(direct, 10_000);
    expect(await authorizerKeys()).toEqual({ hash: 0, token: 0, scheduled: false });
  }, 20_000);
});

function newTestRedisAt(url: string) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Redis = require('ioredis') as typeof import('ioredis').default;
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  return client;
}

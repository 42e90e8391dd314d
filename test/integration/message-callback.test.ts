import { createServer, type Server } from 'node:http';
import { createApp } from '../../src/app';
import { createContainer, type Container } from '../../src/container';
import { MessageSender, fakeMsgId, type OutgoingMessage } from '../../src/sandbox/message-sender';
import { computeSignature, MsgCrypt } from '../../src/wechat/crypto';
import { buildXml } from '../../src/wechat/push-xml';
import { RELEASE_TEST_ACCOUNTS } from '../../src/wechat/release-test';
import { eventually } from '../support/eventually';
import { TEST_COMPONENT, testConfig } from '../support/config';
import { verifyWebhookSignature } from '../../src/client/webhook-signature';
import { startHarness, type Harness } from '../support/emulator';
import { freePort } from '../support/global-setup';
import { keysUnder, newTestRedis } from '../support/redis';
import { OwnedRedisServer } from '../support/redis-server';
import Redis from 'ioredis';

/** A demo Official Account of the emulator (not a release-test account). */
const OA = 'wx3c5a7e19b2d40f81';
const OA_USER = 'gh_7e2b94c1d0a3';

describe('the message URL (POST /:appid/callback)', () => {
  const redis = newTestRedis();
  let h: Harness;
  let servers: Server[] = [];
  let extra: Container[] = [];
  let bases: string[] = [];

  async function listen(container: Container): Promise<string> {
    const port = await freePort();
    const server = createApp(container).listen(port, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    servers.push(server);
    return `http://127.0.0.1:${port}`;
  }

  /** One emulator, the service on `replicas` HTTP servers (containers sharing the test Redis and prefix). */
  async function start(env: Record<string, string> = {}, replicas = 1): Promise<void> {
    h = await startHarness({ env });
    bases = [await listen(h.container)];
    for (let i = 1; i < replicas; i++) {
      const c = createContainer(h.config, { clock: h.clock });
      extra.push(c);
      bases.push(await listen(c));
    }
    h.emulator.setPushUrl(`${bases[0]}/auth`);
  }

  afterEach(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    for (const c of extra) await c.close();
    await h.close();
    servers = [];
    extra = [];
  });
  afterAll(() => redis.quit());

  const prefix = () => `${h.config.redis.keyPrefix}:${h.config.component.appId}`;
  const streamEntries = async () => redis.xrange(`${prefix()}:messages`, '-', '+');
  const fieldsOf = (entry: [string, string[]]) => {
    const out: Record<string, string> = {};
    for (let i = 0; i < entry[1].length; i += 2) out[entry[1][i] as string] = entry[1][i + 1] as string;
    return out;
  };

  describe('WeChat release test (全网发布接入检测), played by the emulator', () => {
    it('passes every case: ticket, text reply, API reply for the Official Account and the Mini Program, legacy event', async () => {
      await start();
      const report = await h.emulator.runReleaseTest({ group: 2 });
      expect(report.cases.map((c) => [c.case, c.passed, c.reason])).toEqual([
        ['ticket', true, expect.any(String)],
        ['text', true, expect.any(String)],
        ['api_official_account', true, expect.any(String)],
        ['api_mini_program', true, expect.any(String)],
        ['event', true, expect.any(String)],
      ]);
      expect(report.passed).toBe(true);
      // The API cases went through the token service: code exchanged, account stored, its token used once each.
      const group2 = RELEASE_TEST_ACCOUNTS.filter((a) => a.group === 2);
      for (const account of group2) {
        expect((await h.container.authorizerStore.get(account.appid))?.status).toBe('authorized');
      }
      const sent = h.emulator.callLog.entries('custom_send');
      expect(sent).toHaveLength(2);
      expect(sent.every((e) => e.errcode === 0)).toBe(true);
      // Release-test messages are answered, not queued for internal services.
      expect(await streamEntries()).toHaveLength(0);
    });

    it('fails each message case, saying why, when the responder is switched off (RELEASE_TEST_RESPONDER=false)', async () => {
      await start({ RELEASE_TEST_RESPONDER: 'false' });
      const report = await h.emulator.runReleaseTest({ group: 4, waitMs: 800 });
      const byCase = Object.fromEntries(report.cases.map((c) => [c.case, c]));
      expect(report.passed).toBe(false);
      expect(byCase.ticket?.passed).toBe(true);
      expect(byCase.text?.passed).toBe(false);
      expect(byCase.text?.reason).toMatch(/expected an encrypted passive reply, got "success"/);
      expect(byCase.api_official_account?.passed).toBe(false);
      expect(byCase.api_official_account?.reason).toMatch(/expected an empty answer at once, got "success"/);
      expect(byCase.api_mini_program?.passed).toBe(false);
      expect(byCase.event?.passed).toBe(false);
      expect(byCase.event?.reason).toMatch(/expected an encrypted passive reply/);
      expect(h.emulator.callLog.count('custom_send')).toBe(0);
    });

    it('runs from the emulator console page and its control API', async () => {
      await start();
      const res = await fetch(`${h.emulatorUrl}/sandbox/release-test`, {
        method: 'POST',
        body: JSON.stringify({ group: 5 }),
      });
      expect(res.status).toBe(200);
      expect((await res.json()) as { passed: boolean }).toMatchObject({ passed: true, group: 5 });
      const page = await fetch(`${h.emulatorUrl}/release-test`, {
        method: 'POST',
        body: new URLSearchParams({ group: '3' }),
      });
      const html = await page.text();
      expect(html).toContain('id="verdict" data-passed="true"');
      expect(html.match(/data-passed="true"/g)).toHaveLength(6);
      const bad = await fetch(`${h.emulatorUrl}/sandbox/release-test`, {
        method: 'POST',
        body: JSON.stringify({ group: 9 }),
      });
      expect(bad.status).toBe(400);
    });
  });

  describe('ordinary messages', () => {
    const sender = () =>
      new MessageSender({
        componentAppId: TEST_COMPONENT.appId,
        token: TEST_COMPONENT.token,
        encodingAesKey: TEST_COMPONENT.aesKey,
        clock: h.clock,
      });
    const text = (content: string, msgId = fakeMsgId()): OutgoingMessage => ({
      toUserName: OA_USER,
      fromUserName: 'oUser000000000000000000000001',
      msgType: 'text',
      fields: [
        ['Content', content],
        ['MsgId', msgId],
      ],
    });

    it('lands once in P:messages however many times WeChat re-sends it, to any of 3 replicas, and is answered success', async () => {
      await start({}, 3);
      await h.authorize(OA);
      const message = text('你好，我想查询订单');
      const answers = await Promise.all([
        ...bases.map((b) => sender().send(`${b}/${OA}/callback`, message)),
        ...bases.map((b) => sender().send(`${b}/${OA}/callback`, message)),
      ]);
      for (const a of answers) expect([a.status, a.body]).toEqual([200, 'success']);
      const again = await sender().send(`${bases[2]}/${OA}/callback`, message);
      expect(again.body).toBe('success');
      const entries = await streamEntries();
      expect(entries).toHaveLength(1);
      const fields = fieldsOf(entries[0] as [string, string[]]);
      expect(fields).toMatchObject({ authorizer_appid: OA, known: '1', msg_type: 'text', event: '' });
      expect(JSON.parse(fields.fields as string)).toMatchObject({
        Content: '你好，我想查询订单',
        FromUserName: 'oUser000000000000000000000001',
        MsgType: 'text',
      });
      expect(fields.raw_xml).toContain('<Content><![CDATA[你好，我想查询订单]]></Content>');
    });

    it('sends events through the emulator control API; an event is de-duplicated by sender and CreateTime', async () => {
      await start();
      await h.authorize(OA);
      // WeChat's re-send of an event keeps its CreateTime: both sends carry the same one.
      const createTime = Math.floor(h.clock.now() / 1000);
      const send = () =>
        fetch(`${h.emulatorUrl}/sandbox/accounts/${OA}/messages`, {
          method: 'POST',
          body: JSON.stringify({ event: 'subscribe', openid: 'oSameUser0001', createTime }),
        });
      const first = (await (await send()).json()) as { status: number; body: string };
      expect(first).toMatchObject({ status: 200, body: 'success' });
      await send(); // same sender, same CreateTime: a re-send
      const entries = await streamEntries();
      expect(entries).toHaveLength(1);
      expect(fieldsOf(entries[0] as [string, string[]])).toMatchObject({
        msg_type: 'event',
        event: 'subscribe',
        message_id: `oSameUser0001:${createTime}`,
      });
      const notAuthorized = await fetch(`${h.emulatorUrl}/sandbox/accounts/wx8d21f0a6c4e97b35/messages`, {
        method: 'POST',
        body: JSON.stringify({ content: 'x' }),
      });
      expect(notAuthorized.status).toBe(409);
    });

    it('acknowledges a message for an appid that never authorized, records it as unknown, and counts it', async () => {
      await start();
      const unknown = 'wx1234567890abcdef';
      const answer = await sender().send(`${bases[0]}/${unknown}/callback`, text('hello'));
      expect([answer.status, answer.body]).toEqual([200, 'success']);
      const entries = await streamEntries();
      expect(entries).toHaveLength(1);
      expect(fieldsOf(entries[0] as [string, string[]])).toMatchObject({ authorizer_appid: unknown, known: '0' });
      const metrics = await h.container.metrics.render();
      expect(metrics).toMatch(/wxopen_messages_total\{outcome="stored",known="false"\} 1/);
    });

    it('records known=1 as soon as the account authorizes: at once on its replica, within 1 s on the others', async () => {
      await start({}, 2);
      const [here, there] = bases as [string, string];
      const knownOf = async () => (await streamEntries()).map((e) => fieldsOf(e).known);
      const first = text('before the authorization');
      // Both replicas look the appid up while no authorization is stored.
      await sender().send(`${here}/${OA}/callback`, first);
      await sender().send(`${there}/${OA}/callback`, text('also before'));
      await h.authorize(OA); // stored by the first replica's container
      await sender().send(`${here}/${OA}/callback`, text('after, same replica'));
      await sender().send(`${there}/${OA}/callback`, text('after, other replica, at once'));
      h.clock.advance(1000);
      await sender().send(`${there}/${OA}/callback`, text('after, other replica, 1 s later'));
      // A re-send of the first message is still the same message, whatever was looked up since.
      expect((await sender().send(`${there}/${OA}/callback`, first)).body).toBe('success');
      expect(await knownOf()).toEqual(['0', '0', '1', '0', '1']);
    });
  });

  describe('MESSAGE_FORWARD_URL', () => {
    const SECRET = 'forward-secret-0123456789abcdefghij';
    let receiver: Server | undefined;
    let received: Array<{ signature: string | undefined; body: string }> = [];
    let answer: (res: import('node:http').ServerResponse) => void = (res) => res.end();
    afterEach(async () => {
      receiver?.closeAllConnections();
      if (receiver) await new Promise((r) => receiver!.close(r));
      receiver = undefined;
      received = [];
    });
    async function startReceiver(): Promise<string> {
      const port = await freePort();
      receiver = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          received.push({ signature: req.headers['x-wxopen-signature'] as string | undefined, body });
          answer(res);
        });
      }).listen(port, '127.0.0.1');
      await new Promise<void>((r) => receiver!.once('listening', () => r()));
      return `http://127.0.0.1:${port}/wechat-messages`;
    }
    const message = (): OutgoingMessage => ({
      toUserName: OA_USER,
      fromUserName: 'oForward0001',
      msgType: 'text',
      fields: [
        ['Content', '查订单'],
        ['MsgId', fakeMsgId()],
      ],
    });
    const send = (base: string) =>
      new MessageSender({
        componentAppId: TEST_COMPONENT.appId,
        token: TEST_COMPONENT.token,
        encodingAesKey: TEST_COMPONENT.aesKey,
        clock: h.clock,
      }).send(`${base}/${OA}/callback`, message());

    it('POSTs each stored message there, signed like the webhooks, and returns its <xml> answer as the encrypted passive reply', async () => {
      const url = await startReceiver();
      answer = (res) =>
        res.end(
          '<xml><ToUserName><![CDATA[oForward0001]]></ToUserName><FromUserName><![CDATA[gh_7e2b94c1d0a3]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[您的订单已发货]]></Content></xml>',
        );
      await start({ MESSAGE_FORWARD_URL: url, WEBHOOK_SECRET: SECRET });
      await h.authorize(OA);
      const reply = await send(bases[0]!);
      expect(reply.status).toBe(200);
      expect(reply.reply).toMatchObject({ Content: '您的订单已发货', ToUserName: 'oForward0001', MsgType: 'text' });
      expect(received).toHaveLength(1);
      expect(verifyWebhookSignature(received[0]!.signature, received[0]!.body, { secrets: [SECRET] })).toEqual({
        ok: true,
      });
      expect(JSON.parse(received[0]!.body)).toMatchObject({
        authorizer_appid: OA,
        known: true,
        msg_type: 'text',
        fields: { Content: '查订单' },
      });
      expect(await streamEntries()).toHaveLength(1);
    });

    it('answers success when the forward fails or is too slow, and the stream keeps the message', async () => {
      const url = await startReceiver();
      answer = (res) => {
        res.statusCode = 500;
        res.end('<xml><Content>never used</Content></xml>');
      };
      await start({ MESSAGE_FORWARD_URL: url, WEBHOOK_SECRET: SECRET });
      await h.authorize(OA);
      expect(await send(bases[0]!)).toMatchObject({ status: 200, body: 'success' });
      // Too slow: the receiver never answers; the service gives up within its own (here 1 s) deadline.
      answer = () => undefined;
      const c = createContainer(h.config, { clock: h.clock, messages: { deadlineMs: 1000 } });
      extra.push(c);
      // Its Redis connection is up first (as src/main.ts waits for it): the forward, not a connecting client, is tested.
      expect(await c.storage.waitUntilReady(5000)).toBe(true);
      const slow = await send(await listen(c));
      expect([slow.status, slow.body]).toEqual([200, 'success']);
      expect(received).toHaveLength(2);
      expect(await streamEntries()).toHaveLength(2);
    });

    it('refuses a forward URL that is not https (but for loopback), or one without WEBHOOK_SECRET, at start', () => {
      expect(() => testConfig({ MESSAGE_FORWARD_URL: 'http://10.0.0.8/x', WEBHOOK_SECRET: SECRET })).toThrow(
        /MESSAGE_FORWARD_URL: http:\/\/10\.0\.0\.8: http:\/\/ is allowed only for a loopback host/,
      );
      expect(() => testConfig({ MESSAGE_FORWARD_URL: 'https://hooks.example.com/x' })).toThrow(
        /WEBHOOK_SECRET: is required when MESSAGE_FORWARD_URL is set/,
      );
      expect(
        testConfig({ MESSAGE_FORWARD_URL: 'https://hooks.example.com/x', WEBHOOK_SECRET: SECRET }).messages.forwardUrl,
      ).toBe('https://hooks.example.com/x');
    });
  });

  describe('hostile messages get 4xx and write nothing', () => {
    const crypt = new MsgCrypt({
      token: TEST_COMPONENT.token,
      encodingAesKey: TEST_COMPONENT.aesKey,
      appId: TEST_COMPONENT.appId,
    });
    function sealed(xml: string, opts: { crypt?: MsgCrypt; token?: string } = {}) {
      const timestamp = String(Math.floor(h.clock.now() / 1000));
      const nonce = '123456789';
      const { encrypt, msgSignature } = (opts.crypt ?? crypt).seal(xml, timestamp, nonce);
      const q = new URLSearchParams({
        signature: computeSignature(opts.token ?? TEST_COMPONENT.token, timestamp, nonce),
        timestamp,
        nonce,
        openid: 'oX',
        encrypt_type: 'aes',
        msg_signature: msgSignature,
      });
      return {
        query: q,
        body: buildXml([
          ['ToUserName', OA_USER],
          ['Encrypt', encrypt],
        ]),
      };
    }
    const plain = buildXml([
      ['ToUserName', OA_USER],
      ['FromUserName', 'oX'],
      ['CreateTime', 1700000000],
      ['MsgType', 'text'],
      ['Content', 'hi'],
      ['MsgId', '1234567890123456'],
    ]);
    const post = (path: string, query: URLSearchParams, body: string) =>
      fetch(`${bases[0]}${path}?${query}`, { method: 'POST', body });

    it.each([
      [
        'a bad msg_signature',
        401,
        () => {
          const s = sealed(plain);
          s.query.set('msg_signature', '0'.repeat(40));
          return s;
        },
        `/${OA}/callback`,
      ],
      [
        'another component appid in the ciphertext',
        400,
        () =>
          sealed(plain, {
            crypt: new MsgCrypt({
              token: TEST_COMPONENT.token,
              encodingAesKey: TEST_COMPONENT.aesKey,
              appId: 'wxffffffffffffffff',
            }),
          }),
        `/${OA}/callback`,
      ],
      [
        'a DOCTYPE in the envelope',
        400,
        () => {
          const s = sealed(plain);
          return { query: s.query, body: `<!DOCTYPE x [<!ENTITY a "b">]>${s.body}` };
        },
        `/${OA}/callback`,
      ],
      ['a DOCTYPE in the decrypted message', 400, () => sealed(`<!DOCTYPE x>${plain}`), `/${OA}/callback`],
      ['a path appid that is not an appid', 400, () => sealed(plain), '/not-an-appid/callback'],
      ['a path appid with traversal', 400, () => sealed(plain), '/wx..%2F..%2Fetc%2Fpasswd0/callback'],
      [
        'no encrypt_type=aes',
        400,
        () => {
          const s = sealed(plain);
          s.query.delete('encrypt_type');
          return s;
        },
        `/${OA}/callback`,
      ],
      [
        'no Encrypt',
        400,
        () => {
          const s = sealed(plain);
          return { query: s.query, body: '<xml><ToUserName>gh</ToUserName></xml>' };
        },
        `/${OA}/callback`,
      ],
      [
        'a message without MsgType',
        400,
        () => sealed(plain.replace('<MsgType><![CDATA[text]]></MsgType>\n', '')),
        `/${OA}/callback`,
      ],
    ])('%s → %i', async (_name, status, build, path) => {
      await start();
      const before = await keysUnder(redis, prefix());
      const { query, body } = build();
      const res = await post(path, query, body);
      expect(res.status).toBe(status);
      expect(await keysUnder(redis, prefix())).toEqual(before);
    });

    it('refuses a body over 64 KiB with 413 and writes nothing', async () => {
      await start();
      const before = await keysUnder(redis, prefix());
      const { query } = sealed(plain);
      const res = await post(`/${OA}/callback`, query, `<xml><Encrypt>${'A'.repeat(70 * 1024)}</Encrypt></xml>`);
      expect(res.status).toBe(413);
      expect(await keysUnder(redis, prefix())).toEqual(before);
    });

    it('answers a GET URL check with echostr when the signature is right, 401 when it is not', async () => {
      await start();
      const timestamp = '1700000000';
      const nonce = '42';
      const ok = new URLSearchParams({
        signature: computeSignature(TEST_COMPONENT.token, timestamp, nonce),
        timestamp,
        nonce,
        echostr: '5927782489442352469',
      });
      const res = await fetch(`${bases[0]}/${OA}/callback?${ok}`);
      expect([res.status, await res.text()]).toEqual([200, '5927782489442352469']);
      ok.set('signature', 'f'.repeat(40));
      expect((await fetch(`${bases[0]}/${OA}/callback?${ok}`)).status).toBe(401);
    });
  });

  it('answers within its deadline (503, WeChat re-sends) when storage hangs, never holding the request', async () => {
    // A Redis of this test's own, so pausing it holds nobody else's writes.
    const owned = await OwnedRedisServer.start();
    const client = new Redis(owned.url, { maxRetriesPerRequest: 1 });
    try {
      await start({ REDIS_URL: owned.url });
      await h.authorize(OA);
      const c = createContainer(h.config, { clock: h.clock, messages: { deadlineMs: 300 } });
      extra.push(c);
      const base = await listen(c);
      // Its own connection is up before Redis is paused: the pause, not a connection still opening, is what it meets.
      expect(await c.storage.waitUntilReady(5000)).toBe(true);
      const message: OutgoingMessage = {
        toUserName: OA_USER,
        fromUserName: 'oPaused',
        msgType: 'text',
        fields: [
          ['Content', 'x'],
          ['MsgId', fakeMsgId()],
        ],
      };
      const send = () =>
        new MessageSender({
          componentAppId: TEST_COMPONENT.appId,
          token: TEST_COMPONENT.token,
          encodingAesKey: TEST_COMPONENT.aesKey,
          clock: h.clock,
        }).send(`${base}/${OA}/callback`, message);
      // CLIENT PAUSE WRITE holds every write: storage that hangs.
      await client.client('PAUSE', 3000, 'WRITE');
      const answer = await send();
      expect(answer.status).toBe(503);
      expect(answer.body).toContain('message_deadline');
      await client.client('UNPAUSE');
      // Once storage answers again, WeChat's re-send is stored, once.
      const stream = `${prefix()}:messages`;
      await eventually(async () => (await send()).body === 'success');
      await eventually(async () => (await client.xlen(stream)) === 1);
    } finally {
      client.disconnect();
      await owned.stop();
    }
  });
});

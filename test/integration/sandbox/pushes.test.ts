import { computeSignature } from '../../../src/wechat/crypto';
import { api, closeAll, CREDS, expectErr, MP, OA, openPush, PushReceiver, startEmulator, T0 } from './helpers';

afterEach(closeAll);

describe('component_verify_ticket pushes', () => {
  it('sends WeChat’s query string, the AppId envelope as text/xml, and a ticket that verifies and decrypts', async () => {
    const receiver = await PushReceiver.start();
    const h = await startEmulator({ pushUrl: receiver.url });
    const result = await h.emulator.pushTicket();
    expect(result).toEqual({ delivered: true, attempts: 1, lastStatus: 200, lastBody: 'success' });

    const [push] = await receiver.waitFor(1);
    if (!push) throw new Error('no push');
    expect(push.method).toBe('POST');
    expect(push.contentType).toBe('text/xml');
    expect([...push.query.keys()]).toEqual(['timestamp', 'nonce', 'encrypt_type', 'msg_signature', 'signature']);
    expect(push.query.get('encrypt_type')).toBe('aes');
    expect(push.query.get('timestamp')).toBe(String(Math.floor(T0 / 1000)));
    expect(push.query.get('nonce')).toMatch(/^\d{9,10}$/);
    const timestamp = push.query.get('timestamp') as string;
    const nonce = push.query.get('nonce') as string;
    expect(push.query.get('signature')).toBe(computeSignature(CREDS.token, timestamp, nonce));
    expect(push.body).toMatch(
      /^<xml><AppId><!\[CDATA\[wx0123456789abcdef\]\]><\/AppId>\n<Encrypt><!\[CDATA\[[A-Za-z0-9+/=]+\]\]><\/Encrypt>\n<\/xml>$/,
    );

    const opened = await openPush(push);
    expect(opened.appId).toBe(CREDS.componentAppId);
    expect(opened.fields).toEqual({
      AppId: CREDS.componentAppId,
      CreateTime: timestamp,
      InfoType: 'component_verify_ticket',
      ComponentVerifyTicket: h.emulator.currentTicket(),
    });
    expect(opened.xml).toContain('<CreateTime>');
  });

  it('issues a new ticket on every push', async () => {
    const receiver = await PushReceiver.start();
    const h = await startEmulator({ pushUrl: receiver.url });
    await h.emulator.pushTicket();
    await h.emulator.pushTicket();
    const [a, b] = await Promise.all((await receiver.waitFor(2)).map(openPush));
    expect(a?.fields.ComponentVerifyTicket).not.toBe(b?.fields.ComponentVerifyTicket);
    expect(b?.fields.ComponentVerifyTicket).toBe(h.emulator.currentTicket());
  });

  it('retries an answer that is not exactly `success` (1 + 3 deliveries), re-sending the same bytes', async () => {
    const receiver = await PushReceiver.start();
    receiver.reply = () => ({ status: 200, body: 'success\n' });
    const h = await startEmulator({ pushUrl: receiver.url });
    const result = await h.emulator.pushTicket();
    expect(result).toEqual({ delivered: false, attempts: 4, lastStatus: 200, lastBody: 'success\n' });
    const pushes = await receiver.waitFor(4);
    expect(pushes).toHaveLength(4);
    expect(new Set(pushes.map((p) => p.query.toString())).size).toBe(1);
    expect(new Set(pushes.map((p) => p.body)).size).toBe(1);
  });

  it('stops retrying once the receiver answers `success` (third try)', async () => {
    const receiver = await PushReceiver.start();
    receiver.reply = (n) => (n < 3 ? { status: 500, body: 'oops' } : { status: 200, body: 'success' });
    const h = await startEmulator({ pushUrl: receiver.url, pushRetryDelayMs: 20 });
    const started = Date.now();
    const result = await h.emulator.pushTicket();
    expect(result).toEqual({ delivered: true, attempts: 3, lastStatus: 200, lastBody: 'success' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
    expect(receiver.received).toHaveLength(3);
  });

  it('counts a non-200 status as a failure even with the body `success`', async () => {
    const receiver = await PushReceiver.start();
    receiver.reply = () => ({ status: 201, body: 'success' });
    const h = await startEmulator({ pushUrl: receiver.url, pushRetries: 1 });
    expect(await h.emulator.pushTicket()).toMatchObject({ delivered: false, attempts: 2, lastStatus: 201 });
  });

  it('gives up on a receiver that never answers within pushTimeoutMs, after the retries', async () => {
    const receiver = await PushReceiver.start();
    receiver.reply = () => 'hang';
    const h = await startEmulator({ pushUrl: receiver.url, pushTimeoutMs: 100, pushRetries: 3, pushRetryDelayMs: 5 });
    const started = Date.now();
    const result = await h.emulator.pushTicket();
    expect(result.delivered).toBe(false);
    expect(result.attempts).toBe(4);
    expect(result.lastError).toMatch(/no answer within 100 ms/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(receiver.received).toHaveLength(4);
  });

  it('reports a refused connection and still issues the ticket', async () => {
    const receiver = await PushReceiver.start();
    const url = receiver.url;
    await receiver.close();
    const h = await startEmulator({ pushUrl: url, pushRetries: 0 });
    const result = await h.emulator.pushTicket();
    expect(result).toMatchObject({ delivered: false, attempts: 1 });
    expect(result.lastError).toMatch(/ECONNREFUSED/);
    expect(h.emulator.currentTicket()).toMatch(/^ticket@@@/);
  });

  it('without a push URL issues the ticket but delivers nothing', async () => {
    const h = await startEmulator();
    expect(h.emulator.currentTicket()).toBeUndefined();
    expect(await h.emulator.pushTicket()).toEqual({ delivered: false, attempts: 0 });
    expect(h.emulator.currentTicket()).toMatch(/^ticket@@@/);
  });

  it('pushes at listen() and then every ticketIntervalMs', async () => {
    const receiver = await PushReceiver.start();
    await startEmulator({ pushUrl: receiver.url, ticketIntervalMs: 150 });
    await receiver.waitFor(1, 1000);
    await receiver.waitFor(3, 2000);
    const tickets = await Promise.all(
      receiver.received.slice(0, 3).map(async (p) => (await openPush(p)).fields.ComponentVerifyTicket),
    );
    expect(new Set(tickets).size).toBe(3);
  });

  it('pushes at once when a push URL is set after listen()', async () => {
    const receiver = await PushReceiver.start();
    const h = await startEmulator({ ticketIntervalMs: 60_000 });
    h.emulator.setPushUrl(receiver.url);
    await receiver.waitFor(1, 1000);
    expect((await openPush(receiver.received[0]!)).fields.InfoType).toBe('component_verify_ticket');
  });

  it('close() ends a pending push promptly', async () => {
    const receiver = await PushReceiver.start();
    receiver.reply = () => 'hang';
    const h = await startEmulator({ pushUrl: receiver.url, pushTimeoutMs: 10_000 });
    const pending = h.emulator.pushTicket();
    await receiver.waitFor(1);
    const started = Date.now();
    await h.emulator.close();
    const result = await pending;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(result).toMatchObject({ delivered: false, attempts: 1, lastError: 'emulator closed' });
  });

  it('api_start_push_ticket answers ok and pushes a ticket; a wrong secret answers 40125', async () => {
    const receiver = await PushReceiver.start();
    const h = await startEmulator({ pushUrl: receiver.url });
    const ok = await api(h, 'api_start_push_ticket', {
      component_appid: CREDS.componentAppId,
      component_secret: CREDS.componentAppSecret,
    });
    expect(ok.json).toEqual({ errcode: 0, errmsg: 'ok' });
    await receiver.waitFor(1);
    expect((await openPush(receiver.received[0]!)).fields.ComponentVerifyTicket).toBe(h.emulator.currentTicket());
    expectErr(
      await api(h, 'api_start_push_ticket', { component_appid: CREDS.componentAppId, component_secret: 'x' }),
      40125,
    );
    expectErr(await api(h, 'api_start_push_ticket', { component_appid: CREDS.componentAppId }), 41004);
  });
});

describe('authorization pushes', () => {
  it('authorize() pushes `authorized` with the code, its absolute expiry and a pre-auth code', async () => {
    const receiver = await PushReceiver.start();
    const h = await startEmulator({ pushUrl: receiver.url });
    const result = await h.emulator.authorize(OA);
    expect(result.push).toEqual({ delivered: true, attempts: 1, lastStatus: 200, lastBody: 'success' });
    const { fields } = await openPush((await receiver.waitFor(1))[0]!);
    const createTime = Math.floor(T0 / 1000);
    expect(fields).toEqual({
      AppId: CREDS.componentAppId,
      CreateTime: String(createTime),
      InfoType: 'authorized',
      AuthorizerAppid: OA,
      AuthorizationCode: result.authCode,
      AuthorizationCodeExpiredTime: String(createTime + 3600),
      PreAuthCode: expect.stringMatching(/^preauthcode@@@/),
    });
  });

  it('pushes `updateauthorized` when the account is already authorized', async () => {
    const receiver = await PushReceiver.start();
    const h = await startEmulator({ pushUrl: receiver.url });
    await h.emulator.authorize(MP);
    const second = await h.emulator.authorize(MP);
    const pushes = await Promise.all((await receiver.waitFor(2)).map(openPush));
    expect(pushes.map((p) => p.fields.InfoType)).toEqual(['authorized', 'updateauthorized']);
    expect(pushes[1]?.fields.AuthorizationCode).toBe(second.authCode);
  });

  it('revoke() pushes `unauthorized` with only the four documented fields', async () => {
    const receiver = await PushReceiver.start();
    const h = await startEmulator({ pushUrl: receiver.url });
    await h.emulator.authorize(OA, { push: false });
    const result = await h.emulator.revoke(OA);
    expect(result).toMatchObject({ delivered: true, attempts: 1 });
    const { fields } = await openPush((await receiver.waitFor(1))[0]!);
    expect(fields).toEqual({
      AppId: CREDS.componentAppId,
      CreateTime: String(Math.floor(T0 / 1000)),
      InfoType: 'unauthorized',
      AuthorizerAppid: OA,
    });
  });

  it('push: false changes state without pushing', async () => {
    const receiver = await PushReceiver.start();
    const h = await startEmulator({ pushUrl: receiver.url });
    const result = await h.emulator.authorize(OA, { push: false });
    expect(result.push).toBeUndefined();
    expect(await h.emulator.revoke(OA, { push: false })).toBeUndefined();
    await new Promise((r) => setTimeout(r, 50));
    expect(receiver.received).toHaveLength(0);
  });

  it('revoking an account that is not authorized throws', async () => {
    const h = await startEmulator();
    await expect(h.emulator.revoke(OA)).rejects.toThrow(/not authorized/);
    await expect(h.emulator.authorize('wxnope')).rejects.toThrow(/no fake account/);
  });
});

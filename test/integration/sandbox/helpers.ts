/**
 * Shared pieces of the emulator tests: a started emulator on a free loopback port with a ManualClock, JSON calls
 * over real HTTP, and a tiny real push receiver that records what the emulator sends and answers as told.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseStringPromise } from 'xml2js';
import { ManualClock } from '../../../src/clock';
import { MsgCrypt } from '../../../src/wechat/crypto';
import { createEmulator, type Emulator, type EmulatorOptions } from '../../../src/sandbox/emulator';

export const CREDS = {
  componentAppId: 'wx0123456789abcdef',
  componentAppSecret: 'test-component-secret',
  token: 'testtoken',
  encodingAesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
} as const;

/** Demo accounts used across tests (see src/sandbox/accounts.ts). */
export const OA = 'wx3c5a7e19b2d40f81';
export const OA2 = 'wx8d21f0a6c4e97b35';
export const MP = 'wx6f4b1c8e20d7a953';

export interface Harness {
  emulator: Emulator;
  base: string;
  clock: ManualClock;
  close(): Promise<void>;
}

const open: Array<{ close(): Promise<void> }> = [];

/** Closes every emulator and receiver a test started; call from afterEach. */
export async function closeAll(): Promise<void> {
  await Promise.all(open.splice(0).map((item) => item.close()));
}

/** Noon in Beijing, so day-based quotas do not roll over while a test runs. */
export const T0 = Date.UTC(2024, 4, 1, 4, 0, 0);

export async function startEmulator(overrides: Partial<EmulatorOptions> = {}): Promise<Harness> {
  // Frozen base: only advance() moves time, so tests can compare clock values exactly.
  const clock = new ManualClock({ now: () => T0 });
  const emulator = createEmulator({
    ...CREDS,
    clock,
    ticketIntervalMs: 0,
    pushRetryDelayMs: 10,
    pushTimeoutMs: 1000,
    registeredDomain: 'localhost',
    ...overrides,
  });
  const base = await emulator.listen();
  const harness = { emulator, base, clock, close: () => emulator.close() };
  open.push(harness);
  return harness;
}

export interface Answer {
  status: number;
  json: Record<string, unknown>;
  text: string;
}

export async function post(url: string, body: unknown, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON (HTML fault pages)
  }
  return { status: res.status, json, text };
}

/** POST to a component endpoint, with the token as `component_access_token` unless told otherwise. */
export function api(
  h: Harness,
  endpoint: string,
  body: unknown,
  token?: string,
  tokenParam = 'component_access_token',
): Promise<Answer> {
  const path = endpoint.startsWith('/') ? endpoint : `/cgi-bin/component/${endpoint}`;
  const query = token === undefined ? '' : `?${tokenParam}=${encodeURIComponent(token)}`;
  return post(`${h.base}${path}${query}`, body);
}

export async function control(h: Harness, method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${h.base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {}, text };
}

export async function componentToken(h: Harness): Promise<string> {
  await h.emulator.pushTicket();
  const res = await api(h, 'api_component_token', {
    component_appid: CREDS.componentAppId,
    component_appsecret: CREDS.componentAppSecret,
    component_verify_ticket: h.emulator.currentTicket(),
  });
  expect(typeof res.json.component_access_token).toBe('string');
  return res.json.component_access_token as string;
}

/** Authorizes `appid` without a push and exchanges the code: the account's first tokens. */
export async function authorizeAndQuery(
  h: Harness,
  token: string,
  appid: string,
): Promise<{ accessToken: string; refreshToken: string }> {
  const { authCode } = await h.emulator.authorize(appid, { push: false });
  const res = await api(
    h,
    'api_query_auth',
    { component_appid: CREDS.componentAppId, authorization_code: authCode },
    token,
  );
  const info = res.json.authorization_info as Record<string, string>;
  expect(info.authorizer_appid).toBe(appid);
  return { accessToken: info.authorizer_access_token as string, refreshToken: info.authorizer_refresh_token as string };
}

export function expectErr(res: Answer, errcode: number): void {
  expect(res.status).toBe(200);
  expect(res.json.errcode).toBe(errcode);
  expect(res.json.errmsg).toMatch(/ rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
}

// ---------------------------------------------------------------------------------------------------------------

export interface ReceivedPush {
  query: URLSearchParams;
  body: string;
  contentType: string | undefined;
  method: string;
}

export type Reply = { status: number; body: string } | 'hang';

export class PushReceiver {
  readonly received: ReceivedPush[] = [];
  /** Decides the answer to the n-th request (1-based). */
  reply: (n: number) => Reply = () => ({ status: 200, body: 'success' });
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<PushReceiver> {
    // The handler needs the receiver, which needs the listening server's port: tie them through a holder.
    const holder: { receiver?: PushReceiver } = {};
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => holder.receiver?.handle(req, res, Buffer.concat(chunks).toString('utf8')));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const receiver = new PushReceiver(server, `http://127.0.0.1:${port}/auth`);
    holder.receiver = receiver;
    open.push(receiver);
    return receiver;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.received.push({
      query: url.searchParams,
      body,
      contentType: req.headers['content-type'],
      method: req.method ?? '',
    });
    const reply = this.reply(this.received.length);
    for (const wake of this.waiters.splice(0)) wake();
    if (reply === 'hang') return;
    res.writeHead(reply.status, { 'Content-Type': 'text/plain' }).end(reply.body);
  }

  /** Resolves once at least `count` requests arrived. */
  async waitFor(count: number, timeoutMs = 5000): Promise<ReceivedPush[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} pushes, got ${this.received.length}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.received;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

/** Verifies and decrypts a push like the service must; returns the envelope AppId and the inner fields. */
export async function openPush(
  push: ReceivedPush,
): Promise<{ appId: string; xml: string; fields: Record<string, string> }> {
  const envelope = (await parseStringPromise(push.body, { explicitArray: false })) as { xml: Record<string, string> };
  const crypt = new MsgCrypt({ token: CREDS.token, encodingAesKey: CREDS.encodingAesKey, appId: CREDS.componentAppId });
  const opened = crypt.open({
    msgSignature: push.query.get('msg_signature') ?? '',
    timestamp: push.query.get('timestamp') ?? '',
    nonce: push.query.get('nonce') ?? '',
    encrypt: envelope.xml.Encrypt ?? '',
  });
  const inner = (await parseStringPromise(opened.message, { explicitArray: false })) as { xml: Record<string, string> };
  return { appId: envelope.xml.AppId ?? '', xml: opened.message, fields: inner.xml };
}

/** The authorization events (not ticket pushes) received so far, opened; waits until there are at least `count`. */
export async function authEvents(
  receiver: PushReceiver,
  count: number,
  timeoutMs = 5000,
): Promise<Array<Record<string, string>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const opened = await Promise.all(receiver.received.map(openPush));
    const events = opened.map((o) => o.fields).filter((f) => f.InfoType !== 'component_verify_ticket');
    if (events.length >= count) return events;
    if (Date.now() > deadline) throw new Error(`expected ${count} authorization events, got ${events.length}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

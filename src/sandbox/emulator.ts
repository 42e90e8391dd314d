/**
 * The sandbox: an Express app that plays WeChat's servers for a third-party platform over real HTTP (component
 * API, authorization pages, encrypted pushes), plus a handle that tests and the `npm run sandbox` runner use to
 * steer it. Behaviour follows shared/docs/protocol.md §1–§8; docs/sandbox.md shows how to drive it with curl.
 *
 * It imports only pure modules of src/wechat and src/clock: it is WeChat, so it must not share code paths with
 * the service it is testing.
 */
import express, { type Express } from 'express';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../clock';
import type { FakeAccount } from './accounts';
import { authPage } from './auth-page';
import type { CallLogEntry } from './call-log';
import { componentApi } from './component-api';
import { consolePages } from './console-pages';
import { createContext } from './context';
import { controlApi } from './control-api';
import { messageApi } from './message-api';
import type { MessageAnswer, OutgoingMessage } from './message-sender';
import { releaseTestPage } from './release-test-page';
import type { ReleaseTestOptions, ReleaseTestReport } from './release-test';
import type { Fault } from './faults';
import { resolveOptions, type EmulatorOptions } from './options';
import type { PushResult } from './push-delivery';

export { DEMO_ACCOUNTS, generateAccounts, type FakeAccount } from './accounts';
export type { CallLogEntry } from './call-log';
export type { Fault } from './faults';
export type { EmulatorOptions } from './options';
export type { PushResult } from './push-delivery';
export type { MessageAnswer, OutgoingMessage } from './message-sender';
export type { ReleaseTestCaseResult, ReleaseTestOptions, ReleaseTestReport } from './release-test';
export { SandboxError } from './state';

export interface Emulator {
  app: Express;
  clock: Clock;
  /** Starts the HTTP server (default 127.0.0.1, a free port) and the periodic ticket pushes; resolves to the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** Stops timers, pending pushes and held (delayed/hung) requests, then the server. */
  close(): Promise<void>;
  setPushUrl(url: string | undefined): void;
  /** The message URL template (`…/$APPID$/callback`); by default derived from the push URL. */
  setMessageUrl(template: string | undefined): void;
  /** The message URL WeChat would call for this account. */
  messageUrl(appid: string): string | undefined;
  /** Sends a message or event to the message URL, as WeChat does for an authorized account's user. */
  sendMessage(appid: string, message: OutgoingMessage, timeoutMs?: number): Promise<MessageAnswer>;
  /** Plays WeChat's release test (全网发布接入检测) against the message URL. */
  runReleaseTest(options?: ReleaseTestOptions): Promise<ReleaseTestReport>;
  /** Issues a new ticket and pushes it; without a push URL the ticket is issued but not delivered. */
  pushTicket(): Promise<PushResult>;
  currentTicket(): string | undefined;
  /** Same effects as confirming on the page; `updateauthorized` when the account was already authorized. */
  authorize(
    appid: string,
    opts?: { push?: boolean; funcInfo?: number[] },
  ): Promise<{ authCode: string; expiresIn: number; push?: PushResult }>;
  /** Pushes `unauthorized`; the refresh token then answers 61023 and the access tokens 40001. */
  revoke(appid: string, opts?: { push?: boolean }): Promise<PushResult | undefined>;
  tokenStatus(token: string): 'valid' | 'expired' | 'unknown';
  invalidateToken(token: string): void;
  setRotateRefreshTokens(on: boolean): void;
  faults: { set(endpoint: string, fault: Fault): void; clear(endpoint?: string): void };
  callLog: {
    entries(endpoint?: string): CallLogEntry[];
    count(endpoint: string, opts?: { ok?: boolean }): number;
    clear(): void;
  };
  accounts(): Array<FakeAccount & { authorized: boolean; everQueried: boolean }>;
}

export function createEmulator(options: EmulatorOptions): Emulator {
  const ctx = createContext(resolveOptions(options));

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(componentApi(ctx));
  app.use(messageApi(ctx));
  app.use(authPage(ctx));
  app.use(consolePages(ctx));
  app.use(releaseTestPage(ctx));
  app.use(controlApi(ctx));

  let server: http.Server | undefined;
  let closed = false;

  async function listen(port = 0, host = '127.0.0.1'): Promise<string> {
    if (server) throw new Error('the emulator is already listening');
    if (closed) throw new Error('the emulator is closed');
    const s = http.createServer(app);
    server = s;
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, host, () => {
        s.off('error', reject);
        resolve();
      });
    });
    const address = s.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    ctx.ticketPusher.start();
    return `http://${shownHost}:${address.port}`;
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    ctx.ticketPusher.stop();
    ctx.delivery.close();
    ctx.inflight.closeAll();
    const s = server;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  return {
    app,
    clock: ctx.clock,
    listen,
    close,
    setPushUrl: (url) => ctx.setPushUrl(url),
    setMessageUrl: (template) => ctx.setMessageUrl(template),
    messageUrl: (appid) => ctx.messageUrl(appid),
    sendMessage: async (appid, message, timeoutMs) => {
      const url = ctx.messageUrl(appid);
      if (!url) throw new Error('no message URL: set the push URL or the message URL first');
      return ctx.sender.send(url, message, timeoutMs);
    },
    runReleaseTest: (options) => ctx.releaseTest.run(options),
    pushTicket: () => ctx.ticketPusher.pushTicket(),
    currentTicket: () => ctx.state.tickets.current(),
    authorize: (appid, opts) => ctx.authorize(appid, { push: opts?.push, funcInfo: opts?.funcInfo }),
    revoke: (appid, opts) => ctx.revoke(appid, opts),
    tokenStatus: (token) => ctx.state.tokens.status(token),
    invalidateToken: (token) => {
      ctx.state.tokens.invalidate(token);
    },
    setRotateRefreshTokens: (on) => {
      ctx.state.rotateRefreshTokens = on;
    },
    faults: {
      set: (endpoint, fault) => ctx.faults.set(endpoint, fault),
      clear: (endpoint) => ctx.faults.clear(endpoint),
    },
    callLog: {
      entries: (endpoint) => ctx.callLog.entries(endpoint),
      count: (endpoint, opts) => ctx.callLog.count(endpoint, opts),
      clear: () => ctx.callLog.clear(),
    },
    accounts: () => ctx.state.accounts.all().map((account) => ctx.accountView(account)),
  };
}

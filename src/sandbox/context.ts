/**
 * Everything one emulator instance owns, built once and shared by its routers and its test handle. The
 * authorize/revoke flows live here because the page, the control API and the handle must have the same effects.
 */
import type { Clock } from '../clock';
import type { FakeAccount } from './accounts';
import { CallLog } from './call-log';
import { EventPusher } from './event-pusher';
import { FaultBoard } from './faults';
import { Inflight } from './inflight';
import { MessageSender } from './message-sender';
import { ReleaseTestPlayer } from './release-test';
import { checkMessageUrl, checkPushUrl, messageUrlFor, type ResolvedOptions } from './options';
import { PushDelivery, type PushResult } from './push-delivery';
import { Quotas } from './quotas';
import { SandboxState } from './state';
import { TicketPusher } from './ticket-pusher';

export interface AuthorizeOptions {
  /** Default true; false changes state without telling the service (to test a lost push). */
  push?: boolean;
  /** The code of the page visit; a programmatic authorization gets a spent one. */
  preAuthCode?: string;
  /** Permission sets granted (category_id_list); default: all of the account's. */
  funcInfo?: number[];
}

export interface AuthorizeResult {
  authCode: string;
  expiresIn: number;
  push?: PushResult;
}

export interface SandboxContext {
  options: ResolvedOptions;
  clock: Clock;
  state: SandboxState;
  faults: FaultBoard;
  callLog: CallLog;
  quotas: Quotas;
  delivery: PushDelivery;
  pusher: EventPusher;
  ticketPusher: TicketPusher;
  inflight: Inflight;
  authorize(appid: string, opts?: AuthorizeOptions): Promise<AuthorizeResult>;
  revoke(appid: string, opts?: { push?: boolean }): Promise<PushResult | undefined>;
  setPushUrl(url: string | undefined): void;
  /** The message URL for `appid` (消息与事件接收URL); undefined when neither a message URL nor a push URL is set. */
  messageUrl(appid: string): string | undefined;
  setMessageUrl(template: string | undefined): void;
  /** Sends messages and events of authorized accounts to the message URL. */
  sender: MessageSender;
  /** WeChat's release test (全网发布接入检测), played against the message URL. */
  releaseTest: ReleaseTestPlayer;
  /** An account as the handle and the control API show it. */
  accountView(account: FakeAccount): AccountView;
}

export type AccountView = FakeAccount & { authorized: boolean; everQueried: boolean };

export function createContext(options: ResolvedOptions): SandboxContext {
  const { clock } = options;
  const state = new SandboxState(options);
  const delivery = new PushDelivery({
    timeoutMs: options.pushTimeoutMs,
    retries: options.pushRetries,
    retryDelayMs: options.pushRetryDelayMs,
  });
  const pusher = new EventPusher({
    componentAppId: options.componentAppId,
    token: options.token,
    encodingAesKey: options.encodingAesKey,
    clock,
    delivery,
    pushUrl: options.pushUrl,
  });

  async function authorize(appid: string, opts: AuthorizeOptions = {}): Promise<AuthorizeResult> {
    const grant = state.grant(appid, { preAuthCode: opts.preAuthCode, funcInfo: opts.funcInfo });
    const result: AuthorizeResult = { authCode: grant.authCode, expiresIn: grant.expiresIn };
    if (opts.push === false) return result;
    const push = await pusher.push({
      infoType: grant.infoType,
      authorizerAppid: appid,
      authorizationCode: grant.authCode,
      // Absolute epoch seconds, the reading SDKs and fixtures use (protocol.md §10.3).
      authorizationCodeExpiredTime: Math.floor(clock.now() / 1000) + grant.expiresIn,
      preAuthCode: grant.preAuthCode,
    });
    if (push) result.push = push;
    return result;
  }

  async function revoke(appid: string, opts: { push?: boolean } = {}): Promise<PushResult | undefined> {
    state.revoke(appid);
    if (opts.push === false) return undefined;
    return pusher.push({ infoType: 'unauthorized', authorizerAppid: appid });
  }

  const ticketPusher = new TicketPusher(state.tickets, pusher, options.ticketIntervalMs);

  function setPushUrl(url: string | undefined): void {
    const previous = pusher.pushUrl;
    pusher.pushUrl = checkPushUrl(url);
    ticketPusher.pushUrlChanged(previous);
  }

  let messageUrlTemplate = options.messageUrl;
  const sender = new MessageSender({
    componentAppId: options.componentAppId,
    token: options.token,
    encodingAesKey: options.encodingAesKey,
    clock,
  });

  function accountView(account: FakeAccount): AccountView {
    const record = state.authorizations.get(account.appid);
    return { ...account, authorized: record?.authorized === true, everQueried: record?.everQueried === true };
  }

  const callLog = new CallLog(options.callLogLimit);
  const messageUrl = (appid: string) => messageUrlFor(messageUrlTemplate, pusher.pushUrl, appid);
  return {
    options,
    clock,
    state,
    faults: new FaultBoard(),
    callLog,
    quotas: new Quotas(clock, options.quotas),
    delivery,
    pusher,
    ticketPusher,
    inflight: new Inflight(),
    authorize,
    revoke,
    setPushUrl,
    messageUrl,
    setMessageUrl: (template) => {
      messageUrlTemplate = checkMessageUrl(template);
    },
    sender,
    releaseTest: new ReleaseTestPlayer({
      pushTicket: () => ticketPusher.pushTicket(),
      authorize,
      messageUrl,
      callLog,
      sender,
    }),
    accountView,
  };
}

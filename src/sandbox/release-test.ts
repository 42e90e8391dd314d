/**
 * The release test (全网发布接入检测) as WeChat runs it when "全网发布" is clicked (protocol.md §7), played against the
 * service: a ticket push, then on the message URL, for one group of WeChat's test accounts, the text case, the
 * customer-service (API) case for the Official Account and the Mini Program, and the legacy event case. Each case
 * passes or fails with the reason, like WeChat's console reports it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  QUERY_AUTH_CODE_PREFIX,
  RELEASE_TEST_ACCOUNTS,
  TEXT_CASE_CONTENT,
  TEXT_CASE_REPLY,
  API_REPLY_SUFFIX,
  EVENT_REPLY_SUFFIX,
  type ReleaseTestAccount,
} from '../wechat/release-test';
import type { CallLog } from './call-log';
import type { AuthorizeResult } from './context';
import type { PushResult } from './push-delivery';
import { fakeMsgId, fakeOpenid, type MessageAnswer, type MessageSender } from './message-sender';

export type ReleaseTestCaseName = 'ticket' | 'text' | 'api_official_account' | 'api_mini_program' | 'event';

export interface ReleaseTestCaseResult {
  readonly case: ReleaseTestCaseName;
  readonly appid?: string;
  readonly passed: boolean;
  /** What was checked, or why it failed. */
  readonly reason: string;
}

export interface ReleaseTestReport {
  readonly group: number;
  readonly passed: boolean;
  readonly cases: readonly ReleaseTestCaseResult[];
}

export interface ReleaseTestOptions {
  /** 1–5; a random group (as WeChat picks one) when unset. */
  group?: number;
  /** WeChat waits 5 s for each answer and for the customer-service message. */
  waitMs?: number;
}

/** What the player needs of the emulator: the same effects as its control API. */
export interface ReleaseTestDeps {
  pushTicket(): Promise<PushResult>;
  authorize(appid: string): Promise<AuthorizeResult>;
  messageUrl(appid: string): string | undefined;
  callLog: Pick<CallLog, 'entries'>;
  sender: MessageSender;
}

export class ReleaseTestPlayer {
  private readonly sender: MessageSender;

  constructor(private readonly ctx: ReleaseTestDeps) {
    this.sender = ctx.sender;
  }

  async run(options: ReleaseTestOptions = {}): Promise<ReleaseTestReport> {
    const group = options.group ?? 1 + Math.floor(Math.random() * 5);
    const waitMs = options.waitMs ?? 5000;
    const accounts = RELEASE_TEST_ACCOUNTS.filter((a) => a.group === group);
    const oa = accounts.find((a) => a.kind === 'official_account');
    const mp = accounts.find((a) => a.kind === 'mini_program');
    if (!oa || !mp) throw new RangeError(`group must be 1 to 5, got ${group}`);
    const cases: ReleaseTestCaseResult[] = [];
    cases.push(await this.ticketCase());
    cases.push(await this.textCase(oa, waitMs));
    cases.push(await this.apiCase('api_official_account', oa, waitMs));
    cases.push(await this.apiCase('api_mini_program', mp, waitMs));
    cases.push(await this.eventCase(oa, waitMs));
    return { group, passed: cases.every((c) => c.passed), cases };
  }

  private messageUrl(appid: string): string {
    const url = this.ctx.messageUrl(appid);
    if (!url) throw new RangeError('no message URL: set the push URL (or the message URL) first');
    return url;
  }

  private async ticketCase(): Promise<ReleaseTestCaseResult> {
    const result = await this.ctx.pushTicket();
    return result.delivered
      ? { case: 'ticket', passed: true, reason: 'component_verify_ticket push answered success' }
      : {
          case: 'ticket',
          passed: false,
          reason: `ticket push not acknowledged: ${result.lastError ?? `HTTP ${result.lastStatus} ${JSON.stringify(result.lastBody ?? '')}`}`,
        };
  }

  private async textCase(account: ReleaseTestAccount, waitMs: number): Promise<ReleaseTestCaseResult> {
    const openid = fakeOpenid();
    const answer = await this.sender.send(
      this.messageUrl(account.appid),
      {
        toUserName: account.userName,
        fromUserName: openid,
        msgType: 'text',
        fields: [
          ['Content', TEXT_CASE_CONTENT],
          ['MsgId', fakeMsgId()],
        ],
      },
      waitMs,
    );
    const problem = replyProblem(answer, {
      ToUserName: openid,
      FromUserName: account.userName,
      MsgType: 'text',
      Content: TEXT_CASE_REPLY,
    });
    return {
      case: 'text',
      appid: account.appid,
      passed: !problem,
      reason: problem ?? `passive text reply "${TEXT_CASE_REPLY}"`,
    };
  }

  private async eventCase(account: ReleaseTestAccount, waitMs: number): Promise<ReleaseTestCaseResult> {
    const openid = fakeOpenid();
    const answer = await this.sender.send(
      this.messageUrl(account.appid),
      {
        toUserName: account.userName,
        fromUserName: openid,
        msgType: 'event',
        fields: [
          ['Event', 'LOCATION'],
          ['Latitude', '23.137466'],
          ['Longitude', '113.352425'],
          ['Precision', '119.385040'],
        ],
      },
      waitMs,
    );
    const expected = `LOCATION${EVENT_REPLY_SUFFIX}`;
    const problem = replyProblem(answer, {
      ToUserName: openid,
      FromUserName: account.userName,
      MsgType: 'text',
      Content: expected,
    });
    return {
      case: 'event',
      appid: account.appid,
      passed: !problem,
      reason: problem ?? `passive text reply "${expected}"`,
    };
  }

  /** WeChat authorizes its test account (pushing the code to /auth), then sends `QUERY_AUTH_CODE:<code>`. */
  private async apiCase(
    name: ReleaseTestCaseName,
    account: ReleaseTestAccount,
    waitMs: number,
  ): Promise<ReleaseTestCaseResult> {
    const { authCode, push } = await this.ctx.authorize(account.appid);
    if (push && !push.delivered) {
      return {
        case: name,
        appid: account.appid,
        passed: false,
        reason: `the authorized push for the test account was not acknowledged (${push.lastError ?? `HTTP ${push.lastStatus}`})`,
      };
    }
    const openid = fakeOpenid();
    const since = this.ctx.callLog.entries('custom_send').at(-1)?.seq ?? -1;
    const answer = await this.sender.send(
      this.messageUrl(account.appid),
      {
        toUserName: account.userName,
        fromUserName: openid,
        msgType: 'text',
        fields: [
          ['Content', `${QUERY_AUTH_CODE_PREFIX}${authCode}`],
          ['MsgId', fakeMsgId()],
        ],
      },
      waitMs,
    );
    if (answer.status !== 200)
      return { case: name, appid: account.appid, passed: false, reason: answerProblem(answer) };
    if (answer.body !== '') {
      return {
        case: name,
        appid: account.appid,
        passed: false,
        reason: `expected an empty answer at once, got ${JSON.stringify((answer.body ?? '').slice(0, 60))}`,
      };
    }
    const expected = `${authCode}${API_REPLY_SUFFIX}`;
    const deadline = Date.now() + waitMs;
    for (;;) {
      const sent = this.ctx.callLog.entries('custom_send').filter((e) => e.seq > since && e.errcode === 0);
      const match = sent.find((e) => e.params.touser === openid);
      if (match) {
        const content = (match.params.text as { content?: unknown } | undefined)?.content;
        return content === expected
          ? {
              case: name,
              appid: account.appid,
              passed: true,
              reason: `customer-service message "${expected}" received`,
            }
          : {
              case: name,
              appid: account.appid,
              passed: false,
              reason: `customer-service message content ${JSON.stringify(content)}, expected ${JSON.stringify(expected)}`,
            };
      }
      if (Date.now() >= deadline) {
        return {
          case: name,
          appid: account.appid,
          passed: false,
          reason: `no customer-service message to the test user within ${waitMs} ms`,
        };
      }
      await sleep(50);
    }
  }
}

function answerProblem(answer: MessageAnswer): string {
  if (answer.status === undefined) return answer.error ?? 'no answer';
  return `HTTP ${answer.status} ${JSON.stringify((answer.body ?? '').slice(0, 120))}`;
}

/** undefined when the answer is an encrypted passive reply with exactly these elements' values. */
function replyProblem(answer: MessageAnswer, expected: Record<string, string>): string | undefined {
  if (answer.status !== 200) return answerProblem(answer);
  if (answer.replyError) return `the reply is not a valid encrypted reply: ${answer.replyError}`;
  if (!answer.reply)
    return `expected an encrypted passive reply, got ${JSON.stringify((answer.body ?? '').slice(0, 60))}`;
  for (const [name, value] of Object.entries(expected)) {
    if (answer.reply[name] !== value)
      return `reply ${name} is ${JSON.stringify(answer.reply[name])}, expected ${JSON.stringify(value)}`;
  }
  return undefined;
}

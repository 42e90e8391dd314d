import type { Clock } from '../clock';
import { AppError, BadRequestError, InvalidPushError, InvalidSignatureError } from '../errors';
import type { Logger } from '../logger';
import type { MessageStream, ReceivedMessage } from '../store/message-stream';
import type { PushDedupStore } from '../store/push-dedup-store';
import { verifySignature, type MsgCrypt } from '../wechat/crypto';
import {
  messageIdOf,
  readInboundMessage,
  readMessageEnvelope,
  XmlFormatError,
  type InboundMessage,
} from '../wechat/message-xml';
import { APPID_RULE, isAppId } from '../wechat/identifiers';
import { buildEncryptedReplyXml, buildTextReplyXml } from '../wechat/passive-reply';
import { releaseTestAccount, releaseTestCase, type ReleaseTestCase } from '../wechat/release-test';
import { withDeadline } from '../deadline';
import { openEncrypted } from './open-encrypted';

/** What WeChat gets back: `success` (nothing to say), an empty body (release test: "reply comes later"), or a reply. */
export type MessageAnswer =
  { readonly kind: 'success' } | { readonly kind: 'empty' } | { readonly kind: 'reply'; readonly xml: string };

/** handled: stored or answered; duplicate: a re-send; rejected: 4xx; failed: 5xx. */
export type MessageDisposition = 'stored' | 'release_test' | 'duplicate' | 'rejected' | 'failed';
export type OnMessage = (disposition: MessageDisposition, details: { known?: boolean; msgType?: string }) => void;

/** The release test's API cases: authorize the test account with the code, then message its user. */
export interface ReleaseTestEffects {
  /** Exchanges the query_auth_code like any authorization (stored), resolving to the account's appid. */
  authorizeWithCode(queryAuthCode: string): Promise<string>;
  /** Sends a customer-service text message with the account's access token (through the token service). */
  sendCustomerServiceText(authorizerAppid: string, toUser: string, content: string): Promise<void>;
}

export interface MessageQuery {
  timestamp?: unknown;
  nonce?: unknown;
  msg_signature?: unknown;
  encrypt_type?: unknown;
}

export interface MessageServiceDeps {
  msgCrypt: MsgCrypt;
  /** The message token (消息校验Token), for the plain signature of a URL check. */
  token: string;
  clock: Clock;
  logger: Logger;
  /** De-duplication of the release test's API case (stored messages are de-duplicated by `stream`). */
  dedup: PushDedupStore;
  stream: MessageStream;
  dedupId(authorizerAppid: string, messageId: string): string;
  /** Whether an authorization of this appid is stored (any status); may be remembered briefly (KnownAuthorizers). */
  isKnownAuthorizer(appid: string): Promise<boolean>;
  /** undefined = the release-test responder is off. */
  releaseTest: ReleaseTestEffects | undefined;
  /** MESSAGE_FORWARD_URL: asked, after the message is stored, for a passive reply. */
  forward?: (message: ReceivedMessage, timeoutMs: number) => Promise<{ reply: string | undefined } | { error: string }>;
  onMessage?: OnMessage;
}

export interface MessageServiceOptions {
  deadlineMs: number;
}

/** Module defaults; the composition root may override them. */
export const MESSAGE_SERVICE_DEFAULTS: Readonly<MessageServiceOptions> = Object.freeze({
  /** WeChat waits 5 s for the answer; leave room for the network. */
  deadlineMs: 4500,
});

/** How long the forward URL may take to answer (WeChat waits 5 s for the whole answer). */
const FORWARD_WAIT_MS = 4000;

/**
 * The message-and-event URL (消息与事件接收URL, `/:appid/callback`): WeChat's encrypted messages for every authorized
 * account. Signature first (constant time), then decryption, then: WeChat's release-test cases for its test accounts,
 * and every other message appended once (whatever the re-sends) to `P:messages` and answered `success`.
 */
export class MessageService {
  private readonly deadlineMs: number;
  /** The release test's background work, so shutdown can wait for it. */
  private readonly background = new Set<Promise<void>>();

  constructor(
    private readonly deps: MessageServiceDeps,
    options: Partial<MessageServiceOptions> = {},
  ) {
    this.deadlineMs = options.deadlineMs ?? MESSAGE_SERVICE_DEFAULTS.deadlineMs;
  }

  async receive(pathAppid: string, query: MessageQuery, body: unknown): Promise<MessageAnswer> {
    const startedAt = Date.now();
    let msgType: string | undefined;
    try {
      if (!isAppId(pathAppid))
        throw new BadRequestError(`the path must carry an authorizer appid (${APPID_RULE}): /<appid>/callback`);
      const params = readParams(query);
      const envelope = readEnvelope(body);
      const plaintext = this.open(params, envelope.encrypt);
      const message = readMessage(plaintext);
      msgType = message.msgType;
      return await withDeadline(
        this.answer(pathAppid, envelope.toUserName, message, plaintext, params, startedAt),
        this.deadlineMs,
        () => new MessageDeadlineError(this.deadlineMs),
      );
    } catch (err) {
      this.deps.onMessage?.(err instanceof AppError && err.httpStatus < 500 ? 'rejected' : 'failed', { msgType });
      throw err;
    }
  }

  /**
   * A URL check (GET with `signature`, `timestamp`, `nonce`, `echostr`): the plain signature proves it is WeChat,
   * and the answer is `echostr` as sent.
   */
  verifyUrl(pathAppid: string, query: Record<string, unknown>): string {
    if (!isAppId(pathAppid))
      throw new BadRequestError(`the path must carry an authorizer appid (${APPID_RULE}): /<appid>/callback`);
    for (const name of ['signature', 'timestamp', 'nonce', 'echostr'] as const) {
      const value = query[name];
      if (typeof value !== 'string' || value === '')
        throw new BadRequestError(`query parameter ${name} is required (once)`);
    }
    const { signature, timestamp, nonce, echostr } = query as Record<
      'signature' | 'timestamp' | 'nonce' | 'echostr',
      string
    >;
    if (!verifySignature(this.deps.token, timestamp, nonce, signature))
      throw new InvalidSignatureError('signature does not match');
    return echostr;
  }

  /** Resolves once the release test's background replies have finished (shutdown, tests). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.background]);
  }

  private async answer(
    appid: string,
    toUserName: string | undefined,
    message: InboundMessage,
    plaintext: string,
    params: Params,
    startedAt: number,
  ): Promise<MessageAnswer> {
    const { deps } = this;
    const testCase =
      deps.releaseTest && releaseTestAccount(appid, toUserName ?? message.toUserName)
        ? releaseTestCase(message.fields)
        : undefined;
    if (testCase) return this.answerReleaseTest(appid, message, testCase, params);

    const known = await deps.isKnownAuthorizer(appid);
    const stored: ReceivedMessage = {
      authorizerAppid: appid,
      known,
      msgType: message.msgType,
      event: message.event ?? '',
      messageId: messageIdOf(message),
      fields: message.fields,
      rawXml: plaintext,
      receivedAt: deps.clock.now(),
    };
    // The de-duplication check and the append are one step (one Redis round trip): a re-send to any replica, or
    // the same message to two at once, is stored once.
    if ((await deps.stream.appendOnce(stored)) === undefined) {
      deps.onMessage?.('duplicate', { msgType: message.msgType });
      return { kind: 'success' };
    }
    if (!known)
      deps.logger.info(
        { authorizerAppid: appid, msgType: message.msgType },
        'message for an appid with no stored authorization; recorded',
      );
    deps.onMessage?.('stored', { known, msgType: message.msgType });
    return this.forwarded(stored, params, startedAt);
  }

  /** The forward URL's reply, encrypted, when it gives one in time; else `success` (the stream keeps the message). */
  private async forwarded(stored: ReceivedMessage, params: Params, startedAt: number): Promise<MessageAnswer> {
    const { forward, logger } = this.deps;
    if (!forward) return { kind: 'success' };
    // Within WeChat's 5 s: at most FORWARD_WAIT_MS, and never past this answer's own deadline.
    const left = Math.min(FORWARD_WAIT_MS, this.deadlineMs - (Date.now() - startedAt) - 200);
    if (left <= 0) return { kind: 'success' };
    const result = await forward(stored, left);
    if ('error' in result) {
      logger.warn(
        { authorizerAppid: stored.authorizerAppid, reason: result.error },
        'message forward failed; answered success (the stream keeps the message)',
      );
      return { kind: 'success' };
    }
    if (result.reply === undefined) return { kind: 'success' };
    const timestamp = String(Math.floor(this.deps.clock.now() / 1000));
    const sealed = this.deps.msgCrypt.seal(result.reply, timestamp, params.nonce, { key: params.keyUsed });
    return { kind: 'reply', xml: buildEncryptedReplyXml({ ...sealed, timestamp, nonce: params.nonce }) };
  }

  private async answerReleaseTest(
    appid: string,
    message: InboundMessage,
    testCase: ReleaseTestCase,
    params: Params,
  ): Promise<MessageAnswer> {
    const { deps } = this;
    deps.onMessage?.('release_test', { known: true, msgType: message.msgType });
    deps.logger.info(
      { authorizerAppid: appid, releaseTestCase: testCase.kind },
      'release test (全网发布接入检测) message',
    );
    if (testCase.kind !== 'api') return { kind: 'reply', xml: this.textReply(message, testCase.reply, params) };

    // The API case: answer empty at once, then authorize with the code and send the customer-service message.
    // A re-send must not send the message twice.
    const claim = await deps.dedup.claim(deps.dedupId(appid, messageIdOf(message)));
    if (claim !== 'claimed') return { kind: 'empty' };
    const effects = deps.releaseTest as ReleaseTestEffects;
    const work = (async () => {
      try {
        const authorizerAppid = await effects.authorizeWithCode(testCase.queryAuthCode);
        await effects.sendCustomerServiceText(authorizerAppid, message.fromUserName, testCase.reply);
        await deps.dedup.markDone(deps.dedupId(appid, messageIdOf(message)));
        deps.logger.info({ authorizerAppid }, 'release test: customer-service reply sent');
      } catch (err) {
        await deps.dedup.release(deps.dedupId(appid, messageIdOf(message))).catch(() => undefined);
        deps.logger.error({ err, authorizerAppid: appid }, 'release test: the customer-service reply failed');
      }
    })();
    this.background.add(work);
    void work.finally(() => this.background.delete(work));
    return { kind: 'empty' };
  }

  /** A passive text reply, encrypted with the key the request came with. */
  private textReply(message: InboundMessage, content: string, params: Params): string {
    const timestamp = String(Math.floor(this.deps.clock.now() / 1000));
    const plaintext = buildTextReplyXml({
      toUser: message.fromUserName,
      fromUser: message.toUserName,
      createTime: Number(timestamp),
      content,
    });
    const sealed = this.deps.msgCrypt.seal(plaintext, timestamp, params.nonce, { key: params.keyUsed });
    return buildEncryptedReplyXml({ ...sealed, timestamp, nonce: params.nonce });
  }

  private open(params: Params, encrypt: string): string {
    const opened = openEncrypted(this.deps.msgCrypt, { ...params, encrypt }, 'message');
    params.keyUsed = opened.keyUsed;
    return opened.message;
  }
}

interface Params {
  timestamp: string;
  nonce: string;
  msgSignature: string;
  keyUsed?: 'current' | 'previous';
}

function readParams(query: MessageQuery): Params {
  for (const name of ['timestamp', 'nonce', 'msg_signature'] as const) {
    const value = query[name];
    if (typeof value !== 'string' || value === '')
      throw new BadRequestError(`query parameter ${name} is required (once)`);
  }
  // The platform's message URL is always in safe mode; a plain message here is not WeChat's.
  if (query.encrypt_type !== 'aes') throw new BadRequestError('query parameter encrypt_type must be aes');
  return {
    timestamp: query.timestamp as string,
    nonce: query.nonce as string,
    msgSignature: query.msg_signature as string,
  };
}

function readEnvelope(body: unknown) {
  if (typeof body !== 'string' || body.trim() === '')
    throw new InvalidPushError("the body must be WeChat's <xml> envelope");
  try {
    return readMessageEnvelope(body);
  } catch (err) {
    if (err instanceof XmlFormatError) throw new BadRequestError(err.message);
    throw err;
  }
}

function readMessage(plaintext: string): InboundMessage {
  try {
    return readInboundMessage(plaintext);
  } catch (err) {
    if (err instanceof XmlFormatError) throw new InvalidPushError(`decrypted message: ${err.message}`);
    throw err;
  }
}

class MessageDeadlineError extends AppError {
  constructor(ms: number) {
    super('message_deadline', 503, `the message was not handled within ${ms} ms; WeChat will re-send it`);
  }
}

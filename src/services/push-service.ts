import { createHash } from 'node:crypto';
import type { Clock } from '../clock';
import { AppError, AppIdMismatchError, BadRequestError, InvalidPushError, PushInProgressError } from '../errors';
import type { Logger } from '../logger';
import { pollUntil } from '../poll-until';
import type { PushDedupStore } from '../store/push-dedup-store';
import type { MsgCrypt } from '../wechat/crypto';
import { parsePushEventXml, type AuthorizationEvent, type ReceivedPushEvent } from '../wechat/push-xml';
import { firstProblem, pushQuerySchema } from '../wechat/identifiers';
import { XmlFormatError, textOf, type XmlFields } from '../wechat/xml-reading';
import { withDeadline } from '../deadline';
import { openEncrypted } from './open-encrypted';

/**
 * What the push handler needs of the authorization use cases (services/authorization-service.ts). Each
 * resolves false when the account has applied a newer event already (nothing changed).
 */
export interface AuthorizationEffects {
  completeFromPush(push: AuthorizationEvent): Promise<boolean>;
  revoke(authorizerAppid: string, eventTime: number): Promise<boolean>;
}

export interface TicketSink {
  /** false: not stored (blank, or a newer ticket is stored already). */
  save(ticket: string, receivedAtMs: number, createTime: number): Promise<boolean>;
}

/** handled: effect stored; duplicate: already handled; rejected: bad push (4xx); failed: could not store it (5xx). */
export type PushDisposition = 'handled' | 'duplicate' | 'rejected' | 'failed';
/** `infoType` is 'unparsed' when the push was refused before its payload could be read. */
export type OnPush = (infoType: string, disposition: PushDisposition) => void;

export interface PushServiceDeps {
  msgCrypt: MsgCrypt;
  componentAppId: string;
  clock: Clock;
  logger: Logger;
  dedup: PushDedupStore;
  tickets: TicketSink;
  authorizations: AuthorizationEffects;
  /** PUSH_MAX_AGE_SECONDS: a push's timestamp more than this from now (either way) is refused. */
  maxAgeSeconds: number;
  /** WeChat gives up after 5 s; answer before that whatever happens upstream. */
  deadlineMs?: number;
  /** How long a duplicate waits for the instance that is handling the original. */
  duplicateWaitMs?: number;
  /** Every push's outcome (metrics). */
  onPush?: OnPush;
}

/** The request's query string as Express parsed it; checked against pushQuerySchema. */
export type RawPushQuery = Record<string, unknown>;

export interface PushOutcome {
  infoType: string;
  duplicate: boolean;
  /** The payload's CreateTime (Unix seconds). */
  createTime: number;
}

export const PUSH_SERVICE_DEFAULTS = Object.freeze({
  /** WeChat gives up after 5 s: answer before that, whatever happens upstream. */
  deadlineMs: 4500,
  /** A duplicate waits this long for the instance handling the original, then answers 503 (WeChat re-sends). */
  duplicateWaitMs: 3000,
  /** Between two looks at the original's de-dup record. */
  duplicatePoll: Object.freeze({ baseMs: 50, maxMs: 50 }),
});

/**
 * Handles one push to the authorization-event URL: signature first, then
 * decryption, the AppId check, the payload, and its effect — exactly once
 * across instances. Resolves only once the effect is stored.
 */
export class PushService {
  private readonly deadlineMs: number;
  private readonly duplicateWaitMs: number;

  constructor(private readonly deps: PushServiceDeps) {
    this.deadlineMs = deps.deadlineMs ?? PUSH_SERVICE_DEFAULTS.deadlineMs;
    this.duplicateWaitMs = deps.duplicateWaitMs ?? PUSH_SERVICE_DEFAULTS.duplicateWaitMs;
  }

  async receive(query: RawPushQuery, envelope: unknown): Promise<PushOutcome> {
    let infoType = 'unparsed';
    try {
      const params = readParams(query);
      const encrypt = readEncrypt(envelope);
      const message = this.open(params, encrypt);
      const push = this.parse(message);
      infoType = push.infoType === 'unknown' ? push.rawInfoType : push.infoType;
      this.checkAge(Number(params.timestamp));
      const pushId = createHash('sha1')
        .update(`${params.msgSignature}:${params.timestamp}:${params.nonce}`)
        .digest('hex');
      const outcome = await this.applyOnce(pushId, push);
      this.deps.onPush?.(infoType, outcome.duplicate ? 'duplicate' : 'handled');
      return outcome;
    } catch (err) {
      this.deps.onPush?.(infoType, err instanceof AppError && err.httpStatus < 500 ? 'rejected' : 'failed');
      throw err;
    }
  }

  private open(params: Params, encrypt: string): string {
    return openEncrypted(this.deps.msgCrypt, { ...params, encrypt }, 'push').message;
  }

  private parse(message: string): ReceivedPushEvent {
    let push: ReceivedPushEvent;
    try {
      push = parsePushEventXml(message);
    } catch (err) {
      if (err instanceof XmlFormatError) throw new InvalidPushError(`decrypted payload: ${err.message}`);
      throw err;
    }
    if (push.appId !== this.deps.componentAppId) throw new AppIdMismatchError();
    return push;
  }

  /**
   * The replay window. Every push accepted here is remembered (rememberSeconds) for longer than the window
   * spans, so a replay is always either a known duplicate or refused as too old.
   */
  private checkAge(timestamp: number): void {
    const max = this.deps.maxAgeSeconds;
    const skew = Math.floor(this.deps.clock.now() / 1000) - timestamp;
    if (skew > max) throw new BadRequestError(`the push's timestamp is more than ${max} s old (PUSH_MAX_AGE_SECONDS)`);
    if (-skew > max)
      throw new BadRequestError(
        `the push's timestamp is more than ${max} s ahead of this server's clock (PUSH_MAX_AGE_SECONDS)`,
      );
  }

  /** A push accepted at its window's far end (timestamp max s ahead) is still remembered when it is max s old. */
  private get rememberSeconds(): number {
    return Math.max(MIN_REMEMBER_SECONDS, 2 * this.deps.maxAgeSeconds);
  }

  /** claim → effect → mark done, through the stores' interfaces; a failure releases the claim so WeChat's re-send redoes it. */
  private async applyOnce(pushId: string, push: ReceivedPushEvent): Promise<PushOutcome> {
    const infoType = push.infoType === 'unknown' ? push.rawInfoType : push.infoType;
    const outcome = (duplicate: boolean): PushOutcome => ({ infoType, duplicate, createTime: push.createTime });
    const claim = await this.deps.dedup.claim(pushId);
    if (claim === 'done') return outcome(true);
    if (claim === 'in_progress') {
      await this.waitForOther(pushId);
      return outcome(true);
    }
    try {
      await withDeadline(this.apply(push), this.deadlineMs, () => new DeadlineError(this.deadlineMs));
      await this.deps.dedup.markDone(pushId, this.rememberSeconds);
      return outcome(false);
    } catch (err) {
      await this.deps.dedup.release(pushId).catch(() => undefined);
      throw err;
    }
  }

  private async apply(push: ReceivedPushEvent): Promise<void> {
    const { logger } = this.deps;
    const ignored = (what: string): void =>
      logger.info({ infoType: push.infoType, createTime: push.createTime, ...accountOf(push) }, `${what}; ignored`);
    switch (push.infoType) {
      case 'component_verify_ticket': {
        const stored = await this.deps.tickets.save(push.componentVerifyTicket, this.deps.clock.now(), push.createTime);
        if (!stored) ignored('ticket not stored: blank, or pushed before the stored one');
        return;
      }
      case 'authorized':
      case 'updateauthorized':
        if (!(await this.deps.authorizations.completeFromPush(push)))
          ignored("authorization event older than the account's last applied event");
        return;
      case 'unauthorized':
        if (await this.deps.authorizations.revoke(push.authorizerAppid, push.createTime)) {
          logger.info({ infoType: push.infoType, authorizerAppid: push.authorizerAppid }, 'authorization revoked');
        } else {
          ignored("unauthorized event older than the account's last applied event");
        }
        return;
      case 'unknown':
        logger.info({ infoType: push.rawInfoType }, 'push with an InfoType this service does not act on; acknowledged');
        return;
    }
  }

  private async waitForOther(pushId: string): Promise<void> {
    this.deps.logger.info({ pushId }, 'the same push is being handled elsewhere; waiting for it');
    const settled = await pollUntil(
      async () => {
        const state = await this.deps.dedup.state(pushId);
        // 'none': the other instance failed and released it.
        return state === 'done' || state === 'none' ? state : undefined;
      },
      { timeoutMs: this.duplicateWaitMs, backoff: PUSH_SERVICE_DEFAULTS.duplicatePoll },
    );
    if (settled !== 'done') throw new PushInProgressError();
  }
}

/** The de-duplication record's lifetime when the replay window is short: WeChat's re-sends and then some. */
const MIN_REMEMBER_SECONDS = 3600;

/** The account a push is about, for log lines. */
function accountOf(push: ReceivedPushEvent): { authorizerAppid?: string } {
  return 'authorizerAppid' in push ? { authorizerAppid: push.authorizerAppid } : {};
}

interface Params {
  timestamp: string;
  nonce: string;
  msgSignature: string;
}

function readParams(query: RawPushQuery): Params {
  const parsed = pushQuerySchema.safeParse(query);
  if (!parsed.success) throw new BadRequestError(firstProblem(parsed.error));
  const { timestamp, nonce, msg_signature: msgSignature } = parsed.data;
  return { timestamp, nonce, msgSignature };
}

function readEncrypt(envelope: unknown): string {
  if (!envelope || typeof envelope !== 'object') throw new InvalidPushError("the body must be WeChat's <xml> envelope");
  let encrypt: string | undefined;
  try {
    encrypt = textOf(envelope as XmlFields, 'Encrypt');
  } catch (err) {
    throw new InvalidPushError((err as Error).message);
  }
  if (!encrypt) throw new InvalidPushError('<Encrypt> is missing or empty');
  return encrypt;
}

class DeadlineError extends AppError {
  constructor(ms: number) {
    super('push_deadline', 503, `the push's effect did not complete within ${ms} ms; WeChat will re-send it`);
  }
}

/**
 * The one model of the pushes WeChat sends to a third-party platform's 授权事件接收URL: the inner event documents
 * (component_verify_ticket, authorized, updateauthorized, unauthorized), how they are built (the emulator, the
 * tests) and how they are read (the push service), and the encrypted `<AppId>` envelope.
 * Spec: https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/component_verify_ticket.html
 * and .../Before_Develop/authorize_event.html (shapes and field order: shared/docs/protocol.md §1–§2).
 *
 * The emulator builds real-looking pushes with it, tests of the push handler build the same bytes, and the service
 * reads them back into the same types.
 * Formatting follows logged real pushes rather than the doc examples: strings in CDATA, numbers bare, and a `\n`
 * after every element, so a parser that only copes with the pretty-printed doc examples fails early in our tests.
 */

import { isAppId } from './identifiers';
import { parseXmlFields, requiredText, textOf, XmlFormatError, type XmlFields } from './xml-reading';

interface PushEventBase {
  /** COMPONENT_APPID: system notifications carry the platform's appid, never a ToUserName. */
  appId: string;
  /** Unix seconds. */
  createTime: number;
}

export interface ComponentVerifyTicketEvent extends PushEventBase {
  infoType: 'component_verify_ticket';
  componentVerifyTicket: string;
}

export interface AuthorizationEvent extends PushEventBase {
  infoType: 'authorized' | 'updateauthorized';
  authorizerAppid: string;
  authorizationCode: string;
  /** Absolute Unix seconds (CreateTime + code lifetime), as SDKs and fixtures read it (protocol.md §2.2, §10.3); always sent by WeChat. */
  authorizationCodeExpiredTime?: number;
  /** The pre_auth_code the authorization started with; always sent by WeChat. */
  preAuthCode?: string;
}

export interface UnauthorizationEvent extends PushEventBase {
  infoType: 'unauthorized';
  authorizerAppid: string;
}

export type PushEvent = ComponentVerifyTicketEvent | AuthorizationEvent | UnauthorizationEvent;

/** notify_third_fasteregister and the other newer InfoTypes: read (acknowledged, not acted on), never built. */
export interface UnknownPushEvent extends PushEventBase {
  infoType: 'unknown';
  rawInfoType: string;
}

/** What a received payload reads as. */
export type ReceivedPushEvent = PushEvent | UnknownPushEvent;

export type XmlField = readonly [name: string, value: string | number];

// XML 1.0 cannot carry these code points at all, not even inside CDATA, so refusing them beats emitting a
// document that every parser on the receiving side would reject.
// eslint-disable-next-line no-control-regex
const XML_INVALID_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
const ELEMENT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** Wraps text in CDATA; a `]]>` inside the text is split across two sections, the only way CDATA can hold it. */
export function cdata(text: string): string {
  if (XML_INVALID_CHARS.test(text)) throw new RangeError('text contains characters that XML 1.0 cannot carry');
  return `<![CDATA[${text.split(']]>').join(']]]]><![CDATA[>')}]]>`;
}

/** Text as bare character data (the form of WeChat's documentation examples). */
function escaped(text: string): string {
  if (XML_INVALID_CHARS.test(text)) throw new RangeError('text contains characters that XML 1.0 cannot carry');
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export interface BuildOptions {
  /** Strings in CDATA (real pushes, the default) or bare (the documentation's examples). */
  cdata?: boolean;
}

function element([name, value]: XmlField, options: BuildOptions = {}): string {
  if (!ELEMENT_NAME.test(name)) throw new RangeError(`invalid XML element name: ${JSON.stringify(name)}`);
  if (typeof value === 'number') {
    // WeChat's numeric fields are integers (seconds, ids); anything else would be a bug upstream.
    if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be an integer, got ${value}`);
    return `<${name}>${value}</${name}>`;
  }
  return `<${name}>${options.cdata === false ? escaped(value) : cdata(value)}</${name}>`;
}

/** `<xml>` with the fields in the given order, each followed by `\n`, like WeChat's own pushes. */
export function buildXml(fields: readonly XmlField[], options: BuildOptions = {}): string {
  return `<xml>${fields.map((field) => `${element(field, options)}\n`).join('')}</xml>`;
}

/** The plaintext XML of one push, fields in the documented order (optional fields left out when unset). */
export function buildPushEventXml(event: PushEvent, options: BuildOptions = {}): string {
  const head: XmlField[] = [
    ['AppId', event.appId],
    ['CreateTime', event.createTime],
    ['InfoType', event.infoType],
  ];
  switch (event.infoType) {
    case 'component_verify_ticket':
      return buildXml([...head, ['ComponentVerifyTicket', event.componentVerifyTicket]], options);
    case 'authorized':
    case 'updateauthorized': {
      const fields: XmlField[] = [
        ...head,
        ['AuthorizerAppid', event.authorizerAppid],
        ['AuthorizationCode', event.authorizationCode],
      ];
      if (event.authorizationCodeExpiredTime !== undefined)
        fields.push(['AuthorizationCodeExpiredTime', event.authorizationCodeExpiredTime]);
      if (event.preAuthCode !== undefined) fields.push(['PreAuthCode', event.preAuthCode]);
      return buildXml(fields, options);
    }
    case 'unauthorized':
      return buildXml([...head, ['AuthorizerAppid', event.authorizerAppid]], options);
    default: {
      const unknown: never = event;
      throw new RangeError(`unknown InfoType ${JSON.stringify((unknown as { infoType: unknown }).infoType)}`);
    }
  }
}

/**
 * The body WeChat POSTs to the 授权事件接收URL: the component appid plus the ciphertext. The receiver verifies
 * msg_signature over the `Encrypt` text exactly as it appears here, so it is never re-encoded.
 */
export function buildEncryptedEnvelopeXml(appId: string, encrypt: string): string {
  return buildXml([
    ['AppId', appId],
    ['Encrypt', encrypt],
  ]);
}

function integer(fields: XmlFields, name: string, required: boolean): number | undefined {
  const text = required ? requiredText(fields, name) : textOf(fields, name);
  if (text === undefined || text === '') return undefined;
  const trimmed = text.trim();
  if (!/^\d{1,12}$/.test(trimmed)) throw new XmlFormatError(`<${name}> must be a whole number of seconds`);
  return Number(trimmed);
}

/** An appid field: anything else (braces, `../`, 200 characters) must never reach a Redis key. */
function appIdText(fields: XmlFields, name: string): string {
  const text = requiredText(fields, name);
  if (!isAppId(text)) throw new XmlFormatError(`<${name}> is not an appid`);
  return text;
}

/** Reads a decrypted payload (src/wechat/xml-reading.ts rules); throws XmlFormatError. */
export function parsePushEventXml(xml: string): ReceivedPushEvent {
  const fields = parseXmlFields(xml);
  const base: PushEventBase = {
    appId: requiredText(fields, 'AppId'),
    createTime: integer(fields, 'CreateTime', true) as number,
  };
  const infoType = requiredText(fields, 'InfoType');
  switch (infoType) {
    case 'component_verify_ticket':
      return { ...base, infoType, componentVerifyTicket: requiredText(fields, 'ComponentVerifyTicket') };
    case 'authorized':
    case 'updateauthorized':
      return {
        ...base,
        infoType,
        authorizerAppid: appIdText(fields, 'AuthorizerAppid'),
        authorizationCode: requiredText(fields, 'AuthorizationCode'),
        authorizationCodeExpiredTime: integer(fields, 'AuthorizationCodeExpiredTime', false),
        preAuthCode: textOf(fields, 'PreAuthCode') || undefined,
      };
    case 'unauthorized':
      return { ...base, infoType, authorizerAppid: appIdText(fields, 'AuthorizerAppid') };
    default:
      return { ...base, infoType: 'unknown', rawInfoType: infoType };
  }
}

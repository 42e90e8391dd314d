/**
 * XML of the pushes WeChat sends to a third-party platform's 授权事件接收URL: the inner event documents
 * (component_verify_ticket, authorized, updateauthorized, unauthorized) and the encrypted `<AppId>` envelope.
 * Spec: https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/component_verify_ticket.html
 * and .../Before_Develop/authorize_event.html (shapes and field order: shared/docs/protocol.md §1–§2).
 *
 * Pure: the emulator builds real-looking pushes with it, and tests of the push handler can build the same bytes.
 * Formatting follows logged real pushes rather than the doc examples: strings in CDATA, numbers bare, and a `\n`
 * after every element, so a parser that only copes with the pretty-printed doc examples fails early in our tests.
 */

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
  /** Absolute Unix seconds (CreateTime + code lifetime), as SDKs and fixtures read it (protocol.md §2.2, §10.3). */
  authorizationCodeExpiredTime: number;
  preAuthCode: string;
}

export interface UnauthorizationEvent extends PushEventBase {
  infoType: 'unauthorized';
  authorizerAppid: string;
}

export type PushEvent = ComponentVerifyTicketEvent | AuthorizationEvent | UnauthorizationEvent;

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

function element([name, value]: XmlField): string {
  if (!ELEMENT_NAME.test(name)) throw new RangeError(`invalid XML element name: ${JSON.stringify(name)}`);
  if (typeof value === 'number') {
    // WeChat's numeric fields are integers (seconds, ids); anything else would be a bug upstream.
    if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be an integer, got ${value}`);
    return `<${name}>${value}</${name}>`;
  }
  return `<${name}>${cdata(value)}</${name}>`;
}

/** `<xml>` with the fields in the given order, each followed by `\n`, like WeChat's own pushes. */
export function buildXml(fields: readonly XmlField[]): string {
  return `<xml>${fields.map((field) => `${element(field)}\n`).join('')}</xml>`;
}

/** The plaintext XML of one push, fields in the documented order. */
export function buildPushEventXml(event: PushEvent): string {
  const head: XmlField[] = [
    ['AppId', event.appId],
    ['CreateTime', event.createTime],
    ['InfoType', event.infoType],
  ];
  switch (event.infoType) {
    case 'component_verify_ticket':
      return buildXml([...head, ['ComponentVerifyTicket', event.componentVerifyTicket]]);
    case 'authorized':
    case 'updateauthorized':
      return buildXml([
        ...head,
        ['AuthorizerAppid', event.authorizerAppid],
        ['AuthorizationCode', event.authorizationCode],
        ['AuthorizationCodeExpiredTime', event.authorizationCodeExpiredTime],
        ['PreAuthCode', event.preAuthCode],
      ]);
    case 'unauthorized':
      return buildXml([...head, ['AuthorizerAppid', event.authorizerAppid]]);
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

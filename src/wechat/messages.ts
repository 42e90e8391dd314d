/**
 * Decrypted payloads pushed to the authorization-event URL (授权事件接收URL).
 * https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/component_verify_ticket.html
 * https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/authorize_event.html
 */
import { isAppId } from './identifiers';
import { parseXmlFields, requiredText, textOf, XmlFormatError, type XmlFields } from './xml-reading';

interface PushBase {
  /** The component appid the payload names. */
  appId: string;
  /** Unix seconds. */
  createTime: number;
}

export interface TicketPush extends PushBase {
  infoType: 'component_verify_ticket';
  ticket: string;
}

export interface AuthorizationPush extends PushBase {
  infoType: 'authorized' | 'updateauthorized';
  authorizerAppid: string;
  authorizationCode: string;
  /** Unix seconds, when known (documented as the code's expiry; SDKs read it as absolute). */
  authorizationCodeExpiredTime: number | undefined;
  preAuthCode: string | undefined;
}

export interface UnauthorizationPush extends PushBase {
  infoType: 'unauthorized';
  authorizerAppid: string;
}

/** notify_third_fasteregister and the other newer InfoTypes: acknowledged, not acted on. */
export interface UnknownPush extends PushBase {
  infoType: 'unknown';
  rawInfoType: string;
}

export type ComponentPush = TicketPush | AuthorizationPush | UnauthorizationPush | UnknownPush;

function integer(fields: XmlFields, name: string, required: true): number;
function integer(fields: XmlFields, name: string, required: false): number | undefined;
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

export function parseComponentPush(xml: string): ComponentPush {
  const fields = parseXmlFields(xml);
  const base: PushBase = { appId: requiredText(fields, 'AppId'), createTime: integer(fields, 'CreateTime', true) };
  const infoType = requiredText(fields, 'InfoType');
  switch (infoType) {
    case 'component_verify_ticket':
      return { ...base, infoType, ticket: requiredText(fields, 'ComponentVerifyTicket') };
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

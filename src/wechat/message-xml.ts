/**
 * The XML of the message URL (消息与事件接收URL): the envelope `<xml><ToUserName/><Encrypt/></xml>` and the
 * decrypted message or event. Docs:
 * https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/message_push.html
 * Read with the same strict reader and rules as the authorization-event pushes.
 */
import { parseXmlFields, requiredText, textOf, XmlFormatError } from './xml-reading';

export { XmlFormatError };

export interface MessageEnvelope {
  readonly toUserName: string | undefined;
  readonly encrypt: string;
}

export function readMessageEnvelope(body: string): MessageEnvelope {
  const fields = parseXmlFields(body);
  return { toUserName: textOf(fields, 'ToUserName'), encrypt: requiredText(fields, 'Encrypt') };
}

/** A decrypted message: its plain-text elements (nested ones, which some events carry, stay in the raw XML). */
export interface InboundMessage {
  readonly toUserName: string;
  readonly fromUserName: string;
  readonly createTime: number;
  readonly msgType: string;
  readonly msgId: string | undefined;
  readonly event: string | undefined;
  readonly content: string | undefined;
  readonly fields: Readonly<Record<string, string>>;
}

export function readInboundMessage(xml: string): InboundMessage {
  const parsed = parseXmlFields(xml);
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const name of Object.keys(parsed)) {
    const value = parsed[name];
    if (typeof value === 'string') fields[name] = value;
  }
  const createTime = requiredText(parsed, 'CreateTime');
  if (!/^\d{1,12}$/.test(createTime)) throw new XmlFormatError('<CreateTime> must be Unix seconds');
  return {
    toUserName: requiredText(parsed, 'ToUserName'),
    fromUserName: requiredText(parsed, 'FromUserName'),
    createTime: Number(createTime),
    msgType: requiredText(parsed, 'MsgType'),
    msgId: textOf(parsed, 'MsgId') || undefined,
    event: textOf(parsed, 'Event') || undefined,
    content: textOf(parsed, 'Content'),
    fields,
  };
}

/** What identifies WeChat's re-sends of one message: its MsgId, or for events the sender and CreateTime. */
export function messageIdOf(message: InboundMessage): string {
  return message.msgId ?? `${message.fromUserName}:${message.createTime}`;
}

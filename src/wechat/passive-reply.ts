/**
 * Passive replies on the message URL (被动回复消息): the plaintext of a text reply, and the encrypted envelope it
 * travels in (protocol.md §3.6). Docs:
 * https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/message_push.html
 * Element names are case-sensitive: Encrypt, MsgSignature, TimeStamp, Nonce.
 */
import { buildXml, cdata } from './push-xml';

/** A text reply to a user message: addressed back to the sender, from the account that received it. */
export function buildTextReplyXml(reply: {
  toUser: string;
  fromUser: string;
  createTime: number;
  content: string;
}): string {
  return buildXml([
    ['ToUserName', reply.toUser],
    ['FromUserName', reply.fromUser],
    ['CreateTime', reply.createTime],
    ['MsgType', 'text'],
    ['Content', reply.content],
  ]);
}

/**
 * The encrypted answer body, laid out byte for byte like WeChat's template (and wechatpy's): `encrypt` and
 * `msgSignature` come from MsgCrypt.seal over the same timestamp and nonce.
 */
export function buildEncryptedReplyXml(sealed: {
  encrypt: string;
  msgSignature: string;
  timestamp: string;
  nonce: string;
}): string {
  if (!/^\d+$/.test(sealed.timestamp)) throw new RangeError('TimeStamp must be decimal digits');
  return (
    '<xml>\n' +
    `<Encrypt>${cdata(sealed.encrypt)}</Encrypt>\n` +
    `<MsgSignature>${cdata(sealed.msgSignature)}</MsgSignature>\n` +
    `<TimeStamp>${sealed.timestamp}</TimeStamp>\n` +
    `<Nonce>${cdata(sealed.nonce)}</Nonce>\n` +
    '</xml>'
  );
}

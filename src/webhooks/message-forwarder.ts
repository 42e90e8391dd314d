import { signWebhook } from '../client/webhook-signature';
import type { ReceivedMessage } from '../store/message-stream';

/**
 * MESSAGE_FORWARD_URL (docs/messages.md): one signed POST of a stored message, signed like every webhook of the
 * service (`X-Wxopen-Signature`, WEBHOOK_SECRET). A 2xx answer whose body is an `<xml>` reply becomes the passive
 * reply WeChat gets (the service encrypts it); anything else — no body, another status, a timeout — means no reply.
 */
export interface MessageForwarderOptions {
  readonly url: string;
  readonly secrets: readonly string[];
}

export type ForwardResult = { readonly reply: string | undefined } | { readonly error: string };

export class MessageForwarder {
  constructor(private readonly options: MessageForwarderOptions) {}

  async forward(message: ReceivedMessage, timeoutMs: number): Promise<ForwardResult> {
    const body = JSON.stringify({
      message_id: message.messageId,
      authorizer_appid: message.authorizerAppid,
      known: message.known,
      msg_type: message.msgType,
      event: message.event,
      fields: message.fields,
      raw_xml: message.rawXml,
      received_at: message.receivedAt,
    });
    try {
      const res = await fetch(this.options.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(Math.max(1, timeoutMs)),
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'wxopen-auth-message-forward',
          'X-Wxopen-Signature': signWebhook(body, this.options.secrets, Date.now() / 1000),
          'X-Wxopen-Message-Id': message.messageId,
        },
        body,
      });
      const text = (await res.text()).trim();
      if (res.status < 200 || res.status >= 300) return { error: `HTTP ${res.status}` };
      // Only a reply message is a reply: `success`, an empty body or anything else means "nothing to say".
      return { reply: text.startsWith('<xml>') && text.endsWith('</xml>') ? text : undefined };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      return { error: e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.message) };
    }
  }
}

/**
 * The customer-service message API (客服消息), called with an authorizer's access token on the account's behalf.
 * Docs: https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Service_Center_messages.html
 * (`POST /cgi-bin/message/custom/send?access_token=…`). The release test's API cases use it (protocol.md §7).
 */
import { ApiTransport, type ApiTransportOptions } from './api-transport';

export const CUSTOM_SEND_API = 'custom_send';

export class CustomMessageApi {
  private readonly transport: ApiTransport;

  constructor(options: ApiTransportOptions) {
    this.transport = new ApiTransport(options);
  }

  /** Sends a text message to one user (an openid of the account). */
  async sendText(authorizerAccessToken: string, toUser: string, content: string): Promise<void> {
    await this.transport.postTo(
      '/cgi-bin/message/custom/send',
      CUSTOM_SEND_API,
      { touser: toUser, msgtype: 'text', text: { content } },
      { access_token: authorizerAccessToken },
    );
  }
}

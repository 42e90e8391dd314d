/**
 * The emulated customer-service message API (`POST /cgi-bin/message/custom/send?access_token=…`), called with an
 * authorizer's access token. WeChat's release test checks that this call arrives (protocol.md §7); the call log
 * keeps what was sent (`custom_send`), which is how the release-test player and tests see it.
 * Docs: https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Service_Center_messages.html
 */
import express, { Router } from 'express';
import { apiRoute, type JsonBody } from './api-pipeline';
import type { SandboxContext } from './context';
import { WxApiError } from './wx-errors';

const MSG_TYPES = new Set([
  'text',
  'image',
  'voice',
  'video',
  'music',
  'news',
  'mpnews',
  'msgmenu',
  'wxcard',
  'miniprogrampage',
]);

export function messageApi(ctx: SandboxContext): Router {
  const router = Router();
  router.use('/cgi-bin/message', express.text({ type: () => true, limit: '64kb' }));
  router.post(
    '/cgi-bin/message/custom/send',
    apiRoute(ctx, 'custom_send', 'authorizer', ({ body, token }) => {
      const touser = body.touser;
      // 40003: invalid openid; 40008: invalid message type (WeChat's codes for this API).
      if (typeof touser !== 'string' || touser === '') throw new WxApiError(40003);
      if (typeof body.msgtype !== 'string' || !MSG_TYPES.has(body.msgtype)) throw new WxApiError(40008);
      if (body.msgtype === 'text') {
        const text = body.text as JsonBody | undefined;
        if (!text || typeof text.content !== 'string' || text.content === '') throw new WxApiError(44003);
      }
      ctx.state.requireAuthorized(token?.owner ?? '');
      return { errcode: 0, errmsg: 'ok' };
    }),
  );
  return router;
}

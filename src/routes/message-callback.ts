import bodyParser from 'body-parser';
import { Router } from 'express';
import type { MessageService } from '../services/message-service';

/** Messages are a few KiB at most; the same bound as the authorization-event URL. */
export const MESSAGE_BODY_LIMIT_BYTES = 64 * 1024;

/**
 * The message-and-event URL (消息与事件接收URL), registered as `https://<host>/$APPID$/callback`: WeChat puts the
 * authorized account's appid in the path. POST carries messages; GET answers a URL check.
 */
export function messageCallbackRoutes(messages: MessageService): Router {
  const router = Router();
  // WeChat sends text/xml, but the signature, not the Content-Type, proves a message.
  const readBody = bodyParser.text({ limit: MESSAGE_BODY_LIMIT_BYTES, type: () => true });

  router.post('/:appid/callback', readBody, async (req, res) => {
    const answer = await messages.receive(req.params.appid, req.query, req.body);
    if (answer.kind === 'reply') res.type('application/xml').send(answer.xml);
    else if (answer.kind === 'empty') res.type('text/plain').send('');
    else res.type('text/plain').send('success');
  });

  router.get('/:appid/callback', (req, res) => {
    res.type('text/plain').send(messages.verifyUrl(req.params.appid, req.query));
  });
  return router;
}

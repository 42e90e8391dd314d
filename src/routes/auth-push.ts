import bodyParser from 'body-parser';
import bodyParserXml from 'body-parser-xml';
import { Router, type RequestHandler } from 'express';
import type { PushService } from '../services/push-service';
import { XML_PARSE_OPTIONS, assertNoDeclarations } from '../wechat/xml';

bodyParserXml(bodyParser);

/** Pushes are a few hundred bytes; anything near this is not WeChat. */
export const PUSH_BODY_LIMIT_BYTES = 64 * 1024;

/**
 * POST /auth — the authorization-event URL (授权事件接收URL).
 * Answers exactly `success` (7 bytes, text/plain) once the push's effect is stored.
 */
export function authPushRoutes(pushService: PushService): Router {
  const router = Router();
  const parseXml: RequestHandler = bodyParser.xml({
    limit: PUSH_BODY_LIMIT_BYTES,
    // WeChat sends text/xml, but the signature, not the Content-Type, is what proves a push.
    type: () => true,
    xmlParseOptions: { ...XML_PARSE_OPTIONS, async: true },
    verify: (_req, _res, buf) => {
      try {
        assertNoDeclarations(buf.toString('latin1'));
      } catch (err) {
        throw Object.assign(err as Error, { status: 400 });
      }
    },
  });

  router.post('/auth', parseXml, async (req, res) => {
    const outcome = await pushService.receive(req.query, req.body);
    req.log.info({ infoType: outcome.infoType, duplicate: outcome.duplicate }, 'push acknowledged');
    res.status(200).type('text/plain').send('success');
  });
  return router;
}

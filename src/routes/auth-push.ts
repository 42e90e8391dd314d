import { Router, type Request, type Response } from 'express';
import { BadRequestError } from '../errors';
import type { PushService } from '../services/push-service';
import { readXmlFields, XmlFormatError, xmlEnvelopeReader, type XmlFields } from '../wechat/xml-reading';

/** Pushes are a few hundred bytes; anything near this is not WeChat. */
export const PUSH_BODY_LIMIT_BYTES = 64 * 1024;

/**
 * POST /auth — the authorization-event URL (授权事件接收URL).
 * Answers exactly `success` (7 bytes, text/plain) once the push's effect is stored.
 * The envelope is read by body-parser-xml (src/wechat/xml-reading.ts: the limit → 413, the XML safety rules → 400).
 */
export function authPushRoutes(pushService: PushService): Router {
  const router = Router();
  router.post('/auth', xmlEnvelopeReader(PUSH_BODY_LIMIT_BYTES), async (req: Request, res: Response) => {
    const outcome = await pushService.receive(req.query, readEnvelope(req.body));
    req.log.info(
      { infoType: outcome.infoType, createTime: outcome.createTime, duplicate: outcome.duplicate },
      'push acknowledged',
    );
    res.type('text/plain').send('success');
  });
  return router;
}

/** The envelope's elements; undefined for no body, which the push service refuses (400 invalid_push). */
function readEnvelope(body: unknown): XmlFields | undefined {
  if (!body || typeof body !== 'object') return undefined;
  try {
    return readXmlFields(body);
  } catch (err) {
    // Not WeChat's envelope at all (another root, loose text, a repeated element): 400 bad_request.
    if (err instanceof XmlFormatError) throw new BadRequestError(err.message);
    throw err;
  }
}

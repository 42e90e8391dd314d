import bodyParser from 'body-parser';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { BadRequestError } from '../errors';
import type { PushService } from '../services/push-service';
import { parseFlatXml, type FlatXml } from '../wechat/xml';

/** Pushes are a few hundred bytes; anything near this is not WeChat. */
export const PUSH_BODY_LIMIT_BYTES = 64 * 1024;

/** What WeChat expects once a push is handled: exactly these 7 bytes, as text/plain. */
const SUCCESS = Buffer.from('success');
const SUCCESS_HEADERS = { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(SUCCESS.length) } as const;

/** `POST /auth` as Express routes it: case-insensitive, with or without a trailing slash. */
const AUTH_PATH = /^\/auth\/?$/i;

/**
 * POST /auth — the authorization-event URL (授权事件接收URL).
 * Answers exactly `success` (7 bytes, text/plain) once the push's effect is stored.
 *
 * The body is read by body-parser (raw-body: the 64 KiB limit → 413, charset decoding) and the envelope by
 * the flat-XML reader of src/wechat/xml.ts, the same one that reads the decrypted payload. A plain
 * middleware rather than a Router with one route, which cost measurably more CPU per push
 * (docs/performance.md, finding 2); every other request passes it with a method check.
 */
export function authPushRoutes(pushService: PushService): RequestHandler {
  const readBody: RequestHandler = bodyParser.text({
    limit: PUSH_BODY_LIMIT_BYTES,
    // WeChat sends text/xml, but the signature, not the Content-Type, is what proves a push.
    type: () => true,
  });

  const handle = async (req: Request, res: Response): Promise<void> => {
    const outcome = await pushService.receive(req.query, readEnvelope(req.body));
    req.log.info({ infoType: outcome.infoType, createTime: outcome.createTime, duplicate: outcome.duplicate }, 'push acknowledged');
    // Written directly: Express's send() would also hash the body for an ETag nobody reads.
    res.writeHead(200, SUCCESS_HEADERS).end(SUCCESS);
  };

  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'POST' || !AUTH_PATH.test(req.path)) {
      next();
      return;
    }
    void readBody(req, res, (err?: unknown) => {
      if (err) next(err);
      else handle(req, res).catch(next);
    });
  };
}

/** The envelope's elements; undefined for no body, which the push service refuses (400 invalid_push). */
function readEnvelope(body: unknown): FlatXml | undefined {
  if (typeof body !== 'string' || body.trim() === '') return undefined;
  try {
    return parseFlatXml(body);
  } catch (err) {
    // Not XML we can read at all (malformed, a DOCTYPE): 400 bad_request, before the push is looked at.
    throw new BadRequestError((err as Error).message);
  }
}

import type { RequestHandler } from 'express';
import { PayloadTooLargeError } from '../errors';

/** The largest body any route reads (POST /auth's and POST /:appid/callback's 64 KiB): a request declaring more is refused whatever its route. */
export const MAX_REQUEST_BODY_BYTES = 64 * 1024;

/**
 * Refuses a request whose declared `Content-Length` is over `limitBytes` at once, before a byte of its body
 * is read (body-parser would read, and discard, all of it first, then answer 413). The connection is closed
 * after the answer, so the unread body is never drained. A body without a declared length (chunked) is
 * bounded by the body parser's own limit and the server's request timeout.
 */
export function declaredLengthWithin(limitBytes: number): RequestHandler {
  return (req, res, next) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limitBytes) {
      res.setHeader('Connection', 'close');
      next(new PayloadTooLargeError(limitBytes));
      return;
    }
    next();
  };
}

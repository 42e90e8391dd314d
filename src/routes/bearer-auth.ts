import crypto, { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { UnauthorizedError } from '../errors';

// crypto.hash (Node ≥ 20.12) is one call instead of a Hash object per request; same digest.
const digest: (value: string) => Buffer =
  typeof crypto.hash === 'function'
    ? (value) => crypto.hash('sha256', value, 'buffer')
    : (value) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Requires `Authorization: Bearer <secret>`. Both sides are hashed first so the comparison is
 * constant-time whatever the lengths (timingSafeEqual needs equal lengths, and comparing the raw
 * values would leak the secret's length and prefix through timing).
 */
export function requireBearer(secret: string): RequestHandler {
  const expected = digest(secret);
  return (req, res, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (match && timingSafeEqual(digest(match[1]!), expected)) return next();
    res.setHeader('WWW-Authenticate', 'Bearer realm="wxopen-auth internal API"');
    next(new UnauthorizedError());
  };
}

import crypto, { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import type { InternalApiClient } from '../config';
import { UnauthorizedError } from '../errors';

// crypto.hash (Node ≥ 20.12) is one call instead of a Hash object per request; same digest.
const digest: (value: string) => Buffer =
  typeof crypto.hash === 'function'
    ? (value) => crypto.hash('sha256', value, 'buffer')
    : (value) => createHash('sha256').update(value, 'utf8').digest();

/** Which client a request authenticated as (a WeakMap: a property on the request would cost every request). */
const clients = new WeakMap<IncomingMessage, string>();

/** The name of the client whose bearer the request carried, once requireBearer accepted it. */
export function internalClientOf(req: IncomingMessage): string | undefined {
  return clients.get(req);
}

/** Told of every bearer check: the client's name, or undefined when refused. */
export type OnBearerCheck = (client: string | undefined) => void;

/**
 * Requires `Authorization: Bearer <secret>` with the secret of one of `accepted` (INTERNAL_API_TOKEN,
 * INTERNAL_API_TOKENS). Both sides are hashed first so each comparison is constant-time whatever the
 * lengths (timingSafeEqual needs equal lengths, and comparing raw values would leak a secret's length
 * and prefix through timing); the given secret is compared with every client's, without stopping at
 * a match, so the timing does not tell which client (or how many) there are before it.
 */
export function requireBearer(accepted: readonly InternalApiClient[], onCheck?: OnBearerCheck): RequestHandler {
  const expected = accepted.map((c) => ({ name: c.name, digest: digest(c.secret) }));
  return (req, res, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    let client: string | undefined;
    if (match) {
      const given = digest(match[1]!);
      for (const candidate of expected) {
        const equal = timingSafeEqual(given, candidate.digest);
        client = equal && client === undefined ? candidate.name : client;
      }
    }
    onCheck?.(client);
    if (client !== undefined) {
      clients.set(req, client);
      return next();
    }
    res.setHeader('WWW-Authenticate', 'Bearer realm="wxopen-auth internal API"');
    next(new UnauthorizedError());
  };
}

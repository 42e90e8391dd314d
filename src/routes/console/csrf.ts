import type { Request, RequestHandler, Response } from 'express';
import { doubleCsrf } from 'csrf-csrf';
import { CONSOLE_PATH } from './session';

export const CSRF_FIELD = '_csrf';
const CSRF_COOKIE = 'wxopen_console_csrf';

/**
 * CSRF tokens for every console POST (csrf-csrf, signed double-submit): the token is an HMAC bound to
 * the session id, sent in a SameSite=Strict cookie and in each form's hidden `_csrf` field; a POST whose
 * two copies differ, or do not belong to this session, is refused with 403 before it does anything.
 */
export interface ConsoleCsrf {
  /** The token for this response's forms (sets its cookie). */
  token(req: Request, res: Response): string;
  readonly protect: RequestHandler;
}

export function consoleCsrf(secret: string): ConsoleCsrf {
  const sessionId = (req: Request) => (req.res?.locals.consoleSession as { sid?: string } | undefined)?.sid ?? '';
  const { generateCsrfToken, doubleCsrfProtection } = doubleCsrf({
    getSecret: () => secret,
    getSessionIdentifier: sessionId,
    cookieName: CSRF_COOKIE,
    cookieOptions: { sameSite: 'strict', path: CONSOLE_PATH, httpOnly: true, secure: false },
    getCsrfTokenFromRequest: (req) => {
      const value = (req.body as Record<string, unknown> | undefined)?.[CSRF_FIELD];
      return typeof value === 'string' ? value : undefined;
    },
  });
  return {
    token: (req, res) =>
      generateCsrfToken(req, res, {
        cookieOptions: { sameSite: 'strict', path: CONSOLE_PATH, httpOnly: true, secure: req.secure },
      }),
    protect: (req, res, next) => {
      // No session, no token that could match: refused like a wrong token.
      if (!sessionId(req) && req.method === 'POST')
        return next(Object.assign(new Error('invalid csrf token'), { code: 'EBADCSRFTOKEN' }));
      doubleCsrfProtection(req, res, next);
    },
  };
}

import { randomBytes } from 'node:crypto';
import { parse as parseCookies } from 'cookie';
import { sign, unsign } from 'cookie-signature';
import type { Request, RequestHandler, Response } from 'express';
import type { Clock } from '../../clock';

/**
 * The console's session: a signed cookie (cookie-signature: HMAC-SHA256, checked with timingSafeEqual)
 * holding `{ sid, operator?, exp }`. No server-side state, so every replica accepts it when they share
 * CONSOLE_SESSION_SECRET. Before sign-in the session is anonymous (operator unset): its sid ties the
 * login form's CSRF token to this browser. Expiry is judged by the service's clock, the cookie's
 * Max-Age only tells the browser when to forget it.
 */
export interface ConsoleSession {
  readonly sid: string;
  readonly operator?: string;
  /** Service-clock epoch ms. */
  readonly exp: number;
}

export const SESSION_COOKIE = 'wxopen_console';
export const CONSOLE_PATH = '/console';

export interface SessionCookies {
  /** Reads the cookies (req.cookies, which csrf-csrf also reads) and the session, if valid and unexpired. */
  readonly middleware: RequestHandler;
  /** Starts a new session (anonymous, or after sign-in: a new sid, so a pre-login id is never kept). */
  start(req: Request, res: Response, operator?: string): ConsoleSession;
  end(req: Request, res: Response): void;
}

export function sessionOf(res: Response): ConsoleSession | undefined {
  return res.locals.consoleSession as ConsoleSession | undefined;
}

/** A signed-in session that has just run out (the sign-in page then says so). */
export function sessionExpired(res: Response): boolean {
  return res.locals.consoleSessionExpired === true;
}

export function sessionCookies(options: { secret: string; ttlSeconds: number; clock: Clock }): SessionCookies {
  const { secret, ttlSeconds, clock } = options;
  const cookieOptions = (req: Request) => ({
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: req.secure,
    path: CONSOLE_PATH,
  });
  /** The signed session, expired or not; undefined when absent, forged or malformed. */
  const read = (req: Request): ConsoleSession | undefined => {
    const raw = (req.cookies as Record<string, string | undefined>)[SESSION_COOKIE];
    if (!raw) return undefined;
    const payload = unsign(raw, secret);
    if (payload === false) return undefined;
    try {
      const session = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as ConsoleSession;
      if (typeof session.sid !== 'string' || typeof session.exp !== 'number') return undefined;
      return session;
    } catch {
      return undefined;
    }
  };
  return {
    middleware: (req, res, next) => {
      req.cookies = parseCookies(req.get('cookie') ?? '');
      const session = read(req);
      const live = session && session.exp > clock.now();
      res.locals.consoleSession = live ? session : undefined;
      res.locals.consoleSessionExpired = !live && !!session?.operator;
      next();
    },
    start(req, res, operator) {
      const session: ConsoleSession = {
        sid: randomBytes(18).toString('base64url'),
        ...(operator ? { operator } : {}),
        exp: clock.now() + ttlSeconds * 1000,
      };
      const value = sign(Buffer.from(JSON.stringify(session)).toString('base64url'), secret);
      res.cookie(SESSION_COOKIE, value, { ...cookieOptions(req), maxAge: ttlSeconds * 1000 });
      res.locals.consoleSession = session;
      return session;
    },
    end(req, res) {
      res.clearCookie(SESSION_COOKIE, cookieOptions(req));
      res.locals.consoleSession = undefined;
    },
  };
}

import { Router, type Request } from 'express';
import type { ConsoleAuth } from '../../services/console-auth';
import { sendConsolePage, type ConsoleView } from './render';
import { CONSOLE_PATH, sessionOf, type SessionCookies } from './session';

/** Where to go after sign-in: only a path inside the console (never another site). */
function nextPath(value: unknown): string {
  return typeof value === 'string' &&
    value.startsWith(`${CONSOLE_PATH}`) &&
    !value.startsWith('//') &&
    !/[\\\r\n]/.test(value)
    ? value
    : CONSOLE_PATH;
}

function field(req: Request, name: string): string {
  const value = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : '';
}

export function consoleLogin(deps: { auth: ConsoleAuth; sessions: SessionCookies; view: ConsoleView }): Router {
  const { auth, sessions, view } = deps;
  const router = Router();

  router.get('/login', (req, res) => {
    if (sessionOf(res)?.operator) return res.redirect(303, nextPath(req.query.next));
    // An anonymous session, so the form's CSRF token is bound to this browser.
    if (!sessionOf(res)) sessions.start(req, res);
    sendConsolePage(view, req, res, 'console/login', 'login', {
      next: nextPath(req.query.next),
      expired: req.query.expired === '1',
    });
  });

  router.post('/login', view.csrf.protect, async (req, res, next) => {
    try {
      const name = field(req, 'name').trim();
      const outcome = await auth.login(name, field(req, 'password'), req.ip ?? 'unknown');
      if (outcome.kind === 'ok') {
        sessions.start(req, res, outcome.operator);
        return res.redirect(303, nextPath(field(req, 'next')));
      }
      if (outcome.kind === 'rate_limited') res.set('Retry-After', String(Math.ceil(outcome.retryAfterMs / 1000)));
      sendConsolePage(
        view,
        req,
        res,
        'console/login',
        'login',
        {
          next: nextPath(field(req, 'next')),
          name,
          failure: outcome.kind,
          retryAfterMinutes: outcome.kind === 'rate_limited' ? Math.ceil(outcome.retryAfterMs / 60_000) : 0,
        },
        outcome.kind === 'rate_limited' ? 429 : 401,
      );
    } catch (err) {
      next(err);
    }
  });

  return router;
}

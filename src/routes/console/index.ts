import { createHmac, randomBytes } from 'node:crypto';
import express, { Router, type ErrorRequestHandler, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { Container } from '../../container';
import { AppError } from '../../errors';
import { pageContext, pageLocale } from '../locale';
import { publicFile } from '../pages';
import { consoleActions } from './actions';
import { consoleCsrf, type ConsoleCsrf } from './csrf';
import { consoleLogin } from './login';
import { consolePages } from './pages';
import { requestIdOf } from '../request-logging';
import { CONSOLE_PATH, sessionCookies, sessionExpired, sessionOf } from './session';
import type { ConsoleView } from './render';

/**
 * The operators' console (/console): server-rendered pages behind a sign-in. Mounted by app.ts through
 * this one function, so it can move to another listener (INTERNAL_PORT) as a whole. Without
 * CONSOLE_USERS it is an empty router: /console then answers the ordinary 404.
 */
export function createConsoleRouter(container: Container): Router {
  const router = Router();
  const settings = container.config.console;
  if (!settings || !container.console) return router;
  const { console: services, clock, logger, views } = container;

  if (!settings.sessionSecret)
    logger.warn(
      'CONSOLE_SESSION_SECRET is not set: console sessions are signed with a per-process key and end with the process',
    );
  const secret = settings.sessionSecret ?? randomBytes(32).toString('base64url');
  // Separate keys for the session signature and the CSRF tokens, both derived from the one secret.
  const sessions = sessionCookies({
    secret: createHmac('sha256', secret).update('session').digest('base64url'),
    ttlSeconds: settings.sessionTtlSeconds,
    clock,
  });
  const csrf: ConsoleCsrf = consoleCsrf(createHmac('sha256', secret).update('csrf').digest('base64url'));
  const view: ConsoleView = { views, csrf };

  const inner = Router();
  // The copy button's script: static and public, so before the sign-in check.
  inner.get('/assets/console.js', publicFile('console.js', 'text/javascript; charset=utf-8'));
  inner.use(
    helmet({
      referrerPolicy: { policy: 'same-origin' },
      contentSecurityPolicy: { directives: { 'upgrade-insecure-requests': null } },
      strictTransportSecurity: false,
    }),
    (_req, res, next) => {
      // Operators' pages show live state: never cached, never framed.
      res.set('Cache-Control', 'no-store');
      next();
    },
    pageLocale(),
    sessions.middleware,
    express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 }),
  );
  inner.use(consoleLogin({ auth: services.auth, sessions, view }));
  // Everything below needs a signed-in operator; a browser without one is sent to the sign-in page.
  inner.use((req, res, next) => {
    if (sessionOf(res)?.operator) return next();
    const query = new URLSearchParams();
    if (req.method === 'GET') query.set('next', req.originalUrl);
    if (sessionExpired(res)) query.set('expired', '1');
    res.redirect(303, `${CONSOLE_PATH}/login${query.size ? `?${query}` : ''}`);
  });
  inner.use(csrf.protect);
  inner.use(consolePages({ service: services.service, view }));
  inner.use(consoleActions({ service: services.service, view, sessions }));
  inner.use((req, res) => renderConsoleError(view, req, res, 404, 'console.error.notFound'));
  inner.use(consoleErrors(view, logger));

  router.use(CONSOLE_PATH, inner);
  return router;
}

function renderConsoleError(
  view: ConsoleView,
  req: Request,
  res: Response,
  status: number,
  messageKey: 'console.error.notFound' | 'console.error.csrf' | 'console.error.internal' | 'console.error.failed',
  detail?: string,
): void {
  res
    .status(status)
    .type('html')
    .send(
      view.views.render('error', pageContext(res), {
        titleKey: messageKey,
        explanationKey: `${messageKey}.explanation`,
        detail,
        code: status === 403 ? 'csrf' : undefined,
        requestId: requestIdOf(req),
        againHref: CONSOLE_PATH,
        againKey: 'console.error.back',
        wide: true,
      }),
    );
}

function consoleErrors(view: ConsoleView, logger: Container['logger']): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (res.headersSent) return;
    if ((err as { code?: string }).code === 'EBADCSRFTOKEN') {
      (req.log ?? logger).warn(
        { operator: sessionOf(res)?.operator },
        'console: POST without a valid CSRF token refused',
      );
      return renderConsoleError(view, req, res, 403, 'console.error.csrf');
    }
    if (err instanceof AppError && err.httpStatus < 500)
      return renderConsoleError(view, req, res, err.httpStatus, 'console.error.failed', err.message);
    (req.log ?? logger).error({ err }, 'console request failed');
    renderConsoleError(view, req, res, 500, 'console.error.internal');
  };
}

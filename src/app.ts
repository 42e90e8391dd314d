import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { Router, type ErrorRequestHandler, type Express } from 'express';
import type { HttpLogger } from 'pino-http';
import type { Container } from './container';
import { AppError, BadRequestError, PayloadTooLargeError, StorageUnavailableError } from './errors';
import { authPushRoutes } from './routes/auth-push';
import { authorizeRoutes } from './routes/authorize';
import { internalClientOf } from './routes/bearer-auth';
import { createConsoleRouter } from './routes/console';
import { healthRoutes } from './routes/health';
import { internalRoutes } from './routes/internal';
import { declaredLengthWithin, MAX_REQUEST_BODY_BYTES } from './routes/body-limit';
import { messageCallbackRoutes } from './routes/message-callback';
import { pageLocale } from './routes/locale';
import { metricsRoutes } from './routes/metrics';
import { notFound, publicFiles } from './routes/pages';
import { requestLogging } from './routes/request-logging';
import { securityHeaders } from './routes/security-headers';

/**
 * The public listener (PORT). Without INTERNAL_PORT it serves everything; with it, only what WeChat,
 * admins and the orchestrator must reach — /auth, /authorize, the message URL, /healthz, /readyz and
 * static assets — and every other path (the internal API and /metrics included) is the ordinary 404.
 */
export function createApp(container: Container): Express {
  const app = baseApp(container);
  const split = container.config.internalPort !== undefined;
  // The internal JSON API first: the hot path for internal services, with its own response headers
  // (routes/internal.ts); helmet's document headers are for the pages and everything after them.
  if (!split) {
    app.use(internalApiRoutes(container));
    // The operators' console: its own headers, session and CSRF, so it comes before the pages' headers.
    app.use(createConsoleRouter(container));
  }
  app.use(securityHeaders(container.config));
  app.use(publicFiles());
  app.use(healthRoutes(container.readiness));
  if (!split) app.use(internalSurfaces(container));
  app.use(publicSurfaces(container));
  return finish(app, container);
}

/** The internal listener (INTERNAL_PORT): the internal API, /metrics, the admin surfaces, and the probes. */
export function createInternalApp(container: Container): Express {
  const app = baseApp(container);
  app.use(internalApiRoutes(container));
  app.use(createConsoleRouter(container));
  app.use(securityHeaders(container.config));
  app.use(publicFiles());
  app.use(healthRoutes(container.readiness));
  app.use(internalSurfaces(container));
  return finish(app, container);
}

/**
 * What only the platform's own network may reach, after the security headers: /metrics. (The console, which
 * sets its own headers, is mounted before them, next to the internal API, and follows INTERNAL_PORT too.)
 */
function internalSurfaces(container: Container): Router {
  const router = Router();
  router.use(metricsRoutes(container.metrics));
  return router;
}

function internalApiRoutes(container: Container): Router {
  return internalRoutes({
    clients: container.config.internalApiClients,
    onBearerCheck: container.metrics.onInternalApiRequest,
    tokenService: container.tokenService,
    authorizers: container.authorizerStore,
    recovery: container.recovery,
    clock: container.clock,
  });
}

/** What WeChat (pushes, the message URL) and account admins (the authorization flow) reach. */
function publicSurfaces(container: Container): Router {
  const router = Router();
  router.use(authPushRoutes(container.pushService));
  router.use(messageCallbackRoutes(container.messageService));
  // The admin's pages choose their language; POST /auth (WeChat's pushes) has no page and skips this.
  router.get(['/authorize', '/auth'], pageLocale());
  router.use(
    authorizeRoutes({
      authorizations: container.authorizationService,
      assertStorageAvailable: async () => {
        const answer = await container.storage.ping();
        if (!answer.ok)
          throw new StorageUnavailableError(`storage (${container.storage.kind}) is unavailable: ${answer.reason}`);
      },
      views: container.views,
    }),
  );
  return router;
}

function baseApp(container: Container): Express {
  const app = express();
  app.disable('x-powered-by');
  // Every response is dynamic (tokens with no-store, pages, probes): an ETag would only hash each body.
  app.disable('etag');
  app.set('trust proxy', 'loopback');

  logBeforeExpress(
    app,
    requestLogging(container.logger, {
      ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics',
      fields: (req) => {
        const client = internalClientOf(req);
        return client === undefined ? undefined : { client };
      },
    }),
  );
  // A declared body larger than any route reads is refused before a byte of it is read (each route
  // then checks its own, smaller limit the same way).
  app.use(declaredLengthWithin(MAX_REQUEST_BODY_BYTES));
  return app;
}

function finish(app: Express, container: Container): Express {
  app.use(notFound(container.views));
  app.use(errorHandler(container));
  return app;
}

type Handle = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;

/**
 * Request logging (pino-http) runs on each request before Express does anything, not as its first middleware:
 * Express's first step (app.handle) makes the request and response instances of its own prototypes, and a
 * property added to an object after such a swap is slow (pino-http adds seven). Mounted here, logging takes
 * the same share of a token read as the hand-written logger it replaced, instead of about twice as much
 * (docs/performance.md).
 */
function logBeforeExpress(app: Express, logRequest: HttpLogger): void {
  const expressApp = app as unknown as { handle: Handle };
  const handle = expressApp.handle.bind(app);
  expressApp.handle = (req, res, next) => {
    logRequest(req, res);
    handle(req, res, next);
  };
}

/** Maps every failure to a JSON answer with a stable code; never a stack trace. */
function errorHandler(container: Container): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const appError = toAppError(err);
    if (appError.httpStatus >= 500) {
      (req.log ?? container.logger).error({ err }, appError.message);
    }
    if (res.headersSent) return;
    res.status(appError.httpStatus).json({
      error: { code: appError.code, message: appError.message, ...(appError.details ?? {}) },
    });
  };
}

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as { type?: string; status?: number; limit?: number; message?: string };
  if (e?.type === 'entity.too.large') return new PayloadTooLargeError(e.limit ?? 0);
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return new BadRequestError(e.message ?? 'bad request');
  }
  return new AppError('internal_error', 500, 'internal error');
}

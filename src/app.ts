import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type ErrorRequestHandler, type Express } from 'express';
import type { HttpLogger } from 'pino-http';
import type { Container } from './container';
import { AppError, BadRequestError, NotFoundError, PayloadTooLargeError, StorageUnavailableError } from './errors';
import { authPushRoutes } from './routes/auth-push';
import { authorizeRoutes } from './routes/authorize';
import { healthRoutes } from './routes/health';
import { internalRoutes } from './routes/internal';
import { declaredLengthWithin, MAX_REQUEST_BODY_BYTES } from './routes/body-limit';
import { messageCallbackRoutes } from './routes/message-callback';
import { metricsRoutes } from './routes/metrics';
import { requestLogging } from './routes/request-logging';
import { securityHeaders } from './routes/security-headers';

export function createApp(container: Container): Express {
  const app = express();
  app.disable('x-powered-by');
  // Every response is dynamic (tokens with no-store, pages, probes): an ETag would only hash each body.
  app.disable('etag');
  app.set('trust proxy', 'loopback');

  logBeforeExpress(
    app,
    requestLogging(container.logger, { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics' }),
  );
  // A declared body larger than any route reads is refused before a byte of it is read (each route
  // then checks its own, smaller limit the same way).
  app.use(declaredLengthWithin(MAX_REQUEST_BODY_BYTES));

  // The internal JSON API first: the hot path for internal services, with its own response headers
  // (routes/internal.ts); helmet's document headers are for the pages and everything after them.
  app.use(
    internalRoutes({
      bearerToken: container.config.internalApiToken,
      tokenService: container.tokenService,
      authorizers: container.authorizerStore,
      recovery: container.recovery,
      clock: container.clock,
    }),
  );
  app.use(securityHeaders(container.config));
  app.use(healthRoutes(container.readiness));
  app.use(metricsRoutes(container.metrics));
  app.use(authPushRoutes(container.pushService));
  app.use(messageCallbackRoutes(container.messageService));
  app.use(
    authorizeRoutes({
      authorizations: container.authorizationService,
      assertStorageAvailable: async () => {
        const answer = await container.storage.ping();
        if (!answer.ok) throw new StorageUnavailableError(`storage (${container.storage.kind}) is unavailable: ${answer.reason}`);
      },
      views: container.views,
    }),
  );

  app.use((req, _res, next) => next(new NotFoundError(`no route for ${req.method} ${req.path}`)));
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

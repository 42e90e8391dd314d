import express, { type ErrorRequestHandler, type Express } from 'express';
import type { Container } from './container';
import { AppError, BadRequestError, NotFoundError, PayloadTooLargeError, StorageUnavailableError } from './errors';
import { authPushRoutes } from './routes/auth-push';
import { authorizeRoutes } from './routes/authorize';
import { healthRoutes } from './routes/health';
import { internalRoutes } from './routes/internal';
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

  app.use(requestLogging(app, container.logger, { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics' }));

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
      componentAppId: container.config.component.appId,
      publicBaseUrl: container.config.publicBaseUrl,
      loginPageUrl: container.config.wechat.loginPageUrl,
      mobileLoginPageUrl: container.config.wechat.mobileLoginPageUrl,
      tokenService: container.tokenService,
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

import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Express, Request, RequestHandler } from 'express';
import { redactUrl, type Logger } from '../logger';

declare module 'http' {
  interface IncomingMessage {
    /** The request id: a well-formed `X-Request-Id` the caller sent, else a random UUID (also answered as `X-Request-Id`). */
    id: string;
    /** The app logger bound to this request (`req: { id, method, url }`, the URL's secret parameters redacted). */
    log: Logger;
  }
}

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

export interface RequestLoggingOptions {
  /** Requests whose completion is not logged (probes, scrapes); they still get an id and `req.log`. */
  readonly ignore?: (req: IncomingMessage) => boolean;
}

/**
 * Request ids and one log line per request, as pino-http wrote them (`req` {id, method, url},
 * `res` {statusCode}, `responseTime` in ms; "request completed" at info, warn for 4xx, "request
 * errored" at error for 5xx, "request aborted" when the response was never ended), at a fraction
 * of its cost, which showed in every token read's profile:
 * - nothing is stored on the request: once Express has swapped a request's prototype, each property
 *   added to it costs ~3 µs (pino-http added seven to req and res). The id lives in the response's
 *   `X-Request-Id` header, and `req.id` / `req.log` are accessors on this app's request prototype;
 * - the request's child logger is built only when a handler asks for `req.log` (most never do);
 * - the line is written from one `close` listener (a response always emits it, after `finish`).
 */
export function requestLogging(app: Express, logger: Logger, options: RequestLoggingOptions = {}): RequestHandler {
  const { ignore } = options;
  const children = new WeakMap<IncomingMessage, Logger>();
  const requestId = (req: IncomingMessage): string => String((req as Request).res?.getHeader('X-Request-Id') ?? '');
  const bindings = (req: IncomingMessage, id: string) => ({ id, method: req.method, url: redactUrl((req as Request).originalUrl ?? req.url ?? '') });
  Object.defineProperties(app.request, {
    id: {
      configurable: true,
      get(this: IncomingMessage): string {
        return requestId(this);
      },
    },
    log: {
      configurable: true,
      get(this: IncomingMessage): Logger {
        let child = children.get(this);
        if (!child) children.set(this, (child = logger.child({ req: bindings(this, requestId(this)) })));
        return child;
      },
      set(this: IncomingMessage, value: Logger) {
        children.set(this, value);
      },
    },
  });
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', id);
    if (!ignore?.(req)) {
      const started = Date.now();
      res.on('close', () => {
        const child = children.get(req);
        const statusCode = res.statusCode;
        const responseTime = Date.now() - started;
        const line = child ? { res: { statusCode }, responseTime } : { req: bindings(req, id), res: { statusCode }, responseTime };
        const log = child ?? logger;
        if (!res.writableEnded) log.warn(line, 'request aborted');
        else if (statusCode >= 500) log.error(line, 'request errored');
        else if (statusCode >= 400) log.warn(line, 'request completed');
        else log.info(line, 'request completed');
      });
    }
    next();
  };
}

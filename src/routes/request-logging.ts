import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Express, RequestHandler } from 'express';
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
 * errored" at error for 5xx, "request aborted" when the client went away first), at a fraction of
 * its cost: the request's child logger is built only when a handler asks for `req.log`, and the
 * line is written from one `close` listener (a response always emits it, after `finish`).
 */
export function requestLogging(app: Express, logger: Logger, options: RequestLoggingOptions = {}): RequestHandler {
  const { ignore } = options;
  // The request's state lives in a WeakMap, and `req.id` / `req.log` are accessors on this app's request
  // prototype: once Express has swapped a request's prototype, every property added to it costs ~3 µs
  // (pino-http added seven to req and res).
  const states = new WeakMap<IncomingMessage, RequestState>();
  Object.defineProperties(app.request, {
    id: {
      configurable: true,
      get(this: IncomingMessage): string | undefined {
        return states.get(this)?.bindings.id;
      },
    },
    log: {
      configurable: true,
      get(this: IncomingMessage): Logger {
        const state = states.get(this);
        if (!state) return logger;
        return (state.child ??= logger.child({ req: state.bindings }));
      },
      set(this: IncomingMessage, value: Logger) {
        const state = states.get(this);
        if (state) state.child = value;
      },
    },
  });
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', id);
    const state: RequestState = { bindings: { id, method: req.method, url: redactUrl(req.originalUrl ?? req.url) }, child: undefined };
    states.set(req, state);
    if (!ignore?.(req)) {
      const started = Date.now();
      res.once('close', () => logCompletion(state.child ?? logger, state.child ? undefined : state.bindings, res, Date.now() - started));
    }
    next();
  };
}

interface RequestState {
  readonly bindings: { readonly id: string; readonly method: string | undefined; readonly url: string };
  /** `req.log`, once a handler asked for it. */
  child: Logger | undefined;
}

function logCompletion(log: Logger, req: object | undefined, res: ServerResponse, responseTime: number): void {
  const statusCode = res.statusCode;
  const line = req ? { req, res: { statusCode }, responseTime } : { res: { statusCode }, responseTime };
  if (!res.writableFinished) log.warn(line, 'request aborted');
  else if (statusCode >= 500) log.error(line, 'request errored');
  else if (statusCode >= 400) log.warn(line, 'request completed');
  else log.info(line, 'request completed');
}

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request } from 'express';
import { pinoHttp, type HttpLogger } from 'pino-http';
import { redactUrl, type Logger } from '../logger';

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

export interface RequestLoggingOptions {
  /** Requests whose completion is not logged (probes, scrapes); they still get an id and `req.log`. */
  readonly ignore?: (req: IncomingMessage) => boolean;
  /** Extra fields of a request's line, known once it is handled (e.g. the internal API client's name). */
  readonly fields?: (req: IncomingMessage) => Record<string, unknown> | undefined;
}

/**
 * Request ids and one log line per request, by pino-http: `req` {id, method, url} (the URL's secret
 * parameters redacted by name, every configured secret value by the logger), `res` {statusCode},
 * `responseTime` in ms; "request completed" at info, at warn for 4xx and for "request aborted", "request
 * errored" at error for 5xx. The id is a well-formed `X-Request-Id` from the caller, else a random UUID,
 * and is answered as `X-Request-Id`. `req.log` is the request's child logger.
 */
export function requestLogging(logger: Logger, options: RequestLoggingOptions = {}): HttpLogger {
  return pinoHttp({
    logger,
    genReqId(req: IncomingMessage, res: ServerResponse) {
      const given = req.headers['x-request-id'];
      const id = typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    // Our own serializers on the raw objects: the standard ones would first copy headers, query and
    // params into every line (and a header is where a bearer travels).
    wrapSerializers: false,
    serializers: {
      req: (req: Request) => ({ id: req.id, method: req.method, url: redactUrl(req.originalUrl ?? req.url ?? '') }),
      res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
    },
    // The line of a 5xx carries no `err`: pino-http would invent one ("failed with status code 503") with
    // its own stack; the error handler (src/app.ts) logs the real error of a 5xx once.
    customErrorObject: (_req, _res, _err, line: Record<string, unknown>) => ({
      res: line.res,
      responseTime: line.responseTime,
    }),
    customLogLevel(_req, res, err) {
      if (err || res.statusCode >= 500) return 'error';
      if (res.statusCode >= 400 || !res.writableEnded) return 'warn';
      return 'info';
    },
    autoLogging: options.ignore ? { ignore: options.ignore } : true,
    // Asked at the start (nothing known yet) and for the completion line; pino-http skips an undefined
    // answer (no child logger), though its type says object.
    ...(options.fields ? { customProps: (req: IncomingMessage) => options.fields!(req) as object } : {}),
  });
}

/**
 * The id requestLogging gave the request ('' without it): pino-http's type also allows a number or an object, which
 * genReqId above never returns.
 */
export function requestIdOf(req: IncomingMessage): string {
  return typeof req.id === 'string' ? req.id : '';
}

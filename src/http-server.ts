import { createServer, type RequestListener, type Server } from 'node:http';
import type { Config } from './config';

/**
 * The HTTP server around the app, with its timeouts (config `http`, docs/reliability.md):
 * - headers must arrive within `headersTimeoutMs` (a slowloris client trickling header bytes is cut off),
 * - a whole request within `requestTimeoutMs` (a body trickled just as slowly),
 * - an idle keep-alive connection is closed after `keepAliveTimeoutMs`.
 */
export function createHttpServer(app: RequestListener, http: Config['http']): Server {
  const server = createServer(
    {
      headersTimeout: http.headersTimeoutMs,
      requestTimeout: http.requestTimeoutMs,
      keepAliveTimeout: http.keepAliveTimeoutMs,
      // node:http checks the two request timeouts only this often (every 30 s by default, so a
      // slowloris socket outlived its timeout by up to 30 s). One timer for all connections.
      connectionsCheckingInterval: Math.min(1000, http.headersTimeoutMs),
    },
    app,
  );
  server.keepAliveTimeout = http.keepAliveTimeoutMs;
  server.on('checkContinue', (req, res) => {
    // node:http would answer `100 Continue` at once, before any route had looked at the declared length.
    // Here it is sent only when a route starts reading the body, i.e. after the length checks
    // (routes/body-limit.ts) let it through; a request refused or answered without its body never gets it.
    req.once('resume', () => {
      if (!res.headersSent) res.writeContinue();
    });
    // A client told "no" by a final answer instead of 100 does not send its body; the connection
    // cannot carry another request after such an exchange.
    res.setHeader('Connection', 'close');
    app(req, res);
  });
  return server;
}

/** Resolves once the server listens; rejects with the listen error (EADDRINUSE, EACCES) instead of emitting it. */
export function listen(server: Server, port: number, host?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** One line an operator can act on: the port, the variable that chose it, what the system said. */
export function listenProblem(err: NodeJS.ErrnoException, port: number): string {
  const why =
    err.code === 'EADDRINUSE'
      ? 'the address is already in use'
      : err.code === 'EACCES'
        ? 'permission denied'
        : err.message;
  return `cannot listen on port ${port} (PORT): ${why}`;
}

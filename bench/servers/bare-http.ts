/**
 * Baseline: a bare `node:http` server.
 * BASELINE_MODE=push  — reads the request body and answers `success` (what every push handler must answer).
 * BASELINE_MODE=token — GET /internal/authorizers/:appid/access-token → one ioredis GET of the public key, JSON.
 */
import http from 'node:http';
import Redis from 'ioredis';

const port = Number(process.env.PORT);
const mode = process.env.BASELINE_MODE ?? 'push';
const keyRoot = process.env.BASELINE_KEY_ROOT ?? '';
const redis = mode === 'token' ? new Redis(process.env.REDIS_URL!) : undefined;
const TOKEN_PATH = /^\/internal\/authorizers\/([^/]+)\/access-token$/;

const server = http.createServer((req, res) => {
  if (mode === 'push') {
    req.on('data', () => undefined);
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('success');
    });
    return;
  }
  const match = TOKEN_PATH.exec(req.url ?? '');
  if (!match) {
    res.writeHead(req.url === '/healthz' ? 200 : 404).end();
    return;
  }
  const appid = decodeURIComponent(match[1]!);
  redis!.get(`${keyRoot}:authorizer:{${appid}}:access_token`).then(
    (token) => {
      if (!token) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found"}}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ authorizer_appid: appid, authorizer_access_token: token }));
    },
    () => res.writeHead(503).end(),
  );
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));

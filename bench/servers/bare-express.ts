/**
 * Baseline: a bare Express 5 app.
 * BASELINE_MODE=push  — only a text body parser, answering `success`.
 * BASELINE_MODE=message — the same on POST /:appid/callback.
 * BASELINE_MODE=token — GET /internal/authorizers/:appid/access-token → one ioredis GET of the public key, JSON.
 */
import express from 'express';
import Redis from 'ioredis';

const port = Number(process.env.PORT);
const mode = process.env.BASELINE_MODE ?? 'push';
const keyRoot = process.env.BASELINE_KEY_ROOT ?? '';
const app = express();
app.disable('x-powered-by');

app.get('/healthz', (_req, res) => {
  res.send('ok');
});

if (mode === 'push') {
  app.post('/auth', express.text({ type: () => true }), (_req, res) => {
    res.type('text/plain').send('success');
  });
} else if (mode === 'message') {
  app.post('/:appid/callback', express.text({ type: () => true }), (_req, res) => {
    res.type('text/plain').send('success');
  });
} else {
  const redis = new Redis(process.env.REDIS_URL!);
  app.get('/internal/authorizers/:appid/access-token', async (req, res) => {
    const token = await redis.get(`${keyRoot}:authorizer:{${req.params.appid}}:access_token`);
    if (!token) {
      res.status(404).json({ error: { code: 'not_found' } });
      return;
    }
    res.json({ authorizer_appid: req.params.appid, authorizer_access_token: token });
  });
}

app.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));

import { Router } from 'express';
import type { Container } from '../container';
import { pingRedis } from '../store/redis';

export function healthRoutes(container: Container): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const redis = await pingRedis(container.redis);
    const ready = redis.ok;
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'not_ready',
      checks: { redis: redis.ok ? { ok: true } : { ok: false, reason: `redis unreachable: ${redis.reason}` } },
    });
  });
  return router;
}

import { Router } from 'express';
import type { ReadinessService } from '../services/readiness';

/** Liveness never touches Redis (a Redis outage must not restart every instance); readiness does. */
export function healthRoutes(readiness: ReadinessService): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const { ready, store, checks, warnings } = await readiness.check();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', store, checks, warnings });
  });
  return router;
}

import { Router } from 'express';
import type { Metrics } from '../metrics';

/**
 * GET /metrics in the Prometheus text format. Public like /healthz: it is meant to be scraped from
 * inside the cluster and holds counts, durations and TTLs, never a token or an appid.
 */
export function metricsRoutes(metrics: Metrics): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    const body = await metrics.render();
    res.setHeader('Content-Type', metrics.contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.send(body);
  });
  return router;
}

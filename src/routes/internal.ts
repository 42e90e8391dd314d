import express, { Router, type Request } from 'express';
import type { Clock } from '../clock';
import { BadRequestError } from '../errors';
import { recoveryReportJson, type RecoveryService } from '../services/recovery';
import type { TokenService } from '../services/token-service';
import type { AuthorizerStore } from '../store/authorizer-store';
import { requireBearer } from './bearer-auth';

export interface InternalRoutesDeps {
  /** INTERNAL_API_TOKEN; undefined = no internal API at all. */
  readonly bearerToken: string | undefined;
  readonly tokenService: Pick<TokenService, 'getComponentAccessToken' | 'getAuthorizerAccessToken' | 'invalidate'>;
  readonly authorizers: Pick<AuthorizerStore, 'list'>;
  readonly recovery: Pick<RecoveryService, 'run'>;
  readonly clock: Clock;
}

/** WeChat appids are `wx` + 16 characters; anything else (braces included) never reaches Redis keys. */
const APPID_RE = /^wx[0-9A-Za-z]{16}$/;
const MAX_TOKEN_LENGTH = 2048;

/**
 * `/internal/*` (design.md "Internal API"): tokens for the platform's internal services, behind
 * the INTERNAL_API_TOKEN bearer. Without the variable the tree is not mounted, so it answers the
 * app's ordinary 404 and reveals nothing. The bearer is checked before any route, so an unknown
 * /internal path without it is 401, not 404.
 */
export function internalRoutes(deps: InternalRoutesDeps): Router {
  const router = Router();
  if (!deps.bearerToken) return router;
  const { tokenService, clock } = deps;
  router.use('/internal', requireBearer(deps.bearerToken));

  router.get('/internal/component-access-token', async (_req, res) => {
    const current = await tokenService.getComponentAccessToken();
    res.json({ component_access_token: current.token, expires_in: current.expiresIn });
  });

  router.get('/internal/authorizers', async (_req, res) => {
    const now = clock.now();
    const authorizers = (await deps.authorizers.list()).map((r) => ({
      authorizer_appid: r.appid,
      status: r.status,
      authorized_at: r.authorizedAt === undefined ? null : new Date(r.authorizedAt).toISOString(),
      access_token_expires_in: r.accessToken ? Math.max(0, Math.floor((r.accessToken.expiresAt - now) / 1000)) : null,
    }));
    res.json({ authorizers });
  });

  router.get('/internal/authorizers/:appid/access-token', async (req, res) => {
    const appid = appidParam(req);
    const current = await tokenService.getAuthorizerAccessToken(appid);
    res.json({ authorizer_appid: appid, authorizer_access_token: current.token, expires_in: current.expiresIn });
  });

  router.post('/internal/authorizers/:appid/access-token/invalidate', express.json({ limit: '8kb' }), async (req, res) => {
    const appid = appidParam(req);
    const rejected = rejectedToken(req.body);
    const current = await tokenService.invalidate('authorizer', rejected, appid);
    res.json({ authorizer_appid: appid, authorizer_access_token: current.token, expires_in: current.expiresIn });
  });

  router.post('/internal/recover', async (_req, res) => {
    res.json(recoveryReportJson(await deps.recovery.run()));
  });
  return router;
}

function appidParam(req: Request): string {
  const appid = req.params.appid;
  if (typeof appid !== 'string' || !APPID_RE.test(appid)) {
    throw new BadRequestError('appid must be a WeChat appid: "wx" followed by 16 letters or digits');
  }
  return appid;
}

function rejectedToken(body: unknown): string {
  const value = (body as { authorizer_access_token?: unknown } | undefined)?.authorizer_access_token;
  if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_TOKEN_LENGTH) {
    throw new BadRequestError('body must be JSON {"authorizer_access_token": "<the token WeChat rejected>"}');
  }
  return value;
}

import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Clock } from '../clock';
import { BadRequestError } from '../errors';
import { recoveryReportJson, type RecoveryService } from '../services/recovery';
import type { TokenService } from '../services/token-service';
import type { AuthorizerStore } from '../store/authorizer-store';
import type { InternalApiClient } from '../config';
import { APPID_RULE, isAppId } from '../wechat/identifiers';
import { requireBearer, type OnBearerCheck } from './bearer-auth';
import { declaredLengthWithin } from './body-limit';

/** `{ "reason": … }` is a few bytes. */
const INVALIDATE_BODY_LIMIT_BYTES = 8 * 1024;

export interface InternalRoutesDeps {
  /** INTERNAL_API_TOKEN and INTERNAL_API_TOKENS; none = no internal API at all. */
  readonly clients: readonly InternalApiClient[];
  /** Every bearer check, by client (metrics). */
  readonly onBearerCheck?: OnBearerCheck;
  readonly tokenService: Pick<TokenService, 'getComponentAccessToken' | 'getAuthorizerAccessToken' | 'invalidate'>;
  readonly authorizers: Pick<AuthorizerStore, 'list'>;
  readonly recovery: Pick<RecoveryService, 'run'>;
  readonly clock: Clock;
}

/**
 * The response headers of the internal API: JSON for machines, behind a bearer, carrying secrets. They
 * must never be cached (no `Cache-Control` at all would let a proxy keep a token) nor sniffed, framed or
 * run as a document. The rest of helmet's set (CSP for pages, COOP/CORP, referrer, DNS prefetch…) is for
 * documents a browser renders, and is left to the routes that serve them.
 */
function setApiHeaders(res: Response): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
}

/**
 * A JSON answer, written directly: `res.json` would also look the type up, parse it back to add the
 * charset and compute an ETag, on every token read. (For HEAD, Node sends the headers only.)
 */
function sendJson(res: Response, body: unknown): void {
  const json = JSON.stringify(body);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(json));
  res.end(json);
}

const MAX_TOKEN_LENGTH = 2048;

/**
 * `/internal/*` (design.md "Internal API"): tokens for the platform's internal services, behind
 * the INTERNAL_API_TOKEN bearer. Without the variable the tree is not mounted, so it answers the
 * app's ordinary 404 and reveals nothing. The bearer is checked before anything else on every
 * /internal path, so an unknown /internal path without it is 401, not 404.
 */
export function internalRoutes(deps: InternalRoutesDeps): Router {
  const router = Router();
  if (deps.clients.length === 0) return router;
  const { tokenService, clock } = deps;
  const checkBearer = requireBearer(deps.clients, deps.onBearerCheck);
  // Every route runs the guard first; any other /internal path meets it in the catch-all at the end.
  // (One `use('/internal', guard)` in front would cost each token read a layer and a URL rewrite.)
  const guard: RequestHandler = (req, res, next) => {
    setApiHeaders(res);
    checkBearer(req, res, next);
  };

  // First: the route internal services call on every use of a token.
  router.get('/internal/authorizers/:appid/access-token', guard, async (req, res) => {
    const appid = appidParam(req);
    const current = await tokenService.getAuthorizerAccessToken(appid);
    sendJson(res, { authorizer_appid: appid, authorizer_access_token: current.token, expires_in: current.expiresIn });
  });

  router.get('/internal/component-access-token', guard, async (_req, res) => {
    const current = await tokenService.getComponentAccessToken();
    sendJson(res, { component_access_token: current.token, expires_in: current.expiresIn });
  });

  router.get('/internal/authorizers', guard, async (_req, res) => {
    const now = clock.now();
    const authorizers = (await deps.authorizers.list()).map((r) => ({
      authorizer_appid: r.appid,
      status: r.status,
      authorized_at: r.authorizedAt === undefined ? null : new Date(r.authorizedAt).toISOString(),
      access_token_expires_in: r.accessToken ? Math.max(0, Math.floor((r.accessToken.expiresAt - now) / 1000)) : null,
    }));
    sendJson(res, { authorizers });
  });

  router.post(
    '/internal/authorizers/:appid/access-token/invalidate',
    guard,
    declaredLengthWithin(INVALIDATE_BODY_LIMIT_BYTES),
    express.json({ limit: INVALIDATE_BODY_LIMIT_BYTES }),
    async (req, res) => {
      const appid = appidParam(req);
      const rejected = rejectedToken(req.body);
      const current = await tokenService.invalidate('authorizer', rejected, appid);
      sendJson(res, { authorizer_appid: appid, authorizer_access_token: current.token, expires_in: current.expiresIn });
    },
  );

  router.post('/internal/recover', guard, async (_req, res) => {
    sendJson(res, recoveryReportJson(await deps.recovery.run()));
  });

  // Unknown /internal paths and methods: 401 without the bearer (nothing revealed), the app's 404 with it.
  router.use('/internal', guard);
  return router;
}

function appidParam(req: Request): string {
  const appid = req.params.appid;
  // Anything but an appid (braces included) never reaches a Redis key.
  if (!isAppId(appid)) {
    throw new BadRequestError(`appid must be a WeChat appid: ${APPID_RULE}`);
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

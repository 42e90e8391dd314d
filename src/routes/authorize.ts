import { Router, type Request, type Response } from 'express';
import { AppError, BadRequestError, StorageUnavailableError, TicketMissingError, WeChatApiError } from '../errors';
import type { AuthorizationService } from '../services/authorization-service';
import type { TokenService } from '../services/token-service';
import type { MessageKey } from '../i18n';
import type { Views } from '../views';
import { pageContext } from './locale';
import { buildMobileAuthorizationUrl, buildPcAuthorizationUrl, type AuthType } from '../wechat/authorization-url';

export interface AuthorizeRouteDeps {
  componentAppId: string;
  publicBaseUrl: string;
  loginPageUrl: string;
  mobileLoginPageUrl: string;
  tokenService: Pick<TokenService, 'createPreAuthCode'>;
  authorizations: Pick<AuthorizationService, 'completeFromCallback'>;
  /** Throws StorageUnavailableError while the stores do not answer: the admin learns it before clicking through. */
  assertStorageAvailable: () => Promise<void>;
  views: Views;
}

const AUTH_TYPES = new Set(['1', '2', '3']);
const APPID_RE = /^wx[A-Za-z0-9]{6,32}$/;
const AUTH_CODE_RE = /^[\x21-\x7e]{1,512}$/;

/**
 * The admin's side of authorization: our "Authorize your account" page, the
 * hop to WeChat's page (GET /auth) and WeChat's redirect back (GET /auth?auth_code=…).
 */
export function authorizeRoutes(deps: AuthorizeRouteDeps): Router {
  const router = Router();

  router.get('/authorize', async (req, res) => {
    try {
      const { authType, bizAppid } = readChoice(req);
      await deps.assertStorageAvailable();
      res.type('html').send(deps.views.render('authorize', pageContext(res), { authType: authType ?? '3', bizAppid }));
    } catch (err) {
      renderError(deps.views, req, res, err);
    }
  });

  router.get('/auth', async (req, res) => {
    try {
      const authCode = single(req.query.auth_code, 'auth_code');
      if (authCode !== undefined) {
        if (!AUTH_CODE_RE.test(authCode)) throw new BadRequestError('auth_code is malformed');
        const account = await deps.authorizations.completeFromCallback(authCode);
        res.type('html').send(deps.views.render('authorized', pageContext(res), { ...account }));
        return;
      }
      const { authType, bizAppid } = readChoice(req);
      const preAuthCode = await deps.tokenService.createPreAuthCode();
      const params = {
        componentAppId: deps.componentAppId,
        preAuthCode,
        redirectUri: `${deps.publicBaseUrl}/auth`,
        authType: Number(authType ?? '3') as AuthType,
        bizAppId: bizAppid,
      };
      const target = wantsMobile(req)
        ? buildMobileAuthorizationUrl(deps.mobileLoginPageUrl, params)
        : buildPcAuthorizationUrl(deps.loginPageUrl, params);
      res.redirect(302, target);
    } catch (err) {
      renderError(deps.views, req, res, err);
    }
  });
  return router;
}

function single(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new BadRequestError(`${name} must be given once`);
  return value;
}

function readChoice(req: Request): { authType: string | undefined; bizAppid: string | undefined } {
  const authType = single(req.query.auth_type, 'auth_type') || undefined;
  const bizAppid = single(req.query.biz_appid, 'biz_appid') || undefined;
  if (authType !== undefined && !AUTH_TYPES.has(authType)) throw new BadRequestError('auth_type must be 1, 2 or 3');
  if (bizAppid !== undefined && !APPID_RE.test(bizAppid)) throw new BadRequestError('biz_appid is not an appid');
  return { authType, bizAppid };
}

function wantsMobile(req: Request): boolean {
  return req.query.mobile === '1' || /MicroMessenger/i.test(req.get('user-agent') ?? '');
}

const CODE_ERRORS = new Set([61009, 61010]);

/** Plain words for the admin, in the page's language; the details stay in the log. */
function renderError(views: Views, req: Request, res: Response, err: unknown): void {
  let status = 500;
  let titleKey: MessageKey = 'error.internal.title';
  let explanationKey: MessageKey = 'error.internal.explanation';
  let detail: string | undefined;
  let code = 'internal_error';
  if (err instanceof WeChatApiError && CODE_ERRORS.has(err.errcode)) {
    status = 400;
    titleKey = 'error.codeUsed.title';
    explanationKey = 'error.codeUsed.explanation';
    code = `wechat_${err.errcode}`;
  } else if (err instanceof TicketMissingError) {
    status = 503;
    titleKey = 'error.notReady.title';
    explanationKey = 'error.notReady.explanation';
    code = err.code;
  } else if (err instanceof StorageUnavailableError) {
    // The platform's own storage, not WeChat: naming WeChat would send the admin to the wrong culprit.
    status = 503;
    titleKey = 'error.storage.title';
    explanationKey = 'error.storage.explanation';
    code = err.code;
  } else if (err instanceof BadRequestError) {
    status = 400;
    titleKey = 'error.badLink.title';
    explanationKey = 'error.badLink.explanation';
    detail = err.message;
    code = err.code;
  } else if (err instanceof AppError) {
    status = err.httpStatus;
    titleKey = 'error.wechat.title';
    explanationKey = 'error.wechat.explanation';
    code = err instanceof WeChatApiError ? `wechat_${err.errcode}` : err.code;
  }
  if (status >= 500) req.log.error({ err }, 'authorization flow failed');
  else req.log.warn({ code }, 'authorization flow refused');
  res
    .status(status)
    .type('html')
    .send(views.render('error', pageContext(res), { titleKey, explanationKey, detail, code, requestId: String(req.id) }));
}

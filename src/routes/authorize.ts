import { Router, type Request, type Response } from 'express';
import { AppError, BadRequestError, StorageUnavailableError, TicketMissingError, WeChatApiError } from '../errors';
import type { AuthorizationService } from '../services/authorization-service';
import type { MessageKey } from '../i18n';
import type { Views } from '../views';
import type { AuthType } from '../wechat/authorization-url';
import { isAuthCodeRefused } from '../wechat/errcodes';
import { APPID_RULE, authCodeSchema, authTypeSchema, bizAppIdSchema } from '../wechat/identifiers';
import { pageContext } from './locale';
import { requestIdOf } from './request-logging';

export interface AuthorizeRouteDeps {
  authorizations: Pick<AuthorizationService, 'completeFromCallback' | 'loginUrl'>;
  /** Throws StorageUnavailableError while the stores do not answer: the admin learns it before clicking through. */
  assertStorageAvailable: () => Promise<void>;
  views: Views;
}

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
        if (!authCodeSchema.safeParse(authCode).success) throw new BadRequestError('auth_code is malformed');
        const account = await deps.authorizations.completeFromCallback(authCode);
        res.type('html').send(deps.views.render('authorized', pageContext(res), { ...account }));
        return;
      }
      const { authType, bizAppid } = readChoice(req);
      const target = await deps.authorizations.loginUrl({
        authType: authType === undefined ? undefined : (Number(authType) as AuthType),
        bizAppid,
        mobile: wantsMobile(req),
      });
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
  if (authType !== undefined && !authTypeSchema.safeParse(authType).success)
    throw new BadRequestError('auth_type must be 1, 2 or 3');
  if (bizAppid !== undefined && !bizAppIdSchema.safeParse(bizAppid).success)
    throw new BadRequestError(`biz_appid is not an appid (${APPID_RULE})`);
  return { authType, bizAppid };
}

function wantsMobile(req: Request): boolean {
  return req.query.mobile === '1' || /MicroMessenger/i.test(req.get('user-agent') ?? '');
}

/** Plain words for the admin, in the page's language; the details stay in the log. */
function renderError(views: Views, req: Request, res: Response, err: unknown): void {
  let status = 500;
  let titleKey: MessageKey = 'error.internal.title';
  let explanationKey: MessageKey = 'error.internal.explanation';
  let detail: string | undefined;
  let code = 'internal_error';
  if (isAuthCodeRefused(err)) {
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
    .send(
      views.render('error', pageContext(res), { titleKey, explanationKey, detail, code, requestId: requestIdOf(req) }),
    );
}

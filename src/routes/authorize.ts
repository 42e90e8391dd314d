import { Router, type Request, type Response } from 'express';
import { AppError, BadRequestError, StorageUnavailableError, TicketMissingError, WeChatApiError } from '../errors';
import type { AuthorizationService } from '../services/authorization-service';
import type { Views } from '../views';
import { isAuthCodeRefused } from '../wechat/errcodes';
import { APPID_RULE, authCodeSchema, authTypeSchema, bizAppIdSchema } from '../wechat/identifiers';
import type { AuthType } from '../wechat/authorization-url';

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
      const mobile = new URLSearchParams({ mobile: '1', auth_type: authType ?? '3', ...(bizAppid ? { biz_appid: bizAppid } : {}) });
      res.type('html').send(deps.views.render('authorize', { authType: authType ?? '3', bizAppid, mobileHref: `/auth?${mobile}` }));
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
        res.type('html').send(deps.views.render('authorized', { ...account, kindLabel: kindLabel(account.kind) }));
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
  if (authType !== undefined && !authTypeSchema.safeParse(authType).success) throw new BadRequestError('auth_type must be 1, 2 or 3');
  if (bizAppid !== undefined && !bizAppIdSchema.safeParse(bizAppid).success) throw new BadRequestError(`biz_appid is not an appid (${APPID_RULE})`);
  return { authType, bizAppid };
}

function wantsMobile(req: Request): boolean {
  return req.query.mobile === '1' || /MicroMessenger/i.test(req.get('user-agent') ?? '');
}

function kindLabel(kind: string | undefined): string {
  if (kind === 'mini_program') return 'Mini Program (小程序)';
  if (kind === 'official_account') return 'Official Account (公众号)';
  return 'not known yet';
}

/** Plain words for the admin; the details stay in the log. */
function renderError(views: Views, req: Request, res: Response, err: unknown): void {
  let status = 500;
  let title = 'Something went wrong';
  let explanation = 'The authorization could not be completed. Please try again in a moment.';
  let code = 'internal_error';
  if (isAuthCodeRefused(err)) {
    status = 400;
    title = 'This authorization link has expired or was already used';
    explanation = 'Authorization codes work once and only for a few minutes. Start again to get a fresh one.';
    code = `wechat_${err.errcode}`;
  } else if (err instanceof TicketMissingError) {
    status = 503;
    title = 'The platform is not ready yet';
    explanation = 'WeChat has not yet sent this platform its verification ticket (it arrives every 10 minutes). Please try again shortly.';
    code = err.code;
  } else if (err instanceof StorageUnavailableError) {
    // The platform's own storage, not WeChat: naming WeChat would send the admin to the wrong culprit.
    status = 503;
    title = '平台存储暂不可用 · The platform\'s storage is unavailable';
    explanation =
      '平台暂时无法读写数据，授权未能完成，请稍后重试。 The platform cannot reach its storage right now, so the authorization could not be completed. Please try again in a few minutes.';
    code = err.code;
  } else if (err instanceof BadRequestError) {
    status = 400;
    title = 'This link is not valid';
    explanation = err.message;
    code = err.code;
  } else if (err instanceof AppError) {
    status = err.httpStatus;
    title = 'WeChat could not complete the authorization';
    explanation = 'WeChat answered with an error or did not answer in time. Please try again.';
    code = err instanceof WeChatApiError ? `wechat_${err.errcode}` : err.code;
  }
  if (status >= 500) req.log.error({ err }, 'authorization flow failed');
  else req.log.warn({ code }, 'authorization flow refused');
  res.status(status).type('html').send(views.render('error', { title, explanation, code, requestId: String(req.id) }));
}

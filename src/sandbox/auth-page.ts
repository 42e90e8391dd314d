/**
 * The authorization page WeChat shows an account admin (shared/docs/protocol.md §5): the PC
 * `/cgi-bin/componentloginpage` and the H5 `/wxaopen/safe/bindcomponent` (plus its old `/safe/bindcomponent`
 * path). Showing the page spends the pre_auth_code; confirming authorizes the chosen account, pushes
 * `authorized` / `updateauthorized` to the service and sends the browser to redirect_uri with auth_code.
 */
import express, { Router, type Request, type Response } from 'express';
import type { FakeAccount } from './accounts';
import { CodeBook } from './codes';
import type { SandboxContext } from './context';
import { errorPage, escapeHtml, layout, pageLanguage, sendPage, type PageLanguage } from './html';
import { appendAuthCode, checkLoginRequest, type LoginRequest } from './login-request';

/**
 * The `expires_in` of the redirect back: WeChat documents `redirect_uri?auth_code=xxx&expires_in=600`
 * (protocol.md §5), whatever lifetime the code has in the emulator (authCodeLifetimeSeconds, used by the push).
 */
const REDIRECT_EXPIRES_IN_SECONDS = 600;

interface PageSession extends LoginRequest {
  mobile: boolean;
}

export const CONFIRM_PATH = '/cgi-bin/componentloginpage/confirm';
// How long a shown page can still be confirmed. The pre_auth_code is already spent, so this is the page's own life.
const SESSION_SECONDS = 1800;
// A page listing 100 000 generated accounts helps nobody; biz_appid reaches any single one.
const MAX_LISTED = 50;

function accepts(request: LoginRequest): (account: FakeAccount) => boolean {
  // biz_appid wins over a conflicting auth_type, as WeChat documents.
  if (request.bizAppId !== undefined) return (account) => account.appid === request.bizAppId;
  if (request.authType === 1) return (account) => account.kind === 'official_account';
  if (request.authType === 2) return (account) => account.kind === 'mini_program';
  return () => true;
}

function grantedFuncs(account: FakeAccount, request: LoginRequest): number[] {
  return request.categoryIds
    ? account.funcInfo.filter((id) => request.categoryIds?.includes(id))
    : [...account.funcInfo];
}

function accountItem(ctx: SandboxContext, lang: PageLanguage, account: FakeAccount, checked: boolean): string {
  const authorized = ctx.state.authorizations.isAuthorized(account.appid);
  const id = `account-${account.appid}`;
  return `<li data-account="${escapeHtml(account.appid)}" data-kind="${account.kind}" data-authorized="${authorized}">
<label for="${escapeHtml(id)}"><input type="radio" name="appid" id="${escapeHtml(id)}" value="${escapeHtml(account.appid)}" required${checked ? ' checked' : ''}>
<span class="grow"><span class="name">${escapeHtml(account.nickName)}</span><span class="badge">${escapeHtml(lang.t(`kind.${account.kind}.short`))}</span>${authorized ? `<span class="badge on">${escapeHtml(lang.t('sandbox.authorized'))}</span>` : ''}<br>
<span class="muted">${escapeHtml(account.principalName)} · ${escapeHtml(account.userName)} · ${escapeHtml(account.appid)}</span></span></label></li>`;
}

function renderChooser(
  ctx: SandboxContext,
  lang: PageLanguage,
  session: string,
  request: PageSession,
  accounts: FakeAccount[],
): string {
  const { t } = lang;
  const items = accounts.map((account) => accountItem(ctx, lang, account, accounts.length === 1)).join('\n');
  const list = accounts.length
    ? `<ul class="accounts" id="accounts">\n${items}\n</ul>`
    : `<p id="no-accounts" class="notice">${escapeHtml(t('sandbox.noAccounts'))}</p>`;
  const steps = request.mobile ? '' : `<p class="muted" id="scan-hint">${escapeHtml(t('sandbox.scanHint'))}</p>`;
  return `<h1>${escapeHtml(t('sandbox.authorizeTitle'))}</h1>
<p>${escapeHtml(t('sandbox.authorizeIntro', { component: ctx.options.componentAppId }))}</p>
${steps}
<form method="post" action="${CONFIRM_PATH}" id="authorize-form">
<input type="hidden" name="session" value="${escapeHtml(session)}">
${list}
<p class="muted">${escapeHtml(t('sandbox.redirectTo', { uri: request.redirectUri }))}</p>
<button type="submit" id="confirm"${accounts.length ? '' : ' disabled'}>${escapeHtml(t('sandbox.confirm'))}</button>
</form>`;
}

export function authPage(ctx: SandboxContext): Router {
  const router = Router();
  const sessions = new CodeBook<PageSession>(ctx.clock, SESSION_SECONDS, 'session-');

  const show = (mobile: boolean) => (req: Request, res: Response) => {
    const lang = pageLanguage(req);
    const { t } = lang;
    const title = t('sandbox.authFailed');
    if (mobile && req.query.action !== 'bindcomponent') {
      return sendPage(res, 400, errorPage(lang, title, 'action', t('sandbox.error.action'), { mobile }));
    }
    const check = checkLoginRequest({
      query: req.query,
      referer: req.get('referer'),
      componentAppId: ctx.options.componentAppId,
      registeredDomain: ctx.options.registeredDomain,
      refererOptional: mobile,
    });
    // check.message is WeChat's own wording (Chinese, as WeChat shows it in every language).
    if (!check.ok) return sendPage(res, check.status, errorPage(lang, title, check.kind, check.message, { mobile }));
    const request = check.request;
    if (request.bizAppId !== undefined && !ctx.state.accounts.get(request.bizAppId)) {
      return sendPage(res, 400, errorPage(lang, title, 'biz_appid', t('sandbox.error.bizAppid'), { mobile }));
    }
    const code = ctx.state.preAuthCodes.consume(request.preAuthCode);
    if (!code.ok) {
      const message = t(
        code.reason === 'expired' ? 'sandbox.error.preAuthCodeExpired' : 'sandbox.error.preAuthCodeInvalid',
      );
      return sendPage(res, 400, errorPage(lang, title, 'pre_auth_code', message, { mobile }));
    }
    const session = sessions.issue({ ...request, mobile }).code;
    const accounts = ctx.state.accounts.firstMatching(accepts(request), MAX_LISTED);
    sendPage(
      res,
      200,
      layout(lang, t('sandbox.authorizeTitle'), renderChooser(ctx, lang, session, { ...request, mobile }, accounts), {
        mobile,
      }),
    );
  };

  router.get('/cgi-bin/componentloginpage', show(false));
  router.get(['/wxaopen/safe/bindcomponent', '/safe/bindcomponent'], show(true));

  router.post(CONFIRM_PATH, express.urlencoded({ extended: false, limit: '8kb' }), async (req, res) => {
    const lang = pageLanguage(req);
    const { t } = lang;
    const form = (req.body ?? {}) as Record<string, unknown>;
    const sessionId = typeof form.session === 'string' ? form.session : '';
    const found = sessions.peek(sessionId);
    if (!found.ok) {
      return sendPage(res, 400, errorPage(lang, t('sandbox.authFailed'), 'session', t('sandbox.error.session')));
    }
    const request = found.value;
    const account = typeof form.appid === 'string' ? ctx.state.accounts.get(form.appid) : undefined;
    if (!account || !accepts(request)(account)) {
      const page = errorPage(lang, t('sandbox.authFailed'), 'appid', t('sandbox.error.appid'), {
        mobile: request.mobile,
      });
      return sendPage(res, 400, page);
    }
    sessions.consume(sessionId);
    const result = await ctx.authorize(account.appid, {
      preAuthCode: request.preAuthCode,
      funcInfo: grantedFuncs(account, request),
    });
    // Awaiting the push makes the order deterministic: the service has the event before the browser arrives.
    res.redirect(302, appendAuthCode(request.redirectUri, result.authCode, REDIRECT_EXPIRES_IN_SECONDS));
  });

  return router;
}

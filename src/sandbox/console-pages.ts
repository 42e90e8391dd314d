/**
 * The emulator's own pages: a home page (configuration and recent pushes) and the authorization management page
 * where an account "revokes" the platform, the emulator's stand-in for 公众平台 → 设置 → 授权管理. Revoking pushes
 * `unauthorized` to the service. Also the small SVG images that head_img / qrcode_url point at.
 */
import { Router } from 'express';
import type { SandboxContext } from './context';
import { escapeHtml, layout, pageLanguage, sendPage, type PageLanguage } from './html';
import { SandboxError } from './state';

const MAX_ROWS = 200;

function homePage(ctx: SandboxContext, { t }: PageLanguage): string {
  const { options } = ctx;
  const pushes = ctx.pusher.history().slice(-10).reverse();
  const rows = pushes
    .map(
      (p) =>
        `<tr data-push="${escapeHtml(p.infoType)}"><td>${escapeHtml(new Date(p.at).toISOString())}</td><td>${escapeHtml(p.infoType)}</td><td>${escapeHtml(p.authorizerAppid ?? '')}</td><td>${p.delivered ? '✓ success' : `✗ ${escapeHtml(p.lastError ?? String(p.lastStatus ?? ''))}`}</td><td>${p.attempts}</td></tr>`,
    )
    .join('\n');
  const none = escapeHtml(t('sandbox.home.none'));
  return `<h1>${escapeHtml(t('sandbox.home.title'))}</h1>
<p>${escapeHtml(t('sandbox.home.intro'))}</p>
<table>
<tr><th>component_appid</th><td><code>${escapeHtml(options.componentAppId)}</code></td></tr>
<tr><th>${escapeHtml(t('sandbox.home.pushUrl'))}</th><td id="push-url">${escapeHtml(ctx.pusher.pushUrl ?? none)}</td></tr>
<tr><th>${escapeHtml(t('sandbox.home.domain'))}</th><td>${escapeHtml(options.registeredDomain ?? t('sandbox.home.noDomainChecks'))}</td></tr>
<tr><th>${escapeHtml(t('sandbox.home.accounts'))}</th><td>${escapeHtml(t('sandbox.home.accountCount', { count: ctx.state.accounts.size, authorized: ctx.state.authorizations.authorizedCount }))}</td></tr>
</table>
<p><a href="/authorizations" id="authorizations-link">${escapeHtml(t('sandbox.home.authorizationsLink'))}</a> · <a href="/release-test" id="release-test-link">${escapeHtml(t('sandbox.home.releaseTestLink'))}</a></p>
<h2>${escapeHtml(t('sandbox.home.pushes'))}</h2>
${rows ? `<table id="pushes"><tr><th>${escapeHtml(t('sandbox.home.at'))}</th><th>InfoType</th><th>${escapeHtml(t('sandbox.home.account'))}</th><th>${escapeHtml(t('sandbox.home.result'))}</th><th>${escapeHtml(t('sandbox.home.attempts'))}</th></tr>\n${rows}\n</table>` : `<p class="muted">${escapeHtml(t('sandbox.home.noPushes'))}</p>`}`;
}

function authorizationsPage(ctx: SandboxContext, { t }: PageLanguage, revoked: string | undefined): string {
  const { state } = ctx;
  const appids = state.authorizations.page(0, MAX_ROWS);
  const rows = appids
    .map((appid) => {
      const account = state.accounts.get(appid);
      const name = account?.nickName ?? appid;
      const action = `/authorizations/${encodeURIComponent(appid)}/revoke`;
      return `<li data-account="${escapeHtml(appid)}"><div class="row"><span class="grow"><span class="name">${escapeHtml(name)}</span><br><span class="muted">${escapeHtml(appid)}</span></span>
<form method="post" action="${escapeHtml(action)}"><button type="submit" class="danger" data-revoke="${escapeHtml(appid)}">${escapeHtml(t('sandbox.revoke'))}</button></form></div></li>`;
    })
    .join('\n');
  const notice = revoked
    ? `<p class="notice" id="revoked" data-account="${escapeHtml(revoked)}">${escapeHtml(t('sandbox.revoked', { appid: revoked }))}</p>`
    : '';
  return `<h1>${escapeHtml(t('sandbox.authorizations'))}</h1>
<p>${escapeHtml(t('sandbox.authorizationsIntro', { component: ctx.options.componentAppId, count: state.authorizations.authorizedCount }))}</p>
${notice}
${rows ? `<ul class="accounts" id="authorized">\n${rows}\n</ul>` : `<p class="muted" id="none-authorized">${escapeHtml(t('sandbox.noneAuthorized'))}</p>`}
<p><a href="/">← ${escapeHtml(t('sandbox.home.back'))}</a></p>`;
}

function svg(kind: string, appid: string, nickName: string): string {
  const letter = escapeHtml([...nickName][0] ?? '?');
  const label = kind === 'qrcode' ? 'QR' : letter;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96"><title>${escapeHtml(appid)}</title><rect width="96" height="96" rx="12" fill="#07c160"/><text x="48" y="62" font-size="40" text-anchor="middle" fill="#fff" font-family="sans-serif">${label}</text></svg>`;
}

export function consolePages(ctx: SandboxContext): Router {
  const router = Router();

  router.get('/', (req, res) => {
    const lang = pageLanguage(req);
    sendPage(res, 200, layout(lang, lang.t('sandbox.home.title'), homePage(ctx, lang)));
  });

  router.get('/authorizations', (req, res) => {
    const lang = pageLanguage(req);
    const revoked = typeof req.query.revoked === 'string' ? req.query.revoked : undefined;
    sendPage(res, 200, layout(lang, lang.t('sandbox.authorizations'), authorizationsPage(ctx, lang, revoked)));
  });

  router.post('/authorizations/:appid/revoke', async (req, res) => {
    const { appid } = req.params;
    try {
      await ctx.revoke(appid);
    } catch (err) {
      if (!(err instanceof SandboxError)) throw err;
      const lang = pageLanguage(req);
      return sendPage(
        res,
        err.status,
        layout(lang, lang.t('sandbox.authorizations'), `<p id="error" class="error">${escapeHtml(err.message)}</p>`),
      );
    }
    // Post/redirect/get, so a reload does not revoke twice.
    res.redirect(303, `/authorizations?revoked=${encodeURIComponent(appid)}`);
  });

  router.get('/sandbox/assets/:kind/:file', (req, res) => {
    const { kind, file } = req.params;
    const appid = file.replace(/\.svg$/, '');
    const account = ctx.state.accounts.get(appid);
    if ((kind !== 'head' && kind !== 'qrcode') || !account) {
      res.status(404).type('text').send('not found');
      return;
    }
    res.type('image/svg+xml').send(svg(kind, appid, account.nickName));
  });

  return router;
}

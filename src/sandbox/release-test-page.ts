/**
 * The emulator console's release-test page: one button runs WeChat's release test (全网发布接入检测) against the
 * service's message URL and shows each case's result with its reason, as WeChat's Open Platform console does.
 */
import express, { Router } from 'express';
import type { SandboxContext } from './context';
import { escapeHtml, layout, pageLanguage, sendPage, type PageLanguage } from './html';
import type { ReleaseTestReport } from './release-test';

function page(
  ctx: SandboxContext,
  { t }: PageLanguage,
  report: ReleaseTestReport | undefined,
  error: string | undefined,
): string {
  const e = (key: Parameters<PageLanguage['t']>[0], params?: Record<string, string | number>) =>
    escapeHtml(t(key, params));
  const url = ctx.messageUrl('$APPID$');
  const rows = report?.cases
    .map(
      (c) =>
        `<tr data-case="${escapeHtml(c.case)}" data-passed="${c.passed}"><td>${escapeHtml(c.case)}</td><td>${escapeHtml(c.appid ?? '')}</td><td>${c.passed ? `✓ ${e('sandbox.release.passed')}` : `✗ ${e('sandbox.release.failed')}`}</td><td>${escapeHtml(c.reason)}</td></tr>`,
    )
    .join('\n');
  return `<h1>${e('sandbox.release.title')}</h1>
<p>${e('sandbox.release.messageUrl')}: <code id="message-url">${escapeHtml(url ?? t('sandbox.release.noMessageUrl'))}</code></p>
<form method="post" action="/release-test"><label>${e('sandbox.release.group')} <select name="group">
<option value="">${e('sandbox.release.random')}</option>${[1, 2, 3, 4, 5].map((g) => `<option value="${g}">${g}</option>`).join('')}
</select></label> <button type="submit" id="run-release-test">${e('sandbox.release.run')}</button></form>
${error ? `<p class="error" id="error">${escapeHtml(error)}</p>` : ''}
${
  report
    ? `<p class="${report.passed ? 'notice' : 'error'}" id="verdict" data-passed="${report.passed}">${e(report.passed ? 'sandbox.release.allPassed' : 'sandbox.release.someFailed', { group: report.group })}</p>
<table id="cases"><tr><th>${e('sandbox.release.case')}</th><th>${e('sandbox.home.account')}</th><th>${e('sandbox.home.result')}</th><th>${e('sandbox.release.reason')}</th></tr>
${rows}
</table>`
    : ''
}
<p><a href="/">← ${e('sandbox.home.back')}</a></p>`;
}

export function releaseTestPage(ctx: SandboxContext): Router {
  const router = Router();
  router.get('/release-test', (req, res) => {
    const lang = pageLanguage(req);
    sendPage(res, 200, layout(lang, lang.t('sandbox.release.title'), page(ctx, lang, undefined, undefined)));
  });
  router.post('/release-test', express.urlencoded({ extended: false, limit: '4kb' }), async (req, res) => {
    const lang = pageLanguage(req);
    const title = lang.t('sandbox.release.title');
    const raw = (req.body as Record<string, unknown> | undefined)?.group;
    const group = typeof raw === 'string' && /^[1-5]$/.test(raw) ? Number(raw) : undefined;
    if (!ctx.messageUrl('$APPID$')) {
      return sendPage(
        res,
        409,
        layout(lang, title, page(ctx, lang, undefined, lang.t('sandbox.release.needMessageUrl'))),
      );
    }
    const report = await ctx.releaseTest.run({ group });
    sendPage(res, 200, layout(lang, title, page(ctx, lang, report, undefined)));
  });
  return router;
}

/**
 * The emulator console's release-test page: one button runs WeChat's release test (全网发布接入检测) against the
 * service's message URL and shows each case's result with its reason, as WeChat's Open Platform console does.
 */
import express, { Router } from 'express';
import type { SandboxContext } from './context';
import { escapeHtml, layout, sendPage } from './html';
import type { ReleaseTestReport } from './release-test';

function page(ctx: SandboxContext, report: ReleaseTestReport | undefined, error: string | undefined): string {
  const url = ctx.messageUrl('$APPID$');
  const rows = report?.cases
    .map(
      (c) =>
        `<tr data-case="${escapeHtml(c.case)}" data-passed="${c.passed}"><td>${escapeHtml(c.case)}</td><td>${escapeHtml(c.appid ?? '')}</td><td>${c.passed ? '✓ 通过' : '✗ 未通过'}</td><td>${escapeHtml(c.reason)}</td></tr>`,
    )
    .join('\n');
  return `<h1>全网发布接入检测 (release test)</h1>
<p>消息与事件接收URL (message URL): <code id="message-url">${escapeHtml(url ?? '(none: set the push URL)')}</code></p>
<form method="post" action="/release-test"><label>测试账号组 (group) <select name="group">
<option value="">随机 (random)</option>${[1, 2, 3, 4, 5].map((g) => `<option value="${g}">${g}</option>`).join('')}
</select></label> <button type="submit" id="run-release-test">开始检测 (run)</button></form>
${error ? `<p class="error" id="error">${escapeHtml(error)}</p>` : ''}
${
  report
    ? `<p class="${report.passed ? 'notice' : 'error'}" id="verdict" data-passed="${report.passed}">第 ${report.group} 组：${report.passed ? '全部通过 (all cases passed)' : '有未通过的检测项 (some cases failed)'}</p>
<table id="cases"><tr><th>case</th><th>account</th><th>result</th><th>reason</th></tr>
${rows}
</table>`
    : ''
}
<p><a href="/">← emulator home</a></p>`;
}

export function releaseTestPage(ctx: SandboxContext): Router {
  const router = Router();
  router.get('/release-test', (_req, res) => sendPage(res, 200, layout('全网发布接入检测', page(ctx, undefined, undefined))));
  router.post('/release-test', express.urlencoded({ extended: false, limit: '4kb' }), async (req, res) => {
    const raw = (req.body as Record<string, unknown> | undefined)?.group;
    const group = typeof raw === 'string' && /^[1-5]$/.test(raw) ? Number(raw) : undefined;
    if (!ctx.messageUrl('$APPID$')) {
      return sendPage(res, 409, layout('全网发布接入检测', page(ctx, undefined, 'No message URL: set the push URL first.')));
    }
    const report = await ctx.releaseTest.run({ group });
    sendPage(res, 200, layout('全网发布接入检测', page(ctx, report, undefined)));
  });
  return router;
}

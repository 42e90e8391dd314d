/**
 * Server-rendered HTML for the emulator's pages: escaping, one shared layout with a little inline CSS, and the
 * headers every page gets. No scripts anywhere: the pages work with plain forms and links.
 */
import type { Request, Response } from 'express';
import { negotiateLocale, translator, type Locale, type Translate } from '../i18n';

const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Safe in element content and in quoted attribute values. */
export function escapeHtml(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (ch) => ENTITIES[ch] as string);
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.6 -apple-system,BlinkMacSystemFont,"PingFang SC","Microsoft YaHei",sans-serif;color:#1f2329;background:#f2f3f5}
header{background:#07c160;color:#fff;padding:12px 20px;font-weight:600}
header small{font-weight:400;opacity:.85;margin-left:8px}
main{max-width:640px;margin:24px auto;background:#fff;border-radius:8px;padding:24px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
body.mobile main{margin:0;border-radius:0;box-shadow:none;min-height:100vh}
h1{font-size:20px;margin:0 0 12px}
.muted{color:#8f959e;font-size:13px}
.error{border-left:4px solid #fa5151;background:#fff4f4;padding:12px 16px;border-radius:4px}
.notice{border-left:4px solid #07c160;background:#f0fbf5;padding:12px 16px;border-radius:4px}
ul.accounts{list-style:none;padding:0;margin:16px 0}
ul.accounts li{border:1px solid #e5e6eb;border-radius:6px;margin-bottom:8px}
ul.accounts label,ul.accounts .row{display:flex;gap:12px;align-items:center;padding:10px 12px;cursor:pointer}
ul.accounts li:has(input:checked){border-color:#07c160;background:#f0fbf5}
.name{font-weight:600}
.badge{font-size:12px;border-radius:3px;padding:0 6px;background:#e8f3ff;color:#1f6fd1;margin-left:6px}
.badge.on{background:#e8f8ef;color:#07a35a}
.grow{flex:1}
button{font:inherit;border:0;border-radius:4px;padding:8px 20px;background:#07c160;color:#fff;cursor:pointer}
button.danger{background:#fa5151}
table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:6px 8px;border-bottom:1px solid #eee;font-size:14px}
code{font-size:13px;background:#f2f3f5;padding:0 4px;border-radius:3px}
`;

/** The page language of an emulator page: the service's rule (?lang=, then Accept-Language; zh-CN by default). */
export interface PageLanguage {
  readonly locale: Locale;
  readonly t: Translate;
}

export function pageLanguage(req: Request): PageLanguage {
  const locale = negotiateLocale({ query: req.query.lang, acceptLanguage: req.get('accept-language') });
  return { locale, t: translator(locale) };
}

export function layout(lang: PageLanguage, title: string, body: string, opts: { mobile?: boolean } = {}): string {
  return `<!doctype html>
<html lang="${lang.locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body${opts.mobile ? ' class="mobile"' : ''}>
<header>${escapeHtml(lang.t('sandbox.header'))} <small>${escapeHtml(lang.t('sandbox.headerNote'))}</small></header>
<main>
${body}
</main>
</body>
</html>`;
}

/** An error page with a stable hook (`#error`, `data-error`) for browser tests. */
export function errorPage(
  lang: PageLanguage,
  title: string,
  kind: string,
  message: string,
  opts: { mobile?: boolean } = {},
): string {
  return layout(
    lang,
    title,
    `<h1>${escapeHtml(title)}</h1>\n<p id="error" class="error" data-error="${escapeHtml(kind)}">${escapeHtml(message)}</p>`,
    opts,
  );
}

export function sendPage(res: Response, status: number, html: string): void {
  // No scripts run on these pages; a strict policy makes that explicit. form-action is left open on purpose:
  // browsers apply it to the redirect after a form post, and the confirm form ends on the service's redirect_uri.
  res.set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:");
  res.set('Cache-Control', 'no-store');
  res.status(status).type('html').send(html);
}

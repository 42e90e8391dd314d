import { parse as parseCookies } from 'cookie';
import type { RequestHandler, Response } from 'express';
import { LOCALES, negotiateLocale } from '../i18n';
import type { PageContext } from '../views';

const LANG_COOKIE = 'lang';
const YEAR_MS = 365 * 24 * 3600_000;

/**
 * Chooses each page's language: `?lang=` (remembered in a cookie, so the next page keeps it), the
 * remembered choice, then Accept-Language; zh-CN by default.
 */
export function pageLocale(): RequestHandler {
  return (req, res, next) => {
    const query = typeof req.query.lang === 'string' ? req.query.lang : undefined;
    const remembered = parseCookies(req.get('cookie') ?? '')[LANG_COOKIE];
    const locale = negotiateLocale({ query, remembered, acceptLanguage: req.get('accept-language') });
    if (query !== undefined && query !== remembered) {
      res.cookie(LANG_COOKIE, locale, {
        maxAge: YEAR_MS,
        httpOnly: true,
        sameSite: 'lax',
        secure: req.secure,
        path: '/',
      });
    }
    res.vary('Accept-Language');
    const url = new URL(req.originalUrl, 'http://page.invalid');
    const languageLinks = LOCALES.map((other) => {
      url.searchParams.set('lang', other);
      return { locale: other, href: `${url.pathname}${url.search}`, current: other === locale };
    });
    const page: PageContext = { locale, languageLinks };
    res.locals.page = page;
    next();
  };
}

export function pageContext(res: Response): PageContext {
  return (res.locals.page as PageContext | undefined) ?? { locale: negotiateLocale({}), languageLinks: [] };
}

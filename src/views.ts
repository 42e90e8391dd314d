import { join } from 'node:path';
import { Eta } from 'eta';
import { formatDuration, formatTime, translator, type Locale } from './i18n';
import { permissionSetName } from './wechat/permission-sets';

export type ViewName =
  | 'authorize'
  | 'authorized'
  | 'error'
  | 'not-found'
  | 'console/login'
  | 'console/overview'
  | 'console/accounts'
  | 'console/account'
  | 'console/recovery';

/** What every rendered page needs to know about its request (set by routes/locale.ts). */
export interface PageContext {
  readonly locale: Locale;
  /** The same page in each language (`?lang=`), for the switch in the page header. */
  readonly languageLinks: ReadonlyArray<{ readonly locale: Locale; readonly href: string; readonly current: boolean }>;
}

/**
 * Server-rendered pages (views/*.eta): no front-end build, usable without JavaScript. Every text comes
 * from the page language's catalogue (`it.t(key)`), permission sets by name (`it.permissionSet(id)`).
 */
export interface Views {
  render(name: ViewName, page: PageContext, data?: Record<string, unknown>): string;
}

export function createViews(platformName: string): Views {
  const eta = new Eta({
    views: join(__dirname, '..', 'views'),
    autoEscape: true,
    cache: true,
  });
  return {
    render: (name, page, data = {}) => {
      const t = translator(page.locale);
      return eta.render(`./${name}`, {
        platformName,
        ...page,
        t,
        permissionSet: (id: number) => permissionSetName(id, page.locale),
        duration: (ms: number) => formatDuration(t, ms),
        time: formatTime,
        ...data,
      });
    },
  };
}

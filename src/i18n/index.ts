import en from './en.json';
import zhCN from './zh-CN.json';

/**
 * The languages of every page the service and the sandbox render: zh-CN first (nearly every 公众号 and
 * 小程序 admin reads Chinese), English on request. One catalogue per language (./zh-CN.json, ./en.json,
 * flat keys, `{name}` placeholders); templates and page builders only ever look keys up.
 */
export type Locale = 'zh-CN' | 'en';
export const LOCALES: readonly Locale[] = ['zh-CN', 'en'];
export const DEFAULT_LOCALE: Locale = 'zh-CN';

export type MessageKey = keyof typeof zhCN;
export type MessageParams = Readonly<Record<string, string | number>>;
export type Translate = (key: MessageKey, params?: MessageParams) => string;

const CATALOGUES: Readonly<Record<Locale, Readonly<Record<MessageKey, string>>>> = { 'zh-CN': zhCN, en };

/** `?lang=` values and Accept-Language ranges each locale answers to (by primary subtag). */
function localeOf(tag: string): Locale | undefined {
  const primary = tag.trim().toLowerCase().split('-')[0];
  if (primary === 'zh') return 'zh-CN';
  if (primary === 'en') return 'en';
  return undefined;
}

/**
 * The page language: an explicit choice (`?lang=`, then the remembered one) when it names a known
 * language, else the first language of Accept-Language (by q) that has a catalogue, else zh-CN.
 */
export function negotiateLocale(choice: { query?: unknown; remembered?: string; acceptLanguage?: string }): Locale {
  for (const explicit of [choice.query, choice.remembered]) {
    if (typeof explicit === 'string') {
      const locale = localeOf(explicit);
      if (locale) return locale;
    }
  }
  const ranges = (choice.acceptLanguage ?? '')
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { tag: tag.trim(), q: q ? Number(q.slice(2)) : 1, index };
    })
    .filter((r) => r.tag && Number.isFinite(r.q) && r.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const range of ranges) {
    const locale = localeOf(range.tag);
    if (locale) return locale;
  }
  return DEFAULT_LOCALE;
}

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}

export function translator(locale: Locale): Translate {
  const catalogue = CATALOGUES[locale];
  return (key, params) => {
    const message: string = catalogue[key] ?? CATALOGUES[DEFAULT_LOCALE][key] ?? String(key);
    return params
      ? message.replace(/\{(\w+)\}/g, (whole: string, name: string) => (name in params ? String(params[name]) : whole))
      : message;
  };
}

/** A span for people: the two largest units ("1 小时 5 分钟", "1 h 5 min"), seconds only under a minute. */
export function formatDuration(t: Translate, ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const parts: [MessageKey, number][] = [
    ['unit.day', Math.floor(seconds / 86400)],
    ['unit.hour', Math.floor((seconds % 86400) / 3600)],
    ['unit.minute', Math.floor((seconds % 3600) / 60)],
    ['unit.second', seconds < 60 ? seconds : 0],
  ];
  const first = parts.findIndex(([, n]) => n > 0);
  if (first < 0) return t('unit.second', { n: 0 });
  return parts
    .slice(first, first + 2)
    .filter(([, n]) => n > 0)
    .map(([key, n]) => t(key, { n }))
    .join(' ');
}

/** A moment, unambiguous for operators in any time zone: `2026-12-01 11:48:35 UTC`. */
export function formatTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Every key of one catalogue missing from another (the unit test keeps both complete). */
export function missingKeys(locale: Locale): string[] {
  return Object.keys(CATALOGUES[DEFAULT_LOCALE]).filter((key) => !(key in CATALOGUES[locale]));
}

export function catalogueKeys(locale: Locale): string[] {
  return Object.keys(CATALOGUES[locale]);
}

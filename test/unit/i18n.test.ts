import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  catalogueKeys,
  formatDuration,
  formatTime,
  LOCALES,
  missingKeys,
  negotiateLocale,
  translator,
} from '../../src/i18n';
import { permissionSetIds, permissionSetName } from '../../src/wechat/permission-sets';

describe('message catalogues', () => {
  it('have the same keys in every language, none empty', () => {
    for (const locale of LOCALES) {
      expect([locale, missingKeys(locale)]).toEqual([locale, []]);
      const t = translator(locale);
      for (const key of catalogueKeys(locale)) expect(t(key as never).trim()).not.toBe('');
    }
    expect(catalogueKeys('en').sort()).toEqual(catalogueKeys('zh-CN').sort());
  });

  it('are the only source of page text: every key a template uses exists', () => {
    const views = join(__dirname, '..', '..', 'views');
    const files = [
      ...readdirSync(views).map((f) => join(views, f)),
      ...readdirSync(join(views, 'console')).map((f) => join(views, 'console', f)),
    ];
    const keys = new Set(catalogueKeys('zh-CN'));
    const used = files
      .filter((f) => f.endsWith('.eta'))
      .flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/it\.t\('([^']+)'/g)].map((m) => m[1] as string));
    expect(used.length).toBeGreaterThan(50);
    // 'status.' + status is completed at run time; each status has its key.
    expect(used.filter((k) => !keys.has(k) && k !== 'status.')).toEqual([]);
    for (const status of ['authorized', 'unauthorized', 'reauthorization_required'])
      expect(keys.has(`status.${status}`)).toBe(true);
  });

  it('fill placeholders', () => {
    expect(translator('zh-CN')('console.accounts.pageOf', { page: 2, pages: 9 })).toBe('第 2 / 9 页');
    expect(translator('en')('console.accounts.pageOf', { page: 2, pages: 9 })).toBe('Page 2 of 9');
  });
});

describe('negotiateLocale', () => {
  it.each([
    [{}, 'zh-CN'],
    [{ acceptLanguage: 'en-US,en;q=0.9' }, 'en'],
    [{ acceptLanguage: 'fr-FR,en;q=0.5,zh;q=0.8' }, 'zh-CN'],
    [{ acceptLanguage: 'de, fr' }, 'zh-CN'],
    [{ acceptLanguage: 'en;q=0, zh-TW' }, 'zh-CN'],
    [{ acceptLanguage: 'EN' }, 'en'],
    [{ query: 'en', acceptLanguage: 'zh-CN' }, 'en'],
    [{ query: 'zh', acceptLanguage: 'en' }, 'zh-CN'],
    [{ query: 'klingon', acceptLanguage: 'en' }, 'en'],
    [{ remembered: 'en', acceptLanguage: 'zh-CN' }, 'en'],
    [{ query: 'zh-CN', remembered: 'en' }, 'zh-CN'],
    [{ query: ['en', 'zh'] }, 'zh-CN'],
  ] as const)('%j → %s', (choice, expected) => {
    expect(negotiateLocale(choice as never)).toBe(expected);
  });
});

describe('durations and times for people', () => {
  const zh = translator('zh-CN');
  const en = translator('en');
  it.each([
    [0, '0 秒', '0 s'],
    [59_999, '59 秒', '59 s'],
    [60_000, '1 分钟', '1 min'],
    [3_725_000, '1 小时 2 分钟', '1 h 2 min'],
    [7_200_000, '2 小时', '2 h'],
    [90_000_000, '1 天 1 小时', '1 d 1 h'],
    [-5, '0 秒', '0 s'],
  ])('%d ms', (ms, zhText, enText) => {
    expect(formatDuration(zh, ms)).toBe(zhText);
    expect(formatDuration(en, ms)).toBe(enText);
  });
  it('shows times in UTC to the second', () => {
    expect(formatTime(Date.UTC(2026, 11, 1, 11, 48, 35, 900))).toBe('2026-12-01 11:48:35 UTC');
  });
});

describe('permission sets (权限集)', () => {
  it('are named as WeChat names them, in both languages', () => {
    expect(permissionSetName(1, 'zh-CN')).toBe('消息管理权限');
    expect(permissionSetName(15, 'zh-CN')).toBe('自定义菜单权限');
    expect(permissionSetName(18, 'zh-CN')).toBe('开发管理与数据分析权限（小程序）');
    expect(permissionSetName(1, 'en')).toBe('Message management');
  });
  it('name every set the emulator grants, and give later ones a generic name', () => {
    for (const id of [1, 2, 3, 4, 6, 7, 11, 15, 17, 18, 19, 25, 30, 31, 36, 37, 40])
      expect(permissionSetName(id, 'zh-CN')).not.toMatch(/^权限集/);
    expect(permissionSetName(999, 'zh-CN')).toBe('权限集 999');
    expect(permissionSetName(999, 'en')).toBe('Permission set 999');
  });
  it('reads the ids of a stored func_info and skips malformed entries', () => {
    expect(
      permissionSetIds([
        { funcscope_category: { id: 1 } },
        { funcscope_category: { id: '2' } },
        {},
        { funcscope_category: { id: 18 }, confirm_info: {} },
      ]),
    ).toEqual([1, 18]);
  });
});

import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createApp } from '../../src/app';
import { consoleEnv, OPERATOR, OPERATOR_PASSWORD, seedAccounts } from '../support/console';
import { startHarness, type Harness } from '../support/emulator';
import { freePort } from '../support/global-setup';
import { screenshotDir } from '../support/screenshots';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = screenshotDir();
/** The emulator's first demo Official Account and Mini Program. */
const OA = 'wx3c5a7e19b2d40f81';
const MP = 'wx6f4b1c8e20d7a953';
const SEEDED = 1000;

/**
 * The operator console in a real browser (Debian's Chromium, CJK fonts): sign in, 1 000 seeded
 * accounts listed and searched, one opened and its token refreshed (the emulator sees the call),
 * a wrong password, a CSRF-less POST and an expired session refused. Screenshots of each page.
 */
describe('operator console in a browser', () => {
  let h: Harness;
  let server: Server;
  let base: string;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(
        `Chromium not found at ${CHROMIUM}: apt-get install chromium fonts-noto-cjk (or set CHROMIUM_PATH)`,
      );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const port = await freePort();
    base = `http://localhost:${port}`;
    h = await startHarness({ env: { PUBLIC_BASE_URL: base, ...(await consoleEnv()) } });
    for (const appid of [OA, MP]) {
      await h.authorize(appid);
      await h.container.authorizationService.fetchAccountInfo(appid);
    }
    await seedAccounts(h.container.authorizerStore, SEEDED, h.clock.now());
    server = createApp(h.container).listen(port, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
  });
  afterAll(async () => {
    await browser?.close();
    if (server) await new Promise((r) => server.close(r));
    await h?.close();
  });

  beforeEach(async () => {
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
  });
  afterEach(async () => {
    await page?.close();
  });

  async function expectTextSoon(p: Page, selector: string, text: string): Promise<void> {
    await p.locator(selector, { hasText: text }).waitFor();
  }

  async function signIn(password = OPERATOR_PASSWORD): Promise<void> {
    await page.goto(`${base}/console`);
    await page.waitForURL((url) => url.pathname === '/console/login');
    await page.fill('#login-name', OPERATOR);
    await page.fill('#login-password', password);
    await page.click('#login-submit');
  }

  it('refuses a wrong password and stays on the sign-in page', async () => {
    await signIn('not the password');
    await page.locator('#login-error').waitFor();
    expect(await page.locator('#login-error').innerText()).toContain('用户名或密码错误');
    await page.screenshot({ path: join(SHOTS, 'console-0-login.png'), fullPage: true });
    expect(new URL(page.url()).pathname).toBe('/console/login');
  });

  it('signs in, lists and searches the accounts, opens one and refreshes its token', async () => {
    await signIn();
    await page.waitForURL(`${base}/console`);
    await page.locator('#overview').waitFor();
    expect(await page.locator('[data-status="authorized"] td').nth(1).innerText()).toBe(String(SEEDED + 2));
    await page.screenshot({ path: join(SHOTS, 'console-1-overview.png'), fullPage: true });

    await page.click('#nav-accounts');
    await page.locator('#accounts').waitFor();
    expect(await page.locator('#total').getAttribute('data-total')).toBe(String(SEEDED + 2));
    expect(await page.locator('#accounts tr[data-account]').count()).toBe(50);
    expect(await page.locator('#page-of').innerText()).toBe('第 1 / 21 页');
    await page.screenshot({ path: join(SHOTS, 'console-2-accounts.png'), fullPage: true });
    await page.click('#next-page');
    await page.waitForURL((url) => url.searchParams.get('page') === '2');

    await page.fill('#search', '湖畔');
    await page.click('#search-submit');
    await page.waitForURL((url) => url.searchParams.get('q') === '湖畔');
    expect(
      await page
        .locator('#accounts tr[data-account]')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-account'))),
    ).toEqual([OA, MP]);
    await page.screenshot({ path: join(SHOTS, 'console-3-search.png'), fullPage: true });
    await page.fill('#search', '测试小程序 99');
    await page.click('#search-submit');
    await page.waitForURL((url) => url.searchParams.get('q') === '测试小程序 99');
    // Generated Mini Programs have even numbers: 测试小程序 990, 992, 994, 996, 998.
    expect(await page.locator('#total').getAttribute('data-total')).toBe('5');

    await page.goto(`${base}/console/accounts?q=${OA}`);
    await page.click(`tr[data-account="${OA}"] a`);
    await page.waitForURL(`${base}/console/accounts/${OA}`);
    expect(await page.locator('#permission-sets').innerText()).toContain('消息管理权限');
    await page.screenshot({ path: join(SHOTS, 'console-4-account.png'), fullPage: true });

    h.clock.advance(20 * 60_000);
    const before = h.emulator.callLog.count('api_authorizer_token');
    await page.click('#refresh');
    await page.locator('#refreshed').waitFor();
    expect(h.emulator.callLog.count('api_authorizer_token')).toBe(before + 1);
    expect(h.emulator.callLog.entries('api_authorizer_token').at(-1)).toMatchObject({ errcode: 0 });
    expect(await page.locator('#token-expires-in').innerText()).toMatch(/^(2 小时|1 小时 59 分钟)$/);
    await page.screenshot({ path: join(SHOTS, 'console-5-refreshed.png'), fullPage: true });
  });

  it('shows a re-authorization link for an account that must authorize again, and runs recovery', async () => {
    await h.container.authorizerStore.markReauthorizationRequired(
      MP,
      'api_authorizer_token errcode 61023: the refresh token is invalid; the account must authorize again',
    );
    await signIn();
    await page.waitForURL(`${base}/console`);
    await page.goto(`${base}/console/accounts/${MP}`);
    const link = await page.locator('#reauthorization-link').inputValue();
    expect(link).toBe(`${base}/authorize?biz_appid=${MP}&auth_type=2`);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await page.click('#copy-link');
    await expectTextSoon(page, '#copy-link', '已复制');
    await page.screenshot({ path: join(SHOTS, 'console-6-reauthorization.png'), fullPage: true });

    await page.click('#nav-recovery');
    await page.click('#run-recovery');
    await page.locator('#recovery-result').waitFor();
    expect(await page.locator('[data-field="listed"]').innerText()).toBe('2');
    // WeChat lists the same refresh token that already failed for MP: nothing to restore (known_bad).
    expect(await page.locator('[data-field="restored"]').innerText()).toBe('0');
    await page.screenshot({ path: join(SHOTS, 'console-7-recovery.png'), fullPage: true });

    await page.goto(`${base}/console?lang=en`);
    expect(await page.locator('h1').innerText()).toBe('Overview');
    await page.screenshot({ path: join(SHOTS, 'console-8-overview-en.png'), fullPage: true });
  });

  it('refuses a POST without the CSRF token (403, nothing changed), and ends an expired session', async () => {
    await signIn();
    await page.waitForURL(`${base}/console`);
    const before = h.emulator.callLog.count('api_authorizer_token');
    // What a forged form would send: the browser's cookies, but no token.
    const status = await page.evaluate(
      async (appid) =>
        (
          await fetch(`/console/accounts/${appid}/refresh`, {
            method: 'POST',
            body: new URLSearchParams({ x: '1' }),
            credentials: 'same-origin',
          })
        ).status,
      OA,
    );
    expect(status).toBe(403);
    expect(h.emulator.callLog.count('api_authorizer_token')).toBe(before);

    h.clock.advance(8 * 3600_000 + 1000);
    await page.goto(`${base}/console/accounts`);
    await page.waitForURL((url) => url.pathname === '/console/login');
    await page.locator('#login-expired').waitFor();
    expect(new URL(page.url()).searchParams.get('next')).toBe('/console/accounts');
  });
});

import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createApp } from '../../src/app';
import { freePort } from '../support/global-setup';
import { startHarness, type Harness } from '../support/emulator';
import { newTestRedis } from '../support/redis';
import { screenshotDir } from '../support/screenshots';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = screenshotDir();
/** The emulator's first demo Official Account. */
const OA = 'wx3c5a7e19b2d40f81';

/**
 * The authorization flow in a real browser: our page → WeChat's (emulated) page,
 * which checks the Referer like WeChat → confirm → our result page.
 * PUBLIC_BASE_URL uses "localhost" (the registered domain); the emulator is on
 * 127.0.0.1, so the two really are different sites, as in production.
 */
describe('authorization in a browser', () => {
  let h: Harness;
  let server: Server;
  let base: string;
  let browser: Browser;
  let page: Page;
  const redis = newTestRedis();

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
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
  });
  afterAll(async () => {
    await browser?.close();
    await redis.quit();
  });

  beforeEach(async () => {
    const port = await freePort();
    base = `http://localhost:${port}`;
    h = await startHarness({ env: { PUBLIC_BASE_URL: base }, emulator: { registeredDomain: 'localhost' } });
    server = createApp(h.container).listen(port, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    h.emulator.setPushUrl(`http://127.0.0.1:${port}/auth`);
    page = await browser.newPage({ viewport: { width: 1000, height: 900 }, locale: 'zh-CN' });
  });
  afterEach(async () => {
    await page?.close();
    await new Promise((r) => server.close(r));
    await h.close();
  });

  it('shows the authorize page in English to an English browser', async () => {
    const english = await browser.newPage({ viewport: { width: 1000, height: 900 }, locale: 'en-US' });
    try {
      await english.goto(`${base}/authorize`);
      await expectText(english, 'h1', 'Authorize your account');
      expect(await english.getAttribute('html', 'lang')).toBe('en');
      await english.screenshot({ path: join(ARTIFACTS, '1-authorize-en.png'), fullPage: true });
    } finally {
      await english.close();
    }
  });

  it('an admin authorizes an account from our page and sees its name', async () => {
    await page.goto(`${base}/authorize`);
    await expectText(page, 'h1', '授权你的公众号或小程序');
    await page.screenshot({ path: join(ARTIFACTS, '1-authorize.png'), fullPage: true });

    await page.click('#authorize-pc');
    await page.waitForURL((url) => url.href.startsWith(`${h.emulatorUrl}/cgi-bin/componentloginpage`));
    const account = page.locator(`[data-account="${OA}"]`);
    await account.waitFor();
    await page.screenshot({ path: join(ARTIFACTS, '2-wechat-authorization-page.png'), fullPage: true });

    await account.locator('input[type="radio"]').check();
    await page.click('#confirm');
    await page.waitForURL((url) => url.href.startsWith(`${base}/auth?auth_code=`));
    const name = h.emulator.accounts().find((a) => a.appid === OA)?.nickName ?? '';
    await expectText(page, '#account-name', name);
    await page.screenshot({ path: join(ARTIFACTS, '3-authorized.png'), fullPage: true });

    expect(await redis.hget(h.container.keys.authorizer(OA), 'status')).toBe('authorized');
    const token = await redis.get(h.container.keys.authorizerAccessToken(OA));
    expect(token && h.emulator.tokenStatus(token)).toBe('valid');
  });

  it('WeChat refuses the authorization page when it is opened without a Referer', async () => {
    const wechatUrl = (await fetch(`${base}/auth`, { redirect: 'manual' })).headers.get('location') ?? '';
    expect(wechatUrl).toContain('/cgi-bin/componentloginpage?');
    await page.goto(wechatUrl); // typed into the address bar: no Referer
    await expectText(page, 'body', '授权入口页所在域名：空');
    await page.screenshot({ path: join(ARTIFACTS, '4-refused-without-referer.png'), fullPage: true });
    expect(h.emulator.callLog.count('api_query_auth')).toBe(0);
  });
});

async function expectText(page: Page, selector: string, text: string): Promise<void> {
  await page.locator(selector).first().waitFor();
  expect(await page.locator(selector).first().innerText()).toContain(text);
}

import type { Server } from 'node:http';
import { createApp } from '../../src/app';
import { freePort } from '../support/global-setup';
import { startHarness, type Harness } from '../support/emulator';
import { keysUnder, newTestRedis } from '../support/redis';

/** The emulator's first demo Official Account ("demo" names are shown on our result page). */
const OA = 'wx3c5a7e19b2d40f81';

describe('the admin authorization flow (GET /authorize, GET /auth)', () => {
  let h: Harness;
  let server: Server;
  let base: string;
  const redis = newTestRedis();

  async function start(opts: { withTicket?: boolean; pushes?: boolean } = {}): Promise<void> {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    h = await startHarness({
      env: { PUBLIC_BASE_URL: base },
      emulator: { registeredDomain: '127.0.0.1' },
      withTicket: opts.withTicket ?? true,
    });
    server = createApp(h.container).listen(port, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    if (opts.pushes ?? true) h.emulator.setPushUrl(`${base}/auth`);
  }
  afterEach(async () => {
    await new Promise((r) => server.close(r));
    await h.close();
  });
  afterAll(() => redis.quit());

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { headers, redirect: 'manual' });

  describe('GET /authorize', () => {
    beforeEach(() => start());

    it('renders the page in Chinese with a PC button, an in-WeChat button, the account-type choice and Referrer-Policy: origin', async () => {
      const res = await get('/authorize');
      expect(res.status).toBe(200);
      expect(res.headers.get('referrer-policy')).toBe('origin');
      expect(res.headers.get('content-security-policy')).toContain(`form-action 'self' ${h.emulatorUrl}`);
      const html = await res.text();
      expect(html).toContain('<html lang="zh-CN">');
      expect(html).toContain('授权你的公众号或小程序');
      expect(html).toContain('用公众号或小程序管理员的微信扫码');
      expect(html).toMatch(/<form method="get" action="\/auth"/);
      expect(html).toContain('id="authorize-pc"');
      // The H5 button submits the same form, so it carries the account type chosen above.
      expect(html).toMatch(
        /<button type="submit" class="button secondary" id="authorize-mobile" name="mobile" value="1">/,
      );
      expect(html).toContain('href="/favicon.ico"');
      expect(html.match(/name="auth_type"/g)).toHaveLength(3);
      expect(html).toContain('name="viewport"');
    });

    it('speaks English by Accept-Language or ?lang=, and remembers ?lang= in a cookie', async () => {
      const byHeader = await (await get('/authorize', { 'Accept-Language': 'en-US,en;q=0.9,zh-CN;q=0.5' })).text();
      expect(byHeader).toContain('<html lang="en">');
      expect(byHeader).toContain('Authorize your account');
      expect(byHeader).toContain('scan it with the WeChat of the account');
      const chinesePreferred = await (await get('/authorize', { 'Accept-Language': 'zh-TW,en;q=0.8' })).text();
      expect(chinesePreferred).toContain('授权你的公众号或小程序');
      const byQuery = await get('/authorize?lang=en&auth_type=2', { 'Accept-Language': 'zh-CN' });
      expect(await byQuery.text()).toContain('Authorize your account');
      const cookie = byQuery.headers.get('set-cookie') ?? '';
      expect(cookie).toMatch(/^lang=en;/);
      const remembered = await (await get('/authorize', { 'Accept-Language': 'zh-CN', Cookie: 'lang=en' })).text();
      expect(remembered).toContain('Authorize your account');
      // The language switch keeps the page's own parameters.
      expect(remembered).toContain('href="/authorize?lang=zh-CN"');
      expect(await (await get('/authorize?auth_type=2')).text()).toContain('href="/authorize?auth_type=2&amp;lang=en"');
    });

    it('sends the in-WeChat (H5) button to the H5 page with the account type the admin chose', async () => {
      // What the browser sends when the admin picks 小程序 and presses the H5 button.
      const location = (await get('/auth?auth_type=2&mobile=1')).headers.get('location') ?? '';
      expect(location.startsWith(`${h.emulatorUrl}/wxaopen/safe/bindcomponent?`)).toBe(true);
      expect(new URL(location).searchParams.get('auth_type')).toBe('2');
    });

    it('passes biz_appid through and refuses bad values with a 400 page', async () => {
      const html = await (await get('/authorize?biz_appid=wxabcdef0123456789&auth_type=1')).text();
      expect(html).toContain('name="biz_appid" value="wxabcdef0123456789"');
      expect(html).toMatch(/value="1" checked/);
      const bad = await get('/authorize?auth_type=7');
      expect(bad.status).toBe(400);
      expect(await bad.text()).toContain('auth_type must be 1, 2 or 3');
    });
  });

  describe('GET /auth without auth_code', () => {
    beforeEach(() => start());

    it('redirects to the PC authorization page with a fresh pre_auth_code and the encoded redirect_uri', async () => {
      const first = await get('/auth?auth_type=2&biz_appid=wxabcdef0123456789');
      expect(first.status).toBe(302);
      const location = first.headers.get('location') ?? '';
      expect(location.startsWith(`${h.emulatorUrl}/cgi-bin/componentloginpage?`)).toBe(true);
      expect(location).toContain(`redirect_uri=${encodeURIComponent(`${base}/auth`)}`);
      const url = new URL(location);
      expect(url.searchParams.get('component_appid')).toBe(h.config.component.appId);
      expect(url.searchParams.get('auth_type')).toBe('2');
      expect(url.searchParams.get('biz_appid')).toBe('wxabcdef0123456789');
      const second = new URL((await get('/auth')).headers.get('location') ?? '');
      expect(second.searchParams.get('pre_auth_code')).not.toBe(url.searchParams.get('pre_auth_code'));
      expect(second.searchParams.get('auth_type')).toBe('3');
      expect(h.emulator.callLog.count('api_create_preauthcode', { ok: true })).toBe(2);
    });

    it.each([
      ['?mobile=1', {}],
      ['', { 'User-Agent': 'Mozilla/5.0 (iPhone) MicroMessenger/8.0.50' }],
    ])('sends phones (%s / WeChat user agent) to the H5 page', async (query, headers) => {
      const location = (await get(`/auth${query}`, headers)).headers.get('location') ?? '';
      expect(location.startsWith(`${h.emulatorUrl}/wxaopen/safe/bindcomponent?action=bindcomponent&no_scan=1&`)).toBe(
        true,
      );
      expect(location.endsWith('#wechat_redirect')).toBe(true);
    });

    it.each(['auth_type=0', 'auth_type=abc', 'biz_appid=not-an-appid', 'auth_type=1&auth_type=2'])(
      'refuses %s with 400 and asks WeChat for nothing',
      async (query) => {
        const res = await get(`/auth?${query}`);
        expect(res.status).toBe(400);
        expect(await res.text()).toContain('id="try-again"');
        expect(h.emulator.callLog.count('api_create_preauthcode')).toBe(0);
      },
    );
  });

  describe('the whole round trip over HTTP', () => {
    /** GET /auth → WeChat's page (with our Referer) → confirm → back to GET /auth?auth_code=… */
    async function authorizeThroughPages(appid: string): Promise<Response> {
      const wechatPage = (await get('/auth')).headers.get('location') ?? '';
      const page = await fetch(wechatPage, { headers: { Referer: `${base}/` } });
      const html = await page.text();
      expect(page.status).toBe(200);
      expect(html).toContain(`data-account="${appid}"`);
      const session = /name="session" value="([^"]+)"/.exec(html)?.[1] ?? '';
      const confirmed = await fetch(`${h.emulatorUrl}/cgi-bin/componentloginpage/confirm`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ session, appid }).toString(),
        redirect: 'manual',
      });
      expect(confirmed.status).toBe(302);
      const back = confirmed.headers.get('location') ?? '';
      expect(back).toMatch(new RegExp(`^${base}/auth\\?auth_code=[^&]+&expires_in=\\d+$`));
      return fetch(back, { redirect: 'manual' });
    }

    it('push first, redirect second: the result page names the account and the code is exchanged once', async () => {
      await start({ pushes: true });
      const result = await authorizeThroughPages(OA);
      expect(result.status).toBe(200);
      const html = await result.text();
      const account = h.emulator.accounts().find((a) => a.appid === OA);
      expect(html).toContain(`<strong id="account-name">${account?.nickName}</strong>`);
      expect(html).toContain(OA);
      expect(html).toContain('公众号');
      expect(html).toContain('<li data-permission-set="1">消息管理权限</li>');
      expect(h.emulator.callLog.count('api_query_auth')).toBe(1);
      const token = await redis.get(h.container.keys.authorizerAccessToken(OA));
      expect(token && h.emulator.tokenStatus(token)).toBe('valid');
    });

    it('without the push, the redirect exchanges the code and stores the account itself', async () => {
      await start({ pushes: false });
      const result = await authorizeThroughPages(OA);
      expect(result.status).toBe(200);
      expect(await result.text()).toContain('id="account-func-info"');
      expect(await redis.hget(h.container.keys.authorizer(OA), 'status')).toBe('authorized');
      expect(h.emulator.callLog.count('api_query_auth')).toBe(1);
    });
  });

  describe('GET /auth?auth_code=… that cannot be used', () => {
    it('an unknown or used code: 400 error page, nothing stored', async () => {
      await start();
      const before = await keysUnder(redis, h.config.redis.keyPrefix);
      const res = await get('/auth?auth_code=queryauthcode@@@never-issued&expires_in=600');
      expect(res.status).toBe(400);
      const html = await res.text();
      expect(html).toContain('授权链接已过期或已使用');
      expect(html).toContain('href="/authorize"');
      expect(html).not.toMatch(/at .*\.ts:\d+/);
      // The only new keys may be the component token fetched to call api_query_auth (a legitimate cache).
      const added = (await keysUnder(redis, h.config.redis.keyPrefix)).filter((k) => !before.includes(k));
      expect(added.filter((k) => !/:component_access_token\}?$/.test(k))).toEqual([]);
    });

    it('an expired code: 400 error page', async () => {
      await start({ pushes: false });
      const { authCode } = await h.emulator.authorize(OA, { push: false });
      h.clock.advance(2 * 3600 * 1000);
      await h.seedTicket(); // the old ticket aged too; WeChat would have pushed fresh ones
      const res = await get(`/auth?auth_code=${encodeURIComponent(authCode)}`);
      expect(res.status).toBe(400);
      expect(await redis.exists(h.container.keys.authorizer(OA))).toBe(0);
    });

    it('no ticket yet: 503 page saying the platform is not ready', async () => {
      await start({ withTicket: false });
      const res = await get('/auth');
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('平台尚未就绪');
    });
  });
});

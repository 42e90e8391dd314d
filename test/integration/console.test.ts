import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../../src/app';
import { keysUnder, newTestRedis } from '../support/redis';
import { captureLogs } from '../support/log-capture';
import {
  consoleEnv,
  csrfOf,
  OPERATOR,
  OPERATOR_PASSWORD,
  seedAccounts,
  SESSION_SECRET,
  signedIn,
} from '../support/console';
import { TEST_COMPONENT } from '../support/config';
import { startHarness, type Harness } from '../support/emulator';

/** The emulator's first demo Official Account and Mini Program. */
const OA = 'wx3c5a7e19b2d40f81';
const MP = 'wx6f4b1c8e20d7a953';
const HTML = 'text/html,application/xhtml+xml';

const GET_ROUTES = [
  '/console',
  '/console/accounts',
  '/console/accounts?q=wx',
  `/console/accounts/${OA}`,
  '/console/recovery',
];
const POST_ROUTES = [`/console/accounts/${OA}/refresh`, '/console/recovery', '/console/logout'];

describe('operator console', () => {
  let h: Harness;
  let app: Express;
  const logs = captureLogs('info');
  const redis = newTestRedis();

  beforeEach(async () => {
    h = await startHarness({
      env: await consoleEnv(),
      container: { logger: logs.logger, consoleLoginLimits: { perIp: 8, perUser: 4, windowSeconds: 900 } },
    });
    app = createApp(h.container);
    for (const appid of [OA, MP]) {
      await h.authorize(appid);
      await h.container.authorizationService.fetchAccountInfo(appid);
    }
  });
  afterEach(async () => {
    await h.close();
  });
  afterAll(async () => {
    await redis.quit();
  });

  const snapshot = async () => {
    const keys = await keysUnder(redis, h.container.keys.root);
    const values = await Promise.all(
      keys.filter((k) => !k.includes(':console:login_limit')).map(async (k) => [k, await redis.dump(k)]),
    );
    return { values, calls: h.emulator.callLog.entries().length };
  };

  it('answers 404 without CONSOLE_USERS, as a page for people and JSON for programs', async () => {
    const bare = await startHarness();
    try {
      const plain = createApp(bare.container);
      const page = await request(plain).get('/console').set('Accept', HTML).expect(404);
      expect(page.headers['content-type']).toMatch(/text\/html/);
      expect(page.text).toContain('页面不存在');
      await request(plain).get('/console/login').set('Accept', HTML).expect(404);
      await request(plain)
        .post('/console/login')
        .type('form')
        .send({ name: OPERATOR, password: OPERATOR_PASSWORD })
        .expect(404);
      expect((await request(plain).get('/console/accounts').expect(404)).body.error.code).toBe('not_found');
    } finally {
      await bare.close();
    }
  });

  it('sends every route to the sign-in page without a session', async () => {
    for (const path of GET_ROUTES) {
      const res = await request(app).get(path).expect(303);
      expect(res.headers.location).toBe(`/console/login?next=${encodeURIComponent(path)}`);
    }
    const before = await snapshot();
    for (const path of POST_ROUTES) {
      const res = await request(app).post(path).type('form').send({}).expect(303);
      expect(res.headers.location).toBe('/console/login');
    }
    // A forged session cookie (wrong signature) is no session either.
    const forged = await request(app)
      .get('/console')
      .set('Cookie', 'wxopen_console=eyJzaWQiOiJ4Iiwib3BlcmF0b3IiOiJvcHMiLCJleHAiOjk5OTk5OTk5OTk5OTl9.bad')
      .expect(303);
    expect(forged.headers.location).toMatch(/^\/console\/login/);
    expect(await snapshot()).toEqual(before);
    // The copy button's script is static and public.
    const script = await request(app).get('/console/assets/console.js').expect(200);
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    expect(script.headers['cache-control']).toMatch(/max-age/);
  });

  it('signs in with the right password, with a signed HttpOnly SameSite=Strict cookie that expires', async () => {
    const agent = request.agent(app);
    const form = await agent.get('/console/login?lang=en').expect(200);
    expect(form.text).toContain('Sign in to the operator console');
    const res = await agent
      .post('/console/login')
      .type('form')
      .send({ _csrf: csrfOf(form.text), name: OPERATOR, password: OPERATOR_PASSWORD, next: '/console/accounts' })
      .expect(303);
    expect(res.headers.location).toBe('/console/accounts');
    const cookie = ([] as string[])
      .concat(res.headers['set-cookie'] ?? [])
      .find((c) => c.startsWith('wxopen_console='));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/console/);
    expect(cookie).toMatch(/Max-Age=\d+/);
    expect(cookie).not.toMatch(/Secure/); // plain HTTP here; behind HTTPS (req.secure) it is Secure
    expect((await agent.get('/console').expect(200)).text).toContain(`Signed in as ${OPERATOR}`);
    expect(logs.lines()).toContainEqual(expect.objectContaining({ audit: true, operator: OPERATOR, action: 'login' }));

    // Never outside the console: `next` cannot send the operator to another site.
    const again = await signedIn(app);
    const form2 = await request.agent(app).get('/console/login');
    expect(form2.status).toBe(200);
    expect((await again.get('/console/login?next=//evil.example/console').expect(303)).headers.location).toBe(
      '/console',
    );
  });

  it('marks the session cookie Secure behind HTTPS', async () => {
    // trust proxy is loopback: supertest's requests come from 127.0.0.1, so X-Forwarded-Proto counts.
    const form = await request(app).get('/console/login').set('X-Forwarded-Proto', 'https').expect(200);
    const formCookies = ([] as string[]).concat(form.headers['set-cookie'] ?? []);
    const res = await request(app)
      .post('/console/login')
      .set('X-Forwarded-Proto', 'https')
      .set('Cookie', formCookies.map((c) => c.split(';')[0]).join('; '))
      .type('form')
      .send({ _csrf: csrfOf(form.text), name: OPERATOR, password: OPERATOR_PASSWORD })
      .expect(303);
    const cookies = [...formCookies, ...([] as string[]).concat(res.headers['set-cookie'] ?? [])];
    expect(cookies.filter((c) => c.startsWith('wxopen_console=')).length).toBe(2);
    for (const c of cookies) expect(c).toMatch(/; Secure/);
  });

  it('ends the session at its expiry (by the service clock)', async () => {
    const agent = await signedIn(app);
    await agent.get('/console').expect(200);
    h.clock.advance(8 * 3600_000 - 1000);
    await agent.get('/console').expect(200);
    h.clock.advance(2000);
    const res = await agent.get('/console').expect(303);
    expect(res.headers.location).toBe('/console/login?next=%2Fconsole&expired=1');
    expect((await agent.get(res.headers.location as string).expect(200)).text).toContain('登录已过期');
  });

  it('refuses a wrong password and an unknown user alike, and signs out', async () => {
    const agent = request.agent(app);
    const form = await agent.get('/console/login').expect(200);
    const wrong = await agent
      .post('/console/login')
      .type('form')
      .send({ _csrf: csrfOf(form.text), name: OPERATOR, password: 'wrong password!' })
      .expect(401);
    expect(wrong.text).toContain('用户名或密码错误');
    const unknown = await agent
      .post('/console/login')
      .type('form')
      .send({ _csrf: csrfOf(wrong.text), name: 'mallory', password: OPERATOR_PASSWORD })
      .expect(401);
    expect(unknown.text).toContain('用户名或密码错误');
    await agent.get('/console').expect(303);
    expect(logs.lines()).toContainEqual(
      expect.objectContaining({ audit: true, operator: 'mallory', action: 'login_refused' }),
    );

    const ops = await signedIn(app);
    const page = await ops.get('/console').expect(200);
    await ops
      .post('/console/logout')
      .type('form')
      .send({ _csrf: csrfOf(page.text) })
      .expect(303);
    await ops.get('/console').expect(303);
    expect(logs.lines()).toContainEqual(expect.objectContaining({ audit: true, operator: OPERATOR, action: 'logout' }));
  });

  it('limits sign-in attempts per user name (shared through Redis) and per IP', async () => {
    const attempt = async (name: string, password: string, ip = '127.0.0.1') => {
      const agent = request.agent(app);
      const form = await agent.get('/console/login');
      return agent
        .post('/console/login')
        .set('X-Forwarded-For', ip)
        .type('form')
        .send({ _csrf: csrfOf(form.text), name, password });
    };
    for (let i = 0; i < 4; i++) expect((await attempt(OPERATOR, `wrong-${i}`)).status).toBe(401);
    const limited = await attempt(OPERATOR, OPERATOR_PASSWORD);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.text).toContain('登录尝试次数过多');
    // The counter is in Redis, where every replica counts the same attempts.
    expect(await keysUnder(redis, h.container.keys.consoleLoginLimit('user'))).toEqual([
      `${h.container.keys.consoleLoginLimit('user')}:${OPERATOR}`,
    ]);
    expect(logs.lines()).toContainEqual(expect.objectContaining({ audit: true, action: 'login_rate_limited' }));

    // Per IP: many user names from one address; another address is not affected.
    for (let i = 0; i < 8; i++) expect((await attempt(`guess${i}`, 'wrong', '198.51.100.7')).status).toBe(401);
    expect((await attempt('guess9', 'wrong', '198.51.100.7')).status).toBe(429);
    expect((await attempt('guess9', 'wrong', '198.51.100.8')).status).toBe(401);
  });

  it('refuses every POST without a valid CSRF token with 403 and changes nothing', async () => {
    const agent = await signedIn(app);
    const page = await agent.get(`/console/accounts/${OA}`).expect(200);
    const token = csrfOf(page.text);
    const otherToken = csrfOf((await (await signedIn(app)).get('/console').expect(200)).text);
    const before = await snapshot();
    for (const path of POST_ROUTES) {
      for (const body of [
        {},
        { _csrf: '' },
        { _csrf: 'forged.value' },
        { _csrf: otherToken },
        { _csrf: `${token}x` },
      ]) {
        const res = await agent.post(path).type('form').send(body);
        expect([path, res.status]).toEqual([path, 403]);
        expect(res.text).toContain('CSRF');
      }
    }
    // The login form too (its token is bound to the anonymous session).
    const anon = request.agent(app);
    await anon.get('/console/login').expect(200);
    await anon.post('/console/login').type('form').send({ name: OPERATOR, password: OPERATOR_PASSWORD }).expect(403);
    await request(app)
      .post('/console/login')
      .type('form')
      .send({ _csrf: token, name: OPERATOR, password: OPERATOR_PASSWORD })
      .expect(403);
    expect(await snapshot()).toEqual(before);
    // Still signed in: the refused logout did not end the session.
    await agent.get('/console').expect(200);
    expect(h.emulator.callLog.count('api_authorizer_token')).toBe(0);
  });

  it('refreshes an account token now, logs it with the operator, and shows the new expiry', async () => {
    const agent = await signedIn(app);
    const before = (await h.container.authorizerStore.get(OA))?.accessToken?.token;
    h.clock.advance(30 * 60_000);
    const page = await agent.get(`/console/accounts/${OA}`).expect(200);
    const clicked = h.clock.now();
    const res = await agent
      .post(`/console/accounts/${OA}/refresh`)
      .type('form')
      .send({ _csrf: csrfOf(page.text) })
      .expect(303);
    expect(res.headers.location).toBe(`/console/accounts/${OA}?refreshed=1`);
    expect(h.emulator.callLog.count('api_authorizer_token')).toBe(1);
    const after = await h.container.authorizerStore.get(OA);
    expect(after?.accessToken?.token).not.toBe(before);
    expect(h.emulator.tokenStatus(after?.accessToken?.token ?? '')).toBe('valid');
    expect(after?.tokenRefreshedAt).toBeGreaterThanOrEqual(clicked);
    const shown = await agent.get(res.headers.location as string).expect(200);
    expect(shown.text).toContain('已刷新接口调用凭据');
    expect(logs.lines()).toContainEqual(
      expect.objectContaining({ audit: true, operator: OPERATOR, action: 'refresh_token', authorizerAppid: OA }),
    );
  });

  it('shows an account: permission sets by name, stored timestamps, and a re-authorization link when needed', async () => {
    const agent = await signedIn(app);
    const page = await agent.get(`/console/accounts/${OA}`).expect(200);
    expect(page.text).toContain('湖畔咖啡');
    expect(page.text).toContain('消息管理权限');
    expect(page.text).toContain('自定义菜单权限');
    // History comes from the event stream P:events: the account's authorization is its newest event.
    expect(page.text).toMatch(/<table class="grid" id="history">[\s\S]*<td>authorized<\/td>/);
    expect(page.text).not.toContain('reauthorization-link');
    const en = await agent.get(`/console/accounts/${OA}?lang=en`).expect(200);
    expect(en.text).toContain('Message management');

    await h.container.authorizerStore.markReauthorizationRequired(
      MP,
      'api_authorizer_token errcode 61023: the refresh token is invalid',
    );
    const mp = await agent.get(`/console/accounts/${MP}?lang=zh-CN`).expect(200);
    expect(mp.text).toContain('需重新授权');
    expect(mp.text).toContain('帐号管理权限（小程序）');
    expect(mp.text).toContain(`value="${h.config.publicBaseUrl}/authorize?biz_appid=${MP}&amp;auth_type=2"`);
    expect(mp.text).not.toContain('id="refresh"');
    // An account with no event in the stream shows its stored timestamps.
    await redis.xtrim(`${h.config.redis.keyPrefix}:${h.config.component.appId}:events`, 'MAXLEN', 0);
    expect((await agent.get(`/console/accounts/${OA}`).expect(200)).text).toContain('授权时间');
    await agent.get('/console/accounts/wxdoesnotexist01').expect(404);
  });

  it('lists and searches accounts by appid and name, 50 to a page', async () => {
    const seeded = await seedAccounts(h.container.authorizerStore, 120, h.clock.now());
    const agent = await signedIn(app);
    const first = await agent.get('/console/accounts').expect(200);
    expect(first.text).toContain('共 122 个账号');
    expect(first.text.match(/<tr data-account=/g)).toHaveLength(50);
    expect(first.text).toContain('第 1 / 3 页');
    const last = await agent.get('/console/accounts?page=3').expect(200);
    expect(last.text.match(/<tr data-account=/g)).toHaveLength(22);
    const byName = await agent.get(`/console/accounts?q=${encodeURIComponent('测试小程序 7')}`).expect(200);
    // Generated Mini Programs have even numbers: 测试小程序 70, 72, 74, 76, 78.
    expect(byName.text.match(/<tr data-account=/g)).toHaveLength(5);
    const byAppid = await agent.get(`/console/accounts?q=${seeded[5]}`).expect(200);
    expect(byAppid.text.match(/<tr data-account="([^"]+)"/)?.[1]).toBe(seeded[5]);
    expect(byAppid.text).toContain('小程序');
    const none = await agent.get('/console/accounts?q=no-such-account').expect(200);
    expect(none.text).toContain('没有符合条件的账号');
    expect((await agent.get('/console/accounts?page=999').expect(200)).text).toContain('第 3 / 3 页');
  });

  it('shows the overview from the stores and this instance counters', async () => {
    const agent = await signedIn(app);
    await h.container.authorizerStore.markUnauthorized(MP);
    const page = await agent.get('/console').expect(200);
    expect(page.text).toMatch(/data-status="authorized"><td>.*<\/td><td>1<\/td>/);
    expect(page.text).toMatch(/data-status="unauthorized"><td>.*<\/td><td>1<\/td>/);
    // Two authorizations: the component token once, no errors.
    expect(page.text).toMatch(/id="refreshes-last-hour">[\s\S]*?<div class="value">1<\/div>/);
    expect(page.text).toMatch(/id="wechat-errors-last-hour">[\s\S]*?<div class="value">0<\/div>/);
    expect(page.text).not.toContain('undelivered-events');
  });

  it('runs recovery from api_get_authorizer_list and shows its result', async () => {
    const agent = await signedIn(app);
    const page = await agent.get('/console/recovery').expect(200);
    const res = await agent
      .post('/console/recovery')
      .type('form')
      .send({ _csrf: csrfOf(page.text) })
      .expect(200);
    expect(h.emulator.callLog.count('api_get_authorizer_list')).toBeGreaterThan(0);
    expect(res.text).toMatch(/data-field="listed">2</);
    expect(res.text).toMatch(/data-field="restored">0</);
    expect(logs.lines()).toContainEqual(
      expect.objectContaining({ audit: true, operator: OPERATOR, action: 'recovery_finished', listed: 2 }),
    );
  });

  it('never shows a token, refresh token, ticket or secret', async () => {
    await seedAccounts(h.container.authorizerStore, 3, h.clock.now());
    await h.container.authorizerStore.markReauthorizationRequired(MP, 'api_authorizer_token errcode 61023');
    const oa = await h.container.authorizerStore.get(OA);
    const mp = await h.container.authorizerStore.get(MP);
    const ticket = (await h.container.ticketStore.get())?.ticket;
    const component = (await h.container.componentTokenStore.get())?.token;
    const secrets = [
      oa?.accessToken?.token,
      oa?.refreshToken,
      mp?.refreshToken,
      ticket,
      component,
      TEST_COMPONENT.appSecret,
      TEST_COMPONENT.aesKey,
      TEST_COMPONENT.token,
      SESSION_SECRET,
      OPERATOR_PASSWORD,
      (await consoleEnv()).CONSOLE_USERS?.split(':')[1],
      'seeded-refresh-',
      'seeded-access-',
    ];
    for (const s of secrets) expect(typeof s === 'string' && s.length >= 8).toBe(true);
    const agent = await signedIn(app);
    const pages = [];
    for (const path of [
      ...GET_ROUTES,
      `/console/accounts/${MP}`,
      '/console/accounts?q=%E6%B5%8B%E8%AF%95',
      '/console?lang=en',
    ]) {
      pages.push((await agent.get(path).expect(200)).text);
    }
    const recovery = await agent
      .post('/console/recovery')
      .type('form')
      .send({ _csrf: csrfOf(pages[0] ?? '') })
      .expect(200);
    pages.push(recovery.text);
    const refresh = await agent
      .post(`/console/accounts/${OA}/refresh`)
      .type('form')
      .send({ _csrf: csrfOf(pages[0] ?? '') })
      .redirects(1);
    pages.push(refresh.text);
    const newToken = (await h.container.authorizerStore.get(OA))?.accessToken?.token;
    for (const html of pages) {
      for (const s of [...secrets, newToken]) expect(html.includes(s as string)).toBe(false);
    }
    expect(logs.text().includes(OPERATOR_PASSWORD)).toBe(false);
  });
});

import { DOMAIN_MESSAGE } from '../../../src/sandbox/login-request';
import {
  api,
  authEvents,
  closeAll,
  componentToken,
  CREDS,
  expectErr,
  MP,
  OA,
  OA2,
  PushReceiver,
  startEmulator,
  type Harness,
} from './helpers';
import { confirm, loadPage, preAuthCode, SERVICE } from './page-helpers';

afterEach(closeAll);

const ALL = [
  'wx3c5a7e19b2d40f81',
  'wx8d21f0a6c4e97b35',
  'wx52e07b9d13fa6c40',
  'wx6f4b1c8e20d7a953',
  'wx91a3d5c7e6b20f48',
  'wxb07e2a9f4c1d6835',
];

async function ready(overrides = {}): Promise<{ h: Harness; code: () => Promise<string> }> {
  const h = await startEmulator(overrides);
  const token = await componentToken(h);
  return { h, code: () => preAuthCode(h, token) };
}

describe('GET /cgi-bin/componentloginpage', () => {
  it('lists every fake account with radio buttons and a confirm form when Referer and redirect_uri are on the registered domain', async () => {
    const { h, code } = await ready();
    const page = await loadPage(h, await code());
    expect(page.status).toBe(200);
    expect(page.accounts).toEqual(ALL);
    expect(page.html).toContain('id="confirm"');
    expect(page.html).toContain('action="/cgi-bin/componentloginpage/confirm"');
    expect(page.html).toContain(`value="${OA}"`);
    expect(page.session).toBeDefined();
  });

  it('filters by auth_type (1 Official Accounts, 2 Mini Programs, 3 both)', async () => {
    const { h, code } = await ready();
    expect((await loadPage(h, await code(), { query: { auth_type: '1' } })).accounts).toEqual(ALL.slice(0, 3));
    expect((await loadPage(h, await code(), { query: { auth_type: '2' } })).accounts).toEqual(ALL.slice(3));
    expect((await loadPage(h, await code(), { query: { auth_type: '3' } })).accounts).toEqual(ALL);
    const bad = await loadPage(h, await code(), { query: { auth_type: '4' } });
    expect(bad.status).toBe(400);
    expect(bad.html).toContain('data-error="auth_type"');
  });

  it('restricts to biz_appid, which wins over a conflicting auth_type; an unknown biz_appid is refused', async () => {
    const { h, code } = await ready();
    expect((await loadPage(h, await code(), { query: { auth_type: '1', biz_appid: MP } })).accounts).toEqual([MP]);
    const unknown = await loadPage(h, await code(), { query: { biz_appid: 'wxnope' } });
    expect(unknown.status).toBe(400);
    expect(unknown.html).toContain('data-error="biz_appid"');
  });

  it('refuses without a Referer with the 授权入口页所在域名：空 message', async () => {
    const { h, code } = await ready();
    const page = await loadPage(h, await code(), { referer: null });
    expect(page.status).toBe(403);
    expect(page.html).toContain('data-error="domain"');
    expect(page.html).toContain(`${DOMAIN_MESSAGE}空`);
    expect(DOMAIN_MESSAGE).toBe(
      '请确认授权入口页所在域名，与授权后回调页所在域名相同，并且，此两者都必须与申请第三方平台时填写的授权发起页域名相同。授权入口页所在域名：',
    );
  });

  it('names the Referer host when it is not the registered domain', async () => {
    const { h, code } = await ready();
    const page = await loadPage(h, await code(), { referer: 'https://evil.example.org:8443/start' });
    expect(page.status).toBe(403);
    expect(page.html).toContain(`${DOMAIN_MESSAGE}evil.example.org`);
  });

  it('refuses a redirect_uri on another host even with a good Referer', async () => {
    const { h, code } = await ready();
    const page = await loadPage(h, await code(), { redirectUri: 'https://other.example.com/auth' });
    expect(page.status).toBe(403);
    expect(page.html).toContain(`${DOMAIN_MESSAGE}localhost`);
  });

  it('compares hostnames only: another port on the registered domain is fine', async () => {
    const { h, code } = await ready();
    const page = await loadPage(h, await code(), {
      referer: 'http://localhost:8080/x',
      redirectUri: 'https://localhost/cb?a=1',
    });
    expect(page.status).toBe(200);
  });

  it('does not spend the pre_auth_code on a refused visit', async () => {
    const { h, code } = await ready();
    const c = await code();
    expect((await loadPage(h, c, { referer: null })).status).toBe(403);
    expect((await loadPage(h, c)).status).toBe(200);
  });

  it('skips the domain checks when no registeredDomain is configured', async () => {
    const { h, code } = await ready({ registeredDomain: undefined });
    expect((await loadPage(h, await code(), { referer: null, redirectUri: 'https://anywhere.test/cb' })).status).toBe(
      200,
    );
  });

  it('refuses a wrong component_appid and a missing or relative redirect_uri', async () => {
    const { h, code } = await ready();
    const wrongApp = await fetch(
      `${h.base}/cgi-bin/componentloginpage?component_appid=wxother&pre_auth_code=${await code()}&redirect_uri=x`,
      {
        headers: { Referer: `${SERVICE}/` },
      },
    );
    expect(wrongApp.status).toBe(400);
    expect(await wrongApp.text()).toContain('data-error="component_appid"');
    const relative = await loadPage(h, await code(), { redirectUri: '/auth' });
    expect(relative.status).toBe(400);
    expect(relative.html).toContain('data-error="redirect_uri"');
  });

  it('escapes what it echoes into HTML', async () => {
    const { h, code } = await ready();
    const page = await loadPage(h, await code(), { redirectUri: `${SERVICE}/auth?x="><script>alert(1)</script>` });
    expect(page.status).toBe(200);
    expect(page.html).not.toContain('<script>');
    expect(page.html).toContain('&quot;&gt;&lt;script&gt;');
  });
});

describe('H5 bindcomponent page', () => {
  it('works without a Referer (opened inside WeChat) on both paths', async () => {
    const { h, code } = await ready();
    for (const path of ['/wxaopen/safe/bindcomponent', '/safe/bindcomponent']) {
      const page = await loadPage(h, await code(), {
        path,
        referer: null,
        query: { action: 'bindcomponent', no_scan: '1' },
      });
      expect(page.status).toBe(200);
      expect(page.html).toContain('class="mobile"');
      expect(page.accounts).toEqual(ALL);
    }
  });

  it('still refuses a Referer from another domain and a foreign redirect_uri', async () => {
    const { h, code } = await ready();
    const query = { action: 'bindcomponent' };
    const path = '/wxaopen/safe/bindcomponent';
    const badReferer = await loadPage(h, await code(), { path, query, referer: 'https://evil.test/' });
    expect(badReferer.status).toBe(403);
    expect(badReferer.html).toContain(`${DOMAIN_MESSAGE}evil.test`);
    const badRedirect = await loadPage(h, await code(), {
      path,
      query,
      referer: null,
      redirectUri: 'https://evil.test/cb',
    });
    expect(badRedirect.status).toBe(403);
    expect(badRedirect.html).toContain(`${DOMAIN_MESSAGE}空`);
  });

  it('needs action=bindcomponent', async () => {
    const { h, code } = await ready();
    const page = await loadPage(h, await code(), { path: '/wxaopen/safe/bindcomponent' });
    expect(page.status).toBe(400);
    expect(page.html).toContain('data-error="action"');
  });
});

describe('confirming on the page', () => {
  it('pushes `authorized`, then redirects with auth_code and expires_in appended with & to a redirect_uri that has a query', async () => {
    const receiver = await PushReceiver.start();
    const { h, code } = await ready({ pushUrl: receiver.url });
    const c = await code();
    const page = await loadPage(h, c, { redirectUri: `${SERVICE}/auth?from=menu&lang=zh_CN` });
    const res = await confirm(h, page.session as string, OA);
    expect(res.status).toBe(302);
    const match = /^http:\/\/localhost:3000\/auth\?from=menu&lang=zh_CN&auth_code=([^&]+)&expires_in=600$/.exec(
      res.location ?? '',
    );
    expect(match).not.toBeNull();
    const authCode = decodeURIComponent(match?.[1] as string);

    // The push arrived before the redirect was sent: no waiting here.
    const events = await authEvents(receiver, 1, 0);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      InfoType: 'authorized',
      AuthorizerAppid: OA,
      AuthorizationCode: authCode,
      PreAuthCode: c,
    });

    const token = await componentToken(h);
    const exchanged = await api(
      h,
      'api_query_auth',
      { component_appid: CREDS.componentAppId, authorization_code: authCode },
      token,
    );
    expect((exchanged.json.authorization_info as Record<string, unknown>).authorizer_appid).toBe(OA);
  });

  it('appends with ? when redirect_uri has no query, and drops a fragment', async () => {
    const { h, code } = await ready();
    const plain = await confirm(h, (await loadPage(h, await code())).session as string, MP);
    expect(plain.location).toMatch(
      /^http:\/\/localhost:3000\/auth\?auth_code=queryauthcode%40%40%40[\w-]+&expires_in=600$/,
    );
    const withHash = await loadPage(h, await code(), { redirectUri: `${SERVICE}/auth?x=1#frag` });
    const res = await confirm(h, withHash.session as string, OA2);
    expect(res.location).toMatch(/^http:\/\/localhost:3000\/auth\?x=1&auth_code=[^#]+&expires_in=600$/);
  });

  it('pushes `updateauthorized` when the chosen account is already authorized, and marks it on the page', async () => {
    const receiver = await PushReceiver.start();
    const { h, code } = await ready({ pushUrl: receiver.url });
    await h.emulator.authorize(OA);
    const page = await loadPage(h, await code());
    expect(page.html).toContain(`data-account="${OA}" data-kind="official_account" data-authorized="true"`);
    await confirm(h, page.session as string, OA);
    const events = await authEvents(receiver, 2);
    expect(events.map((e) => e.InfoType)).toEqual(['authorized', 'updateauthorized']);
  });

  it('uses each page session once', async () => {
    const { h, code } = await ready();
    const { session } = await loadPage(h, await code());
    expect((await confirm(h, session as string, OA)).status).toBe(302);
    const again = await confirm(h, session as string, OA);
    expect(again.status).toBe(400);
    expect(again.html).toContain('data-error="session"');
    expect((await confirm(h, 'session-forged', OA)).status).toBe(400);
  });

  it('refuses an account outside the page’s filter and keeps the session usable', async () => {
    const { h, code } = await ready();
    const { session } = await loadPage(h, await code(), { query: { auth_type: '2' } });
    const refused = await confirm(h, session as string, OA);
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('data-error="appid"');
    expect((await confirm(h, session as string, MP)).status).toBe(302);
  });

  it('grants only the permission sets of category_id_list', async () => {
    const { h, code } = await ready();
    const { session } = await loadPage(h, await code(), { query: { category_id_list: '1|15|99' } });
    const res = await confirm(h, session as string, OA);
    const authCode = new URL(res.location as string).searchParams.get('auth_code');
    const token = await componentToken(h);
    const out = await api(
      h,
      'api_query_auth',
      { component_appid: CREDS.componentAppId, authorization_code: authCode },
      token,
    );
    expect((out.json.authorization_info as Record<string, unknown>).func_info).toEqual([
      { funcscope_category: { id: 1 } },
      { funcscope_category: { id: 15 } },
    ]);
  });
});

describe('authorization management page (revoke)', () => {
  it('lists authorized accounts and revokes one: `unauthorized` push, then 61023 for its refresh token', async () => {
    const receiver = await PushReceiver.start();
    const { h } = await ready({ pushUrl: receiver.url });
    const token = await componentToken(h);
    const { authCode } = await h.emulator.authorize(OA, { push: false });
    const q = await api(
      h,
      'api_query_auth',
      { component_appid: CREDS.componentAppId, authorization_code: authCode },
      token,
    );
    const refreshToken = (q.json.authorization_info as Record<string, string>).authorizer_refresh_token;

    const listing = await (await fetch(`${h.base}/authorizations`)).text();
    expect(listing).toContain(`data-revoke="${OA}"`);
    const res = await fetch(`${h.base}/authorizations/${OA}/revoke`, { method: 'POST', redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/authorizations?revoked=${OA}`);
    const [event] = await authEvents(receiver, 1);
    expect(event).toMatchObject({ InfoType: 'unauthorized', AuthorizerAppid: OA });
    expectErr(
      await api(
        h,
        'api_authorizer_token',
        { component_appid: CREDS.componentAppId, authorizer_appid: OA, authorizer_refresh_token: refreshToken },
        token,
      ),
      61023,
    );
    const after = await (await fetch(`${h.base}/authorizations?revoked=${OA}`)).text();
    expect(after).not.toContain(`data-revoke="${OA}"`);
    expect(after).toContain('id="revoked"');
    const twice = await fetch(`${h.base}/authorizations/${OA}/revoke`, { method: 'POST', redirect: 'manual' });
    expect(twice.status).toBe(409);
  });

  it('serves a home page naming the push URL', async () => {
    const { h } = await ready({ pushUrl: 'http://127.0.0.1:9/auth' });
    const home = await (await fetch(`${h.base}/`)).text();
    expect(home).toContain('http://127.0.0.1:9/auth');
  });
});

import { api, closeAll, componentToken, CREDS, expectErr, OA, startEmulator, type Harness } from './helpers';

afterEach(closeAll);

const C = CREDS.componentAppId;
const preauth = (h: Harness, token: string) => api(h, 'api_create_preauthcode', { component_appid: C }, token);

describe('fault switches', () => {
  it('answers a chosen errcode for the next N calls, then behaves normally', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    h.emulator.faults.set('api_create_preauthcode', { errcode: -1, times: 2 });
    expectErr(await preauth(h, token), -1);
    const second = await preauth(h, token);
    expectErr(second, -1);
    expect(second.json.errmsg).toMatch(/^system error rid: /);
    expect((await preauth(h, token)).json.pre_auth_code).toBeDefined();
    expect(h.emulator.callLog.entries('api_create_preauthcode').map((e) => e.errcode)).toEqual([-1, -1, 0]);
  });

  it('keeps answering an unlimited fault until cleared, with a custom errmsg', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    h.emulator.faults.set('api_create_preauthcode', { errcode: 45009, errmsg: 'custom' });
    for (let i = 0; i < 3; i++) expect((await preauth(h, token)).json.errmsg).toMatch(/^custom rid: /);
    h.emulator.faults.clear('api_create_preauthcode');
    expect((await preauth(h, token)).json.pre_auth_code).toBeDefined();
    h.emulator.faults.set('api_create_preauthcode', { errcode: 40001 });
    h.emulator.faults.clear();
    expect((await preauth(h, token)).json.pre_auth_code).toBeDefined();
  });

  it('answers a bare HTTP 500 (HTML, no errcode) and logs it with errcode -1', async () => {
    const h = await startEmulator();
    h.emulator.faults.set('api_component_token', { httpStatus: 500, times: 1 });
    const res = await api(h, 'api_component_token', {});
    expect(res.status).toBe(500);
    expect(res.text).toContain('<html>');
    expect(res.json).toEqual({});
    expect(h.emulator.callLog.entries('api_component_token')).toMatchObject([{ httpStatus: 500, errcode: -1 }]);
    expect(h.emulator.callLog.count('api_component_token', { ok: false })).toBe(1);
  });

  it('combines httpStatus with an errcode body', async () => {
    const h = await startEmulator();
    h.emulator.faults.set('api_component_token', { httpStatus: 503, errcode: -1 });
    const res = await api(h, 'api_component_token', {});
    expect(res.status).toBe(503);
    expect(res.json.errcode).toBe(-1);
  });

  it('delays the answer by delayMs of real time, then answers normally', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    h.emulator.faults.set('api_create_preauthcode', { delayMs: 150, times: 1 });
    const started = Date.now();
    const res = await preauth(h, token);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(res.json.pre_auth_code).toBeDefined();
    expect(h.emulator.callLog.entries('api_create_preauthcode')[0]?.durationMs).toBeGreaterThanOrEqual(140);
  });

  it('hits every call with rate 1.0 and none with rate 0', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    h.emulator.faults.set('api_create_preauthcode', { errcode: 61004, rate: 1 });
    for (let i = 0; i < 5; i++) expectErr(await preauth(h, token), 61004);
    h.emulator.faults.set('api_create_preauthcode', { errcode: 61004, rate: 0 });
    for (let i = 0; i < 5; i++) expect((await preauth(h, token)).json.pre_auth_code).toBeDefined();
  });

  it('hangs without answering until the client gives up; close() releases what is still hanging', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    h.emulator.faults.set('api_create_preauthcode', { hang: true });
    await expect(
      fetch(`${h.base}/cgi-bin/component/api_create_preauthcode?component_access_token=${token}`, {
        method: 'POST',
        body: JSON.stringify({ component_appid: C }),
        signal: AbortSignal.timeout(200),
      }),
    ).rejects.toThrow();
    expect(h.emulator.callLog.entries('api_create_preauthcode')).toMatchObject([{ httpStatus: 0, errcode: -1 }]);

    const pending = fetch(`${h.base}/cgi-bin/component/api_create_preauthcode?component_access_token=${token}`, {
      method: 'POST',
      body: JSON.stringify({ component_appid: C }),
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await h.emulator.close();
    await expect(pending).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('validates faults and endpoint names', async () => {
    const { emulator } = await startEmulator();
    expect(() => emulator.faults.set('api_nope', { errcode: 1 })).toThrow(/unknown endpoint/);
    expect(() => emulator.faults.set('api_component_token', {})).toThrow(/at least one/);
    expect(() => emulator.faults.set('api_component_token', { errcode: 1, rate: 2 })).toThrow(/rate/);
    expect(() => emulator.faults.set('api_component_token', { errcode: 1, times: 0 })).toThrow(/times/);
    expect(() => emulator.faults.set('api_component_token', { httpStatus: 99 })).toThrow(/httpStatus/);
  });
});

describe('quotas', () => {
  it('answers 45009 once the daily limit of an endpoint is used up; failed calls do not count', async () => {
    const h = await startEmulator({ quotas: { api_create_preauthcode: 2 } });
    const token = await componentToken(h);
    expectErr(await api(h, 'api_create_preauthcode', { component_appid: 'wrong' }, token), 40013);
    expect((await preauth(h, token)).json.pre_auth_code).toBeDefined();
    expect((await preauth(h, token)).json.pre_auth_code).toBeDefined();
    expectErr(await preauth(h, token), 45009);
  });

  it('starts a new day at midnight Beijing time on the emulator clock', async () => {
    const h = await startEmulator({ quotas: { api_create_preauthcode: 1 } });
    const token = await componentToken(h);
    await preauth(h, token);
    expectErr(await preauth(h, token), 45009);
    h.clock.advance(12 * 3600 * 1000); // T0 is noon in Beijing
    const fresh = await componentToken(h); // the old token expired meanwhile
    expect((await preauth(h, fresh)).json.pre_auth_code).toBeDefined();
  });

  it('limits api_component_token to 10 000 a day by default', async () => {
    const h = await startEmulator();
    const res = await fetch(`${h.base}/sandbox/quotas`);
    expect(await res.json()).toEqual({ quotas: [{ endpoint: 'api_component_token', dailyLimit: 10000, used: 0 }] });
  });

  it('clear_quota (component token + component appid) resets the counters; 40013 for another appid; 48006 after 10 a month', async () => {
    const h = await startEmulator({ quotas: { api_create_preauthcode: 1 } });
    const token = await componentToken(h);
    await preauth(h, token);
    expectErr(await preauth(h, token), 45009);
    expectErr(await api(h, '/cgi-bin/clear_quota', { appid: 'wxother' }, token, 'access_token'), 40013);
    expectErr(await api(h, '/cgi-bin/clear_quota', {}, token, 'access_token'), 41002);
    expect((await api(h, '/cgi-bin/clear_quota', { appid: C }, token, 'access_token')).json).toEqual({
      errcode: 0,
      errmsg: 'ok',
    });
    expect((await preauth(h, token)).json.pre_auth_code).toBeDefined();
    for (let i = 0; i < 9; i++)
      expect((await api(h, '/cgi-bin/clear_quota', { appid: C }, token)).json.errcode).toBe(0);
    expectErr(await api(h, '/cgi-bin/clear_quota', { appid: C }, token), 48006);
    expectErr(await api(h, '/cgi-bin/clear_quota', { appid: C }), 41001);
  });

  it('clear_quota/v2 needs the secret instead of a token, shares the monthly budget, and also resets', async () => {
    const h = await startEmulator({ quotas: { api_component_token: 1 } });
    await componentToken(h);
    await h.emulator.pushTicket();
    const tokenBody = {
      component_appid: C,
      component_appsecret: CREDS.componentAppSecret,
      component_verify_ticket: h.emulator.currentTicket(),
    };
    expectErr(await api(h, 'api_component_token', tokenBody), 45009);
    const v2 = (body: Record<string, unknown>) => api(h, '/cgi-bin/component/clear_quota/v2', body);
    expectErr(await v2({ component_appid: C, appsecret: 'wrong' }), 40125);
    expectErr(await v2({ component_appid: C, appsecret: CREDS.componentAppSecret, appid: OA }), 61003);
    expect((await v2({ component_appid: C, appsecret: CREDS.componentAppSecret })).json).toEqual({
      errcode: 0,
      errmsg: 'ok',
    });
    const token = (await api(h, 'api_component_token', tokenBody)).json.component_access_token as string;
    expect(token).toBeDefined();
    // One reset spent through v2, nine through clear_quota: the eleventh is refused by either.
    for (let i = 0; i < 9; i++)
      expect((await api(h, '/cgi-bin/clear_quota', { appid: C }, token)).json.errcode).toBe(0);
    expectErr(await v2({ component_appid: C, appsecret: CREDS.componentAppSecret }), 48006);
  });

  it('clear_quota accepts an authorizer token for its own appid', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    const { authCode } = await h.emulator.authorize(OA, { push: false });
    const q = await api(h, 'api_query_auth', { component_appid: C, authorization_code: authCode }, token);
    const accessToken = (q.json.authorization_info as Record<string, string>).authorizer_access_token as string;
    expect((await api(h, '/cgi-bin/clear_quota', { appid: OA }, accessToken, 'access_token')).json.errcode).toBe(0);
    expectErr(await api(h, '/cgi-bin/clear_quota', { appid: C }, accessToken, 'access_token'), 40013);
  });
});

import { createEmulator } from '../../../src/sandbox/emulator';
import {
  api,
  authEvents,
  closeAll,
  componentToken,
  control,
  CREDS,
  expectErr,
  MP,
  OA,
  PushReceiver,
  startEmulator,
} from './helpers';

afterEach(closeAll);

describe('control API: accounts', () => {
  it('lists accounts with their state, filters by authorized, and pages', async () => {
    const h = await startEmulator();
    await h.emulator.authorize(OA, { push: false });
    const all = await control(h, 'GET', '/sandbox/accounts');
    expect(all.status).toBe(200);
    expect(all.json.total).toBe(6);
    expect((all.json.accounts as unknown[])[0]).toEqual({
      appid: OA,
      userName: 'gh_7e2b94c1d0a3',
      nickName: '湖畔咖啡',
      kind: 'official_account',
      serviceType: 2,
      verifyType: 0,
      principalName: '杭州湖畔咖啡有限公司',
      funcInfo: [1, 2, 3, 4, 6, 7, 11, 15],
      authorized: true,
      everQueried: false,
    });
    const authorized = await control(h, 'GET', '/sandbox/accounts?authorized=true');
    expect((authorized.json.accounts as Array<{ appid: string }>).map((a) => a.appid)).toEqual([OA]);
    expect((await control(h, 'GET', '/sandbox/accounts?offset=1&limit=2')).json.accounts).toHaveLength(2);
    expect((await control(h, 'GET', '/sandbox/accounts?authorized=maybe')).status).toBe(400);
    expect((await control(h, 'GET', '/sandbox/accounts?limit=-1')).status).toBe(400);
    expect((await control(h, 'GET', `/sandbox/accounts/${MP}`)).json).toMatchObject({ appid: MP, authorized: false });
    const missing = await control(h, 'GET', '/sandbox/accounts/wxnope');
    expect(missing.status).toBe(404);
    expect(missing.json.error).toMatch(/no fake account/);
  });

  it('authorizes and revokes with the same effects as the page, pushing both events', async () => {
    const receiver = await PushReceiver.start();
    const h = await startEmulator({ pushUrl: receiver.url });
    const token = await componentToken(h);
    const auth = await control(h, 'POST', `/sandbox/accounts/${OA}/authorize`);
    expect(auth.status).toBe(200);
    expect(auth.json).toMatchObject({ expiresIn: 3600, push: { delivered: true, attempts: 1 } });
    const q = await api(
      h,
      'api_query_auth',
      { component_appid: CREDS.componentAppId, authorization_code: auth.json.authCode },
      token,
    );
    const refreshToken = (q.json.authorization_info as Record<string, string>).authorizer_refresh_token;

    const revoke = await control(h, 'POST', `/sandbox/accounts/${OA}/revoke`, {});
    expect(revoke.json).toMatchObject({ revoked: OA, push: { delivered: true } });
    expect((await authEvents(receiver, 2)).map((e) => e.InfoType)).toEqual(['authorized', 'unauthorized']);
    expectErr(
      await api(
        h,
        'api_authorizer_token',
        { component_appid: CREDS.componentAppId, authorizer_appid: OA, authorizer_refresh_token: refreshToken },
        token,
      ),
      61023,
    );
    const again = await control(h, 'POST', `/sandbox/accounts/${OA}/revoke`);
    expect(again.status).toBe(409);
    expect(again.json.error).toMatch(/not authorized/);
  });

  it('can authorize without a push', async () => {
    const receiver = await PushReceiver.start();
    const h = await startEmulator({ pushUrl: receiver.url });
    const res = await control(h, 'POST', `/sandbox/accounts/${MP}/authorize`, { push: false });
    expect(res.json.push).toBeUndefined();
    expect(receiver.received).toHaveLength(0);
    expect((await control(h, 'POST', `/sandbox/accounts/${MP}/authorize`, { push: 'no' })).status).toBe(400);
    expect((await control(h, 'POST', '/sandbox/accounts/wxnope/authorize')).status).toBe(404);
  });
});

describe('control API: tickets and pushes', () => {
  it('pushes a ticket now, shows the current ticket and the push history, and changes the push URL', async () => {
    const receiver = await PushReceiver.start();
    const h = await startEmulator();
    expect((await control(h, 'GET', '/sandbox/ticket')).json).toEqual({ ticket: null });
    const undelivered = await control(h, 'POST', '/sandbox/push-ticket');
    expect(undelivered.json).toMatchObject({ delivered: false, attempts: 0 });
    expect(undelivered.json.ticket).toMatch(/^ticket@@@/);

    expect((await control(h, 'PUT', '/sandbox/push-url', { url: receiver.url })).json).toEqual({
      pushUrl: receiver.url,
    });
    const pushed = await control(h, 'POST', '/sandbox/push-ticket');
    expect(pushed.json).toMatchObject({ delivered: true, attempts: 1, lastStatus: 200 });
    expect((await control(h, 'GET', '/sandbox/ticket')).json.ticket).toBe(pushed.json.ticket);
    const history = (await control(h, 'GET', '/sandbox/pushes')).json.pushes as Array<Record<string, unknown>>;
    expect(history.at(-1)).toMatchObject({ infoType: 'component_verify_ticket', delivered: true, attempts: 1 });

    expect((await control(h, 'PUT', '/sandbox/push-url', { url: 'not a url' })).status).toBe(400);
    expect((await control(h, 'PUT', '/sandbox/push-url', { url: null })).json).toEqual({ pushUrl: null });
  });
});

describe('control API: faults, calls, quotas', () => {
  it('sets, lists and clears faults; refuses bad ones with 400', async () => {
    const h = await startEmulator();
    const set = await control(h, 'PUT', '/sandbox/faults/api_component_token', { errcode: -1, times: 2 });
    expect(set.json).toEqual({ endpoint: 'api_component_token', fault: { errcode: -1, times: 2, remaining: 2 } });
    expectErr(await api(h, 'api_component_token', {}), -1);
    expect((await control(h, 'GET', '/sandbox/faults')).json).toEqual({
      faults: { api_component_token: { errcode: -1, times: 2, remaining: 1 } },
    });
    await control(h, 'PUT', '/sandbox/faults/api_query_auth', { hang: true });
    expect((await control(h, 'DELETE', '/sandbox/faults/api_component_token')).json).toEqual({
      faults: { api_query_auth: { hang: true } },
    });
    expect((await control(h, 'DELETE', '/sandbox/faults')).json).toEqual({ faults: {} });

    const unknown = await control(h, 'PUT', '/sandbox/faults/api_nope', { errcode: 1 });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error).toMatch(/unknown endpoint/);
    const bad = await control(h, 'PUT', '/sandbox/faults/api_query_auth', { errcode: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/errcode must be an integer/);
    expect((await control(h, 'PUT', '/sandbox/faults/api_query_auth', { color: 'red' })).status).toBe(400);
    const invalidJson = await control(h, 'PUT', '/sandbox/faults/api_query_auth', '{"errcode":');
    expect(invalidJson.status).toBe(400);
    expect(invalidJson.json.error).toMatch(/not valid JSON/);
  });

  it('reads the call log (all or per endpoint) and clears it', async () => {
    const h = await startEmulator();
    await componentToken(h);
    await api(h, 'api_create_preauthcode', {});
    const all = (await control(h, 'GET', '/sandbox/calls')).json.calls as Array<Record<string, unknown>>;
    expect(all.map((c) => c.endpoint)).toEqual(['api_component_token', 'api_create_preauthcode']);
    expect(all[1]).toMatchObject({ errcode: 41001, httpStatus: 200 });
    const one = (await control(h, 'GET', '/sandbox/calls?endpoint=api_create_preauthcode')).json.calls as unknown[];
    expect(one).toHaveLength(1);
    expect((await control(h, 'GET', '/sandbox/calls?endpoint=nope')).status).toBe(400);
    expect((await control(h, 'DELETE', '/sandbox/calls')).json).toEqual({ calls: [] });
    expect((await control(h, 'GET', '/sandbox/calls')).json.calls).toEqual([]);
  });

  it('shows and sets daily quotas', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    const set = await control(h, 'PUT', '/sandbox/quotas/api_create_preauthcode', { dailyLimit: 0 });
    expect(set.json.quotas).toContainEqual({ endpoint: 'api_create_preauthcode', dailyLimit: 0, used: 0 });
    expect(set.json.quotas).toContainEqual({ endpoint: 'api_component_token', dailyLimit: 10000, used: 1 });
    expectErr(await api(h, 'api_create_preauthcode', { component_appid: CREDS.componentAppId }, token), 45009);
    await control(h, 'PUT', '/sandbox/quotas/api_create_preauthcode', { dailyLimit: null });
    expect(
      (await api(h, 'api_create_preauthcode', { component_appid: CREDS.componentAppId }, token)).json.pre_auth_code,
    ).toBeDefined();
    expect((await control(h, 'PUT', '/sandbox/quotas/api_create_preauthcode', { dailyLimit: -1 })).status).toBe(400);
  });
});

describe('control API: clock and tokens', () => {
  it('advances a ManualClock, and tokens expire with it', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    const before = (await control(h, 'GET', '/sandbox/clock')).json;
    expect(before).toMatchObject({ now: h.clock.now(), manual: true });
    const advanced = await control(h, 'POST', '/sandbox/clock/advance', { ms: 7200_000 });
    expect(advanced.json.now).toBe((before.now as number) + 7200_000);
    expect(advanced.json.iso).toBe(new Date(advanced.json.now as number).toISOString());
    expect((await control(h, 'GET', `/sandbox/tokens/${token}`)).json).toEqual({ status: 'expired' });
    expect((await control(h, 'POST', '/sandbox/clock/advance', { ms: -5 })).status).toBe(400);
    expect((await control(h, 'POST', '/sandbox/clock/advance', {})).status).toBe(400);
  });

  it('answers 409 to advance on the system clock', async () => {
    const emulator = createEmulator({ ...CREDS, ticketIntervalMs: 0 });
    const base = await emulator.listen();
    try {
      const res = await fetch(`${base}/sandbox/clock/advance`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ ms: 1000 }),
      });
      expect(res.status).toBe(409);
      expect(((await res.json()) as { error: string }).error).toMatch(/ManualClock/);
    } finally {
      await emulator.close();
    }
  });

  it('reports token status and invalidates a token', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    expect((await control(h, 'GET', `/sandbox/tokens/${token}`)).json).toEqual({ status: 'valid' });
    expect((await control(h, 'GET', '/sandbox/tokens/81_nope')).json).toEqual({ status: 'unknown' });
    expect((await control(h, 'POST', `/sandbox/tokens/${token}/invalidate`)).json).toEqual({ status: 'expired' });
    expectErr(await api(h, 'api_create_preauthcode', { component_appid: CREDS.componentAppId }, token), 40001);
    expect((await control(h, 'POST', '/sandbox/tokens/81_nope/invalidate')).status).toBe(404);
  });

  it('switches refresh-token rotation', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    const { authCode } = await h.emulator.authorize(OA, { push: false });
    const q = await api(
      h,
      'api_query_auth',
      { component_appid: CREDS.componentAppId, authorization_code: authCode },
      token,
    );
    const refreshToken = (q.json.authorization_info as Record<string, string>).authorizer_refresh_token;
    expect((await control(h, 'PUT', '/sandbox/refresh-token-rotation', { on: true })).json).toEqual({ on: true });
    const res = await api(
      h,
      'api_authorizer_token',
      { component_appid: CREDS.componentAppId, authorizer_appid: OA, authorizer_refresh_token: refreshToken },
      token,
    );
    expect(res.json.authorizer_refresh_token).not.toBe(refreshToken);
    expect((await control(h, 'PUT', '/sandbox/refresh-token-rotation', {})).status).toBe(400);
  });

  it('answers 404 JSON for an unknown control route', async () => {
    const h = await startEmulator();
    const res = await control(h, 'GET', '/sandbox/nope');
    expect(res.status).toBe(404);
    expect(res.json.error).toMatch(/no control route GET \/sandbox\/nope/);
  });
});

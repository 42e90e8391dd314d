import { api, closeAll, componentToken, CREDS, expectErr, startEmulator, type Harness } from './helpers';

afterEach(closeAll);

const body = (ticket: unknown, overrides: Record<string, unknown> = {}) => ({
  component_appid: CREDS.componentAppId,
  component_appsecret: CREDS.componentAppSecret,
  component_verify_ticket: ticket,
  ...overrides,
});

async function preauth(h: Harness, token: string, param = 'component_access_token') {
  return api(h, 'api_create_preauthcode', { component_appid: CREDS.componentAppId }, token, param);
}

describe('api_component_token', () => {
  it('issues a token for the right appid, secret and a pushed ticket', async () => {
    const h = await startEmulator();
    await h.emulator.pushTicket();
    const res = await api(h, 'api_component_token', body(h.emulator.currentTicket()));
    expect(res.status).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['component_access_token', 'expires_in']);
    expect(res.json.expires_in).toBe(7200);
    expect(res.json.component_access_token).toMatch(/^\d{2}_[A-Za-z0-9_-]+$/);
    expect(h.emulator.tokenStatus(res.json.component_access_token as string)).toBe('valid');
  });

  it('accepts any ticket issued in the last 12 hours, not only the latest', async () => {
    const h = await startEmulator();
    await h.emulator.pushTicket();
    const first = h.emulator.currentTicket();
    await h.emulator.pushTicket();
    expect(h.emulator.currentTicket()).not.toBe(first);
    expect((await api(h, 'api_component_token', body(first))).json.expires_in).toBe(7200);
  });

  it.each([
    ['missing appid', 41002, { component_appid: undefined }],
    ['wrong appid', 40013, { component_appid: 'wx0000000000000000' }],
    ['missing secret', 41004, { component_appsecret: undefined }],
    ['wrong secret', 40125, { component_appsecret: 'nope' }],
    ['unknown ticket', 61006, { component_verify_ticket: 'ticket@@@forged' }],
    ['missing ticket', 61006, { component_verify_ticket: undefined }],
  ])('answers %s with %i', async (_name, errcode, overrides) => {
    const h = await startEmulator();
    await h.emulator.pushTicket();
    expectErr(await api(h, 'api_component_token', body(h.emulator.currentTicket(), overrides)), errcode);
  });

  it('answers 61005 for a ticket older than 12 h at the emulator clock, while a fresh one works', async () => {
    const h = await startEmulator();
    await h.emulator.pushTicket();
    const old = h.emulator.currentTicket();
    h.clock.advance(43_200_000 - 1000);
    expect((await api(h, 'api_component_token', body(old))).json.expires_in).toBe(7200);
    h.clock.advance(1000);
    expectErr(await api(h, 'api_component_token', body(old)), 61005);
    await h.emulator.pushTicket();
    expect((await api(h, 'api_component_token', body(h.emulator.currentTicket()))).json.expires_in).toBe(7200);
  });

  it('answers 47001 to a body that is not a JSON object', async () => {
    const h = await startEmulator();
    expectErr(await api(h, 'api_component_token', 'component_appid=x'), 47001);
    expectErr(await api(h, 'api_component_token', '[1,2]'), 47001);
    expectErr(await api(h, 'api_component_token', ''), 47001);
  });

  it('honours tokenLifetimeSeconds', async () => {
    const h = await startEmulator({ tokenLifetimeSeconds: 60 });
    await h.emulator.pushTicket();
    expect((await api(h, 'api_component_token', body(h.emulator.currentTicket()))).json.expires_in).toBe(60);
  });
});

describe('component_access_token checks', () => {
  it('accepts the token as component_access_token or access_token', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    expect((await preauth(h, token)).json.pre_auth_code).toMatch(/^preauthcode@@@/);
    expect((await preauth(h, token, 'access_token')).json.pre_auth_code).toMatch(/^preauthcode@@@/);
  });

  it('answers 41001 without a token, 40014 for a malformed one and 40001 for an unknown one', async () => {
    const h = await startEmulator();
    expectErr(await api(h, 'api_create_preauthcode', { component_appid: CREDS.componentAppId }), 41001);
    expectErr(await preauth(h, ''), 41001);
    expectErr(await preauth(h, 'not-a-token'), 40014);
    expectErr(await preauth(h, `81_${'x'.repeat(96)}`), 40001);
  });

  it('answers 42001 once the token has expired at the emulator clock', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    h.clock.advance(7199_000);
    expect((await preauth(h, token)).json.pre_auth_code).toBeDefined();
    h.clock.advance(1000);
    expectErr(await preauth(h, token), 42001);
    expect(h.emulator.tokenStatus(token)).toBe('expired');
  });

  it('keeps the previous token valid for the grace period after a new one is issued, then answers 40001', async () => {
    const h = await startEmulator({ graceSeconds: 300 });
    const first = await componentToken(h);
    const second = await componentToken(h);
    expect(second).not.toBe(first);
    h.clock.advance(299_000);
    expect((await preauth(h, first)).json.pre_auth_code).toBeDefined();
    expect(h.emulator.tokenStatus(first)).toBe('valid');
    h.clock.advance(1000);
    expectErr(await preauth(h, first), 40001);
    expect(h.emulator.tokenStatus(first)).toBe('expired');
    expect((await preauth(h, second)).json.pre_auth_code).toBeDefined();
  });

  it('answers 40001 for a token dropped with invalidateToken', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    h.emulator.invalidateToken(token);
    expectErr(await preauth(h, token), 40001);
    expect(h.emulator.tokenStatus(token)).toBe('expired');
    expect(h.emulator.tokenStatus('81_unknown')).toBe('unknown');
  });

  it('answers 40013 when the body names another component', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    expectErr(await api(h, 'api_create_preauthcode', { component_appid: 'wxother' }, token), 40013);
  });
});

describe('call log', () => {
  it('records successes and failures with secrets, tickets and tokens masked', async () => {
    const h = await startEmulator();
    await componentToken(h);
    await api(h, 'api_component_token', body('bad'));
    const entries = h.emulator.callLog.entries('api_component_token');
    expect(entries.map((e) => e.errcode)).toEqual([0, 61006]);
    expect(entries[0]).toMatchObject({
      endpoint: 'api_component_token',
      httpStatus: 200,
      params: { component_appid: CREDS.componentAppId, component_appsecret: '***', component_verify_ticket: '***' },
    });
    expect(entries[1]?.seq).toBeGreaterThan(entries[0]?.seq ?? Infinity);
    expect(entries[0]?.at).toBe(h.clock.now());
    expect(JSON.stringify(entries)).not.toContain(CREDS.componentAppSecret);
    expect(h.emulator.callLog.count('api_component_token')).toBe(2);
    expect(h.emulator.callLog.count('api_component_token', { ok: true })).toBe(1);
    expect(h.emulator.callLog.count('api_component_token', { ok: false })).toBe(1);
    h.emulator.callLog.clear();
    expect(h.emulator.callLog.count('api_component_token')).toBe(0);
    expect(h.emulator.callLog.entries()).toEqual([]);
  });

  it('masks the token in the query string', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    await api(h, 'api_create_preauthcode', { component_appid: CREDS.componentAppId }, token);
    const [entry] = h.emulator.callLog.entries('api_create_preauthcode');
    expect(entry?.params).toEqual({ component_access_token: '***', component_appid: CREDS.componentAppId });
  });
});

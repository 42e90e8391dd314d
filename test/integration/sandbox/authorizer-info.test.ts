import { generateAccounts } from '../../../src/sandbox/emulator';
import {
  api,
  authorizeAndQuery,
  closeAll,
  componentToken,
  CREDS,
  expectErr,
  MP,
  OA,
  OA2,
  startEmulator,
  T0,
  type Harness,
} from './helpers';

afterEach(closeAll);

const C = CREDS.componentAppId;
const info = (h: Harness, token: string, appid: string) =>
  api(h, 'api_get_authorizer_info', { component_appid: C, authorizer_appid: appid }, token);
const list = (h: Harness, token: string, body: Record<string, unknown> = {}) =>
  api(h, 'api_get_authorizer_list', { component_appid: C, offset: 0, count: 100, ...body }, token);

describe('api_get_authorizer_info', () => {
  it('describes an Official Account in the documented shape, without MiniProgramInfo', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    const { refreshToken } = await authorizeAndQuery(h, token, OA);
    const res = await info(h, token, OA);
    expect(Object.keys(res.json).sort()).toEqual(['authorization_info', 'authorizer_info']);
    const a = res.json.authorizer_info as Record<string, unknown>;
    expect(a).toMatchObject({
      nick_name: '湖畔咖啡',
      service_type_info: { id: 2 },
      verify_type_info: { id: 0 },
      user_name: 'gh_7e2b94c1d0a3',
      principal_name: '杭州湖畔咖啡有限公司',
      business_info: { open_pay: 0, open_shake: 0, open_scan: 0, open_card: 0, open_store: 0 },
      account_status: 1,
    });
    expect(a.MiniProgramInfo).toBeUndefined();
    expect(a.head_img).toBe(`${h.base}/sandbox/assets/head/${OA}.svg`);
    const img = await fetch(a.head_img as string);
    expect(img.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(res.json.authorization_info).toEqual({
      authorizer_appid: OA,
      authorizer_refresh_token: refreshToken,
      func_info: [1, 2, 3, 4, 6, 7, 11, 15].map((id) => ({ funcscope_category: { id } })),
    });
  });

  it('adds MiniProgramInfo for a Mini Program', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    await authorizeAndQuery(h, token, MP);
    const a = (await info(h, token, MP)).json.authorizer_info as Record<string, unknown>;
    expect(a.nick_name).toBe('湖畔咖啡点单');
    expect(a.MiniProgramInfo).toMatchObject({ network: { RequestDomain: [] }, visit_status: 0 });
    expect(Array.isArray((a.MiniProgramInfo as { categories: unknown }).categories)).toBe(true);
  });

  it('leaves authorizer_refresh_token empty until a code was exchanged', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    await h.emulator.authorize(OA, { push: false });
    const before = (await info(h, token, OA)).json.authorization_info as Record<string, unknown>;
    expect(before.authorizer_refresh_token).toBe('');
  });

  it('answers 61003 for an account that is not (or no longer) authorized', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    expectErr(await info(h, token, OA2), 61003);
    expectErr(await info(h, token, 'wxnotanaccount'), 61003);
    await authorizeAndQuery(h, token, OA);
    await h.emulator.revoke(OA, { push: false });
    expectErr(await info(h, token, OA), 61003);
  });
});

describe('api_get_authorizer_list', () => {
  it('shows refresh_token only after one successful api_query_auth for that account', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    const { authCode } = await h.emulator.authorize(OA, { push: false });
    const before = await list(h, token);
    expect(before.json).toEqual({ total_count: 1, list: [{ authorizer_appid: OA, auth_time: Math.floor(T0 / 1000) }] });
    expect(h.emulator.accounts().find((a) => a.appid === OA)).toMatchObject({ authorized: true, everQueried: false });

    await api(h, 'api_query_auth', { component_appid: C, authorization_code: authCode }, token);
    const after = await list(h, token);
    const [item] = after.json.list as Array<Record<string, unknown>>;
    expect(item?.refresh_token).toMatch(/^refreshtoken@@@/);
    expect(h.emulator.accounts().find((a) => a.appid === OA)).toMatchObject({ authorized: true, everQueried: true });
  });

  it('pages with offset and count, counts only authorized accounts, and refuses count > 500', async () => {
    const accounts = generateAccounts(1200);
    const h = await startEmulator({ accounts });
    const token = await componentToken(h);
    for (const account of accounts) await h.emulator.authorize(account.appid, { push: false });
    await h.emulator.revoke(accounts[1]?.appid as string, { push: false });
    const page = await list(h, token, { offset: 1000, count: 500 });
    expect(page.json.total_count).toBe(1199);
    const items = page.json.list as Array<{ authorizer_appid: string }>;
    expect(items).toHaveLength(199);
    expect(items[0]?.authorizer_appid).toBe(accounts[1001]?.appid);
    expect((await list(h, token, { offset: '0', count: '2' })).json.list).toHaveLength(2);
    expectErr(await list(h, token, { count: 501 }), 40097);
    expectErr(await list(h, token, { count: 0 }), 40097);
    expectErr(await list(h, token, { offset: -1 }), 40097);
  });
});

describe('authorizer options', () => {
  const get = (h: Harness, token: string, appid: string, name: string) =>
    api(h, 'api_get_authorizer_option', { component_appid: C, authorizer_appid: appid, option_name: name }, token);
  const set = (h: Harness, token: string, appid: string, name: string, value: unknown) =>
    api(
      h,
      'api_set_authorizer_option',
      { component_appid: C, authorizer_appid: appid, option_name: name, option_value: value },
      token,
    );

  it('reads "0" by default, stores a valid value and reads it back', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    await authorizeAndQuery(h, token, OA);
    expect((await get(h, token, OA, 'location_report')).json).toEqual({
      authorizer_appid: OA,
      option_name: 'location_report',
      option_value: '0',
    });
    expect((await set(h, token, OA, 'location_report', '2')).json).toEqual({ errcode: 0, errmsg: 'ok' });
    expect((await get(h, token, OA, 'location_report')).json.option_value).toBe('2');
  });

  it('answers 61012 for an unknown option, 61013 for a bad value and 61003 for an unauthorized account', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    await authorizeAndQuery(h, token, OA);
    expectErr(await get(h, token, OA, 'nope'), 61012);
    expectErr(await set(h, token, OA, 'voice_recognize', '2'), 61013);
    expectErr(await get(h, token, OA2, 'voice_recognize'), 61003);
    expectErr(await set(h, token, OA2, 'voice_recognize', '1'), 61003);
  });

  it('has the newer get/set_authorizer_option form that takes the authorizer token', async () => {
    const h = await startEmulator();
    const token = await componentToken(h);
    const { accessToken } = await authorizeAndQuery(h, token, OA);
    const setRes = await api(
      h,
      'set_authorizer_option',
      { option_name: 'customer_service', option_value: '1' },
      accessToken,
      'access_token',
    );
    expect(setRes.json).toEqual({ errcode: 0, errmsg: 'ok' });
    const getRes = await api(
      h,
      'get_authorizer_option',
      { option_name: 'customer_service' },
      accessToken,
      'access_token',
    );
    expect(getRes.json).toEqual({ option_name: 'customer_service', option_value: '1' });
    expect((await get(h, token, OA, 'customer_service')).json.option_value).toBe('1');
    expectErr(await api(h, 'get_authorizer_option', { option_name: 'customer_service' }, token, 'access_token'), 40001);
  });
});

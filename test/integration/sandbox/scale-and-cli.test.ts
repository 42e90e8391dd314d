import { DEMO_CREDENTIALS, main } from '../../../src/sandbox/cli';
import { createEmulator, DEMO_ACCOUNTS, generateAccounts } from '../../../src/sandbox/emulator';
import { closeAll, CREDS, post, PushReceiver } from './helpers';

afterEach(closeAll);

describe('many accounts', () => {
  it('generates 100 000 distinct accounts of both kinds quickly', () => {
    const started = Date.now();
    const accounts = generateAccounts(100_000);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(new Set(accounts.map((a) => a.appid)).size).toBe(100_000);
    expect(accounts.every((a) => /^wx[0-9a-f]{16}$/.test(a.appid) && /^gh_[0-9a-f]{12}$/.test(a.userName))).toBe(true);
    expect(new Set(accounts.map((a) => a.kind))).toEqual(new Set(['official_account', 'mini_program']));
    expect(accounts.some((a) => DEMO_ACCOUNTS.some((d) => d.appid === a.appid))).toBe(false);
  });

  it('serves 100 000 accounts without per-call scans: authorize, exchange and list pages stay fast', async () => {
    const accounts = generateAccounts(100_000);
    const emulator = createEmulator({ ...CREDS, accounts, ticketIntervalMs: 0 });
    const base = await emulator.listen();
    try {
      await emulator.pushTicket();
      const tokenRes = await post(`${base}/cgi-bin/component/api_component_token`, {
        component_appid: CREDS.componentAppId,
        component_appsecret: CREDS.componentAppSecret,
        component_verify_ticket: emulator.currentTicket(),
      });
      const token = tokenRes.json.component_access_token as string;
      const started = Date.now();
      for (const account of accounts.slice(-2000)) await emulator.authorize(account.appid, { push: false });
      const last = accounts.at(-1)?.appid as string;
      const { authCode } = await emulator.authorize(last, { push: false });
      const q = await post(`${base}/cgi-bin/component/api_query_auth?component_access_token=${token}`, {
        component_appid: CREDS.componentAppId,
        authorization_code: authCode,
      });
      expect((q.json.authorization_info as Record<string, unknown>).authorizer_appid).toBe(last);
      const list = await post(`${base}/cgi-bin/component/api_get_authorizer_list?component_access_token=${token}`, {
        component_appid: CREDS.componentAppId,
        offset: 1900,
        count: 500,
      });
      expect(list.json.total_count).toBe(2000);
      expect(list.json.list).toHaveLength(100);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(emulator.accounts()).toHaveLength(100_000);
    } finally {
      await emulator.close();
    }
  });
});

describe('standalone CLI (src/sandbox/cli.ts)', () => {
  it('starts with demo credentials, prints the base URL and pushes tickets to --push-url', async () => {
    const receiver = await PushReceiver.start();
    const printed: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    let emulator;
    try {
      emulator = await main(['--port', '0', '--push-url', receiver.url, '--ticket-interval-ms', '60000'], {});
    } finally {
      spy.mockRestore();
    }
    if (!emulator) throw new Error('main() did not start the emulator');
    try {
      const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(printed.join(''))?.[1] as string;
      expect(base).toBeDefined();
      await receiver.waitFor(1);
      const res = await post(`${base}/cgi-bin/component/api_start_push_ticket`, {
        component_appid: DEMO_CREDENTIALS.componentAppId,
        component_secret: DEMO_CREDENTIALS.componentAppSecret,
      });
      expect(res.json).toEqual({ errcode: 0, errmsg: 'ok' });
      const advanced = await post(`${base}/sandbox/clock/advance`, { ms: 1000 });
      expect(advanced.json.manual).toBe(true);
      const push = receiver.received[0];
      expect(push?.query.get('encrypt_type')).toBe('aes');
    } finally {
      await emulator.close();
    }
  });

  it('takes credentials from the environment and refuses a bad AES key or port', async () => {
    await expect(main(['--port', '0', '--aes-key', 'short'], {})).rejects.toThrow(/43/);
    await expect(main(['--port', 'abc'], {})).rejects.toThrow(/port/);
    const env = {
      WECHAT_COMPONENT_APPID: CREDS.componentAppId,
      WECHAT_COMPONENT_APPSECRET: CREDS.componentAppSecret,
      SANDBOX_TICKET_INTERVAL_MS: '0',
    };
    const printed: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    const emulator = await main(['--port', '0'], env).finally(() => spy.mockRestore());
    if (!emulator) throw new Error('main() did not start the emulator');
    try {
      const base = /listening on (\S+)/.exec(printed.join(''))?.[1] as string;
      await emulator.pushTicket();
      const res = await post(`${base}/cgi-bin/component/api_component_token`, {
        component_appid: CREDS.componentAppId,
        component_appsecret: CREDS.componentAppSecret,
        component_verify_ticket: emulator.currentTicket(),
      });
      expect(res.json.expires_in).toBe(7200);
    } finally {
      await emulator.close();
    }
  });

  it('prints help', async () => {
    const printed: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    const result = await main(['--help'], {}).finally(() => spy.mockRestore());
    expect(result).toBeUndefined();
    expect(printed.join('')).toContain('--push-url');
  });
});

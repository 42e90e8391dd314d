import {
  ComponentTicketExpiredError,
  ComponentTicketInvalidError,
  TicketMissingError,
  WeChatApiError,
  WeChatIpNotWhitelistedError,
  WeChatUnavailableError,
} from '../../src/errors';
import { captureLogs } from '../support/log-capture';
import { startHarness, type Harness } from '../support/emulator';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('token service: component_access_token (emulator over HTTP, real Redis)', () => {
  let h: Harness;
  let logs: ReturnType<typeof captureLogs>;
  const start = async (env: Record<string, string> = {}, withTicket = true) => {
    logs = captureLogs();
    h = await startHarness({ env, withTicket, container: { logger: logs.logger } });
    return h;
  };
  afterEach(async () => {
    // Whatever a test did, no log line may carry a token or ticket value.
    expect(logs.text()).not.toMatch(/8[12]_[A-Za-z0-9_-]{40,}|ticket@@@|preauthcode@@@|queryauthcode@@@/);
    await h.close();
  });
  const calls = (endpoint: string) => h.emulator.callLog.count(endpoint);

  it('fetches once, publishes the plain token under the public key, and serves it from the cache', async () => {
    await start();
    const first = await h.container.tokenService.getComponentAccessToken();
    const second = await h.container.tokenService.getComponentAccessToken();
    expect(second.token).toBe(first.token);
    expect(first.expiresIn).toBeGreaterThan(7190);
    expect(calls('api_component_token')).toBe(1);
    expect(h.emulator.tokenStatus(first.token)).toBe('valid');
    expect(await h.container.redis.get(h.container.keys.componentAccessToken)).toBe(first.token);
  });

  it('refreshes only once less than the margin is left', async () => {
    await start({ TOKEN_REFRESH_MARGIN_SECONDS: '900' });
    const first = await h.container.tokenService.getComponentAccessToken();
    h.clock.advance(2 * HOUR - 15 * MINUTE - MINUTE); // 16 minutes left: still fresh
    expect((await h.container.tokenService.getComponentAccessToken()).token).toBe(first.token);
    expect(calls('api_component_token')).toBe(1);
    h.clock.advance(2 * MINUTE); // 14 minutes left: inside the margin, still valid: served, refreshed behind
    expect((await h.container.tokenService.getComponentAccessToken()).token).toBe(first.token);
    await h.container.tokenService.idle();
    const second = await h.container.tokenService.getComponentAccessToken();
    expect(second.token).not.toBe(first.token);
    expect(calls('api_component_token')).toBe(2);
    expect(h.emulator.tokenStatus(second.token)).toBe('valid');
  });

  it('without a ticket: TicketMissingError naming the fix, and no call to WeChat', async () => {
    await start({}, false);
    const err = await h.container.tokenService.getComponentAccessToken().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TicketMissingError);
    expect((err as Error).message).toMatch(/POST \/auth/);
    expect((err as Error).message).toMatch(/WECHAT_COMPONENT_TOKEN/);
    expect((err as Error).message).toMatch(/WECHAT_COMPONENT_AES_KEY/);
    expect(calls('api_component_token')).toBe(0);
  });

  it('surfaces 61005 (ticket older than 12 h), 61006 (unknown ticket) and 61004 (IP whitelist) as named errors', async () => {
    await start();
    h.clock.advance(12 * HOUR + MINUTE); // the emulator's ticket is now too old
    const expired = await h.container.tokenService.getComponentAccessToken().catch((e: unknown) => e);
    expect(expired).toBeInstanceOf(ComponentTicketExpiredError);
    expect(expired).toMatchObject({ errcode: 61005, code: 'component_ticket_expired' });

    await h.container.ticketStore.save('ticket@@@never-issued', h.clock.now());
    const invalid = await h.container.tokenService.getComponentAccessToken().catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(ComponentTicketInvalidError);
    expect(invalid).toMatchObject({ errcode: 61006, code: 'component_ticket_invalid' });

    await h.seedTicket();
    h.emulator.faults.set('api_component_token', { errcode: 61004, times: 1 });
    const ip = await h.container.tokenService.getComponentAccessToken().catch((e: unknown) => e);
    expect(ip).toBeInstanceOf(WeChatIpNotWhitelistedError);
    expect((ip as Error).message).toMatch(/whitelist/);
    // The operator sees why in the log, without the ticket itself.
    expect(logs.lines().some((l) => l.level === 50 && String(l.msg).includes('61005'))).toBe(true);
  });

  it('retries errcode -1: twice busy then success is a success; always busy fails after 3 attempts', async () => {
    await start();
    h.emulator.faults.set('api_component_token', { errcode: -1, times: 2 });
    const token = await h.container.tokenService.getComponentAccessToken();
    expect(h.emulator.tokenStatus(token.token)).toBe('valid');
    expect(calls('api_component_token')).toBe(3);

    h.emulator.faults.set('api_create_preauthcode', { errcode: -1 });
    const err = await h.container.authorizationService.createPreAuthCode().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeChatApiError);
    expect((err as WeChatApiError).errcode).toBe(-1);
    expect(calls('api_create_preauthcode')).toBe(3);
  });

  it('40001 on a cached token: one refresh and one replay; a second 40001 is an error, not a loop', async () => {
    await start();
    const cached = await h.container.tokenService.getComponentAccessToken();
    h.emulator.invalidateToken(cached.token); // WeChat forgot it: the next call answers 40001
    const code = await h.container.authorizationService.createPreAuthCode();
    expect(code).toMatch(/^preauthcode@@@/);
    expect(calls('api_component_token')).toBe(2);
    expect(calls('api_create_preauthcode')).toBe(2);
    const replacement = await h.container.redis.get(h.container.keys.componentAccessToken);
    expect(replacement).not.toBe(cached.token);
    expect(h.emulator.tokenStatus(replacement!)).toBe('valid');

    h.emulator.callLog.clear();
    h.emulator.faults.set('api_create_preauthcode', { errcode: 40001 }); // rejects every token
    const err = await h.container.authorizationService.createPreAuthCode().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeChatApiError);
    expect((err as WeChatApiError).errcode).toBe(40001);
    expect(calls('api_create_preauthcode')).toBe(2);
    expect(calls('api_component_token')).toBe(1);
  });

  it('invalidate is compare-and-refresh: many reports of one token cause one refresh; a stale report none', async () => {
    await start();
    const old = await h.container.tokenService.getComponentAccessToken();
    const results = await Promise.all(
      Array.from({ length: 20 }, () => h.container.tokenService.invalidate('component', old.token)),
    );
    const current = results[0]!.token;
    expect(current).not.toBe(old.token);
    expect(new Set(results.map((r) => r.token))).toEqual(new Set([current]));
    expect(calls('api_component_token')).toBe(2);
    // Reporting the old token again changes nothing: it is no longer the current one.
    expect((await h.container.tokenService.invalidate('component', old.token)).token).toBe(current);
    expect(calls('api_component_token')).toBe(2);
  });

  it('creates a fresh pre_auth_code on every call, sent with component_access_token=', async () => {
    await start();
    const a = await h.container.authorizationService.createPreAuthCode();
    const b = await h.container.authorizationService.createPreAuthCode();
    expect(a).not.toBe(b);
    expect(calls('api_create_preauthcode')).toBe(2);
    const entry = h.emulator.callLog.entries('api_create_preauthcode')[0]!;
    expect(Object.keys(entry.params)).toContain('component_access_token');
    expect(Object.keys(entry.params)).not.toContain('access_token');
  });

  it('reports HTTP 5xx and a hung WeChat as WeChatUnavailableError, within the timeout', async () => {
    await start({ WECHAT_HTTP_TIMEOUT_MS: '300' });
    h.emulator.faults.set('api_component_token', { httpStatus: 502, times: 1 });
    await expect(h.container.tokenService.getComponentAccessToken()).rejects.toBeInstanceOf(WeChatUnavailableError);
    h.emulator.faults.set('api_component_token', { hang: true, times: 1 });
    const started = Date.now();
    const err = await h.container.tokenService.getComponentAccessToken().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeChatUnavailableError);
    expect((err as Error).message).toMatch(/no answer within 300 ms/);
    expect(Date.now() - started).toBeLessThan(2000);
    // Nothing half-written: the next call succeeds.
    await expect(h.container.tokenService.getComponentAccessToken()).resolves.toMatchObject({
      expiresIn: expect.any(Number),
    });
  });

  it('keeps serving a still-valid cached token while WeChat is down, and refreshes when it is back', async () => {
    await start();
    const cached = await h.container.tokenService.getComponentAccessToken();
    h.clock.advance(2 * HOUR - 10 * MINUTE); // inside the margin, 10 minutes of validity left
    h.emulator.faults.set('api_component_token', { httpStatus: 503 });
    expect((await h.container.tokenService.getComponentAccessToken()).token).toBe(cached.token);
    await h.container.tokenService.idle();
    expect(calls('api_component_token')).toBe(2); // the background refresh was tried, and failed
    expect(logs.lines().some((l) => l.level === 40 && String(l.msg).includes('the cached token is still served'))).toBe(
      true,
    );
    h.emulator.faults.clear('api_component_token');
    expect((await h.container.tokenService.getComponentAccessToken()).token).toBe(cached.token);
    await h.container.tokenService.idle();
    const fresh = await h.container.tokenService.getComponentAccessToken();
    expect(fresh.token).not.toBe(cached.token);
    // With less than a minute left a token is no longer handed out: the caller gets the error instead.
    h.clock.advance(2 * HOUR - 30_000);
    h.emulator.faults.set('api_component_token', { httpStatus: 503 });
    await expect(h.container.tokenService.getComponentAccessToken()).rejects.toBeInstanceOf(WeChatUnavailableError);
  });
});

import { generateAccounts } from '../../src/sandbox/emulator';
import { startHarness, type Harness } from '../support/emulator';
import { eventually } from '../support/eventually';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const READERS = 50;
/** How long the emulator holds each refresh call: far longer than a cached read, well within the HTTP timeout. */
const HELD_MS = 4000;

/**
 * Issue 13 item 4: a token inside the refresh margin but still valid is served at once while one refresh runs
 * behind it; only a missing or expired token makes callers wait. Whether a reader waited is read from the order
 * of events (a reader returning, the held upstream call being answered), never from a clock.
 */
describe('token service: refresh in the background while the cached token is valid', () => {
  let h: Harness;
  let A: string;
  /** 'reader' when a reader got its token; `answered <api>` when the service got WeChat's answer to a call. */
  let events: string[];
  beforeEach(async () => {
    events = [];
    const [account] = generateAccounts(1);
    A = account!.appid;
    h = await startHarness({
      emulator: { accounts: [account!] },
      env: { WECHAT_HTTP_TIMEOUT_MS: String(HELD_MS * 3), TOKEN_REFRESH_MARGIN_SECONDS: '900' },
      container: { onWeChatCall: (api) => events.push(`answered ${api}`) },
    });
    await h.authorize(A);
  });
  afterEach(async () => h.close());

  const lockHeld = async (key: string) => (await h.container.redis.exists(key)) === 1;
  const readAll = (read: () => Promise<{ token: string }>) =>
    Promise.all(
      Array.from({ length: READERS }, () =>
        read().then((t) => {
          events.push('reader');
          return t.token;
        }),
      ),
    );

  it('authorizer token inside the margin: every reader gets the cached token before the held refresh answers; one upstream call', async () => {
    const cached = await h.container.tokenService.getAuthorizerAccessToken(A);
    h.clock.advance(2 * HOUR - 10 * MINUTE); // 10 minutes left: inside the 15-minute margin, still valid
    await h.container.tokenService.ensureComponentAccessToken(15 * MINUTE); // only the authorizer token is at stake
    h.emulator.callLog.clear();
    events = [];
    h.emulator.faults.set('api_authorizer_token', { delayMs: HELD_MS });

    const tokens = await readAll(() => h.container.tokenService.getAuthorizerAccessToken(A));
    expect(new Set(tokens)).toEqual(new Set([cached.token]));
    // When the last reader returned, the refresh was running (its lock held) and WeChat had not answered it.
    expect(await lockHeld(h.container.keys.authorizerTokenLock(A))).toBe(true);
    expect(events).toEqual(Array(READERS).fill('reader'));

    await eventually(() => h.emulator.callLog.count('api_authorizer_token', { ok: true }) === 1, {
      what: 'the background refresh',
      timeoutMs: 30_000,
    });
    await h.container.tokenService.idle();
    expect(events).toEqual([...Array(READERS).fill('reader'), 'answered api_authorizer_token']);
    const fresh = await h.container.tokenService.getAuthorizerAccessToken(A);
    expect(fresh.token).not.toBe(cached.token);
    expect(h.emulator.tokenStatus(fresh.token)).toBe('valid');
    expect(await h.container.redis.get(h.container.keys.authorizerAccessToken(A))).toBe(fresh.token);
    expect(h.emulator.callLog.count('api_authorizer_token')).toBe(1);
    expect(h.emulator.callLog.count('api_component_token')).toBe(0);
  });

  it('component token inside the margin: the same, one api_component_token call', async () => {
    const cached = await h.container.tokenService.getComponentAccessToken();
    h.clock.advance(2 * HOUR - 10 * MINUTE);
    h.emulator.callLog.clear();
    events = [];
    h.emulator.faults.set('api_component_token', { delayMs: HELD_MS });

    const tokens = await readAll(() => h.container.tokenService.getComponentAccessToken());
    expect(new Set(tokens)).toEqual(new Set([cached.token]));
    expect(await lockHeld(h.container.keys.componentTokenLock)).toBe(true);
    expect(events).toEqual(Array(READERS).fill('reader'));

    await eventually(() => h.emulator.callLog.count('api_component_token', { ok: true }) === 1, {
      what: 'the background refresh',
      timeoutMs: 30_000,
    });
    await h.container.tokenService.idle();
    expect(events).toEqual([...Array(READERS).fill('reader'), 'answered api_component_token']);
    expect((await h.container.tokenService.getComponentAccessToken()).token).not.toBe(cached.token);
    expect(h.emulator.callLog.count('api_component_token')).toBe(1);
  });

  it('expired tokens: every reader waits for the refresh (after WeChat answered), one upstream call per token', async () => {
    const cached = await h.container.tokenService.getAuthorizerAccessToken(A);
    h.clock.advance(2 * HOUR + MINUTE); // both the authorizer token and the component token have expired
    h.emulator.callLog.clear();
    events = [];
    h.emulator.faults.set('api_authorizer_token', { delayMs: HELD_MS });

    const tokens = await readAll(() => h.container.tokenService.getAuthorizerAccessToken(A));
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).not.toBe(cached.token);
    expect(h.emulator.tokenStatus(tokens[0]!)).toBe('valid');
    // Both refreshes were answered before the first reader returned.
    expect(events).toEqual([
      'answered api_component_token',
      'answered api_authorizer_token',
      ...Array(READERS).fill('reader'),
    ]);
    expect(h.emulator.callLog.count('api_authorizer_token')).toBe(1);
    expect(h.emulator.callLog.count('api_component_token')).toBe(1);
  });

  it('a token with less than a minute left is not served: callers wait for the refresh', async () => {
    const cached = await h.container.tokenService.getAuthorizerAccessToken(A);
    h.clock.advance(2 * HOUR - 30_000);
    await h.container.tokenService.ensureComponentAccessToken(15 * MINUTE);
    h.emulator.callLog.clear();
    events = [];
    const tokens = await readAll(() => h.container.tokenService.getAuthorizerAccessToken(A));
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).not.toBe(cached.token);
    expect(events[0]).toBe('answered api_authorizer_token');
    expect(events).toHaveLength(READERS + 1);
    expect(h.emulator.callLog.count('api_authorizer_token')).toBe(1);
  });
});

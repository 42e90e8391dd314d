import type { AccountEvent } from '../../src/client/account-events';
import { webhookGroup } from '../../src/store/webhook-queue';
import { createKeys } from '../../src/store/keys';
import { createEmulator, type Emulator } from '../../src/sandbox/emulator';
import { TEST_COMPONENT, testEnv } from '../support/config';
import { eventually } from '../support/eventually';
import { newTestRedis } from '../support/redis';
import { ServiceProcess } from '../support/service-process';
import { WebhookReceiver } from '../support/webhook-receiver';

const SECRET = 'webhook-replicas-secret-0123456789abcdef';
const BEARER = 'replicas-internal-api-token-0123456789ab';
const [A, B, C] = ['wx3c5a7e19b2d40f81', 'wx8d21f0a6c4e97b35', 'wx52e07b9d13fa6c40'];

/**
 * Two replicas of the real service (src/main.ts, own OS processes) share one Redis and deliver to one
 * receiver. The receiver really goes down (connections refused), and the replica delivering when it
 * comes back is SIGKILLed in the middle of a delivery. Backoff is scaled down 1:10 (50 ms doubling to
 * 300 ms, against a production-like 0.5–3 s) so "30 s down" is 3 s here: the same retry rounds.
 */
describe('webhooks across replicas: receiver down, deliverer SIGKILLed mid-delivery', () => {
  const redis = newTestRedis();
  let emulator: Emulator;
  let receiver: WebhookReceiver;
  const replicas: ServiceProcess[] = [];

  beforeAll(() => {
    emulator = createEmulator({
      componentAppId: TEST_COMPONENT.appId,
      componentAppSecret: TEST_COMPONENT.appSecret,
      token: TEST_COMPONENT.token,
      encodingAesKey: TEST_COMPONENT.aesKey,
      ticketIntervalMs: 0,
    });
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.kill()));
    await receiver?.stop();
    await emulator.close();
    await redis.quit();
  });

  it('every event arrives, in order per account (duplicates allowed, by event_id), none lost', async () => {
    const emulatorUrl = await emulator.listen(0, '127.0.0.1');
    receiver = new WebhookReceiver([SECRET]);
    await receiver.start();
    const env = testEnv({
      WECHAT_API_BASE_URL: emulatorUrl,
      INTERNAL_API_TOKEN: BEARER,
      WEBHOOK_URLS: receiver.url,
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_RETRY_BASE_MS: '50',
      WEBHOOK_RETRY_MAX_MS: '300',
      WEBHOOK_LEASE_MS: '1500',
      WEBHOOK_POLL_MS: '50',
      LOG_LEVEL: 'info',
    });
    const keys = createKeys(env.REDIS_KEY_PREFIX!, TEST_COMPONENT.appId);
    replicas.push(
      await ServiceProcess.start(env, { internalPort: true }),
      await ServiceProcess.start(env, { internalPort: true }),
    );
    for (const url of replicas.flatMap((r) => [r.url, r.internalUrl])) {
      await eventually(() => fetch(`${url}/healthz`).then((res) => res.ok), { timeoutMs: 20_000, what: `${url} up` });
    }
    // Both replicas have created the group (at its end) before the first event.
    await eventually(async () => (await redis.exists(keys.webhookLease(webhookGroup(receiver.url)))) === 1, {
      what: 'a deliverer',
    });

    const pushTo = replicas[0]!;
    emulator.setPushUrl(`${pushTo.url}/auth`);
    expect(await emulator.pushTicket()).toMatchObject({ delivered: true });
    const expected: [string, AccountEvent['type']][] = [];
    const authorize = async (appid: string, type: 'authorized' | 'updateauthorized', funcInfo?: number[]) => {
      expect((await emulator.authorize(appid, { funcInfo })).push).toMatchObject({ delivered: true });
      expected.push([appid, type]);
    };
    const revoke = async (appid: string) => {
      expect(await emulator.revoke(appid)).toMatchObject({ delivered: true });
      expected.push([appid, 'unauthorized']);
    };

    await authorize(A, 'authorized');
    await authorize(B, 'authorized');
    await authorize(A, 'updateauthorized', [1, 2]);
    await eventually(() => receiver.uniqueEvents().length === 3, { what: 'the first three events' });

    // The receiver goes down for real; events keep happening and are retried.
    await receiver.stop();
    const downAt = Date.now();
    await revoke(B);
    await authorize(C, 'authorized');
    const leader = async () => {
      const holder = await redis.get(keys.webhookLease(webhookGroup(receiver.url)));
      return replicas.find((r) => holder?.includes(`:${r.pid}:`));
    };
    const retries = async () => {
      const r = await leader();
      const text = r ? await (await fetch(`${r.internalUrl}/metrics`)).text() : '';
      return Number(/^wxopen_webhook_retries_total\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
    };
    await eventually(async () => Date.now() - downAt >= 3000 && (await retries()) >= 10, {
      timeoutMs: 20_000,
      what: '3 s down and 10 retries',
    });

    // Back up, but holding requests: the deliverer is mid-delivery when it is SIGKILLed.
    receiver.mode = 'hold';
    await receiver.start();
    await eventually(() => receiver.heldEventIds().length > 0, { timeoutMs: 10_000, what: 'a delivery in flight' });
    const heldId = receiver.heldEventIds()[0]!;
    const victim = (await leader())!;
    expect(victim).toBeDefined();
    await victim.kill('SIGKILL');
    receiver.release();
    receiver.mode = 'ok';
    const survivor = replicas.find((r) => r !== victim)!;
    if (pushTo === victim) emulator.setPushUrl(`${survivor.url}/auth`);

    await authorize(C, 'updateauthorized', [3]);
    await revoke(A);

    await eventually(() => receiver.uniqueEvents().length === expected.length, {
      timeoutMs: 20_000,
      what: `all ${expected.length} events`,
    });
    expect(receiver.rejected).toEqual([]);
    // The event held when its deliverer died was claimed (XAUTOCLAIM) and delivered by the survivor.
    expect(receiver.received.some((r) => r.eventId === heldId)).toBe(true);
    expect(
      survivor
        .lines()
        .some((l) => l.msg === 'webhook deliverer: this replica delivers to the target' && Number(l.claimed) >= 1),
    ).toBe(true);
    const unique = receiver.uniqueEvents();
    for (const appid of [A, B, C]) {
      expect([appid, unique.filter((e) => e.authorizer_appid === appid).map((e) => e.type)]).toEqual([
        appid,
        expected.filter(([a]) => a === appid).map(([, t]) => t),
      ]);
    }
    // Every event of the stream arrived, and nothing else.
    const streamed = ((await redis.xrange(keys.events, '-', '+')) as [string, string[]][]).length;
    expect(streamed).toBe(expected.length);
    expect(new Set(receiver.received.map((r) => r.eventId)).size).toBe(expected.length);
  });
});

import { streamEvents } from '../support/events';
import { eventually } from '../support/eventually';
import { startHarness, type Harness } from '../support/emulator';
import { captureLogs } from '../support/log-capture';
import { newTestRedis } from '../support/redis';
import { WebhookReceiver } from '../support/webhook-receiver';
import { webhookGroup } from '../../src/store/webhook-queue';

const OA = 'wx3c5a7e19b2d40f81';
const SECRET_A = 'webhook-secret-a-0123456789abcdef0123';
const SECRET_B = 'webhook-secret-b-0123456789abcdef0123';

describe('webhooks (in one process, a real HTTP receiver)', () => {
  let h: Harness | undefined;
  let receiver: WebhookReceiver;
  const redis = newTestRedis();
  const logs = captureLogs('info');

  beforeEach(async () => {
    receiver = new WebhookReceiver([SECRET_A]);
    await receiver.start();
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
    await receiver.stop();
  });
  afterAll(() => redis.quit());

  async function start(env: Record<string, string> = {}): Promise<Harness> {
    h = await startHarness({
      env: {
        WEBHOOK_URLS: receiver.url,
        WEBHOOK_SECRET: SECRET_A,
        WEBHOOK_RETRY_BASE_MS: '20',
        WEBHOOK_RETRY_MAX_MS: '50',
        WEBHOOK_POLL_MS: '50',
        WEBHOOK_LEASE_MS: '1000',
        ...env,
      },
      container: { logger: logs.logger },
    });
    h.container.start();
    return h;
  }
  const metric = async (name: string) => {
    const text = await h!.container.metrics.render();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`));
    return line ? Number(line.split(' ').pop()) : 0;
  };

  it('delivers each event as signed JSON with its event id, in order, and acknowledges it in the group', async () => {
    await start();
    await h!.authorize(OA);
    await h!.container.authorizerStore.markUnauthorized(OA);
    const streamed = await streamEvents(redis, h!.container.keys.events);
    await eventually(() => receiver.received.length === 2, { what: 'two deliveries' });
    expect(receiver.rejected).toEqual([]);
    expect(receiver.received.map((r) => r.event)).toEqual(streamed.map(({ streamId: _id, ...e }) => e));
    expect(receiver.received[0]!.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    await eventually(
      async () => Number((await redis.xpending(h!.container.keys.events, webhookGroup(receiver.url)))[0]) === 0,
      { what: 'acks' },
    );
    await eventually(async () => (await metric('wxopen_webhook_delivered_total')) === 2, {
      what: 'the delivered count',
    });
    expect(await metric('wxopen_webhook_oldest_undelivered_age_seconds')).toBe(0);
  });

  it('signs with every WEBHOOK_SECRET: a receiver that knows only the old or only the new one accepts', async () => {
    await start({ WEBHOOK_SECRET: `${SECRET_A},${SECRET_B}` });
    receiver.setSecrets([SECRET_B]);
    await h!.authorize(OA);
    await eventually(() => receiver.received.length === 1, { what: 'a delivery verified with the new secret' });
    expect(receiver.received[0]!.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    receiver.setSecrets([SECRET_A]);
    await h!.container.authorizerStore.markUnauthorized(OA);
    await eventually(() => receiver.received.length === 2, { what: 'a delivery verified with the old secret' });
    expect(receiver.rejected).toEqual([]);
  });

  it('retries with backoff while the receiver fails; after WEBHOOK_DEAD_LETTER_AFTER_SECONDS the event is dead-lettered with an error line, and the account moves on', async () => {
    await start({ WEBHOOK_DEAD_LETTER_AFTER_SECONDS: '3600' });
    receiver.mode = 'fail';
    await h!.authorize(OA);
    await eventually(async () => (await metric('wxopen_webhook_retries_total')) >= 3, { what: 'three retries' });
    expect(await metric('wxopen_webhook_oldest_undelivered_age_seconds')).toBeGreaterThanOrEqual(0);
    h!.clock.advance(3600_000);
    expect(await metric('wxopen_webhook_oldest_undelivered_age_seconds')).toBeGreaterThanOrEqual(3600);
    const dead = await eventually(
      async () => {
        const entries = await redis.xrange(h!.container.keys.eventsDeadLetter, '-', '+');
        return entries.length === 1 && entries;
      },
      { what: 'the dead-lettered event' },
    );
    const fields = Object.fromEntries(
      dead[0]![1].reduce<string[][]>((acc, v, i) => (i % 2 ? acc[acc.length - 1]!.push(v) : acc.push([v]), acc), []),
    );
    expect(fields).toMatchObject({
      type: 'authorized',
      authorizer_appid: OA,
      webhook_target: new URL(receiver.url).origin,
      last_error: 'HTTP 500',
    });
    await eventually(async () => (await metric('wxopen_webhook_dead_lettered_total')) === 1, {
      what: 'the dead-lettered count',
    });
    const errorLines = logs
      .lines()
      .filter((l) => l.level === 50 && String(l.msg).startsWith('webhook event dead-lettered'));
    expect(errorLines).toEqual([
      expect.objectContaining({ authorizerAppid: OA, type: 'authorized', lastError: 'HTTP 500' }),
    ]);

    receiver.mode = 'ok';
    await h!.container.authorizerStore.markUnauthorized(OA);
    await eventually(() => receiver.received.length === 1, { what: 'the next event' });
    expect(receiver.received[0]!.event.type).toBe('unauthorized');
    expect(receiver.received.every((r) => !JSON.stringify(r).includes('refresh'))).toBe(true);
  });
});

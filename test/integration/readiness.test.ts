import request from 'supertest';
import { createApp } from '../../src/app';
import { generateAccounts } from '../../src/sandbox/emulator';
import { startHarness, type Harness } from '../support/emulator';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** No startup grace: these tests are about the steady state (the grace period is in health.test.ts). */
describe('GET /readyz: ticket, component token and accounts (emulator over HTTP, real Redis)', () => {
  let h: Harness;
  const accounts = generateAccounts(2);
  const A = accounts[0]!.appid;

  const start = async (withTicket: boolean) => {
    h = await startHarness({ env: { READINESS_STARTUP_GRACE_SECONDS: '0' }, emulator: { accounts }, withTicket });
  };
  afterEach(() => h.close());
  const readyz = () => request(createApp(h.container)).get('/readyz');

  it('is not ready (503) with neither a ticket nor a component token, and says why', async () => {
    await start(false);
    const res = await readyz().expect(503);
    expect(res.body).toEqual({
      status: 'not_ready',
      store: 'redis',
      checks: {
        redis: { ok: true },
        ticket: { ok: false, age_seconds: null, stale: null },
        component_access_token: { ok: false, expires_in: 0 },
        authorizers: { reauthorization_required: 0 },
      },
      warnings: [expect.stringMatching(/no component_verify_ticket stored/), 'no valid component_access_token'],
    });
  });

  it('is ready with a fresh ticket alone (a component token can be fetched), reporting its age', async () => {
    await start(true);
    h.clock.advance(3 * MINUTE);
    const res = await readyz().expect(200);
    expect(res.body.status).toBe('ready');
    expect(res.body.checks.ticket).toEqual({ ok: true, age_seconds: 180, stale: false });
    expect(res.body.checks.component_access_token).toEqual({ ok: false, expires_in: 0 });
  });

  it('reports the component token TTL once there is one', async () => {
    await start(true);
    await h.container.tokenService.getComponentAccessToken();
    h.clock.advance(10 * MINUTE);
    const res = await readyz().expect(200);
    expect(res.body.checks.component_access_token.ok).toBe(true);
    expect(res.body.checks.component_access_token.expires_in).toBeGreaterThan(7200 - 600 - 5);
    expect(res.body.checks.component_access_token.expires_in).toBeLessThanOrEqual(7200 - 600);
    expect(res.body.warnings).toEqual([]);
  });

  it('flags the ticket stale after 20 minutes without a push, but stays ready', async () => {
    await start(true);
    h.clock.advance(19 * MINUTE);
    expect((await readyz().expect(200)).body.checks.ticket.stale).toBe(false);
    h.clock.advance(2 * MINUTE);
    const res = await readyz().expect(200);
    expect(res.body.checks.ticket).toEqual({ ok: true, age_seconds: 21 * 60, stale: true });
    expect(res.body.warnings).toEqual([
      'no component_verify_ticket pushed for more than 20 minutes',
      'no valid component_access_token',
    ]);
    await h.seedTicket(); // the next push
    expect((await readyz().expect(200)).body.checks.ticket).toEqual({ ok: true, age_seconds: 0, stale: false });
  });

  it('stays ready on a valid component token without a ticket, and is not ready once that token expires too', async () => {
    await start(true);
    await h.container.tokenService.getComponentAccessToken();
    await h.container.redis.del(h.container.keys.componentVerifyTicket);
    const res = await readyz().expect(200);
    expect(res.body.checks.ticket.ok).toBe(false);
    h.clock.advance(2 * HOUR);
    expect((await readyz().expect(503)).body.checks.component_access_token).toEqual({ ok: false, expires_in: 0 });
  });

  it('counts accounts that must authorize again, without leaving rotation', async () => {
    await start(true);
    await h.authorize(A);
    await h.emulator.revoke(A, { push: false });
    h.clock.advance(2 * HOUR + MINUTE);
    await expect(h.container.tokenService.getAuthorizerAccessToken(A)).rejects.toMatchObject({
      status: 'reauthorization_required',
    });
    const res = await readyz().expect(200);
    expect(res.body.checks.authorizers).toEqual({ reauthorization_required: 1 });
    expect(res.body.warnings).toContain('1 account(s) must authorize the platform again');
  });
});

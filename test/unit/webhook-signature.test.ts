import { createHmac } from 'node:crypto';
import { signWebhook, verifyWebhookSignature } from '../../src/client/webhook-signature';

const A = 'secret-a-0123456789abcdef0123456789ab';
const B = 'secret-b-0123456789abcdef0123456789ab';
const body = '{"event_id":"x","type":"authorized"}';
const now = 1_764_590_000;

describe('webhook signature (X-Wxopen-Signature)', () => {
  it('is t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>, one v1 per secret', () => {
    const expected = (s: string) => createHmac('sha256', s).update(`${now}.${body}`).digest('hex');
    expect(signWebhook(body, [A], now)).toBe(`t=${now},v1=${expected(A)}`);
    expect(signWebhook(body, [A, B], now + 0.9)).toBe(`t=${now},v1=${expected(A)},v1=${expected(B)}`);
  });

  it('verifies with any accepted secret, on the raw body as string or bytes', () => {
    const header = signWebhook(body, [A, B], now);
    expect(verifyWebhookSignature(header, body, { secrets: [B], nowSeconds: now })).toEqual({ ok: true });
    expect(
      verifyWebhookSignature(header, Buffer.from(body), { secrets: ['other-secret', A], nowSeconds: now }),
    ).toEqual({ ok: true });
  });

  it('refuses another secret, a changed body, a stale or future timestamp, and malformed headers', () => {
    const header = signWebhook(body, [A], now);
    expect(verifyWebhookSignature(header, body, { secrets: [B], nowSeconds: now })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifyWebhookSignature(header, `${body} `, { secrets: [A], nowSeconds: now })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifyWebhookSignature(header, body, { secrets: [A], nowSeconds: now + 301 })).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect(verifyWebhookSignature(header, body, { secrets: [A], nowSeconds: now - 301 })).toEqual({
      ok: false,
      reason: 'stale',
    });
    for (const bad of [undefined, '', 't=1', `v1=${'0'.repeat(64)}`, `t=${now},v1=zz`, `t=abc,v1=${'0'.repeat(64)}`]) {
      expect(verifyWebhookSignature(bad, body, { secrets: [A], nowSeconds: now })).toEqual({
        ok: false,
        reason: 'malformed',
      });
    }
    expect(verifyWebhookSignature(header, body, { secrets: [], nowSeconds: now })).toEqual({
      ok: false,
      reason: 'malformed',
    });
  });
});

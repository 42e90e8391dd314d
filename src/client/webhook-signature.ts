/**
 * The webhook signature (docs/events.md): `X-Wxopen-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`
 * where each v1 is HMAC-SHA256(secret, `${t}.${body}`) — one per secret the sender holds, so a
 * secret can be rotated without a moment where receivers reject. Receivers import
 * `verifyWebhookSignature` (no dependency on the rest of the service).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-wxopen-signature';
export const EVENT_ID_HEADER = 'x-wxopen-event-id';

const DIGEST_HEX_RE = /^[0-9a-f]{64}$/;

function hmac(secret: string, timestamp: string, body: string | Buffer): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
}

/** The header value for `body` sent at `unixSeconds`, signed with every secret. */
export function signWebhook(body: string, secrets: readonly string[], unixSeconds: number): string {
  const t = String(Math.floor(unixSeconds));
  return [`t=${t}`, ...secrets.map((s) => `v1=${hmac(s, t, body).toString('hex')}`)].join(',');
}

export interface VerifyOptions {
  /** Every secret the receiver accepts (during a rotation: the old and the new one). */
  readonly secrets: readonly string[];
  /** Refuse signatures older (or newer) than this many seconds (replay guard). Default 300. */
  readonly toleranceSeconds?: number;
  /** Unix seconds now (tests). */
  readonly nowSeconds?: number;
}

export type VerifyResult = { ok: true } | { ok: false; reason: 'malformed' | 'stale' | 'mismatch' };

/**
 * Checks a signature header against the raw body (the exact bytes received, before any JSON parsing).
 * Every v1 is compared with every secret's digest in constant time, without stopping at the first
 * match, so the timing tells nothing about which secret or digest matched.
 */
export function verifyWebhookSignature(
  header: string | undefined,
  rawBody: string | Buffer,
  options: VerifyOptions,
): VerifyResult {
  if (!header) return { ok: false, reason: 'malformed' };
  let timestamp: string | undefined;
  const candidates: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name === 't' && /^\d{1,12}$/.test(value)) timestamp = value;
    else if (name === 'v1' && DIGEST_HEX_RE.test(value)) candidates.push(Buffer.from(value, 'hex'));
  }
  if (timestamp === undefined || candidates.length === 0 || options.secrets.length === 0)
    return { ok: false, reason: 'malformed' };
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(timestamp)) > (options.toleranceSeconds ?? 300)) return { ok: false, reason: 'stale' };
  let matched = false;
  for (const secret of options.secrets) {
    const expected = hmac(secret, timestamp, rawBody);
    for (const candidate of candidates) matched = timingSafeEqual(candidate, expected) || matched;
  }
  return matched ? { ok: true } : { ok: false, reason: 'mismatch' };
}

/**
 * Single-use, expiring codes: pre_auth_code (protocol.md §4.2), auth_code / AuthorizationCode (§4.3, §5) and the
 * one-time sessions of the authorization page. A consumed code is forgotten, so "used" and "never issued" look the
 * same to a caller, as they do at WeChat (61009 / "PreAuthCode无效").
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock';

export type CodeLookup<T> = { ok: true; value: T } | { ok: false; reason: 'unknown' | 'expired' };

interface Entry<T> {
  value: T;
  expiresAt: number;
}

// Expired codes are remembered this long after expiry so they answer "expired" rather than "unknown".
const REMEMBER_EXPIRED_MS = 24 * 3600 * 1000;

export class CodeBook<T> {
  // Insertion order equals expiry order (one lifetime per book, a clock that only moves forward), so pruning from
  // the head is amortised O(1) and needs no timer.
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly clock: Clock,
    private readonly lifetimeSeconds: number,
    private readonly prefix: string,
  ) {}

  get lifetime(): number {
    return this.lifetimeSeconds;
  }

  issue(value: T): { code: string; expiresIn: number } {
    this.prune();
    const code = `${this.prefix}${randomBytes(36).toString('base64url')}`;
    this.entries.set(code, { value, expiresAt: this.clock.now() + this.lifetimeSeconds * 1000 });
    return { code, expiresIn: this.lifetimeSeconds };
  }

  /** Looks the code up without using it. */
  peek(code: string): CodeLookup<T> {
    const entry = this.entries.get(code);
    if (!entry) return { ok: false, reason: 'unknown' };
    if (this.clock.now() >= entry.expiresAt) return { ok: false, reason: 'expired' };
    return { ok: true, value: entry.value };
  }

  /** Uses the code: it answers "unknown" from now on. */
  consume(code: string): CodeLookup<T> {
    const found = this.peek(code);
    if (found.ok) this.entries.delete(code);
    this.prune();
    return found;
  }

  private prune(): void {
    const cutoff = this.clock.now() - REMEMBER_EXPIRED_MS;
    for (const [code, entry] of this.entries) {
      if (entry.expiresAt > cutoff) break;
      this.entries.delete(code);
    }
  }
}

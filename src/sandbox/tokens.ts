/**
 * Access tokens issued by the emulator (component_access_token and authorizer_access_token) and the rules WeChat
 * applies to them: a fixed lifetime (42001 after it), and a short overlap when a new token replaces the previous
 * one (40001 after the grace), which is what makes stale-token bugs show up in tests instead of in production.
 * Lifetimes: shared/docs/protocol.md §4.1, §4.4; errcodes §6.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock';

export type TokenKind = 'component' | 'authorizer';

export interface TokenRecord {
  kind: TokenKind;
  /** Component appid or authorizer appid. */
  owner: string;
  issuedAt: number;
  expiresAt: number;
  /** When a newer token for the same owner was issued. */
  supersededAt?: number;
  /** Dropped by revocation, re-authorization or a test (`invalidateToken`). */
  invalidated?: boolean;
}

export type TokenCheck = { ok: true; record: TokenRecord } | { ok: false; errcode: 40001 | 40014 | 42001 };

// Real tokens look like `87_Ab…` (a two-digit generation, `_`, then ~130 url-safe characters). Anything without
// that shape is "malformed" (40014) rather than "unknown" (40001), like WeChat distinguishes them.
const TOKEN_SHAPE = /^\d{2}_[A-Za-z0-9_-]{40,200}$/;
const PREFIX: Record<TokenKind, string> = { component: '81', authorizer: '82' };
// Older tokens of an owner are forgotten (and then answer "unknown", the same 40001) so a benchmark that refreshes
// 100 000 authorizers for hours keeps a bounded history.
const HISTORY_PER_OWNER = 8;

export class TokenBook {
  private readonly records = new Map<string, TokenRecord>();
  private readonly byOwner = new Map<string, string[]>();

  constructor(
    private readonly clock: Clock,
    private readonly lifetimeSeconds: number,
    private readonly graceSeconds: number,
  ) {}

  /** Issues a new token; the owner's previous tokens keep working for the grace period only. */
  issue(kind: TokenKind, owner: string): { token: string; expiresIn: number } {
    const now = this.clock.now();
    const token = `${PREFIX[kind]}_${randomBytes(72).toString('base64url')}`;
    const key = `${kind}:${owner}`;
    const history = this.byOwner.get(key) ?? [];
    for (const previous of history) {
      const record = this.records.get(previous);
      if (record && record.supersededAt === undefined) record.supersededAt = now;
    }
    history.push(token);
    while (history.length > HISTORY_PER_OWNER) this.records.delete(history.shift() as string);
    this.byOwner.set(key, history);
    this.records.set(token, { kind, owner, issuedAt: now, expiresAt: now + this.lifetimeSeconds * 1000 });
    return { token, expiresIn: this.lifetimeSeconds };
  }

  check(token: string, kind?: TokenKind): TokenCheck {
    if (!TOKEN_SHAPE.test(token)) return { ok: false, errcode: 40014 };
    const record = this.records.get(token);
    // A token of the other kind is a credential WeChat does not accept here: invalid, not malformed.
    if (!record || (kind !== undefined && record.kind !== kind)) return { ok: false, errcode: 40001 };
    const now = this.clock.now();
    if (record.invalidated) return { ok: false, errcode: 40001 };
    if (now >= record.expiresAt) return { ok: false, errcode: 42001 };
    if (record.supersededAt !== undefined && now >= record.supersededAt + this.graceSeconds * 1000) {
      return { ok: false, errcode: 40001 };
    }
    return { ok: true, record };
  }

  status(token: string): 'valid' | 'expired' | 'unknown' {
    const result = this.check(token);
    if (result.ok) return 'valid';
    return this.records.has(token) ? 'expired' : 'unknown';
  }

  invalidate(token: string): boolean {
    const record = this.records.get(token);
    if (record) record.invalidated = true;
    return record !== undefined;
  }

  /** Every token of the owner stops working at once (revocation, re-authorization): no grace. */
  invalidateOwner(kind: TokenKind, owner: string): void {
    for (const token of this.byOwner.get(`${kind}:${owner}`) ?? []) this.invalidate(token);
  }
}

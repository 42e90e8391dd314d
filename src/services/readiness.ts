import type { Clock } from '../clock';
import type { AuthorizerStore } from '../store/authorizer-store';
import type { StorageHealth } from '../store/storage';
import type { TicketStore } from '../store/ticket-store';
import type { ComponentTokenStore } from '../store/token-store';

/** WeChat pushes a ticket every 10 minutes: two missed pushes mean pushes are not reaching us. */
export const TICKET_STALE_AFTER_MS = 20 * 60_000;

export interface ReadinessDeps {
  readonly storage: StorageHealth;
  readonly tickets: TicketStore;
  readonly componentTokens: ComponentTokenStore;
  readonly authorizers: AuthorizerStore;
  readonly clock: Clock;
  /** READINESS_STARTUP_GRACE_SECONDS: how long after start a missing ticket and token do not count. */
  readonly startupGraceMs: number;
  /** false when refresh tokens are stored in plaintext (no TOKEN_ENCRYPTION_KEYS): a warning, never unready. */
  readonly refreshTokensEncrypted?: boolean;
}

export interface ReadinessReport {
  readonly ready: boolean;
  /** What the stores run on. In-memory stores (the sandbox without Redis) report `memory`, never a Redis check. */
  readonly store: StorageHealth['kind'];
  readonly checks: {
    /** Present only when the stores run on Redis. */
    readonly redis?: { ok: boolean; reason?: string };
    readonly memory?: { ok: true };
    readonly ticket?: { ok: boolean; age_seconds: number | null; stale: boolean | null };
    readonly component_access_token?: { ok: boolean; expires_in: number };
    readonly authorizers?: { reauthorization_required: number };
  };
  /** What an operator should look at, in words; present even while ready. */
  readonly warnings: string[];
}

/**
 * GET /readyz. Not ready (503) only when the service cannot serve: Redis down, or neither a valid
 * ticket nor a valid component token (no component call can succeed). A stale ticket or accounts
 * needing re-authorization are reported but keep the instance in rotation, since taking it out
 * fixes nothing. A fresh deployment is also kept ready for a grace period: WeChat delivers its first
 * ticket only to an instance that receives traffic.
 */
export class ReadinessService {
  private readonly startedAt = Date.now();

  constructor(private readonly deps: ReadinessDeps) {}

  async check(): Promise<ReadinessReport> {
    const store = this.deps.storage.kind;
    const redis = await this.deps.storage.ping();
    if (!redis.ok) {
      return {
        ready: false,
        store,
        checks: { redis: { ok: false, reason: `redis unreachable: ${redis.reason}` } },
        warnings: ['Redis is unreachable'],
      };
    }
    try {
      return await this.checkState();
    } catch (err) {
      // Redis answered PING but failed the reads: as unable to serve as if it were down.
      return {
        ready: false,
        store,
        checks: { redis: { ok: false, reason: `redis read failed: ${(err as Error).message}` } },
        warnings: ['Redis reads fail'],
      };
    }
  }

  private async checkState(): Promise<ReadinessReport> {
    const { tickets, componentTokens, authorizers, clock } = this.deps;
    const [ticket, token, counts] = await Promise.all([
      tickets.get(),
      componentTokens.get(),
      authorizers.countByStatus(),
    ]);
    const now = clock.now();
    const ageMs = ticket?.receivedAt === undefined ? undefined : Math.max(0, now - ticket.receivedAt);
    const stale = ageMs === undefined ? null : ageMs > TICKET_STALE_AFTER_MS;
    const expiresIn = token ? Math.max(0, Math.floor((token.expiresAt - now) / 1000)) : 0;
    const reauthorizationRequired = counts.reauthorization_required;

    const warnings: string[] = [];
    if (!ticket)
      warnings.push('no component_verify_ticket stored: check the authorization-event URL, token and AES key');
    else if (stale) warnings.push('no component_verify_ticket pushed for more than 20 minutes');
    if (expiresIn === 0) warnings.push('no valid component_access_token');
    if (this.deps.refreshTokensEncrypted === false)
      warnings.push('refresh tokens are stored in plaintext: set TOKEN_ENCRYPTION_KEYS');
    if (reauthorizationRequired > 0)
      warnings.push(`${reauthorizationRequired} account(s) must authorize the platform again`);

    const canServe = !!ticket || expiresIn > 0;
    const inGrace = Date.now() - this.startedAt < this.deps.startupGraceMs;
    if (!canServe && inGrace)
      warnings.push('ready only for the startup grace period: no ticket and no component token yet');
    const store = this.deps.storage.kind;
    return {
      ready: canServe || inGrace,
      store,
      checks: {
        ...(store === 'redis' ? { redis: { ok: true } } : { memory: { ok: true as const } }),
        ticket: { ok: !!ticket, age_seconds: ageMs === undefined ? null : Math.floor(ageMs / 1000), stale },
        component_access_token: { ok: expiresIn > 0, expires_in: expiresIn },
        authorizers: { reauthorization_required: reauthorizationRequired },
      },
      warnings,
    };
  }
}

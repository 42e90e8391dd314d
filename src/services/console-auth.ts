import { randomBytes } from 'node:crypto';
import type { Logger } from '../logger';
import { parsePasswordHash, verifyPassword, type PasswordHash } from '../password-hash';
import type { LoginLimits } from '../store/login-limits';

export type LoginOutcome =
  | { readonly kind: 'ok'; readonly operator: string }
  | { readonly kind: 'refused' }
  | { readonly kind: 'rate_limited'; readonly retryAfterMs: number };

/** An unknown user name costs the same scrypt work as a known one, so timing does not tell names apart. */
const DECOY_HASH = parsePasswordHash(
  `scrypt.32768.8.1.${randomBytes(16).toString('base64url')}.${randomBytes(32).toString('base64url')}`,
) as PasswordHash;

/**
 * Operators' sign-in: the CONSOLE_USERS list (scrypt hashes), attempts limited per IP and per user name
 * before any password work, one audit line per outcome. The session itself is HTTP's (routes/console).
 */
export class ConsoleAuth {
  constructor(
    private readonly deps: {
      readonly users: ReadonlyMap<string, PasswordHash>;
      readonly limits: LoginLimits;
      readonly logger: Logger;
    },
  ) {}

  async login(name: string, password: string, ip: string): Promise<LoginOutcome> {
    const { users, limits, logger } = this.deps;
    const userKey = name.toLowerCase().slice(0, 64);
    const waits = await Promise.all([limits.take('ip', ip), limits.take('user', userKey)]);
    const retryAfterMs = Math.max(...waits);
    if (retryAfterMs > 0) {
      logger.warn(
        { audit: true, operator: name.slice(0, 64), ip, action: 'login_rate_limited' },
        'console: login attempts over the limit',
      );
      return { kind: 'rate_limited', retryAfterMs };
    }
    const hash = users.get(name);
    const matches = await verifyPassword(password, hash ?? DECOY_HASH);
    if (!hash || !matches) {
      logger.warn({ audit: true, operator: name.slice(0, 64), ip, action: 'login_refused' }, 'console: login refused');
      return { kind: 'refused' };
    }
    // The IP's counter stays: one valid account must not reset an IP's budget for guessing others.
    await limits.clear('user', userKey);
    logger.info({ audit: true, operator: name, ip, action: 'login' }, 'console: login');
    return { kind: 'ok', operator: name };
  }
}

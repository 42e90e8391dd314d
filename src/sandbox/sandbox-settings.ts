/**
 * What `npm run sandbox` takes from its environment, and nothing more. It deliberately reads no `.env` and none of
 * the service's WeChat, credential or Redis variables: a `.env` written for production must not point the demo at
 * the real WeChat or at a developer's Redis. Everything else (the service URL, the registered domain, the printed
 * URLs) is derived from PORT.
 */
export interface SandboxSettings {
  /** The service's port (PORT, default 3000). */
  readonly port: number;
  /** The emulator's port (SANDBOX_EMULATOR_PORT); 0 = a free one. */
  readonly emulatorPort: number;
  /** An external Redis given explicitly for the sandbox (SANDBOX_REDIS_URL); otherwise it uses its own. */
  readonly redisUrl: string | undefined;
  readonly ticketIntervalMs: number;
  readonly logLevel: string;
  readonly production: boolean;
}

/** The key prefix of everything the sandbox stores (docs/redis-keys.md's examples use it). */
export const SANDBOX_KEY_PREFIX = 'wxopen-sandbox';

export class SandboxSettingsError extends Error {}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value > 65535)
    throw new SandboxSettingsError(`${name} must be a port number 0..65535, got ${JSON.stringify(raw)}`);
  return value;
}

export function readSandboxSettings(env: NodeJS.ProcessEnv): SandboxSettings {
  const redisUrl = env.SANDBOX_REDIS_URL || undefined;
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    throw new SandboxSettingsError('SANDBOX_REDIS_URL must be a redis:// or rediss:// URL');
  }
  const interval = env.SANDBOX_TICKET_INTERVAL_MS;
  if (interval !== undefined && interval !== '' && !/^\d+$/.test(interval)) {
    throw new SandboxSettingsError(
      `SANDBOX_TICKET_INTERVAL_MS must be a non-negative integer, got ${JSON.stringify(interval)}`,
    );
  }
  const servicePort = port(env, 'PORT', 3000);
  if (servicePort === 0)
    throw new SandboxSettingsError('PORT must name a port (the printed URLs and the registered domain use it), got 0');
  return {
    port: servicePort,
    emulatorPort: port(env, 'SANDBOX_EMULATOR_PORT', 0),
    redisUrl,
    ticketIntervalMs: interval ? Number(interval) : 600_000,
    logLevel: env.LOG_LEVEL || 'info',
    production: env.NODE_ENV === 'production',
  };
}

import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Names (normalised: lower case, no `_`/`-`) whose values are secrets or
 * tokens. Path-based redaction cannot follow WeChat's payloads, which carry
 * these at any depth, so the whole object is walked instead.
 */
const SECRET_NAMES = new Set(
  [
    'appsecret',
    'componentappsecret',
    'componentsecret',
    'secret',
    'aeskey',
    'encodingaeskey',
    'previousaeskey',
    'componentverifyticket',
    'ticket',
    'accesstoken',
    'componentaccesstoken',
    'authorizeraccesstoken',
    'refreshtoken',
    'authorizerrefreshtoken',
    'authcode',
    'authorizationcode',
    'preauthcode',
    'encrypt',
    'authorization',
    'internalapitoken',
    'token',
    'password',
  ].map((n) => n),
);

const REDACTED = '[redacted]';

/** Verdicts by exact key: log objects repeat the same few keys on every line (bounded, keys may come from input). */
const verdicts = new Map<string, boolean>();
const MAX_VERDICTS = 1000;

export function isSecretName(name: string): boolean {
  let secret = verdicts.get(name);
  if (secret === undefined) {
    secret = SECRET_NAMES.has(name.toLowerCase().replace(/[_-]/g, ''));
    if (verdicts.size < MAX_VERDICTS) verdicts.set(name, secret);
  }
  return secret;
}

/** Replaces secret query parameters of a URL or path (`/auth?auth_code=…`). */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      return eq >= 0 && isSecretName(decodeURIComponent(name)) ? `${name}=${REDACTED}` : pair;
    });
  return `${url.slice(0, q + 1)}${params.join('&')}`;
}

export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') {
    return typeof value === 'string' && value.includes('?') && /^(https?:\/\/|\/)/.test(value) ? redactUrl(value) : value;
  }
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  // Only plain data is walked. Class instances (errors, pino-http's raw req/res) pass through to
  // their serializers, which redact them; deep-copying a request object cost most of a request's CPU.
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = isSecretName(key) && v !== undefined && v !== null ? REDACTED : redactSecrets(v, depth + 1);
  }
  return out;
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      formatters: { log: (obj) => redactSecrets(obj) as Record<string, unknown> },
      serializers: {
        err: (err: Error) => {
          const s = pino.stdSerializers.err(err);
          return redactSecrets(s) as typeof s;
        },
      },
    },
    destination,
  );
}

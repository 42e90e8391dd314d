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
    'bearer',
    'apikey',
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

/**
 * Percent-escapes decoded, so that a secret sent as `%41bc…` is logged as the `Abc…` the value matcher
 * below removes (an encoding must not be a way past redaction). Runs of escapes are decoded as UTF-8.
 */
function decodeEscapes(url: string): string {
  if (!url.includes('%')) return url;
  return url.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'));
}

/**
 * Replaces secret query parameters of a URL or path (`/auth?auth_code=…`), by name; what a secret value
 * appears as elsewhere (`?bearer=…`, a path segment) is removed by value when the line is written.
 */
export function redactUrl(raw: string): string {
  const url = decodeEscapes(raw);
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      return eq >= 0 && isSecretName(name) ? `${name}=${REDACTED}` : pair;
    });
  return `${url.slice(0, q + 1)}${params.join('&')}`;
}

export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') {
    return typeof value === 'string' && value.includes('?') && /^(https?:\/\/|\/)/.test(value)
      ? redactUrl(value)
      : value;
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

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * One regular expression for every form a configured secret takes in a serialized line: as JSON writes it
 * (quotes and backslashes escaped) and percent-encoded (a URL that was not decoded). Longest first, so a
 * secret containing another is removed whole. Undefined when there is nothing to look for.
 */
export function secretValueMatcher(secrets: readonly string[]): RegExp | undefined {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (!secret) continue;
    forms.add(JSON.stringify(secret).slice(1, -1));
    forms.add(encodeURIComponent(secret));
  }
  if (forms.size === 0) return undefined;
  const alternatives = [...forms].sort((a, b) => b.length - a.length).map(escapeRegExp);
  return new RegExp(alternatives.join('|'), 'g');
}

/**
 * `secrets`: the configured secret values (config.ts secretValues()). Each is replaced in every line,
 * whatever carries it: names cannot cover a secret a client puts in a parameter or path of its choosing.
 */
export function createLogger(
  level: string,
  destination?: pino.DestinationStream,
  secrets: readonly string[] = [],
): Logger {
  const matcher = secretValueMatcher(secrets);
  return pino(
    {
      level,
      base: undefined,
      // By path, where secrets travel in HTTP messages, should a line ever carry a request's or response's
      // headers (request lines carry none: routes/request-logging.ts).
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'res.headers["set-cookie"]',
          'headers.authorization',
          'headers.cookie',
        ],
        censor: REDACTED,
      },
      // The serialized line, just before it is written: the one place every field, message and binding passes.
      ...(matcher ? { hooks: { streamWrite: (line: string) => line.replace(matcher, REDACTED) } } : {}),
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

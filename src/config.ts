import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parsePasswordHash, type PasswordHash } from './password-hash';
import { parseEncryptionKeys, type EncryptionKey } from './store/secret-cipher';
import { aesKeyProblem } from './wechat/crypto';
import { appIdSchema, appSecretSchema, componentTokenSchema } from './wechat/identifiers';

/**
 * The only reader of process.env. Validated once at start; bad configuration
 * is reported one line per variable (see ConfigError) and never as a stack trace.
 */

const aesKey = z.string().superRefine((value, ctx) => {
  const problem = aesKeyProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const httpUrl = z
  .string()
  .refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL')
  .transform((v) => v.replace(/\/+$/, ''));

/** Redis' own bound for a database index (`databases` is an int); the server's configured count is checked at start. */
const MAX_REDIS_DB = 2_147_483_647;

/**
 * The database number of a redis:// URL: its path (`/3`), 0 when the path is empty. A non-decimal path is a
 * problem, not 0: ioredis would pass it to SELECT, fail, and go on writing into database 0.
 */
function redisDbOf(url: URL): number | string {
  const path = url.pathname.replace(/^\//, '');
  if (path === '') return 0;
  const db = strictInteger(path);
  if (db === undefined || db > MAX_REDIS_DB)
    return `the database (path "/${path}") must be a decimal integer from 0 to ${MAX_REDIS_DB}`;
  return db;
}

const redisUrl = z.string().superRefine((v, ctx) => {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    url = new URL('invalid:');
  }
  if (!['redis:', 'rediss:'].includes(url.protocol)) {
    ctx.addIssue({ code: 'custom', message: 'must be a redis:// or rediss:// URL' });
    return;
  }
  const db = redisDbOf(url);
  if (typeof db === 'string') ctx.addIssue({ code: 'custom', message: db });
});

/** Digits only: `0x1F`, `4123e1`, ` 80`, `+1`, `-1` and `1.0` are not what an operator meant (Number() accepts them all). */
const DECIMAL_RE = /^[0-9]{1,15}$/;

function strictInteger(value: string): number | undefined {
  return DECIMAL_RE.test(value) ? Number(value) : undefined;
}

/** Every numeric variable: a plain decimal integer within [min, max], nothing coerced. */
const intIn = (min: number, max: number) =>
  z.string().transform((value, ctx) => {
    const n = strictInteger(value);
    if (n === undefined || n < min || n > max) {
      ctx.addIssue({
        code: 'custom',
        message: `must be a decimal integer from ${min} to ${max} (got "${value.slice(0, 20)}")`,
      });
      return z.NEVER;
    }
    return n;
  });

/**
 * What a bearer token can be so that `Authorization: Bearer <token>` carries it unchanged: RFC 6750's
 * b64token characters. A space or a non-ASCII character can never arrive intact, so every request would get 401.
 */
const BEARER_TOKEN_RE = /^[A-Za-z0-9\-._~+/]+=*$/;
/** Bearer and webhook secrets: long enough that guessing is hopeless (INTERNAL_API_TOKEN was 16 before issue 15). */
const MIN_SECRET_LENGTH = 32;
const CLIENT_NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
/** The client name of INTERNAL_API_TOKEN in logs and metrics. */
export const DEFAULT_INTERNAL_CLIENT = 'default';
export const bearerToken = z
  .string()
  .min(MIN_SECRET_LENGTH, `must be at least ${MIN_SECRET_LENGTH} characters when set`)
  .regex(
    BEARER_TOKEN_RE,
    'must contain only the characters A-Z a-z 0-9 - . _ ~ + / (then optional trailing =), no spaces or non-ASCII',
  );

/** `host:port,host:port` (IPv6 hosts in brackets: `[::1]:6379`). */
const endpointList = z.string().transform((value, ctx) => {
  const endpoints: RedisEndpoint[] = [];
  for (const item of value.split(',').map((s) => s.trim())) {
    const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(item);
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `"${item}" is not host:port (port 1..65535)` });
      return z.NEVER;
    }
    endpoints.push({ host: match[1]!.replace(/^\[|\]$/g, ''), port });
  }
  return endpoints;
});

/** A PEM value: inline (starts with -----BEGIN) or the path of a file, read once at start. */
const pem = z.string().transform((value, ctx) => {
  if (value.trimStart().startsWith('-----BEGIN')) return value;
  try {
    const text = readFileSync(value, 'utf8');
    if (!text.includes('-----BEGIN')) {
      ctx.addIssue({ code: 'custom', message: `${value} is not a PEM file` });
      return z.NEVER;
    }
    return text;
  } catch (err) {
    ctx.addIssue({
      code: 'custom',
      message: `cannot read ${value} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    });
    return z.NEVER;
  }
});

const CONSOLE_USER_RE = /^[A-Za-z0-9_.@-]{1,64}$/;

/** CONSOLE_USERS=name:scrypt-hash,name:scrypt-hash (hashes from `npm run console:hash-password`). */
const consoleUsers = z.string().transform((value, ctx) => {
  const users = new Map<string, PasswordHash>();
  for (const entry of value
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const colon = entry.indexOf(':');
    const name = colon < 0 ? entry : entry.slice(0, colon);
    const hash = colon < 0 ? undefined : parsePasswordHash(entry.slice(colon + 1));
    if (!CONSOLE_USER_RE.test(name))
      ctx.addIssue({ code: 'custom', message: `user "${name.slice(0, 64)}": names are 1-64 of A-Z a-z 0-9 _ . @ -` });
    else if (!hash)
      ctx.addIssue({
        code: 'custom',
        message: `user "${name}": expected name:scrypt-hash (npm run console:hash-password prints one)`,
      });
    else if (users.has(name)) ctx.addIssue({ code: 'custom', message: `user "${name}" is listed twice` });
    else users.set(name, hash);
  }
  return users;
});

/** `id:base64key,…`: one issue per bad entry, so each problem is its own config error line. */
const encryptionKeys = z.string().transform((spec, ctx) => {
  const { keys, problems } = parseEncryptionKeys(spec);
  for (const problem of problems) ctx.addIssue({ code: 'custom', message: problem });
  return keys;
});

const required = (name: string) => z.string({ error: `${name} is required` }).min(1, 'must not be empty');
/** Empty strings in .env files mean "unset". */
const optional = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema.optional());

/** Server timeouts (see docs/reliability.md): a client gets this long for its headers, for its whole request, and idle between requests. */
export const HTTP_DEFAULTS = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
});

const schema = z
  .object({
    NODE_ENV: optional(z.enum(['development', 'production', 'test'])),
    PORT: optional(intIn(1, 65535)).default(3000),
    PUBLIC_BASE_URL: optional(httpUrl).default('http://localhost:3000'),
    WECHAT_COMPONENT_APPID: required('WECHAT_COMPONENT_APPID').pipe(appIdSchema),
    WECHAT_COMPONENT_APPSECRET: required('WECHAT_COMPONENT_APPSECRET').pipe(appSecretSchema),
    WECHAT_COMPONENT_TOKEN: required('WECHAT_COMPONENT_TOKEN').pipe(componentTokenSchema),
    WECHAT_COMPONENT_AES_KEY: z.string({ error: 'WECHAT_COMPONENT_AES_KEY is required' }).pipe(aesKey),
    WECHAT_COMPONENT_PREVIOUS_AES_KEY: optional(aesKey),
    WECHAT_API_BASE_URL: optional(httpUrl).default('https://api.weixin.qq.com'),
    WECHAT_LOGIN_PAGE_URL: optional(httpUrl).default('https://mp.weixin.qq.com/cgi-bin/componentloginpage'),
    WECHAT_MOBILE_LOGIN_PAGE_URL: optional(httpUrl).default('https://open.weixin.qq.com/wxaopen/safe/bindcomponent'),
    REDIS_URL: optional(redisUrl).default('redis://127.0.0.1:6379/0'),
    REDIS_SENTINELS: optional(endpointList),
    REDIS_SENTINEL_NAME: optional(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, _ . or -')),
    REDIS_SENTINEL_USERNAME: optional(z.string()),
    REDIS_SENTINEL_PASSWORD: optional(z.string()),
    REDIS_CLUSTER_NODES: optional(endpointList),
    REDIS_USERNAME: optional(z.string()),
    REDIS_PASSWORD: optional(z.string()),
    REDIS_TLS: optional(z.enum(['true', 'false'])),
    REDIS_TLS_CA: optional(pem),
    REDIS_TLS_CERT: optional(pem),
    REDIS_TLS_KEY: optional(pem),
    REDIS_TLS_SERVERNAME: optional(z.string().min(1)),
    REDIS_KEY_PREFIX: optional(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, _ . or -')).default(
      'wxopen',
    ),
    INTERNAL_API_TOKEN: optional(bearerToken),
    INTERNAL_API_TOKENS: optional(z.string()),
    INTERNAL_PORT: optional(intIn(1, 65535)),
    EVENTS_MAX_LEN: optional(intIn(100, 100_000_000)).default(100_000),
    WEBHOOK_URLS: optional(z.string()),
    WEBHOOK_SECRET: optional(z.string()),
    WEBHOOK_TIMEOUT_MS: optional(intIn(100, 60_000)).default(5000),
    WEBHOOK_RETRY_BASE_MS: optional(intIn(10, 3_600_000)).default(1000),
    WEBHOOK_RETRY_MAX_MS: optional(intIn(10, 86_400_000)).default(300_000),
    WEBHOOK_DEAD_LETTER_AFTER_SECONDS: optional(intIn(1, 30 * 86400)).default(86400),
    WEBHOOK_LEASE_MS: optional(intIn(300, 600_000)).default(15_000),
    WEBHOOK_POLL_MS: optional(intIn(10, 60_000)).default(1000),
    TOKEN_REFRESH_MARGIN_SECONDS: optional(intIn(60, 7000)).default(900),
    // The replay window: never off, and longer than WeChat's re-sends (up to 4 deliveries, 5 s apart) plus clock skew.
    PUSH_MAX_AGE_SECONDS: optional(intIn(60, 86400)).default(1800),
    WECHAT_HTTP_TIMEOUT_MS: optional(intIn(100, 60000)).default(3000),
    REFRESHER_ENABLED: optional(z.enum(['true', 'false'])).default('true'),
    REFRESHER_CONCURRENCY: optional(intIn(1, 256)).default(8),
    READINESS_STARTUP_GRACE_SECONDS: optional(intIn(0, 86400)).default(1200),
    PLATFORM_NAME: optional(z.string().max(80)).default('wxopen-auth'),
    HTTP_HEADERS_TIMEOUT_MS: optional(intIn(100, 600_000)).default(HTTP_DEFAULTS.headersTimeoutMs),
    HTTP_REQUEST_TIMEOUT_MS: optional(intIn(100, 3_600_000)).default(HTTP_DEFAULTS.requestTimeoutMs),
    HTTP_KEEP_ALIVE_TIMEOUT_MS: optional(intIn(100, 600_000)).default(HTTP_DEFAULTS.keepAliveTimeoutMs),
    CONSOLE_USERS: optional(consoleUsers),
    CONSOLE_SESSION_SECRET: optional(z.string().min(32, 'must be at least 32 characters when set')),
    CONSOLE_SESSION_TTL_SECONDS: optional(intIn(60, 7 * 86400)).default(8 * 3600),
    TOKEN_ENCRYPTION_KEYS: optional(encryptionKeys),
    AUTHORIZER_SCHEDULE_SHARDS: optional(intIn(1, 1024)).default(16),
    LOG_LEVEL: optional(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])).default('info'),
    MESSAGES_MAX_LEN: optional(intIn(1000, 100_000_000)).default(100_000),
    RELEASE_TEST_RESPONDER: optional(z.enum(['true', 'false'])).default('true'),
    MESSAGE_FORWARD_URL: optional(z.string()),
  })
  .superRefine((e, ctx) => {
    const problem = (name: string, message: string) => ctx.addIssue({ code: 'custom', path: [name], message });
    if (e.REDIS_SENTINELS && e.REDIS_CLUSTER_NODES) {
      problem('REDIS_SENTINELS', 'set either REDIS_SENTINELS (Sentinel) or REDIS_CLUSTER_NODES (Cluster), not both');
    }
    if (e.REDIS_SENTINELS && !e.REDIS_SENTINEL_NAME)
      problem('REDIS_SENTINEL_NAME', 'is required with REDIS_SENTINELS (the master group name)');
    if (!e.REDIS_SENTINELS) {
      for (const name of ['REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_USERNAME', 'REDIS_SENTINEL_PASSWORD'] as const) {
        if (e[name] !== undefined) problem(name, 'only applies with REDIS_SENTINELS');
      }
    }
    if (e.REDIS_TLS_CERT !== undefined && e.REDIS_TLS_KEY === undefined)
      problem('REDIS_TLS_KEY', 'is required with REDIS_TLS_CERT');
    if (e.REDIS_TLS_KEY !== undefined && e.REDIS_TLS_CERT === undefined)
      problem('REDIS_TLS_CERT', 'is required with REDIS_TLS_KEY');
    const standalone = !e.REDIS_SENTINELS && !e.REDIS_CLUSTER_NODES;
    if (standalone && e.REDIS_TLS !== undefined) {
      problem(
        'REDIS_TLS',
        'only applies with REDIS_SENTINELS or REDIS_CLUSTER_NODES (a single node: use rediss:// in REDIS_URL)',
      );
    }
    const tlsOn = standalone ? e.REDIS_URL.startsWith('rediss:') : e.REDIS_TLS === 'true';
    if (!tlsOn) {
      for (const name of ['REDIS_TLS_CA', 'REDIS_TLS_CERT', 'REDIS_TLS_KEY', 'REDIS_TLS_SERVERNAME'] as const) {
        if (e[name] !== undefined)
          problem(
            name,
            `is set but TLS is off (${standalone ? 'REDIS_URL is not rediss://' : 'REDIS_TLS is not true'})`,
          );
      }
    }
    if (e.INTERNAL_API_TOKENS !== undefined)
      for (const p of internalClientProblems(e.INTERNAL_API_TOKENS)) problem('INTERNAL_API_TOKENS', p);
    if (e.INTERNAL_PORT !== undefined && e.INTERNAL_PORT === e.PORT) problem('INTERNAL_PORT', 'must differ from PORT');
    if (e.WEBHOOK_URLS !== undefined) {
      for (const p of webhookUrlProblems(e.WEBHOOK_URLS)) problem('WEBHOOK_URLS', p);
      if (e.WEBHOOK_SECRET === undefined) problem('WEBHOOK_SECRET', 'is required when WEBHOOK_URLS is set');
    }
    if (e.MESSAGE_FORWARD_URL !== undefined) {
      const urls = e.MESSAGE_FORWARD_URL.split(',');
      if (urls.length > 1) problem('MESSAGE_FORWARD_URL', 'takes one URL');
      else for (const p of webhookUrlProblems(e.MESSAGE_FORWARD_URL)) problem('MESSAGE_FORWARD_URL', p);
      if (e.WEBHOOK_SECRET === undefined)
        problem('WEBHOOK_SECRET', 'is required when MESSAGE_FORWARD_URL is set (forwarded messages are signed)');
    }
    if (e.WEBHOOK_SECRET !== undefined) {
      for (const secret of e.WEBHOOK_SECRET.split(',')) {
        if (secret.trim().length < MIN_SECRET_LENGTH)
          problem('WEBHOOK_SECRET', `every secret must be at least ${MIN_SECRET_LENGTH} characters`);
      }
    }
    if (e.WEBHOOK_RETRY_MAX_MS < e.WEBHOOK_RETRY_BASE_MS)
      problem('WEBHOOK_RETRY_MAX_MS', 'must be at least WEBHOOK_RETRY_BASE_MS');
  });

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** One line per bad URL: https:// only, http:// only for a loopback host (local receivers, tests). */
function webhookUrlProblems(list: string): string[] {
  const urls = list.split(',').map((u) => u.trim());
  if (urls.every((u) => u === '')) return ['must list at least one URL'];
  return urls.flatMap((raw) => {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return [`"${raw.slice(0, 80)}" is not a URL`];
    }
    if (url.username || url.password) return [`${url.origin}: must not carry credentials (sign with WEBHOOK_SECRET)`];
    if (url.protocol === 'https:') return [];
    if (url.protocol === 'http:' && (LOOPBACK_HOSTS.has(url.hostname) || /^127\.\d+\.\d+\.\d+$/.test(url.hostname)))
      return [];
    if (url.protocol === 'http:') return [`${url.origin}: http:// is allowed only for a loopback host; use https://`];
    return [`${url.origin || raw.slice(0, 80)}: must be an https:// URL`];
  });
}

/** `name:secret,name:secret` — one line per problem, never quoting a secret. */
function internalClientProblems(list: string): string[] {
  const problems: string[] = [];
  const secrets = new Set<string>();
  list.split(',').forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const name = entry.slice(0, colon).trim();
    const secret = entry.slice(colon + 1).trim();
    // A name listed twice is one client with two secrets: the old and the new one during a rotation.
    if (colon < 0 || !CLIENT_NAME_RE.test(name))
      problems.push(`entry ${i + 1}: must be name:secret (name of letters, digits, _ . -)`);
    else if (secret.length < MIN_SECRET_LENGTH)
      problems.push(`entry ${i + 1} ("${name}"): the secret must be at least ${MIN_SECRET_LENGTH} characters`);
    else if (!BEARER_TOKEN_RE.test(secret))
      problems.push(
        `entry ${i + 1} ("${name}"): the secret must contain only A-Z a-z 0-9 - . _ ~ + / (then optional trailing =)`,
      );
    else if (secrets.has(secret)) problems.push(`entry ${i + 1} ("${name}"): the same secret is listed twice`);
    else secrets.add(secret);
  });
  return problems;
}

function internalClients(e: { INTERNAL_API_TOKEN?: string; INTERNAL_API_TOKENS?: string }): InternalApiClient[] {
  const clients: InternalApiClient[] = [];
  if (e.INTERNAL_API_TOKEN) clients.push({ name: DEFAULT_INTERNAL_CLIENT, secret: e.INTERNAL_API_TOKEN });
  for (const entry of e.INTERNAL_API_TOKENS?.split(',') ?? []) {
    const colon = entry.indexOf(':');
    clients.push({ name: entry.slice(0, colon).trim(), secret: entry.slice(colon + 1).trim() });
  }
  return clients;
}

export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
}

/** Which Redis deployment the service talks to; ioredis does the discovery and the failover. */
export type RedisTopology =
  | { readonly kind: 'standalone'; readonly url: string }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly RedisEndpoint[];
      /** The master group name the sentinels monitor. */
      readonly name: string;
      readonly sentinelUsername: string | undefined;
      readonly sentinelPassword: string | undefined;
    }
  | { readonly kind: 'cluster'; readonly nodes: readonly RedisEndpoint[] };

export interface RedisTls {
  readonly ca: string | undefined;
  readonly cert: string | undefined;
  readonly key: string | undefined;
  readonly servername: string | undefined;
}

export interface RedisSettings {
  /** REDIS_URL (single node); kept for messages even when Sentinel or Cluster is configured. */
  readonly url: string;
  readonly keyPrefix: string;
  readonly topology: RedisTopology;
  /** ACL user of the data nodes (every node of a Cluster, the master behind Sentinel); overrides REDIS_URL's. */
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** undefined = plain TCP. */
  readonly tls: RedisTls | undefined;
  /** The database REDIS_URL's path names (0 under Sentinel and Cluster); the service refuses to start when the server cannot SELECT it. */
  readonly db: number;
}

/** One caller of the internal API: its name shows in logs and metrics, its secret nowhere. */
export interface InternalApiClient {
  readonly name: string;
  readonly secret: string;
}

export interface Config {
  readonly nodeEnv: 'development' | 'production' | 'test';
  readonly port: number;
  readonly publicBaseUrl: string;
  readonly component: {
    readonly appId: string;
    readonly appSecret: string;
    readonly token: string;
    readonly aesKey: string;
    readonly previousAesKey: string | undefined;
  };
  readonly wechat: {
    readonly apiBaseUrl: string;
    readonly loginPageUrl: string;
    readonly mobileLoginPageUrl: string;
    readonly httpTimeoutMs: number;
  };
  readonly redis: RedisSettings;
  readonly internalApiToken: string | undefined;
  /** INTERNAL_API_TOKEN (as client "default") and INTERNAL_API_TOKENS; empty = no internal API. */
  readonly internalApiClients: readonly InternalApiClient[];
  /** When set, /internal/*, /metrics and the admin surfaces listen here only. */
  readonly internalPort: number | undefined;
  /** MAXLEN ~ of the account event stream P:events. */
  readonly eventsMaxLen: number;
  readonly webhooks: {
    readonly urls: readonly string[];
    /** WEBHOOK_SECRET: every secret signs each body (one v1 each), so receivers can rotate. */
    readonly secrets: readonly string[];
    readonly timeoutMs: number;
    readonly retryBaseMs: number;
    readonly retryMaxMs: number;
    readonly deadLetterAfterSeconds: number;
    readonly leaseMs: number;
    readonly pollMs: number;
  };
  readonly tokenRefreshMarginSeconds: number;
  /** Pushes whose timestamp is further than this from now are refused (the replay window, docs/pushes.md). */
  readonly pushMaxAgeSeconds: number;
  readonly refresher: { readonly enabled: boolean; readonly concurrency: number };
  /** After start, /readyz ignores a missing ticket and component token this long (the first ticket needs traffic). */
  readonly readinessStartupGraceSeconds: number;
  readonly http: {
    readonly headersTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly keepAliveTimeoutMs: number;
  };
  /** TOKEN_ENCRYPTION_KEYS: the first seals refresh tokens, all open them; empty = plaintext at rest. */
  readonly tokenEncryptionKeys: readonly EncryptionKey[];
  /** AUTHORIZER_SCHEDULE_SHARDS: fixed at the first start on a Redis (the layout records it). */
  readonly scheduleShards: number;
  readonly logLevel: string;
  /**
   * The operators' console (/console): absent without CONSOLE_USERS (the console then answers 404).
   * Without CONSOLE_SESSION_SECRET sessions are signed with a per-process random key (one instance,
   * sessions end with the process); production requires it.
   */
  readonly console:
    | {
        readonly users: ReadonlyMap<string, PasswordHash>;
        readonly sessionSecret: string | undefined;
        readonly sessionTtlSeconds: number;
      }
    | undefined;
  /** Shown on the admin's pages. */
  readonly platformName: string;
  /** The message URL (`/:appid/callback`). */
  readonly messages: {
    /** Approximate cap of the `P:messages` stream (XADD MAXLEN ~). */
    readonly maxLen: number;
    /** Answer WeChat's release test (全网发布接入检测) for its test accounts. */
    readonly releaseTestResponder: boolean;
    /** MESSAGE_FORWARD_URL: every stored message is POSTed there, signed; its answer may be the passive reply. */
    readonly forwardUrl: string | undefined;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function deepFreeze<T extends object>(obj: T): Readonly<T> {
  for (const value of Object.values(obj)) {
    // Typed arrays (encryption keys) cannot be frozen; they stay reachable only through the frozen config.
    if (value && typeof value === 'object' && !ArrayBuffer.isView(value)) deepFreeze(value as object);
  }
  return Object.freeze(obj);
}

/** `defaults` fill variables the environment leaves unset (the sandbox's demo credentials). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, defaults: Record<string, string> = {}): Config {
  const merged: Record<string, string | undefined> = { ...defaults };
  for (const [name, value] of Object.entries(env)) if (value !== undefined && value !== '') merged[name] = value;
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'config');
      const message = issue.message.startsWith(name) ? issue.message.slice(name.length).trim() : issue.message;
      return `${name}: ${message.includes('received undefined') ? 'is required' : message}`;
    });
    throw new ConfigError([...new Set(problems)]);
  }
  const e = parsed.data;
  const nodeEnv = e.NODE_ENV ?? 'development';
  const consoleUsers = e.CONSOLE_USERS && e.CONSOLE_USERS.size > 0 ? e.CONSOLE_USERS : undefined;
  if (consoleUsers && nodeEnv === 'production' && !e.CONSOLE_SESSION_SECRET) {
    throw new ConfigError([
      'CONSOLE_SESSION_SECRET: is required in production when CONSOLE_USERS is set (replicas must share it)',
    ]);
  }
  if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS) {
    // node:http refuses this pair at start; said here in the config's words instead.
    throw new ConfigError([
      `HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS (${e.HTTP_REQUEST_TIMEOUT_MS})`,
    ]);
  }
  // REDIS_URL has a default: only one the operator set conflicts with a Sentinel or Cluster setting.
  if (merged.REDIS_URL !== undefined && (e.REDIS_SENTINELS || e.REDIS_CLUSTER_NODES)) {
    throw new ConfigError([
      `REDIS_URL: set either REDIS_URL (single node) or ${e.REDIS_SENTINELS ? 'REDIS_SENTINELS' : 'REDIS_CLUSTER_NODES'}, not both`,
    ]);
  }
  return deepFreeze({
    nodeEnv,
    port: e.PORT,
    publicBaseUrl: e.PUBLIC_BASE_URL,
    component: {
      appId: e.WECHAT_COMPONENT_APPID,
      appSecret: e.WECHAT_COMPONENT_APPSECRET,
      token: e.WECHAT_COMPONENT_TOKEN,
      aesKey: e.WECHAT_COMPONENT_AES_KEY,
      previousAesKey: e.WECHAT_COMPONENT_PREVIOUS_AES_KEY,
    },
    wechat: {
      apiBaseUrl: e.WECHAT_API_BASE_URL,
      loginPageUrl: e.WECHAT_LOGIN_PAGE_URL,
      mobileLoginPageUrl: e.WECHAT_MOBILE_LOGIN_PAGE_URL,
      httpTimeoutMs: e.WECHAT_HTTP_TIMEOUT_MS,
    },
    redis: redisSettings(e),
    internalApiToken: e.INTERNAL_API_TOKEN,
    internalApiClients: internalClients(e),
    internalPort: e.INTERNAL_PORT,
    eventsMaxLen: e.EVENTS_MAX_LEN,
    webhooks: {
      urls: (e.WEBHOOK_URLS ?? '')
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean),
      secrets: (e.WEBHOOK_SECRET ?? '')
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean),
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      retryBaseMs: e.WEBHOOK_RETRY_BASE_MS,
      retryMaxMs: e.WEBHOOK_RETRY_MAX_MS,
      deadLetterAfterSeconds: e.WEBHOOK_DEAD_LETTER_AFTER_SECONDS,
      leaseMs: e.WEBHOOK_LEASE_MS,
      pollMs: e.WEBHOOK_POLL_MS,
    },
    tokenRefreshMarginSeconds: e.TOKEN_REFRESH_MARGIN_SECONDS,
    pushMaxAgeSeconds: e.PUSH_MAX_AGE_SECONDS,
    refresher: { enabled: e.REFRESHER_ENABLED === 'true', concurrency: e.REFRESHER_CONCURRENCY },
    readinessStartupGraceSeconds: e.READINESS_STARTUP_GRACE_SECONDS,
    http: {
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    },
    tokenEncryptionKeys: e.TOKEN_ENCRYPTION_KEYS ?? [],
    scheduleShards: e.AUTHORIZER_SCHEDULE_SHARDS,
    logLevel: e.LOG_LEVEL,
    console: consoleUsers
      ? {
          users: consoleUsers,
          sessionSecret: e.CONSOLE_SESSION_SECRET,
          sessionTtlSeconds: e.CONSOLE_SESSION_TTL_SECONDS,
        }
      : undefined,
    platformName: e.PLATFORM_NAME,
    messages: {
      maxLen: e.MESSAGES_MAX_LEN,
      releaseTestResponder: e.RELEASE_TEST_RESPONDER === 'true',
      forwardUrl: e.MESSAGE_FORWARD_URL?.trim(),
    },
  });
}

function redisSettings(e: z.infer<typeof schema>): RedisSettings {
  const topology: RedisTopology = e.REDIS_SENTINELS
    ? {
        kind: 'sentinel',
        sentinels: e.REDIS_SENTINELS,
        name: e.REDIS_SENTINEL_NAME!,
        sentinelUsername: e.REDIS_SENTINEL_USERNAME,
        sentinelPassword: e.REDIS_SENTINEL_PASSWORD,
      }
    : e.REDIS_CLUSTER_NODES
      ? { kind: 'cluster', nodes: e.REDIS_CLUSTER_NODES }
      : { kind: 'standalone', url: e.REDIS_URL };
  const tlsWanted = topology.kind === 'standalone' ? e.REDIS_URL.startsWith('rediss:') : e.REDIS_TLS === 'true';
  return {
    url: e.REDIS_URL,
    keyPrefix: e.REDIS_KEY_PREFIX,
    topology,
    username: e.REDIS_USERNAME,
    password: e.REDIS_PASSWORD,
    tls: tlsWanted
      ? { ca: e.REDIS_TLS_CA, cert: e.REDIS_TLS_CERT, key: e.REDIS_TLS_KEY, servername: e.REDIS_TLS_SERVERNAME }
      : undefined,
    db: topology.kind === 'standalone' ? (redisDbOf(new URL(e.REDIS_URL)) as number) : 0,
  };
}

/**
 * Every configured secret value: the logger removes each one from every line it writes, whatever field, URL or
 * message carries it (src/logger.ts). A new secret variable is added here, once.
 */
export function secretValues(config: Config): string[] {
  const { component, redis } = config;
  const sentinelPassword = redis.topology.kind === 'sentinel' ? redis.topology.sentinelPassword : undefined;
  return [
    config.internalApiToken,
    ...config.internalApiClients.map((c) => c.secret),
    ...config.webhooks.secrets,
    component.appSecret,
    component.token,
    component.aesKey,
    component.previousAesKey,
    redis.password,
    sentinelPassword,
    redis.tls?.key,
    // The encryption keys as configured (base64): never in a log line either.
    ...config.tokenEncryptionKeys.map((k) => k.key.toString('base64')),
  ].filter((v): v is string => v !== undefined && v !== '');
}

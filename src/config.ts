import { z } from 'zod';
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
  if (db === undefined || db > MAX_REDIS_DB) return `the database (path "/${path}") must be a decimal integer from 0 to ${MAX_REDIS_DB}`;
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
  z
    .string()
    .transform((value, ctx) => {
      const n = strictInteger(value);
      if (n === undefined || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be a decimal integer from ${min} to ${max} (got "${value.slice(0, 20)}")` });
        return z.NEVER;
      }
      return n;
    });

/**
 * What a bearer token can be so that `Authorization: Bearer <token>` carries it unchanged: RFC 6750's
 * b64token characters. A space or a non-ASCII character can never arrive intact, so every request would get 401.
 */
const BEARER_TOKEN_RE = /^[A-Za-z0-9\-._~+/]+=*$/;
export const bearerToken = z
  .string()
  .min(16, 'must be at least 16 characters when set')
  .regex(BEARER_TOKEN_RE, 'must contain only the characters A-Z a-z 0-9 - . _ ~ + / (then optional trailing =), no spaces or non-ASCII');

const required = (name: string) => z.string({ error: `${name} is required` }).min(1, 'must not be empty');
/** Empty strings in .env files mean "unset". */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === '' ? undefined : v), schema.optional());

/** Server timeouts (see docs/reliability.md): a client gets this long for its headers, for its whole request, and idle between requests. */
export const HTTP_DEFAULTS = Object.freeze({ headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000 });

const schema = z.object({
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
  REDIS_KEY_PREFIX: optional(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, _ . or -')).default('wxopen'),
  INTERNAL_API_TOKEN: optional(bearerToken),
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
  LOG_LEVEL: optional(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])).default('info'),
  MESSAGES_MAX_LEN: optional(intIn(1000, 100_000_000)).default(100_000),
  RELEASE_TEST_RESPONDER: optional(z.enum(['true', 'false'])).default('true'),
});

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
  readonly redis: {
    readonly url: string;
    readonly keyPrefix: string;
    /** The database REDIS_URL's path names; the service refuses to start when the server cannot SELECT it. */
    readonly db: number;
  };
  readonly internalApiToken: string | undefined;
  readonly tokenRefreshMarginSeconds: number;
  /** Pushes whose timestamp is further than this from now are refused (the replay window, docs/pushes.md). */
  readonly pushMaxAgeSeconds: number;
  readonly refresher: { readonly enabled: boolean; readonly concurrency: number };
  /** After start, /readyz ignores a missing ticket and component token this long (the first ticket needs traffic). */
  readonly readinessStartupGraceSeconds: number;
  readonly http: { readonly headersTimeoutMs: number; readonly requestTimeoutMs: number; readonly keepAliveTimeoutMs: number };
  readonly logLevel: string;
  /** Shown on the admin's pages. */
  readonly platformName: string;
  /** The message URL (`/:appid/callback`). */
  readonly messages: {
    /** Approximate cap of the `P:messages` stream (XADD MAXLEN ~). */
    readonly maxLen: number;
    /** Answer WeChat's release test (全网发布接入检测) for its test accounts. */
    readonly releaseTestResponder: boolean;
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
    if (value && typeof value === 'object') deepFreeze(value as object);
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
  if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS) {
    // node:http refuses this pair at start; said here in the config's words instead.
    throw new ConfigError([`HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS (${e.HTTP_REQUEST_TIMEOUT_MS})`]);
  }
  return deepFreeze({
    nodeEnv: e.NODE_ENV ?? 'development',
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
    redis: { url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX, db: redisDbOf(new URL(e.REDIS_URL)) as number },
    internalApiToken: e.INTERNAL_API_TOKEN,
    tokenRefreshMarginSeconds: e.TOKEN_REFRESH_MARGIN_SECONDS,
    pushMaxAgeSeconds: e.PUSH_MAX_AGE_SECONDS,
    refresher: { enabled: e.REFRESHER_ENABLED === 'true', concurrency: e.REFRESHER_CONCURRENCY },
    readinessStartupGraceSeconds: e.READINESS_STARTUP_GRACE_SECONDS,
    http: {
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    },
    logLevel: e.LOG_LEVEL,
    platformName: e.PLATFORM_NAME,
    messages: { maxLen: e.MESSAGES_MAX_LEN, releaseTestResponder: e.RELEASE_TEST_RESPONDER === 'true' },
  });
}

/**
 * Every configured secret value: the logger removes each one from every line it writes, whatever field, URL or
 * message carries it (src/logger.ts). A new secret variable is added here, once.
 */
export function secretValues(config: Config): string[] {
  const { component } = config;
  return [config.internalApiToken, component.appSecret, component.token, component.aesKey, component.previousAesKey].filter(
    (v): v is string => v !== undefined && v !== '',
  );
}

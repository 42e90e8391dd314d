import { z } from 'zod';

/**
 * The only reader of process.env. Validated once at start; bad configuration
 * is reported one line per variable (see ConfigError) and never as a stack trace.
 */

const AES_KEY_RE = /^[A-Za-z0-9]{43}$/;

function aesKeyProblem(value: string): string | undefined {
  if (value.length !== 43) return `must be exactly 43 characters (got ${value.length})`;
  if (!AES_KEY_RE.test(value)) return 'must contain only letters and digits [A-Za-z0-9]';
  if (Buffer.from(`${value}=`, 'base64').length !== 32) return 'must decode (base64 of key + "=") to 32 bytes';
  return undefined;
}

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

const redisUrl = z.string().refine((v) => {
  try {
    return ['redis:', 'rediss:'].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}, 'must be a redis:// or rediss:// URL');

const required = (name: string) => z.string({ error: `${name} is required` }).min(1, 'must not be empty');
const intIn = (min: number, max: number) => z.coerce.number().int('must be an integer').min(min).max(max);
/** Empty strings in .env files mean "unset". */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === '' ? undefined : v), schema.optional());

const schema = z.object({
  NODE_ENV: optional(z.enum(['development', 'production', 'test'])),
  PORT: optional(intIn(0, 65535)).default(3000),
  PUBLIC_BASE_URL: optional(httpUrl).default('http://localhost:3000'),
  WECHAT_COMPONENT_APPID: required('WECHAT_COMPONENT_APPID'),
  WECHAT_COMPONENT_APPSECRET: required('WECHAT_COMPONENT_APPSECRET'),
  WECHAT_COMPONENT_TOKEN: required('WECHAT_COMPONENT_TOKEN'),
  WECHAT_COMPONENT_AES_KEY: z.string({ error: 'WECHAT_COMPONENT_AES_KEY is required' }).pipe(aesKey),
  WECHAT_COMPONENT_PREVIOUS_AES_KEY: optional(aesKey),
  WECHAT_API_BASE_URL: optional(httpUrl).default('https://api.weixin.qq.com'),
  WECHAT_LOGIN_PAGE_URL: optional(httpUrl).default('https://mp.weixin.qq.com/cgi-bin/componentloginpage'),
  WECHAT_MOBILE_LOGIN_PAGE_URL: optional(httpUrl).default('https://open.weixin.qq.com/wxaopen/safe/bindcomponent'),
  REDIS_URL: optional(redisUrl).default('redis://127.0.0.1:6379/0'),
  REDIS_KEY_PREFIX: optional(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, _ . or -')).default('wxopen'),
  INTERNAL_API_TOKEN: optional(z.string().min(16, 'must be at least 16 characters when set')),
  TOKEN_REFRESH_MARGIN_SECONDS: optional(intIn(60, 7000)).default(900),
  PUSH_MAX_AGE_SECONDS: optional(intIn(0, 86400)).default(0),
  WECHAT_HTTP_TIMEOUT_MS: optional(intIn(100, 60000)).default(3000),
  REFRESHER_ENABLED: optional(z.enum(['true', 'false'])).default('true'),
  REFRESHER_CONCURRENCY: optional(intIn(1, 256)).default(8),
  READINESS_STARTUP_GRACE_SECONDS: optional(intIn(0, 86400)).default(1200),
  PLATFORM_NAME: optional(z.string().max(80)).default('wxopen-auth'),
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
  readonly redis: { readonly url: string; readonly keyPrefix: string };
  readonly internalApiToken: string | undefined;
  readonly tokenRefreshMarginSeconds: number;
  /** 0 = off: pushes are not rejected for their age. */
  readonly pushMaxAgeSeconds: number;
  readonly refresher: { readonly enabled: boolean; readonly concurrency: number };
  /** After start, /readyz ignores a missing ticket and component token this long (the first ticket needs traffic). */
  readonly readinessStartupGraceSeconds: number;
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
    redis: { url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX },
    internalApiToken: e.INTERNAL_API_TOKEN,
    tokenRefreshMarginSeconds: e.TOKEN_REFRESH_MARGIN_SECONDS,
    pushMaxAgeSeconds: e.PUSH_MAX_AGE_SECONDS,
    refresher: { enabled: e.REFRESHER_ENABLED === 'true', concurrency: e.REFRESHER_CONCURRENCY },
    readinessStartupGraceSeconds: e.READINESS_STARTUP_GRACE_SECONDS,
    logLevel: e.LOG_LEVEL,
    platformName: e.PLATFORM_NAME,
    messages: { maxLen: e.MESSAGES_MAX_LEN, releaseTestResponder: e.RELEASE_TEST_RESPONDER === 'true' },
  });
}

/**
 * Emulator options and their defaults. The defaults are WeChat's documented (or community-observed) values from
 * shared/docs/protocol.md, so a standalone sandbox behaves like WeChat unless a test shortens something.
 */
import { systemClock, type Clock } from '../clock';
import { parseAesKey } from '../wechat/crypto';
import { DEMO_ACCOUNTS, type FakeAccount } from './accounts';
import { DEFAULT_QUOTAS } from './quotas';

export interface EmulatorOptions {
  componentAppId: string;
  componentAppSecret: string;
  token: string;
  encodingAesKey: string;
  /** The service's POST /auth URL; no pushes when unset. */
  pushUrl?: string;
  /**
   * The message URL as registered with WeChat, `$APPID$` standing for the account's appid
   * (e.g. `http://127.0.0.1:3000/$APPID$/callback`); by default the push URL's `/auth` becomes `/$APPID$/callback`.
   */
  messageUrl?: string;
  /** Hostname allowed for Referer and redirect_uri (hostnames compared, port ignored); no domain checks when unset. */
  registeredDomain?: string;
  clock?: Clock;
  /** Default 600 000; 0 = no periodic pushes. */
  ticketIntervalMs?: number;
  pushTimeoutMs?: number;
  pushRetries?: number;
  pushRetryDelayMs?: number;
  /** Component and authorizer tokens. */
  tokenLifetimeSeconds?: number;
  /** How long a replaced token keeps working (then 40001). */
  graceSeconds?: number;
  preAuthCodeLifetimeSeconds?: number;
  /** auth_code / AuthorizationCode. */
  authCodeLifetimeSeconds?: number;
  /** 61005 after. */
  ticketLifetimeSeconds?: number;
  accounts?: FakeAccount[];
  /** Per-endpoint daily limits (45009); merged over { api_component_token: 10000 }. */
  quotas?: Partial<Record<string, number>>;
  /** Entries kept by the call log (counts are always exact). Default 10 000. */
  callLogLimit?: number;
}

export type ResolvedOptions = Required<Omit<EmulatorOptions, 'pushUrl' | 'registeredDomain' | 'messageUrl'>> & {
  pushUrl: string | undefined;
  messageUrl: string | undefined;
  registeredDomain: string | undefined;
};

function nonNegative(name: string, value: number | undefined, fallback: number, integer = false): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    throw new RangeError(`${name} must be a non-negative ${integer ? 'integer' : 'number'}, got ${String(value)}`);
  }
  return v;
}

function requireText(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${name} must be a non-empty string`);
  return value;
}

/** Accepts `example.com`, `example.com:3000` or a whole URL, and keeps the lower-case hostname. */
export function normalizeDomain(domain: string): string {
  const text = domain.trim();
  const host = text.includes('://') ? new URL(text).hostname : new URL(`http://${text}`).hostname;
  if (host === '') throw new TypeError(`registeredDomain ${JSON.stringify(domain)} has no hostname`);
  return host.toLowerCase();
}

export function checkPushUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`pushUrl must be an absolute URL, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TypeError('pushUrl must be http(s)');
  return url;
}

export function checkMessageUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  if (!url.includes('$APPID$')) throw new TypeError('messageUrl must contain $APPID$ where the appid goes');
  checkPushUrl(url.replace('$APPID$', 'wx0000000000000000'));
  return url;
}

/** The message URL WeChat would call for `appid`: the template, or the push URL's `/auth` made `/<appid>/callback`. */
export function messageUrlFor(
  template: string | undefined,
  pushUrl: string | undefined,
  appid: string,
): string | undefined {
  if (template) return template.replace('$APPID$', appid);
  if (!pushUrl) return undefined;
  const url = new URL(pushUrl);
  url.search = '';
  url.pathname = url.pathname.replace(/\/auth\/?$/, '') + `/${appid}/callback`;
  return url.href;
}

export function resolveOptions(options: EmulatorOptions): ResolvedOptions {
  parseAesKey(options.encodingAesKey); // throws MsgCryptError with a clear message on a bad key
  return {
    componentAppId: requireText('componentAppId', options.componentAppId),
    componentAppSecret: requireText('componentAppSecret', options.componentAppSecret),
    token: requireText('token', options.token),
    encodingAesKey: options.encodingAesKey,
    pushUrl: checkPushUrl(options.pushUrl),
    messageUrl: checkMessageUrl(options.messageUrl),
    registeredDomain: options.registeredDomain === undefined ? undefined : normalizeDomain(options.registeredDomain),
    clock: options.clock ?? systemClock,
    ticketIntervalMs: nonNegative('ticketIntervalMs', options.ticketIntervalMs, 600_000),
    pushTimeoutMs: nonNegative('pushTimeoutMs', options.pushTimeoutMs, 5000),
    pushRetries: nonNegative('pushRetries', options.pushRetries, 3, true),
    pushRetryDelayMs: nonNegative('pushRetryDelayMs', options.pushRetryDelayMs, 1000),
    tokenLifetimeSeconds: nonNegative('tokenLifetimeSeconds', options.tokenLifetimeSeconds, 7200),
    graceSeconds: nonNegative('graceSeconds', options.graceSeconds, 300),
    preAuthCodeLifetimeSeconds: nonNegative('preAuthCodeLifetimeSeconds', options.preAuthCodeLifetimeSeconds, 600),
    authCodeLifetimeSeconds: nonNegative('authCodeLifetimeSeconds', options.authCodeLifetimeSeconds, 3600),
    ticketLifetimeSeconds: nonNegative('ticketLifetimeSeconds', options.ticketLifetimeSeconds, 43_200),
    accounts: options.accounts ?? (DEMO_ACCOUNTS as FakeAccount[]),
    quotas: { ...DEFAULT_QUOTAS, ...(options.quotas ?? {}) },
    callLogLimit: Math.max(1, nonNegative('callLogLimit', options.callLogLimit, 10_000, true)),
  };
}

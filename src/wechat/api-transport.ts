/**
 * One POST to a WeChat JSON API, with the error rules every component endpoint shares.
 * Doc: https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/component_access_token.html
 * (general rules in shared/docs/protocol.md §4: errors are HTTP 200 with `{errcode, errmsg}`).
 *
 * Node's global fetch (undici) keeps connections alive by default, so calls reuse sockets.
 * Nothing here logs: URLs carry tokens and bodies carry secrets.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { equalJitterBackoffMs } from '../backoff';
import { WeChatApiError, WeChatUnavailableError } from '../errors';
import { ERRCODE_SYSTEM_BUSY, weChatApiError } from './errcodes';

/** Called once per HTTP attempt; `errcode` is 0 on success and undefined when WeChat gave no usable answer. */
export type OnWeChatCall = (api: string, errcode: number | undefined, durationMs: number) => void;

export interface ApiTransportOptions {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  /** errcode -1 ("system busy") is retried: at most `attempts` calls in all, with jittered exponential waits. */
  readonly busyRetry?: { readonly attempts: number; readonly baseDelayMs: number };
  readonly onCall?: OnWeChatCall;
}

export const API_TRANSPORT_DEFAULTS = Object.freeze({
  busyRetry: Object.freeze({ attempts: 3, baseDelayMs: 200 }),
});

/** The longest one `post` can take: every attempt to its timeout, plus the longest waits between them. */
export function longestPostMs({
  timeoutMs,
  busyRetry = API_TRANSPORT_DEFAULTS.busyRetry,
}: Pick<ApiTransportOptions, 'timeoutMs' | 'busyRetry'>): number {
  let waits = 0;
  for (let failures = 1; failures < busyRetry.attempts; failures++)
    waits += busyRetry.baseDelayMs * 2 ** (failures - 1);
  return busyRetry.attempts * timeoutMs + waits;
}

export type WeChatJson = Record<string, unknown>;

export class ApiTransport {
  private readonly busyRetry: { attempts: number; baseDelayMs: number };

  constructor(private readonly options: ApiTransportOptions) {
    this.busyRetry = options.busyRetry ?? API_TRANSPORT_DEFAULTS.busyRetry;
  }

  /** POSTs `body` to `/cgi-bin/component/{api}`; resolves with WeChat's JSON when it has no errcode (or 0). */
  async post(api: string, body: WeChatJson, query: Record<string, string> = {}): Promise<WeChatJson> {
    return this.postTo(`/cgi-bin/component/${api}`, api, body, query);
  }

  /** As `post`, for the few APIs outside `/cgi-bin/component/` (e.g. `/cgi-bin/message/custom/send`). */
  async postTo(path: string, api: string, body: WeChatJson, query: Record<string, string> = {}): Promise<WeChatJson> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(path, api, body, query);
      } catch (err) {
        const busy = err instanceof WeChatApiError && err.errcode === ERRCODE_SYSTEM_BUSY;
        if (!busy || attempt >= this.busyRetry.attempts) throw err;
        // Jittered, so many callers that failed together do not retry together.
        const { baseDelayMs } = this.busyRetry;
        await sleep(equalJitterBackoffMs(attempt, { baseMs: baseDelayMs, maxMs: baseDelayMs * 2 ** (attempt - 1) }));
      }
    }
  }

  private async once(path: string, api: string, body: WeChatJson, query: Record<string, string>): Promise<WeChatJson> {
    const url = new URL(`${this.options.baseUrl}${path}`);
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    const started = performance.now();
    let errcode: number | undefined;
    try {
      const json = await this.fetchJson(api, url, body);
      errcode = typeof json.errcode === 'number' ? json.errcode : 0;
      if (errcode !== 0) throw weChatApiError(api, errcode, typeof json.errmsg === 'string' ? json.errmsg : '');
      return json;
    } finally {
      this.options.onCall?.(api, errcode, performance.now() - started);
    }
  }

  private async fetchJson(api: string, url: URL, body: WeChatJson): Promise<WeChatJson> {
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    let text: string;
    let status: number;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal,
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      throw new WeChatUnavailableError(
        api,
        signal.aborted ? `no answer within ${this.options.timeoutMs} ms` : networkReason(err),
      );
    }
    if (status >= 500) throw new WeChatUnavailableError(api, `HTTP ${status}`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new WeChatUnavailableError(api, `HTTP ${status} with a body that is not JSON`);
    }
    if (!json || typeof json !== 'object' || Array.isArray(json)) {
      throw new WeChatUnavailableError(api, `HTTP ${status} with JSON that is not an object`);
    }
    return json as WeChatJson;
  }
}

/** undici hides the useful part (ECONNREFUSED, …) in `cause`; the URL, which holds the token, is never included. */
function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? 'network error';
}

/**
 * Token reader for the platform's internal Node services (docs/redis-keys.md): one Redis GET on
 * the public key contract, and on a miss one call to the internal API, which refreshes. Readers
 * never refresh tokens themselves. This module depends on nothing of the service but its key
 * builder, so a service can import it (or copy the two key formats) without the service's code.
 */
import { createKeys } from '../store/keys';

/** The one Redis command the reader needs; an ioredis or node-redis v4 client fits. */
export interface RedisGet {
  get(key: string): Promise<string | null>;
}

export interface TokenReaderOptions {
  readonly redis: RedisGet;
  /** REDIS_KEY_PREFIX of the service (default `wxopen`). */
  readonly keyPrefix?: string;
  /** WECHAT_COMPONENT_APPID of the service. */
  readonly componentAppId: string;
  /** The service's internal API, asked on a miss; without it a miss is a TokenReadError. */
  readonly internalApi?: { readonly baseUrl: string; readonly bearerToken: string; readonly timeoutMs?: number };
}

export interface ReadToken {
  readonly token: string;
  /** Seconds left, when the internal API answered (a Redis hit is valid for at least its key's TTL). */
  readonly expiresIn?: number;
  readonly source: 'redis' | 'internal_api';
}

/** `code` is the internal API's error code (e.g. authorizer_not_found, authorizer_not_authorized) or the reader's own. */
export class TokenReadError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus?: number,
    /** The account's status on a 409 (unauthorized / reauthorization_required). */
    readonly status?: string,
  ) {
    super(message);
    this.name = 'TokenReadError';
  }
}

export async function readComponentAccessToken(options: TokenReaderOptions): Promise<ReadToken> {
  const keys = createKeys(options.keyPrefix ?? 'wxopen', options.componentAppId);
  const cached = await getOrMiss(options, keys.componentAccessToken);
  if (cached) return { token: cached, source: 'redis' };
  const json = await callApi(options, 'GET', '/internal/component-access-token');
  return { token: String(json.component_access_token), expiresIn: Number(json.expires_in), source: 'internal_api' };
}

export async function readAuthorizerAccessToken(
  options: TokenReaderOptions,
  authorizerAppid: string,
): Promise<ReadToken> {
  const keys = createKeys(options.keyPrefix ?? 'wxopen', options.componentAppId);
  const cached = await getOrMiss(options, keys.authorizerAccessToken(authorizerAppid));
  if (cached) return { token: cached, source: 'redis' };
  const json = await callApi(
    options,
    'GET',
    `/internal/authorizers/${encodeURIComponent(authorizerAppid)}/access-token`,
  );
  return { token: String(json.authorizer_access_token), expiresIn: Number(json.expires_in), source: 'internal_api' };
}

/** WeChat answered 40001/42001 to `rejected`: the service replaces it (once, however many callers report it). */
export async function reportRejectedAuthorizerToken(
  options: TokenReaderOptions,
  authorizerAppid: string,
  rejected: string,
): Promise<ReadToken> {
  const path = `/internal/authorizers/${encodeURIComponent(authorizerAppid)}/access-token/invalidate`;
  const json = await callApi(options, 'POST', path, { authorizer_access_token: rejected });
  return { token: String(json.authorizer_access_token), expiresIn: Number(json.expires_in), source: 'internal_api' };
}

/** A Redis failure counts as a miss when the internal API can answer instead. */
async function getOrMiss(options: TokenReaderOptions, key: string): Promise<string | null> {
  try {
    return await options.redis.get(key);
  } catch (err) {
    if (options.internalApi) return null;
    throw new TokenReadError('redis_unavailable', `could not read ${key}: ${(err as Error).message}`);
  }
}

async function callApi(
  options: TokenReaderOptions,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const api = options.internalApi;
  if (!api)
    throw new TokenReadError(
      'token_not_cached',
      'the token is not in Redis and no internalApi is configured to ask for it',
    );
  let res: Response;
  try {
    res = await fetch(`${api.baseUrl.replace(/\/+$/, '')}${path}`, {
      method,
      headers: { authorization: `Bearer ${api.bearerToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(api.timeoutMs ?? 5000),
    });
  } catch (err) {
    throw new TokenReadError('internal_api_unreachable', `${method} ${path}: ${(err as Error).message}`);
  }
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (res.ok) return json;
  const error = (json.error ?? {}) as { code?: string; message?: string; status?: string };
  throw new TokenReadError(
    error.code ?? 'internal_api_error',
    error.message ?? `${method} ${path}: HTTP ${res.status}`,
    res.status,
    error.status,
  );
}

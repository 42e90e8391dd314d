import type { Redis } from '../../src/store/redis';
import type { Config } from '../../src/config';
import type { Keys } from '../../src/store/keys';
import { REFRESH_TOKEN_FIELD } from '../../src/store/redis-authorizer-store';
import { SecretCipher } from '../../src/store/secret-cipher';

/**
 * The account's public hash as Redis holds it, with its refresh token (kept in its own secret key,
 * sealed when TOKEN_ENCRYPTION_KEYS is set) opened and shown as `refresh_token`. Fails when the hash
 * itself holds a refresh token: readers HGETALL it.
 */
export async function accountHash(
  redis: Redis,
  keys: Keys,
  config: Config,
  appid: string,
): Promise<Record<string, string>> {
  const fields = await redis.hgetall(keys.authorizer(appid));
  if (fields.refresh_token !== undefined) throw new Error(`the hash of ${appid} holds a refresh_token field`);
  const stored = await redis.get(keys.authorizerRefreshToken(appid));
  if (stored === null) return fields;
  const opened = new SecretCipher(config.tokenEncryptionKeys).unseal(stored, appid, REFRESH_TOKEN_FIELD);
  if (!opened.ok) throw new Error(`the refresh token of ${appid} does not open: ${opened.failure}`);
  return { ...fields, refresh_token: opened.plaintext };
}

/** A fixed test key (never a real one), so every suite runs with refresh tokens encrypted at rest. */
export const TEST_ENCRYPTION_KEYS = `test1:${Buffer.alloc(32, 0x5a).toString('base64')}`;

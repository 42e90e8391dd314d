import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Console operators' password hashes (CONSOLE_USERS, `npm run console:hash-password`), node:crypto's
 * scrypt: `scrypt.<N>.<r>.<p>.<salt>.<key>` with base64url salt and key. Dots and base64url only, so a
 * hash survives `name:hash,name:hash` lists, shells, .env files and docker-compose (which expands `$`).
 */
export interface PasswordHash {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly key: Buffer;
}

const HASH_RE = /^scrypt\.(\d{1,8})\.(\d{1,3})\.(\d{1,3})\.([A-Za-z0-9_-]{16,128})\.([A-Za-z0-9_-]{32,256})$/;
/** OWASP's scrypt baseline: N=2^17 would cost 128 MiB per login on a 2-core box; 2^15 is 32 MiB, ~0.1 s. */
const DEFAULTS = { N: 2 ** 15, r: 8, p: 1, saltBytes: 16, keyBytes: 32 };

export function parsePasswordHash(text: string): PasswordHash | undefined {
  const m = HASH_RE.exec(text);
  if (!m) return undefined;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // N must be a power of two above 1 (scrypt's rule); r and p at least 1.
  if (N < 2 || (N & (N - 1)) !== 0 || r < 1 || p < 1) return undefined;
  return { N, r, p, salt: Buffer.from(m[4] as string, 'base64url'), key: Buffer.from(m[5] as string, 'base64url') };
}

function derive(password: string, salt: Buffer, keyBytes: number, options: ScryptOptions): Promise<Buffer> {
  // maxmem must cover 128·N·r bytes, which Node's default (32 MiB) only just does for the defaults.
  const maxmem = 256 * (options.N ?? 0) * (options.r ?? 0) + 1024 * 1024;
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, keyBytes, { ...options, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(DEFAULTS.saltBytes);
  const { N, r, p } = DEFAULTS;
  const key = await derive(password, salt, DEFAULTS.keyBytes, { N, r, p });
  return `scrypt.${N}.${r}.${p}.${salt.toString('base64url')}.${key.toString('base64url')}`;
}

/** Constant-time comparison of the derived key with the stored one (equal lengths by construction). */
export async function verifyPassword(password: string, hash: PasswordHash): Promise<boolean> {
  const key = await derive(password, hash.salt, hash.key.length, { N: hash.N, r: hash.r, p: hash.p });
  return timingSafeEqual(key, hash.key);
}

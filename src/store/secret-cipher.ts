import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Refresh tokens at rest: AES-256-GCM under one of the TOKEN_ENCRYPTION_KEYS. The stored value is
 * `wxenc1.<key id>.<iv>.<ciphertext>.<tag>` (base64url parts), so every value names the key that
 * sealed it and keys can rotate without a flag day. The associated data binds a value to its
 * account and field: a ciphertext copied to another account or field does not decrypt.
 * A stored value without the marker is a plaintext one (written before a key was configured).
 * Pure: no I/O, no configuration read here.
 */
export interface EncryptionKey {
  readonly id: string;
  /** 32 bytes. */
  readonly key: Buffer;
}

export type UnsealFailure = 'no_keys' | 'unknown_key' | 'wrong_key_or_tampered' | 'malformed';

export type Unsealed =
  { ok: true; plaintext: string; keyId: string | undefined } | { ok: false; failure: UnsealFailure; keyId?: string };

const MARKER = 'wxenc1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function isSealed(stored: string): boolean {
  return stored.startsWith(`${MARKER}.`);
}

/** The key id a stored value was sealed with; undefined for a plaintext value. */
export function sealedKeyId(stored: string): string | undefined {
  return isSealed(stored) ? stored.split('.')[1] : undefined;
}

export function associatedData(appid: string, field: string): Buffer {
  return Buffer.from(`${appid}\n${field}`, 'utf8');
}

export class SecretCipher {
  private readonly byId: ReadonlyMap<string, Buffer>;

  /** `keys[0]` seals; every key unseals. An empty list = plaintext mode (nothing is sealed). */
  constructor(private readonly keys: readonly EncryptionKey[]) {
    for (const k of keys) if (k.key.length !== 32) throw new Error(`encryption key ${k.id} must be 32 bytes`);
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** The id new values are sealed with; undefined in plaintext mode. */
  get currentKeyId(): string | undefined {
    return this.keys[0]?.id;
  }

  /** Sealed under the current key, or the plaintext itself when no key is configured. */
  seal(plaintext: string, appid: string, field: string): string {
    const current = this.keys[0];
    if (!current) return plaintext;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', current.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(appid, field));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      MARKER,
      current.id,
      iv.toString('base64url'),
      body.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
    ].join('.');
  }

  unseal(stored: string, appid: string, field: string): Unsealed {
    if (!isSealed(stored)) return { ok: true, plaintext: stored, keyId: undefined };
    const parts = stored.split('.');
    if (parts.length !== 5) return { ok: false, failure: 'malformed' };
    const [, keyId, ivPart, bodyPart, tagPart] = parts as [string, string, string, string, string];
    if (this.keys.length === 0) return { ok: false, failure: 'no_keys', keyId };
    const key = this.byId.get(keyId);
    if (!key) return { ok: false, failure: 'unknown_key', keyId };
    const iv = Buffer.from(ivPart, 'base64url');
    const tag = Buffer.from(tagPart, 'base64url');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) return { ok: false, failure: 'malformed', keyId };
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(associatedData(appid, field));
      decipher.setAuthTag(tag);
      const plaintext = Buffer.concat([decipher.update(Buffer.from(bodyPart, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
      return { ok: true, plaintext, keyId };
    } catch {
      return { ok: false, failure: 'wrong_key_or_tampered', keyId };
    }
  }

  /** Whether a stored value should be rewritten: plaintext while a key exists, or sealed under an older key. */
  needsResealing(stored: string): boolean {
    const current = this.currentKeyId;
    return current !== undefined && sealedKeyId(stored) !== current;
  }
}

/**
 * Parses TOKEN_ENCRYPTION_KEYS (`id:base64key,…`): one problem string per bad entry (config.ts
 * reports them one line each), or the keys in order.
 */
export function parseEncryptionKeys(spec: string): { keys: EncryptionKey[]; problems: string[] } {
  const keys: EncryptionKey[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  const entries = spec
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  entries.forEach((entry, i) => {
    const at = `entry ${i + 1}`;
    const colon = entry.indexOf(':');
    if (colon <= 0) return problems.push(`${at}: must be id:base64key`);
    const id = entry.slice(0, colon);
    const encoded = entry.slice(colon + 1);
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) return problems.push(`${at}: key id must be 1-32 letters, digits, _ or -`);
    if (seen.has(id)) return problems.push(`${at}: key id "${id}" appears twice`);
    seen.add(id);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return problems.push(`key "${id}": must be base64`);
    const key = Buffer.from(encoded, 'base64');
    if (key.length !== 32) return problems.push(`key "${id}": must decode to 32 bytes (got ${key.length})`);
    keys.push({ id, key });
    return undefined;
  });
  if (entries.length === 0) problems.push('must list at least one id:base64key when set');
  return { keys, problems };
}

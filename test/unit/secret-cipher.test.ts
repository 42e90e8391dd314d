import { randomBytes } from 'node:crypto';
import { isSealed, parseEncryptionKeys, SecretCipher, sealedKeyId } from '../../src/store/secret-cipher';

const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };
const A = 'wx3c5a7e19b2d40f81';
const FIELD = 'refresh_token';
const TOKEN = 'refreshtoken@@@Zx9-secret-value';

describe('SecretCipher (AES-256-GCM, key id and associated data)', () => {
  it('seals with the first key, names it in the value, and opens it again', () => {
    const cipher = new SecretCipher([k1, k2]);
    const sealed = cipher.seal(TOKEN, A, FIELD);
    expect(isSealed(sealed)).toBe(true);
    expect(sealedKeyId(sealed)).toBe('k1');
    expect(sealed).not.toContain('Zx9');
    expect(cipher.unseal(sealed, A, FIELD)).toEqual({ ok: true, plaintext: TOKEN, keyId: 'k1' });
    // A fresh IV each time: the same token never gives the same value twice.
    expect(cipher.seal(TOKEN, A, FIELD)).not.toBe(sealed);
  });

  it('opens values sealed by any configured key (rotation), and says which need resealing', () => {
    const old = new SecretCipher([k2]).seal(TOKEN, A, FIELD);
    const rotated = new SecretCipher([k1, k2]);
    expect(rotated.unseal(old, A, FIELD)).toEqual({ ok: true, plaintext: TOKEN, keyId: 'k2' });
    expect(rotated.needsResealing(old)).toBe(true);
    expect(rotated.needsResealing(rotated.seal(TOKEN, A, FIELD))).toBe(false);
    expect(rotated.needsResealing(TOKEN)).toBe(true); // plaintext while a key exists
    expect(new SecretCipher([]).needsResealing(TOKEN)).toBe(false);
  });

  it('passes plaintext through without keys, and reads a stored plaintext value as it is', () => {
    const plain = new SecretCipher([]);
    expect(plain.seal(TOKEN, A, FIELD)).toBe(TOKEN);
    expect(plain.unseal(TOKEN, A, FIELD)).toEqual({ ok: true, plaintext: TOKEN, keyId: undefined });
    expect(new SecretCipher([k1]).unseal(TOKEN, A, FIELD)).toEqual({ ok: true, plaintext: TOKEN, keyId: undefined });
  });

  it('refuses a value moved to another account or field (associated data)', () => {
    const cipher = new SecretCipher([k1]);
    const sealed = cipher.seal(TOKEN, A, FIELD);
    expect(cipher.unseal(sealed, 'wx0000000000000000', FIELD)).toEqual({
      ok: false,
      failure: 'wrong_key_or_tampered',
      keyId: 'k1',
    });
    expect(cipher.unseal(sealed, A, 'other_field')).toEqual({
      ok: false,
      failure: 'wrong_key_or_tampered',
      keyId: 'k1',
    });
  });

  it('refuses a tampered ciphertext, tag or IV', () => {
    const cipher = new SecretCipher([k1]);
    const parts = cipher.seal(TOKEN, A, FIELD).split('.');
    const flip = (b64: string) => {
      const bytes = Buffer.from(b64, 'base64url');
      bytes[0] = bytes[0]! ^ 1;
      return bytes.toString('base64url');
    };
    for (const index of [2, 3, 4]) {
      const tampered = parts.map((p, i) => (i === index ? flip(p) : p)).join('.');
      expect(cipher.unseal(tampered, A, FIELD)).toMatchObject({ ok: false, failure: 'wrong_key_or_tampered' });
    }
    expect(cipher.unseal(parts.slice(0, 4).join('.'), A, FIELD)).toMatchObject({ ok: false, failure: 'malformed' });
  });

  it('names a wrong key, an unknown key id and a missing keyring apart', () => {
    const sealed = new SecretCipher([k1]).seal(TOKEN, A, FIELD);
    const impostor = new SecretCipher([{ id: 'k1', key: randomBytes(32) }]);
    expect(impostor.unseal(sealed, A, FIELD)).toEqual({ ok: false, failure: 'wrong_key_or_tampered', keyId: 'k1' });
    expect(new SecretCipher([k2]).unseal(sealed, A, FIELD)).toEqual({ ok: false, failure: 'unknown_key', keyId: 'k1' });
    expect(new SecretCipher([]).unseal(sealed, A, FIELD)).toEqual({ ok: false, failure: 'no_keys', keyId: 'k1' });
  });

  it('accepts only 32-byte keys', () => {
    expect(() => new SecretCipher([{ id: 'short', key: randomBytes(16) }])).toThrow(/32 bytes/);
    expect(parseEncryptionKeys(`a:${randomBytes(32).toString('base64')}`).problems).toEqual([]);
    expect(parseEncryptionKeys(`a:${randomBytes(31).toString('base64')}`).problems).toEqual([
      'key "a": must decode to 32 bytes (got 31)',
    ]);
  });
});

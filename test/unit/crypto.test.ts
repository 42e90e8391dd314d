import { createCipheriv, createDecipheriv, createHash, randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  MsgCrypt,
  MsgCryptCode,
  MsgCryptError,
  computeMsgSignature,
  computeSignature,
  decryptMessage,
  encryptMessage,
  parseAesKey,
  sha1Signature,
  signaturesEqual,
  verifyMsgSignature,
  verifySignature,
} from '../../src/wechat/crypto';

// ---------------------------------------------------------------------------------------------------------------
// helpers

/** Known-answer vectors (public facts, sources in each entry) live in test/fixtures/vectors; WXOPEN_VECTORS_DIR overrides the location. */
const VECTORS_DIR = process.env.WXOPEN_VECTORS_DIR ?? resolve(__dirname, '../fixtures/vectors');

interface Vector {
  source: string;
  kind: string;
  token: string;
  encodingAESKey: string | null;
  appId: string | null;
  timestamp: string;
  nonce: string;
  msgSignature: string | null;
  encrypt: string | null;
  plaintext: string | null;
  random16?: string;
  receiveId?: string;
  signature?: string;
  computedMsgSignature?: string;
  notes?: string;
}

function loadVectors(file: string): Vector[] {
  const parsed: unknown = JSON.parse(readFileSync(join(VECTORS_DIR, file), 'utf8'));
  if (!Array.isArray(parsed) || parsed.length === 0) throw new Error(`${file}: expected a non-empty array`);
  return parsed as Vector[];
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const randomEncodingAesKey = (): string => Array.from({ length: 43 }, () => ALNUM[randomInt(ALNUM.length)]).join('');
const randomAppId = (): string => `wx${randomBytes(8).toString('hex')}`;

/** The MsgCryptCode thrown by fn, or 'no error'; anything that is not a MsgCryptError fails the test. */
function codeOf(fn: () => unknown): MsgCryptCode | 'no error' {
  try {
    fn();
  } catch (err) {
    if (err instanceof MsgCryptError) return err.code;
    throw err;
  }
  return 'no error';
}

/** Raw AES-256-CBC with IV = key[0..16) and no padding: lets tests see and forge exact plaintext blocks. */
function rawEncrypt(plain: Buffer, key: Buffer): string {
  const c = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  c.setAutoPadding(false);
  return Buffer.concat([c.update(plain), c.final()]).toString('base64');
}

function rawDecrypt(encrypt: string, key: Buffer): Buffer {
  const d = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
  d.setAutoPadding(false);
  return Buffer.concat([d.update(Buffer.from(encrypt, 'base64')), d.final()]);
}

/** random16 || len(BE32) || msg || receiveId, unpadded. `len` defaults to the real message length. */
function fullStr(msg: Buffer, receiveId: string, len = msg.length): Buffer {
  const header = Buffer.alloc(20);
  randomBytes(16).copy(header);
  header.writeUInt32BE(len, 16);
  return Buffer.concat([header, msg, Buffer.from(receiveId, 'ascii')]);
}

const pkcs7 = (n: number): Buffer => {
  const p = 32 - (n % 32);
  return Buffer.alloc(p, p);
};

const KEY_MISMATCH = [MsgCryptCode.DecryptAESError, MsgCryptCode.IllegalBuffer, MsgCryptCode.ValidateAppidError];

// Fixed inputs keep the error-path tests deterministic.
const FIXED_ENCODING_KEY = 'FjoDg93LOVc2d7lQqiEneynB6dU7ZN6GWvH78agZYtr';
const FIXED_KEY = parseAesKey(FIXED_ENCODING_KEY);
const FIXED_APPID = 'wx0123456789abcdef';
const FIXED_RANDOM = Buffer.from('0123456789abcdef', 'ascii');
const TOKEN = 'unitTestToken';

// ---------------------------------------------------------------------------------------------------------------
// known-answer vectors

type Check = { label: string; run: () => void };

const KNOWN_KINDS = new Set(['decrypt', 'verify_url', 'encrypt', 'encrypt_reply', 'plain_signature']);

/** Every check a vector allows; a vector yielding none makes the coverage test below fail. */
function checksFor(file: string, index: number, v: Vector): Check[] {
  const tag = `${file}#${index} ${v.kind}`;
  const checks: Check[] = [];
  if (!KNOWN_KINDS.has(v.kind)) return checks;

  if (v.signature) {
    const signature = v.signature;
    checks.push({
      label: `${tag}: plain signature`,
      run: () => {
        expect(computeSignature(v.token, v.timestamp, v.nonce)).toBe(signature);
        expect(verifySignature(v.token, v.timestamp, v.nonce, signature)).toBe(true);
        expect(verifySignature(v.token, v.timestamp, `${v.nonce}0`, signature)).toBe(false);
      },
    });
  }

  if (v.kind === 'plain_signature') return checks;

  const { encodingAESKey, appId, encrypt, plaintext } = v;
  if (!encodingAESKey || !appId || !encrypt || plaintext === null) {
    throw new Error(`${tag}: encrypted vector without key, appId, encrypt or plaintext`);
  }
  const msgSignature = v.msgSignature ?? v.computedMsgSignature;
  const key = (): Buffer => parseAesKey(encodingAESKey);

  checks.push({
    label: `${tag}: decrypt byte-for-byte`,
    run: () => {
      const out = decryptMessage(encrypt, key(), appId);
      expect(out.message.equals(Buffer.from(plaintext, 'utf8'))).toBe(true);
      expect(out.receiveId).toBe(appId);
      if (v.receiveId !== undefined) expect(out.receiveId).toBe(v.receiveId);
      // random16 is the 16 ASCII characters themselves (not hex to decode).
      if (v.random16 !== undefined) {
        expect(rawDecrypt(encrypt, key()).subarray(0, 16).toString('latin1')).toBe(v.random16);
      }
    },
  });

  if (msgSignature) {
    checks.push({
      label: `${tag}: msg_signature and MsgCrypt.open`,
      run: () => {
        expect(computeMsgSignature(v.token, v.timestamp, v.nonce, encrypt)).toBe(msgSignature);
        expect(verifyMsgSignature(v.token, v.timestamp, v.nonce, encrypt, msgSignature)).toBe(true);
        const crypt = new MsgCrypt({ token: v.token, encodingAesKey: encodingAESKey, appId });
        const opened = crypt.open({ msgSignature, timestamp: v.timestamp, nonce: v.nonce, encrypt });
        expect(opened).toEqual({ message: plaintext, keyUsed: 'current' });
      },
    });
  }

  if (v.random16 !== undefined) {
    const random16 = Buffer.from(v.random16, 'latin1');
    checks.push({
      label: `${tag}: encrypt with known random16 reproduces Encrypt${msgSignature ? ' and signature' : ''}`,
      run: () => {
        expect(random16).toHaveLength(16);
        expect(encryptMessage(plaintext, key(), v.receiveId ?? appId, random16)).toBe(encrypt);
        if (msgSignature) {
          const crypt = new MsgCrypt({ token: v.token, encodingAesKey: encodingAESKey, appId });
          expect(crypt.seal(plaintext, v.timestamp, v.nonce, { random16 })).toEqual({ encrypt, msgSignature });
        }
      },
    });
  }
  return checks;
}

describe.each(['official.json', 'peers.json'])('vectors from %s', (file) => {
  const vectors = loadVectors(file);
  const perVector = vectors.map((v, i) => checksFor(file, i, v));

  it.each(perVector.flat())('$label', ({ run }) => run());

  it(`handles all ${vectors.length} vectors (none skipped, no unknown kind)`, () => {
    expect(vectors.filter((v) => !KNOWN_KINDS.has(v.kind)).map((v) => v.kind)).toEqual([]);
    const handled = perVector.filter((checks) => checks.length > 0).length;
    expect(handled).toBe(vectors.length);
    // Encrypted vectors must be exercised in both directions whenever random16 makes that possible.
    vectors.forEach((v, i) => {
      const labels = (perVector[i] ?? []).map((c) => c.label).join('\n');
      if (v.encrypt) expect(labels).toMatch(/decrypt byte-for-byte/);
      if (v.encrypt && v.random16 !== undefined) expect(labels).toMatch(/encrypt with known random16/);
      if (v.msgSignature ?? v.computedMsgSignature) expect(labels).toMatch(/msg_signature/);
      if (v.signature) expect(labels).toMatch(/plain signature/);
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// round trips

describe('round trips with random keys', () => {
  const setup = () => {
    const encodingAesKey = randomEncodingAesKey();
    const appId = randomAppId();
    return { key: parseAesKey(encodingAesKey), appId, crypt: new MsgCrypt({ token: TOKEN, encodingAesKey, appId }) };
  };

  const roundTrip = (message: string): string => {
    const { crypt } = setup();
    const sealed = crypt.seal(message, '1700000000', 'nonce123');
    const opened = crypt.open({ ...sealed, timestamp: '1700000000', nonce: 'nonce123' });
    expect(opened.keyUsed).toBe('current');
    return opened.message;
  };

  it('empty message', () => {
    const { key, appId } = setup();
    const encrypt = encryptMessage('', key, appId);
    expect(Buffer.from(encrypt, 'base64')).toHaveLength(64); // 16 + 4 + 0 + 18 = 38 → 64
    const out = decryptMessage(encrypt, key, appId);
    expect(out.message).toHaveLength(0);
    expect(out.receiveId).toBe(appId);
    expect(roundTrip('')).toBe('');
  });

  it.each([26, 58, 26 + 32 * 10])('FullStr a multiple of 32 (msg %i bytes) gets a full 32-byte pad block', (n) => {
    const { key, appId } = setup();
    const message = 'x'.repeat(n);
    expect((20 + n + appId.length) % 32).toBe(0);
    const encrypt = encryptMessage(message, key, appId);
    const plain = rawDecrypt(encrypt, key);
    expect(plain).toHaveLength(20 + n + appId.length + 32);
    expect(plain.subarray(-32).equals(Buffer.alloc(32, 0x20))).toBe(true);
    expect(decryptMessage(encrypt, key, appId).message.toString('utf8')).toBe(message);
  });

  it('every pad length 1..32 appears and round-trips', () => {
    const { key, appId } = setup();
    const pads = new Set<number>();
    for (let n = 0; n < 64; n++) {
      const message = Buffer.alloc(n, 0x61);
      const encrypt = encryptMessage(message, key, appId);
      const bodyLen = 20 + n + appId.length;
      const plain = rawDecrypt(encrypt, key);
      const pad = 32 - (bodyLen % 32);
      expect(plain).toHaveLength(bodyLen + pad);
      expect(plain.subarray(bodyLen).equals(Buffer.alloc(pad, pad))).toBe(true);
      pads.add(pad);
      expect(decryptMessage(encrypt, key, appId).message.equals(message)).toBe(true);
    }
    expect(pads.size).toBe(32);
  });

  it('multi-byte UTF-8: the length field counts bytes, not characters', () => {
    const { key, appId } = setup();
    const message = '我是中文abcd123 😀';
    const byteLength = Buffer.byteLength(message, 'utf8');
    expect(byteLength).toBe(19 + 1 + 4);
    expect(byteLength).not.toBe(message.length);
    const encrypt = encryptMessage(message, key, appId);
    expect(rawDecrypt(encrypt, key).readUInt32BE(16)).toBe(byteLength);
    expect(decryptMessage(encrypt, key, appId).message.toString('utf8')).toBe(message);
    expect(roundTrip(message)).toBe(message);
  });

  it('64 KiB message', () => {
    const { key, appId } = setup();
    const message = randomBytes(48 * 1024).toString('base64');
    expect(message).toHaveLength(64 * 1024);
    const encrypt = encryptMessage(message, key, appId);
    expect(rawDecrypt(encrypt, key).readUInt32BE(16)).toBe(64 * 1024);
    expect(decryptMessage(encrypt, key, appId).message.toString('utf8')).toBe(message);
    expect(roundTrip(message)).toBe(message);
  });

  it('leading/trailing whitespace, CRLF and newlines are preserved (no trimming)', () => {
    const message = ' \n\t<xml>\r\n  <A><![CDATA[ a ]]></A>\n</xml>\n\n  ';
    expect(roundTrip(message)).toBe(message);
    const withBom = '\uFEFF<xml/>';
    expect(roundTrip(withBom)).toBe(withBom);
  });

  it('Buffer messages come back byte-exact, including bytes that are not UTF-8', () => {
    const { key, appId } = setup();
    const message = Buffer.from([0xff, 0x00, 0xc3, 0x28, 0x0a, 0x20]);
    expect(decryptMessage(encryptMessage(message, key, appId), key, appId).message.equals(message)).toBe(true);
  });

  it('the default random prefix differs between calls', () => {
    const { key, appId } = setup();
    expect(encryptMessage('same', key, appId)).not.toBe(encryptMessage('same', key, appId));
  });
});

// ---------------------------------------------------------------------------------------------------------------
// failures map to their codes

describe('error codes', () => {
  const crypt = new MsgCrypt({ token: TOKEN, encodingAesKey: FIXED_ENCODING_KEY, appId: FIXED_APPID });
  const ts = '1700000000';
  const nonce = '42';

  it('MsgCryptError carries name and code', () => {
    const err = new MsgCryptError(MsgCryptCode.IllegalBuffer, 'x');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('MsgCryptError');
    expect(err.code).toBe(-40008);
    expect(err.message).toBe('x');
  });

  it('wrong msg_signature → -40001, checked before anything else', () => {
    const sealed = crypt.seal('<xml/>', ts, nonce);
    const ok = { ...sealed, timestamp: ts, nonce };
    expect(crypt.open(ok).message).toBe('<xml/>');
    expect(codeOf(() => crypt.open({ ...ok, nonce: '43' }))).toBe(-40001);
    expect(codeOf(() => crypt.open({ ...ok, timestamp: '1700000001' }))).toBe(-40001);
    const last = sealed.msgSignature.endsWith('0') ? '1' : '0';
    expect(codeOf(() => crypt.open({ ...ok, msgSignature: sealed.msgSignature.slice(0, -1) + last }))).toBe(-40001);
    expect(codeOf(() => crypt.open({ ...ok, msgSignature: '' }))).toBe(-40001);
    // a different token means a different signature
    const other = new MsgCrypt({ token: 'otherToken', encodingAesKey: FIXED_ENCODING_KEY, appId: FIXED_APPID });
    expect(codeOf(() => other.open(ok))).toBe(-40001);
    // garbage ciphertext with a bad signature reports the signature, not the base64
    expect(codeOf(() => crypt.open({ ...ok, encrypt: '!!not base64!!' }))).toBe(-40001);
  });

  it('one flipped ciphertext byte never yields the original message', () => {
    const check = (message: string, mustThrow: boolean): void => {
      const ct = Buffer.from(encryptMessage(message, FIXED_KEY, FIXED_APPID, FIXED_RANDOM), 'base64');
      for (let i = 0; i < ct.length; i++) {
        const tampered = Buffer.from(ct);
        tampered[i] = (tampered[i] ?? 0) ^ 0x01;
        const encrypt = tampered.toString('base64');
        let code: MsgCryptCode | 'no error' = 'no error';
        let result: string | undefined;
        try {
          result = decryptMessage(encrypt, FIXED_KEY, FIXED_APPID).message.toString('utf8');
        } catch (err) {
          expect(err).toBeInstanceOf(MsgCryptError);
          code = (err as MsgCryptError).code;
        }
        const codeOk = code === 'no error' ? !mustThrow : KEY_MISMATCH.includes(code);
        expect(codeOk ? 'ok' : `byte ${i}: ${code}`).toBe('ok');
        expect(result).not.toBe(message);
        // re-signed, so the signature cannot be what catches it
        const signed = { msgSignature: computeMsgSignature(TOKEN, ts, nonce, encrypt), timestamp: ts, nonce, encrypt };
        if (mustThrow) expect(codeOf(() => crypt.open(signed))).toBe(code);
      }
    };
    // With an empty message every byte of FullStr is length, appid or padding, so every flip must be detected.
    check('', true);
    // With content, CBC alone cannot notice a flip inside the message (the signature does); it must still differ.
    check('<xml><A>hello</A></xml>', false);
  });

  it('receiveId that differs from the appid → -40005 (exact match, not prefix)', () => {
    const encrypt = encryptMessage('<xml/>', FIXED_KEY, FIXED_APPID);
    expect(decryptMessage(encrypt, FIXED_KEY).receiveId).toBe(FIXED_APPID);
    expect(codeOf(() => decryptMessage(encrypt, FIXED_KEY, 'wx0000000000000000'))).toBe(-40005);
    expect(codeOf(() => decryptMessage(encrypt, FIXED_KEY, FIXED_APPID.slice(0, -1)))).toBe(-40005);
    expect(codeOf(() => decryptMessage(encrypt, FIXED_KEY, `${FIXED_APPID}0`))).toBe(-40005);
    expect(codeOf(() => decryptMessage(encrypt, FIXED_KEY, ''))).toBe(-40005);
    const foreign = new MsgCrypt({ token: TOKEN, encodingAesKey: FIXED_ENCODING_KEY, appId: 'wxffffffffffffffff' });
    const sealed = foreign.seal('<xml/>', ts, nonce);
    expect(codeOf(() => crypt.open({ ...sealed, timestamp: ts, nonce }))).toBe(-40005);
  });

  it('non-base64 Encrypt → -40010', () => {
    const good = encryptMessage('<xml>+/</xml>'.repeat(20), FIXED_KEY, FIXED_APPID);
    expect(decryptMessage(good, FIXED_KEY, FIXED_APPID).message.toString()).toBe('<xml>+/</xml>'.repeat(20));
    expect(good).toMatch(/[+/]/);
    const cases = [
      '!!!!',
      'abc',
      'QUJD REVG',
      `${good}\n`,
      ` ${good}`,
      good.replace(/\+/g, '-').replace(/\//g, '_'), // URL-safe alphabet
      `${good.slice(0, 10)}*${good.slice(11)}`,
      Buffer.from(good, 'base64').subarray(0, 64).toString('base64').concat('=='),
    ];
    for (const encrypt of cases) {
      expect([encrypt, codeOf(() => decryptMessage(encrypt, FIXED_KEY))]).toEqual([encrypt, -40010]);
    }
    // unpadded form of a ciphertext whose length is not a multiple of 3
    const ct = Buffer.from(rawEncrypt(Buffer.alloc(32, 1), FIXED_KEY), 'base64');
    expect(ct.toString('base64')).toMatch(/=$/);
    expect(codeOf(() => decryptMessage(ct.toString('base64').replace(/=+$/, ''), FIXED_KEY))).toBe(-40010);
  });

  it('ciphertext not a non-empty multiple of 16 bytes → -40007', () => {
    const ct = Buffer.from(encryptMessage('<xml/>', FIXED_KEY, FIXED_APPID), 'base64');
    expect(codeOf(() => decryptMessage(ct.subarray(0, -1).toString('base64'), FIXED_KEY))).toBe(-40007);
    expect(codeOf(() => decryptMessage(ct.subarray(0, 40).toString('base64'), FIXED_KEY))).toBe(-40007);
    const longer = Buffer.concat([ct, Buffer.alloc(1)]).toString('base64');
    expect(codeOf(() => decryptMessage(longer, FIXED_KEY))).toBe(-40007);
    expect(codeOf(() => decryptMessage('', FIXED_KEY))).toBe(-40007);
  });

  describe('crafted plaintexts', () => {
    const msg = Buffer.from('<xml>crafted</xml>'); // 20 + 18 + 18 = 56 bytes of FullStr
    const body = fullStr(msg, FIXED_APPID);
    const decrypt = (plain: Buffer) =>
      codeOf(() => decryptMessage(rawEncrypt(plain, FIXED_KEY), FIXED_KEY, FIXED_APPID));

    it('the crafting helpers produce a valid message when padded correctly (control)', () => {
      expect(body).toHaveLength(56);
      const plain = Buffer.concat([body, pkcs7(body.length)]);
      expect(decrypt(plain)).toBe('no error');
      expect(decryptMessage(rawEncrypt(plain, FIXED_KEY), FIXED_KEY, FIXED_APPID).message.equals(msg)).toBe(true);
    });

    it('pad byte 0 → -40008', () => {
      const plain = Buffer.concat([body, pkcs7(body.length)]);
      plain[plain.length - 1] = 0;
      expect(decrypt(plain)).toBe(-40008);
    });

    it('all-zero plaintext (pad byte 0, which a pad-0 reading would accept as "no padding") → -40008', () => {
      expect(codeOf(() => decryptMessage(rawEncrypt(Buffer.alloc(32), FIXED_KEY), FIXED_KEY))).toBe(-40008);
    });

    it('pad byte 33 (even with 33 consistent bytes) → -40008', () => {
      // 63 + 33 = 96 keeps the forged plaintext block-aligned
      const longer = fullStr(Buffer.concat([msg, Buffer.alloc(7, 0x20)]), FIXED_APPID);
      const plain = Buffer.concat([longer, Buffer.alloc(33, 33)]);
      expect(plain.length % 16).toBe(0);
      expect(decrypt(plain)).toBe(-40008);
    });

    it('inconsistent pad bytes → -40008 (every pad byte is checked)', () => {
      const pad = pkcs7(body.length); // 8 bytes of 0x08
      expect(pad).toHaveLength(8);
      for (let i = 0; i < pad.length - 1; i++) {
        const plain = Buffer.concat([body, pad]);
        plain[body.length + i] = 0x07;
        expect([i, decrypt(plain)]).toEqual([i, -40008]);
      }
    });

    it('pad longer than the buffer, or content shorter than the 20-byte header → -40008', () => {
      expect(decrypt(Buffer.alloc(16, 32))).toBe(-40008);
      expect(decrypt(Buffer.concat([Buffer.alloc(16, 1), Buffer.alloc(16, 16)]))).toBe(-40008);
    });

    it('length field larger than the buffer → -40008', () => {
      const remaining = msg.length + FIXED_APPID.length;
      for (const len of [remaining + 1, 1000, 0x7fffffff, 0xffffffff]) {
        const forged = fullStr(msg, FIXED_APPID, len);
        expect([len, decrypt(Buffer.concat([forged, pkcs7(forged.length)]))]).toEqual([len, -40008]);
      }
      // boundary: the length may consume everything, leaving an empty receiveId
      const exact = fullStr(msg, FIXED_APPID, remaining);
      const encrypt = rawEncrypt(Buffer.concat([exact, pkcs7(exact.length)]), FIXED_KEY);
      expect(decryptMessage(encrypt, FIXED_KEY).receiveId).toBe('');
      expect(decrypt(Buffer.concat([exact, pkcs7(exact.length)]))).toBe(-40005);
    });

    it('decrypted message that is not UTF-8 → open() reports -40008', () => {
      const bad = fullStr(Buffer.from([0x3c, 0xff, 0xfe, 0x3e]), FIXED_APPID);
      const encrypt = rawEncrypt(Buffer.concat([bad, pkcs7(bad.length)]), FIXED_KEY);
      const params = { msgSignature: computeMsgSignature(TOKEN, ts, nonce, encrypt), timestamp: ts, nonce, encrypt };
      expect(codeOf(() => crypt.open(params))).toBe(-40008);
    });
  });

  it('illegal EncodingAESKey → -40004', () => {
    const good = FIXED_ENCODING_KEY;
    const bad = [
      good.slice(0, 42),
      `${good}A`,
      '',
      `${good.slice(0, 42)}+`,
      `${good.slice(0, 42)}/`,
      `${good.slice(0, 42)}=`,
      `${good.slice(0, 42)}-`,
      `${good.slice(0, 20)} ${good.slice(21)}`,
      `${good.slice(0, 42)}é`,
    ];
    for (const k of bad) expect([k, codeOf(() => parseAesKey(k))]).toEqual([k, -40004]);
    const options = { token: TOKEN, encodingAesKey: good, appId: FIXED_APPID };
    expect(codeOf(() => new MsgCrypt({ ...options, encodingAesKey: good.slice(0, 42) }))).toBe(-40004);
    expect(codeOf(() => new MsgCrypt({ ...options, previousEncodingAesKey: `${good}x` }))).toBe(-40004);
    expect(codeOf(() => encryptMessage('x', Buffer.alloc(31), FIXED_APPID))).toBe(-40004);
    expect(codeOf(() => decryptMessage(encryptMessage('x', FIXED_KEY, FIXED_APPID), Buffer.alloc(16)))).toBe(-40004);
  });

  it('EncodingAESKey decoding: 43 × A is 32 zero bytes; surplus bits of the last character are ignored', () => {
    expect(parseAesKey('A'.repeat(43)).equals(Buffer.alloc(32))).toBe(true);
    // the official sample key ends in 'G' whose low two bits are set: it must still be accepted
    const sample = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
    expect(parseAesKey(sample).equals(parseAesKey(`${sample.slice(0, 42)}E`))).toBe(true);
    expect(parseAesKey(sample)).toHaveLength(32);
  });

  it('random16 of the wrong size → -40006', () => {
    expect(codeOf(() => encryptMessage('x', FIXED_KEY, FIXED_APPID, Buffer.alloc(15)))).toBe(-40006);
    expect(codeOf(() => encryptMessage('x', FIXED_KEY, FIXED_APPID, Buffer.alloc(17)))).toBe(-40006);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// key rotation

describe('key rotation', () => {
  const ts = '1700000000';
  const nonce = 'rot';

  it('a message sealed with the previous key opens with keyUsed "previous", and only if that key is configured', () => {
    const oldKey = randomEncodingAesKey();
    const newKey = randomEncodingAesKey();
    const appId = randomAppId();
    const sender = new MsgCrypt({ token: TOKEN, encodingAesKey: oldKey, appId });
    const sealed = { ...sender.seal('<xml>old</xml>', ts, nonce), timestamp: ts, nonce };

    const rotated = new MsgCrypt({ token: TOKEN, encodingAesKey: newKey, appId, previousEncodingAesKey: oldKey });
    expect(rotated.open(sealed)).toEqual({ message: '<xml>old</xml>', keyUsed: 'previous' });

    const withoutPrevious = new MsgCrypt({ token: TOKEN, encodingAesKey: newKey, appId });
    expect(KEY_MISMATCH).toContain(codeOf(() => withoutPrevious.open(sealed)));
    const emptyPrevious = new MsgCrypt({ token: TOKEN, encodingAesKey: newKey, appId, previousEncodingAesKey: '' });
    expect(KEY_MISMATCH).toContain(codeOf(() => emptyPrevious.open(sealed)));

    // the current key still wins for current traffic
    const fresh = { ...rotated.seal('<xml>new</xml>', ts, nonce), timestamp: ts, nonce };
    expect(rotated.open(fresh)).toEqual({ message: '<xml>new</xml>', keyUsed: 'current' });

    // replies can be sealed with the key the sender still uses
    const reply = { ...rotated.seal('<xml>reply</xml>', ts, nonce, { key: 'previous' }), timestamp: ts, nonce };
    expect(sender.open(reply)).toEqual({ message: '<xml>reply</xml>', keyUsed: 'current' });
    expect(codeOf(() => withoutPrevious.seal('x', ts, nonce, { key: 'previous' }))).toBe(-40004);

    // neither key works → still a key-mismatch code; a bad signature never falls back
    const stranger = new MsgCrypt({ token: TOKEN, encodingAesKey: randomEncodingAesKey(), appId });
    const strange = { ...stranger.seal('<xml/>', ts, nonce), timestamp: ts, nonce };
    expect(KEY_MISMATCH).toContain(codeOf(() => rotated.open(strange)));
    expect(codeOf(() => rotated.open({ ...sealed, nonce: 'other' }))).toBe(-40001);
  });

  it('a different appid is not rescued by the previous key', () => {
    const key = randomEncodingAesKey();
    const foreign = new MsgCrypt({ token: TOKEN, encodingAesKey: key, appId: 'wx1111111111111111' });
    const sealed = { ...foreign.seal('<xml/>', ts, nonce), timestamp: ts, nonce };
    const mine = new MsgCrypt({
      token: TOKEN,
      encodingAesKey: key,
      appId: 'wx2222222222222222',
      previousEncodingAesKey: randomEncodingAesKey(),
    });
    expect(codeOf(() => mine.open(sealed))).toBe(-40005);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// signatures

describe('signatures', () => {
  it('sha1Signature sorts by code unit (not locale) and does not mutate its input', () => {
    const parts = ['b', 'B', 'a', '_', '1'];
    const expected = createHash('sha1').update('1B_ab').digest('hex');
    expect(sha1Signature(parts)).toBe(expected);
    expect(parts).toEqual(['b', 'B', 'a', '_', '1']);
    // doc example (§3.4)
    expect(sha1Signature(['AAAAA', '1714036504', '1514711492'])).toBe('f464b24fc39322e44b38aa78f5edd27bd1441696');
  });

  it('signaturesEqual: true only for identical hex of equal length', () => {
    const sig = computeSignature('t', '1', '2');
    expect(signaturesEqual(sig, sig)).toBe(true);
    expect(signaturesEqual(sig, `${sig.slice(0, -1)}${sig.endsWith('a') ? 'b' : 'a'}`)).toBe(false);
    expect(signaturesEqual(sig, sig.slice(0, -1))).toBe(false);
    expect(signaturesEqual(sig, `${sig}0`)).toBe(false);
    expect(signaturesEqual(sig, '')).toBe(false);
    expect(signaturesEqual('', '')).toBe(false);
    expect(sig).toMatch(/[a-f]/);
    expect(signaturesEqual(sig, sig.toUpperCase())).toBe(false); // case-sensitive, like the official samples
    expect(signaturesEqual(sig, 'z'.repeat(40))).toBe(false);
    expect(signaturesEqual('z'.repeat(40), 'z'.repeat(40))).toBe(false);
    expect(signaturesEqual(sig, 'é'.repeat(40))).toBe(false);
    expect(signaturesEqual(sig, undefined as unknown as string)).toBe(false);
    expect(signaturesEqual(sig, ['x'] as unknown as string)).toBe(false);
  });
});

/**
 * WeChat message crypto for a third-party platform, wire-compatible with Tencent's WXBizMsgCrypt samples.
 * Spec: https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/Technical_Plan.html
 * (byte-level notes and known-answer vectors: shared/docs/protocol.md §3 and §9).
 *
 * Deliberately pure (no I/O, no logging, no project imports) so the service and the local WeChat emulator
 * run exactly the same code on both ends of the wire.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { TextDecoder } from 'node:util';

/** Numeric codes of Tencent's samples, kept so logs and error replies match what WeChat developers know. */
export enum MsgCryptCode {
  ValidateSignatureError = -40001,
  ParseXmlError = -40002,
  ComputeSignatureError = -40003,
  IllegalAesKey = -40004,
  ValidateAppidError = -40005,
  EncryptAESError = -40006,
  DecryptAESError = -40007,
  IllegalBuffer = -40008,
  EncodeBase64Error = -40009,
  DecodeBase64Error = -40010,
  GenReturnXmlError = -40011,
}

export class MsgCryptError extends Error {
  readonly code: MsgCryptCode;

  constructor(code: MsgCryptCode, message: string) {
    super(message);
    this.name = 'MsgCryptError';
    this.code = code;
  }
}

function fail(code: MsgCryptCode, message: string): never {
  throw new MsgCryptError(code, message);
}

const KEY_LEN = 32;
const IV_LEN = 16;
const RANDOM_LEN = 16;
const HEADER_LEN = RANDOM_LEN + 4;
// WeChat pads to 32 bytes although AES blocks are 16, so the cipher's own PKCS#7 would be wrong in both directions.
const PAD_BLOCK = 32;

/**
 * Why `encodingAesKey` cannot be an EncodingAESKey (43 characters of [A-Za-z0-9], protocol.md §3), or undefined.
 * The one statement of the rule: parseAesKey and the configuration's check both use it.
 */
export function aesKeyProblem(encodingAesKey: unknown): string | undefined {
  if (typeof encodingAesKey !== 'string') return 'must be a string';
  if (encodingAesKey.length !== 43) return `must be exactly 43 characters (got ${encodingAesKey.length})`;
  // Node's base64 decoder ignores junk characters, so the alphabet must be checked before decoding.
  if (!/^[a-zA-Z0-9]{43}$/.test(encodingAesKey)) return 'must contain only letters and digits [A-Za-z0-9]';
  return undefined;
}

export function parseAesKey(encodingAesKey: string): Buffer {
  const problem = aesKeyProblem(encodingAesKey);
  if (problem) fail(MsgCryptCode.IllegalAesKey, `EncodingAESKey ${problem}`);
  // 43 characters carry 258 bits; the 2 surplus bits are dropped without a canonical-form check because
  // real keys (including the official samples') have them set.
  const key = Buffer.from(`${encodingAesKey}=`, 'base64');
  if (key.length !== KEY_LEN) fail(MsgCryptCode.IllegalAesKey, 'EncodingAESKey does not decode to 32 bytes');
  return key;
}

export function sha1Signature(parts: readonly string[]): string {
  // WeChat sorts with a plain byte-wise sort; for its ASCII inputs that equals the default UTF-16 code-unit sort,
  // whereas localeCompare would reorder case and punctuation and break the signature.
  return createHash('sha1')
    .update([...parts].sort().join(''), 'utf8')
    .digest('hex');
}

export function computeMsgSignature(token: string, timestamp: string, nonce: string, encrypt: string): string {
  return sha1Signature([token, timestamp, nonce, encrypt]);
}

export function computeSignature(token: string, timestamp: string, nonce: string): string {
  return sha1Signature([token, timestamp, nonce]);
}

const HEX = /^[0-9a-fA-F]+$/;

export function signaturesEqual(expectedHex: string, givenHex: string): boolean {
  // Query values can be missing or repeated at runtime whatever the types say, so reject rather than throw.
  if (typeof expectedHex !== 'string' || typeof givenHex !== 'string') return false;
  if (expectedHex.length === 0 || expectedHex.length !== givenHex.length) return false;
  if (!HEX.test(expectedHex) || !HEX.test(givenHex)) return false;
  // Case-sensitive like the official samples: WeChat always sends lowercase hex.
  return timingSafeEqual(Buffer.from(expectedHex, 'latin1'), Buffer.from(givenHex, 'latin1'));
}

export function verifyMsgSignature(
  token: string,
  timestamp: string,
  nonce: string,
  encrypt: string,
  msgSignature: string,
): boolean {
  return signaturesEqual(computeMsgSignature(token, timestamp, nonce, encrypt), msgSignature);
}

export function verifySignature(token: string, timestamp: string, nonce: string, signature: string): boolean {
  return signaturesEqual(computeSignature(token, timestamp, nonce), signature);
}

function assertKey(aesKey: Buffer): void {
  if (!Buffer.isBuffer(aesKey) || aesKey.length !== KEY_LEN) {
    fail(MsgCryptCode.IllegalAesKey, 'AES key must be the 32 bytes from parseAesKey');
  }
}

export function encryptMessage(
  message: string | Buffer,
  aesKey: Buffer,
  receiveId: string,
  random16: Buffer = randomBytes(RANDOM_LEN),
): string {
  assertKey(aesKey);
  if (!Buffer.isBuffer(random16) || random16.length !== RANDOM_LEN) {
    fail(MsgCryptCode.EncryptAESError, 'random16 must be exactly 16 bytes');
  }
  const msg = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(msg.length);
  const body = Buffer.concat([random16, len, msg, Buffer.from(receiveId, 'utf8')]);
  // Always 1..32 bytes, so an aligned body gets a whole block of 0x20 and unpadding stays unambiguous.
  const pad = PAD_BLOCK - (body.length % PAD_BLOCK);
  try {
    const cipher = createCipheriv('aes-256-cbc', aesKey, aesKey.subarray(0, IV_LEN));
    cipher.setAutoPadding(false);
    const encrypted = Buffer.concat([cipher.update(body), cipher.update(Buffer.alloc(pad, pad)), cipher.final()]);
    return encrypted.toString('base64');
  } catch (err) {
    fail(MsgCryptCode.EncryptAESError, `AES encryption failed: ${(err as Error).message}`);
  }
}

export interface DecryptedMessage {
  message: Buffer;
  receiveId: string;
}

export function decryptMessage(encrypt: string, aesKey: Buffer, expectedReceiveId?: string): DecryptedMessage {
  assertKey(aesKey);
  // Node decodes leniently (skips junk, accepts URL-safe letters and missing padding); a round trip is the
  // shortest exact test for standard, padded, canonical base64.
  const data = typeof encrypt === 'string' ? Buffer.from(encrypt, 'base64') : Buffer.alloc(0);
  if (typeof encrypt !== 'string' || data.toString('base64') !== encrypt) {
    fail(MsgCryptCode.DecodeBase64Error, 'Encrypt is not standard base64');
  }
  if (data.length === 0 || data.length % IV_LEN !== 0) {
    fail(MsgCryptCode.DecryptAESError, `ciphertext length ${data.length} is not a positive multiple of 16`);
  }
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-cbc', aesKey, aesKey.subarray(0, IV_LEN));
    decipher.setAutoPadding(false);
    plain = Buffer.concat([decipher.update(data), decipher.final()]);
  } catch (err) {
    fail(MsgCryptCode.DecryptAESError, `AES decryption failed: ${(err as Error).message}`);
  }
  // Stricter than the samples (which treat a bad pad as 0): a wrong key or tampered block must not slip through.
  const pad = plain[plain.length - 1] ?? 0;
  if (pad < 1 || pad > PAD_BLOCK || pad > plain.length || plain.subarray(-pad).some((b) => b !== pad)) {
    fail(MsgCryptCode.IllegalBuffer, 'invalid PKCS#7 padding');
  }
  const content = plain.subarray(0, plain.length - pad);
  if (content.length < HEADER_LEN) fail(MsgCryptCode.IllegalBuffer, 'decrypted buffer too short');
  const msgLen = content.readUInt32BE(RANDOM_LEN);
  if (msgLen > content.length - HEADER_LEN) fail(MsgCryptCode.IllegalBuffer, 'message length exceeds the buffer');
  const receiveIdBytes = content.subarray(HEADER_LEN + msgLen);
  if (expectedReceiveId !== undefined && !receiveIdBytes.equals(Buffer.from(expectedReceiveId, 'utf8'))) {
    fail(MsgCryptCode.ValidateAppidError, 'receiveId does not match the expected appid');
  }
  return { message: content.subarray(HEADER_LEN, HEADER_LEN + msgLen), receiveId: receiveIdBytes.toString('utf8') };
}

export interface MsgCryptOptions {
  token: string;
  encodingAesKey: string;
  appId: string;
  previousEncodingAesKey?: string;
}

export interface PushParams {
  msgSignature: string;
  timestamp: string;
  nonce: string;
  encrypt: string;
}

// A wrong key shows up as garbage padding, a garbage length or a foreign receiveId; only these justify retrying.
const KEY_MISMATCH_CODES: ReadonlySet<MsgCryptCode> = new Set([
  MsgCryptCode.DecryptAESError,
  MsgCryptCode.IllegalBuffer,
  MsgCryptCode.ValidateAppidError,
]);

// fatal: a message that is not valid UTF-8 cannot be returned byte-exact as a string; ignoreBOM keeps a BOM as sent.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class MsgCrypt {
  readonly #token: string;
  readonly #appId: string;
  readonly #current: Buffer;
  readonly #previous: Buffer | undefined;

  constructor(options: MsgCryptOptions) {
    this.#token = options.token;
    this.#appId = options.appId;
    this.#current = parseAesKey(options.encodingAesKey);
    // An empty string is how an unset environment variable usually arrives, so it means "no previous key".
    this.#previous = options.previousEncodingAesKey ? parseAesKey(options.previousEncodingAesKey) : undefined;
  }

  /**
   * Verifies msg_signature (constant time) first, then decrypts with the current key, falling back to the previous
   * one after a key rotation. Checking the token-keyed signature before touching the ciphertext is also what stops
   * the distinct padding/length error codes from acting as a padding oracle.
   */
  open(params: PushParams): { message: string; keyUsed: 'current' | 'previous' } {
    const { msgSignature, timestamp, nonce, encrypt } = params;
    if (!verifyMsgSignature(this.#token, timestamp, nonce, encrypt, msgSignature)) {
      fail(MsgCryptCode.ValidateSignatureError, 'msg_signature does not match');
    }
    let decrypted: DecryptedMessage;
    let keyUsed: 'current' | 'previous' = 'current';
    try {
      decrypted = decryptMessage(encrypt, this.#current, this.#appId);
    } catch (err) {
      if (!this.#previous || !(err instanceof MsgCryptError) || !KEY_MISMATCH_CODES.has(err.code)) throw err;
      try {
        decrypted = decryptMessage(encrypt, this.#previous, this.#appId);
        keyUsed = 'previous';
      } catch {
        throw err; // the current key's failure is the one worth reporting
      }
    }
    try {
      return { message: utf8.decode(decrypted.message), keyUsed };
    } catch {
      fail(MsgCryptCode.IllegalBuffer, 'decrypted message is not valid UTF-8');
    }
  }

  /** Encrypts and signs (emulator pushes, passive replies); replies should use whichever key `open` reported. */
  seal(
    message: string,
    timestamp: string,
    nonce: string,
    opts: { random16?: Buffer; key?: 'current' | 'previous' } = {},
  ): { encrypt: string; msgSignature: string } {
    const key = opts.key === 'previous' ? this.#previous : this.#current;
    if (!key) fail(MsgCryptCode.IllegalAesKey, 'no previous EncodingAESKey configured');
    const encrypt = encryptMessage(message, key, this.#appId, opts.random16);
    return { encrypt, msgSignature: computeMsgSignature(this.#token, timestamp, nonce, encrypt) };
  }
}

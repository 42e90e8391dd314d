import { AppIdMismatchError, InvalidPushError, InvalidSignatureError } from '../errors';
import { MsgCryptCode, MsgCryptError, type MsgCrypt, type PushParams } from '../wechat/crypto';

/**
 * Opens WeChat's ciphertext (the signature first, then decryption: MsgCrypt.open) for the push and the message
 * URL alike, each crypt failure as the service's error of its kind: a wrong msg_signature is 401, a ciphertext
 * for another component appid 400 `appid_mismatch`, anything else 400 `invalid_push` with the crypt code.
 * `what` names the request in that last message ("push", "message").
 */
export function openEncrypted(
  crypt: MsgCrypt,
  params: PushParams,
  what: 'push' | 'message',
): ReturnType<MsgCrypt['open']> {
  try {
    return crypt.open(params);
  } catch (err) {
    if (!(err instanceof MsgCryptError)) throw err;
    if (err.code === MsgCryptCode.ValidateSignatureError) throw new InvalidSignatureError();
    if (err.code === MsgCryptCode.ValidateAppidError)
      throw new AppIdMismatchError('the ciphertext is addressed to another component appid');
    throw new InvalidPushError(`cannot decrypt the ${what} (${err.message})`, err.code);
  }
}

/**
 * `npm run reencrypt`: rewrites every stored refresh token under the first key of TOKEN_ENCRYPTION_KEYS
 * (plaintext ones and ones sealed under an older key), with the service's own configuration. Per account
 * a compare-and-set: safe while the service runs (a token it rotates meanwhile is left to it), and
 * resumable (a second run finds the rewritten ones current). Prints the counts as one JSON object on
 * stdout; exit code 1 when some token cannot be decrypted with any configured key (left untouched).
 * Once every old ciphertext is rewritten, the old key can leave TOKEN_ENCRYPTION_KEYS.
 */
import { runStorageCommand } from './storage-command';

runStorageCommand(
  'reencrypt',
  async (container, config) => {
    const report = await container.reencryptRefreshTokens();
    process.stdout.write(`${JSON.stringify({ key_id: config.tokenEncryptionKeys[0]!.id, ...report })}\n`);
    return report.unreadable === 0 ? 0 : 1;
  },
  (config) =>
    config.tokenEncryptionKeys.length === 0
      ? 'TOKEN_ENCRYPTION_KEYS is not set: there is no key to encrypt under'
      : undefined,
);

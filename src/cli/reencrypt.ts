/**
 * `npm run reencrypt`: rewrites every stored refresh token under the first key of TOKEN_ENCRYPTION_KEYS
 * (plaintext ones and ones sealed under an older key), with the service's own configuration. Per account
 * a compare-and-set: safe while the service runs (a token it rotates meanwhile is left to it), and
 * resumable (a second run finds the rewritten ones current). Prints the counts as one JSON object on
 * stdout; exit code 1 when some token cannot be decrypted with any configured key (left untouched).
 * Once every old ciphertext is rewritten, the old key can leave TOKEN_ENCRYPTION_KEYS.
 */
import 'dotenv/config';
import pino from 'pino';
import { ConfigError, loadConfig } from '../config';
import { createContainer } from '../container';
import { createLogger } from '../logger';

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) process.stderr.write(`config error: ${problem}\n`);
    return 1;
  }
  if (config.tokenEncryptionKeys.length === 0) {
    process.stderr.write('reencrypt: TOKEN_ENCRYPTION_KEYS is not set: there is no key to encrypt under\n');
    return 1;
  }
  const logger = createLogger(config.logLevel, pino.destination({ dest: 2, sync: true }));
  const container = createContainer(config, { logger });
  try {
    if (!(await container.storage.waitUntilReady(5000))) {
      process.stderr.write(`reencrypt: Redis at ${new URL(config.redis.url).host} is not reachable\n`);
      return 1;
    }
    const report = await container.reencryptRefreshTokens();
    process.stdout.write(`${JSON.stringify({ key_id: config.tokenEncryptionKeys[0]!.id, ...report })}\n`);
    return report.unreadable === 0 ? 0 : 1;
  } catch (err) {
    process.stderr.write(`reencrypt: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await container.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`fatal: ${(err as Error).message}\n`);
    process.exit(1);
  },
);

/**
 * `npm run recover`: restores authorizer refresh tokens from WeChat's api_get_authorizer_list
 * after a Redis data loss (see services/recovery.ts), with the service's own configuration
 * (environment or .env). Prints the counts as one JSON object on stdout; logs go to stderr.
 * Exit code 0 when every listed account works, 1 when some still fail or the run could not
 * complete, so a job runner shows it. Safe to run while the service runs, and to run twice.
 */
import 'dotenv/config';
import pino from 'pino';
import { ConfigError, loadConfig, secretValues } from '../config';
import { createContainer } from '../container';
import { createLogger } from '../logger';
import { recoveryReportJson } from '../services/recovery';

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) process.stderr.write(`config error: ${problem}\n`);
    return 1;
  }
  const logger = createLogger(config.logLevel, pino.destination({ dest: 2, sync: true }), secretValues(config));
  // No refresher: this process only recovers, then exits.
  const container = createContainer(config, { logger });
  try {
    if (!(await container.storage.waitUntilReady(5000))) {
      process.stderr.write(`recover: Redis at ${new URL(config.redis.url).host} is not reachable\n`);
      return 1;
    }
    const report = recoveryReportJson(await container.recovery.run());
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return report.still_failing === 0 ? 0 : 1;
  } catch (err) {
    process.stderr.write(`recover: ${(err as Error).message}\n`);
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

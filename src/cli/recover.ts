/**
 * `npm run recover`: restores authorizer refresh tokens from WeChat's api_get_authorizer_list
 * after a Redis data loss (see services/recovery.ts), with the service's own configuration
 * (environment or .env). Prints the counts as one JSON object on stdout; logs go to stderr.
 * Exit code 0 when every listed account works, 1 when some still fail or the run could not
 * complete, so a job runner shows it. Safe to run while the service runs, and to run twice.
 */
import { recoveryReportJson } from '../services/recovery';
import { runStorageCommand } from './storage-command';

runStorageCommand('recover', async (container) => {
  const report = recoveryReportJson(await container.recovery.run());
  process.stdout.write(`${JSON.stringify(report)}\n`);
  return report.still_failing === 0 ? 0 : 1;
});

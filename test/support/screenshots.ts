import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where browser tests put screenshots: test/artifacts (ignored) by default, so CI never touches tracked
 * files; `UPDATE_SCREENSHOTS=1 npm run test:e2e` writes the committed ones in docs/screenshots instead.
 */
export function screenshotDir(): string {
  const dir =
    process.env.UPDATE_SCREENSHOTS === '1'
      ? join(__dirname, '..', '..', 'docs', 'screenshots')
      : join(__dirname, '..', 'artifacts');
  mkdirSync(dir, { recursive: true });
  return dir;
}

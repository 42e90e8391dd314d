import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parsePasswordHash, verifyPassword } from '../../src/password-hash';
import { collect, exitOf, ROOT } from '../support/spawn';

const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

/** `npm run console:hash-password`: the password on standard input, the hash on standard output. */
function hashCli(input: string) {
  const child = spawn(TSX, [join(ROOT, 'src/cli/console-hash-password.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const output = collect(child);
  child.stdin.end(input);
  return { child, output };
}

describe('console:hash-password', () => {
  it('prints a hash CONSOLE_USERS accepts and that verifies the password', async () => {
    const { child, output } = hashCli('a long enough password\n');
    expect(await exitOf(child, 30_000)).toBe(0);
    const hash = parsePasswordHash(output.stdout().trim());
    expect(hash).toBeDefined();
    expect(await verifyPassword('a long enough password', hash!)).toBe(true);
    expect(output.stdout()).not.toContain('a long enough password');
  });

  it('refuses a short password', async () => {
    const { child, output } = hashCli('short\n');
    expect(await exitOf(child, 30_000)).toBe(1);
    expect(output.stderr()).toContain('at least 12 characters');
    expect(output.stdout()).toBe('');
  });
});

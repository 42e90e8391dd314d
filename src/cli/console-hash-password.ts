/**
 * `npm run console:hash-password`: prints the scrypt hash of a console password, for
 * CONSOLE_USERS=name:hash. Reads the password from standard input (a pipe, or typed: not echoed),
 * never from the command line, where it would land in the shell history and the process list.
 */
import { hashPassword } from '../password-hash';

async function readPassword(): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  process.stderr.write('password (not shown): ');
  stdin.setRawMode(true);
  stdin.resume();
  let typed = '';
  return new Promise((resolve, reject) => {
    stdin.on('data', (data: Buffer) => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          stdin.setRawMode(false);
          stdin.pause();
          process.stderr.write('\n');
          return resolve(typed);
        }
        if (ch === '\u0003') {
          stdin.setRawMode(false);
          return reject(new Error('cancelled'));
        }
        if (ch === '\u007f') typed = typed.slice(0, -1);
        else typed += ch;
      }
    });
  });
}

async function main(): Promise<void> {
  const password = await readPassword();
  if (password.length < 12) {
    console.error('console:hash-password: use at least 12 characters');
    process.exit(1);
  }
  console.log(await hashPassword(password));
}

main().catch((err: unknown) => {
  console.error(`console:hash-password: ${(err as Error).message}`);
  process.exit(1);
});

import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './eventually';
import { collect, ROOT, spawnGroup, stopGroup } from './spawn';

/** `npm run sandbox` (src/sandbox/run-sandbox.ts) as a child process leading its own process group. */
export interface SandboxProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once the banner is printed; fails with the output when the process exits first. */
  started(): Promise<SandboxBanner>;
  /** SIGINT to the group (Ctrl+C in a terminal) and the exit code; SIGKILL if it hangs. */
  stop(): Promise<number | null>;
}

export interface SandboxBanner {
  readonly authorizeUrl: string;
  readonly emulatorUrl: string;
  readonly readyzUrl: string;
  /** The `export …` line it prints for the docs' commands. */
  readonly exportLine: string;
  readonly variables: Record<string, string>;
}

/** A PATH on which node is found but redis-server is not (the sandbox then runs on in-memory stores). */
export function pathWithoutRedis(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wxopen-no-redis-path-'));
  mkdirSync(join(dir, 'bin'));
  symlinkSync(process.execPath, join(dir, 'bin', 'node'));
  return join(dir, 'bin');
}

export function startSandboxProcess(env: Record<string, string>, options: { cwd?: string } = {}): SandboxProcess {
  // tsx's loader inside the one node process (no tsx wrapper relaying signals): Ctrl+C reaches the sandbox itself,
  // as it does for `npm run sandbox`'s `node dist/…`. Through the wrapper, a slow child under load was killed (130).
  const child = spawnGroup(
    process.execPath,
    [
      '--import',
      join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs'),
      join(ROOT, 'src', 'sandbox', 'run-sandbox.ts'),
    ],
    {
      cwd: options.cwd ?? ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'info', ...env },
    },
  );
  const output = collect(child);
  const line = (label: string): string | undefined =>
    new RegExp(`^\\s*${label}\\s+(\\S+)\\s*$`, 'm').exec(output.stdout())?.[1];
  return {
    child,
    stdout: output.stdout,
    stderr: output.stderr,
    async started() {
      return eventually(
        () => {
          if (child.exitCode !== null)
            throw new Error(`the sandbox exited ${child.exitCode}:\n${output.stdout()}\n${output.stderr()}`);
          const exportLine = /^\s*(export .+)$/m.exec(output.stdout())?.[1];
          const authorizeUrl = line('Authorize an account:');
          const emulatorUrl = line('Emulator console:');
          const readyzUrl = line('Readiness:');
          if (!exportLine || !authorizeUrl || !emulatorUrl || !readyzUrl) return undefined;
          const variables = Object.fromEntries(
            exportLine
              .replace(/^export /, '')
              .split(' ')
              .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
          );
          return { authorizeUrl, emulatorUrl: emulatorUrl.replace(/\/$/, ''), readyzUrl, exportLine, variables };
        },
        { timeoutMs: 60_000, intervalMs: 100, what: 'the sandbox banner' },
      );
    },
    stop: () => stopGroup(child, 'SIGINT'),
  };
}

/** The admin's clicks, over HTTP, starting from the printed URL: our page → WeChat's page → confirm → our result page. */
export async function authorizeThroughPages(
  authorizeUrl: string,
): Promise<{ appid: string; resultPage: string; redirect: URL }> {
  const page = await fetch(authorizeUrl);
  if (page.status !== 200) throw new Error(`GET ${authorizeUrl}: ${page.status}`);
  const action = /<form method="get" action="([^"]+)"/.exec(await page.text())?.[1];
  const hop = await fetch(new URL(`${action}?auth_type=3`, authorizeUrl), { redirect: 'manual' });
  const wechatUrl = hop.headers.get('location');
  if (hop.status !== 302 || !wechatUrl) throw new Error(`GET /auth: ${hop.status}`);
  const wechatPage = await (await fetch(wechatUrl, { headers: { Referer: authorizeUrl } })).text();
  const session = /name="session" value="([^"]+)"/.exec(wechatPage)?.[1] ?? '';
  const appid = /data-account="([^"]+)"/.exec(wechatPage)?.[1] ?? '';
  const confirmed = await fetch(new URL('/cgi-bin/componentloginpage/confirm', wechatUrl), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ session, appid }).toString(),
    redirect: 'manual',
  });
  const redirect = new URL(confirmed.headers.get('location') ?? '');
  const result = await fetch(redirect);
  if (result.status !== 200) throw new Error(`GET ${redirect.href}: ${result.status} ${await result.text()}`);
  return { appid, resultPage: await result.text(), redirect };
}

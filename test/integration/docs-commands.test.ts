import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../support/global-setup';
import { fencedBlocks } from '../support/markdown';
import { authorizeThroughPages, startSandboxProcess, type SandboxProcess } from '../support/sandbox-process';
import { eventually } from '../support/eventually';
import { collect, ROOT, spawnGroup, spawnTs, stopGroup } from '../support/spawn';

/**
 * Issue 11 item 6: the docs' commands run as written. Every fenced `sh` block of docs/sandbox.md and
 * docs/redis-keys.md (and the Node examples of redis-keys.md) is taken from the markdown and executed against an
 * emulator or a sandbox this test started; nothing here restates a command.
 */
const run = promisify(execFile);
const BASE_ENV = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8' };

/**
 * Runs blocks in one bash session, each after a separator line, and returns each block's output.
 * curl fails on an HTTP error status (the docs' commands must all succeed); `set -euo pipefail` stops at the first failure.
 */
async function runBlocks(blocks: string[], env: Record<string, string>, cwd: string, prelude = ''): Promise<string[]> {
  const script = [
    'set -euo pipefail',
    'curl() { command curl --fail-with-body "$@"; }',
    prelude,
    // The docs' curl answers end without a newline: the separator starts a line of its own.
    ...blocks.map((code, i) => `printf '\\n:::block ${i}:::\\n'\n${code}`),
  ].join('\n');
  try {
    const { stdout } = await run('bash', ['-c', script], {
      cwd,
      env: { ...BASE_ENV, ...env },
      maxBuffer: 16 * 1024 * 1024,
      timeout: 60_000,
    });
    return stdout.split(/^:::block \d+:::\n/m).slice(1);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`doc commands failed: ${e.message}\n--- stdout\n${e.stdout}\n--- stderr\n${e.stderr}`, {
      cause: err,
    });
  }
}

let built = false;
async function runToCompletion(line: string): Promise<void> {
  await run('bash', ['-c', line], { cwd: ROOT, env: BASE_ENV, timeout: 240_000 });
  if (/^npm run build\b/.test(line)) built = true;
}

/** The JSON objects printed one after the other (curl answers carry no trailing newline). */
function jsonValues(text: string): Array<Record<string, unknown>> {
  const values: Array<Record<string, unknown>> = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' && depth++ === 0) start = i;
    else if (c === '}' && --depth === 0) values.push(JSON.parse(text.slice(start, i + 1)) as Record<string, unknown>);
  }
  return values;
}

async function emulatorCall(base: string, path: string): Promise<unknown> {
  const res = await fetch(`${base}${path}`);
  return res.json();
}

describe('docs/sandbox.md', () => {
  const blocks = fencedBlocks('docs/sandbox.md', 'sh');

  it('the standalone block: builds, then every line starts an emulator that listens where it says', async () => {
    const block = blocks.find((b) => b.marker?.startsWith('doc-test: the first line runs to completion'));
    expect(block).toBeDefined();
    const [build, ...servers] = block!.code.trim().split('\n');
    expect(servers.length).toBeGreaterThan(0);
    await runToCompletion(build!);
    for (const line of servers) {
      const port = await freePort();
      const child = spawnGroup('bash', ['-c', line], {
        cwd: ROOT,
        env: { ...BASE_ENV, SANDBOX_PORT: String(port), PORT: String(await freePort()) },
      });
      const output = collect(child);
      try {
        await eventually(() => output.stdout().includes(`WeChat emulator listening on http://127.0.0.1:${port}`), {
          timeoutMs: 60_000,
          what: `"${line}" to listen on ${port} (stderr: ${output.stderr()})`,
        });
        expect(((await emulatorCall(`http://127.0.0.1:${port}`, '/sandbox/clock')) as { manual: boolean }).manual).toBe(
          true,
        );
      } finally {
        // Ctrl+C as a terminal sends it: to the whole group (bash, and npx/tsx/node where the line has them).
        await stopGroup(child, 'SIGINT');
      }
      await expect(fetch(`http://127.0.0.1:${port}/sandbox/clock`)).rejects.toThrow();
    }
  }, 300_000);

  it('the walkthrough and the control API examples run against a standalone emulator, and step 6 exchanges and refreshes', async () => {
    const port = await freePort();
    const emulator = spawnTs('src/sandbox/cli.ts', { SANDBOX_PORT: String(port) });
    const output = collect(emulator);
    const B = `http://127.0.0.1:${port}`;
    try {
      await eventually(() => output.stdout().includes(`listening on ${B}`), {
        timeoutMs: 60_000,
        what: 'the emulator',
      });
      const runnable = blocks.filter((b) => b.marker === undefined).map((b) => b.code);
      const cwd = mkdtempSync(join(tmpdir(), 'wxopen-doc-sandbox-'));
      const outputs = await runBlocks(runnable, { B, PORT: String(await freePort()) }, cwd);
      const walkthrough = outputs[runnable.findIndex((code) => code.includes('# 6. Exchange the code'))]!;
      expect(walkthrough).toMatch(/[?&]auth_code=queryauthcode%40%40%40[\w-]+&expires_in=600/);
      expect(walkthrough).toContain('"wx3c5a7e19b2d40f81"');
      expect(walkthrough).not.toMatch(/"errcode":\s*[1-9-]/);
      // api_authorizer_token's own answer (a line of its own), made with the refresh token step 6 extracted.
      expect(walkthrough).toMatch(
        /\{"authorizer_access_token":"[^"]+","expires_in":7200,"authorizer_refresh_token":"refreshtoken@@@/,
      );
    } finally {
      await stopGroup(emulator, 'SIGINT');
    }
  }, 120_000);
});

describe('docs/redis-keys.md against `npm run sandbox`', () => {
  const A = 'wx3c5a7e19b2d40f81';
  let sandbox: SandboxProcess;
  let exportLine: string;
  let variables: Record<string, string>;
  let emulatorUrl: string;
  const tokenStatus = async (token: string) =>
    ((await emulatorCall(emulatorUrl, `/sandbox/tokens/${encodeURIComponent(token)}`)) as { status: string }).status;

  beforeAll(async () => {
    sandbox = startSandboxProcess({ PORT: String(await freePort()) });
    const banner = await sandbox.started();
    ({ exportLine, variables, emulatorUrl } = banner);
    const { appid } = await authorizeThroughPages(banner.authorizeUrl);
    expect(appid).toBe(A); // the page's first demo account, which the doc's examples name
  }, 120_000);
  afterAll(() => sandbox.stop());

  it("its shell blocks run as written after the sandbox's export line (redis-cli and the internal API)", async () => {
    const blocks = fencedBlocks('docs/redis-keys.md', 'sh').map((b) => b.code);
    const outputs = await runBlocks(blocks, {}, mkdtempSync(join(tmpdir(), 'wxopen-doc-keys-')), exportLine);
    const cli = outputs[blocks.findIndex((code) => code.includes('redis-cli -u'))]!.trim().split('\n');
    const [componentToken, authorizerToken, ttl, status, ...rest] = cli;
    expect(await tokenStatus(componentToken!)).toBe('valid');
    expect(await tokenStatus(authorizerToken!)).toBe('valid');
    expect(Number(ttl)).toBeGreaterThan(7000);
    expect(Number(ttl)).toBeLessThanOrEqual(7200);
    expect(status).toBe('authorized');
    expect(rest).toEqual([]);

    const api = jsonValues(outputs[blocks.findIndex((code) => code.includes('/internal/component-access-token'))]!);
    expect(api).toHaveLength(4);
    const [component, list, token, invalidate] = api;
    expect(component!.component_access_token).toBe(componentToken);
    expect((list!.authorizers as Array<{ authorizer_appid: string }>).map((a) => a.authorizer_appid)).toEqual([A]);
    expect(token!.authorizer_access_token).toBe(authorizerToken);
    // A token that is not the current one changes nothing: the current one comes back.
    expect(invalidate!.authorizer_access_token).toBe(authorizerToken);
  }, 90_000);

  it("its Node examples type-check and run in another package that imports 'wxopen-auth/client'", async () => {
    if (!built) await runToCompletion('npm run build');
    const project = mkdtempSync(join(tmpdir(), 'wxopen-doc-consumer-'));
    mkdirSync(join(project, 'node_modules', '@types'), { recursive: true });
    symlinkSync(ROOT, join(project, 'node_modules', 'wxopen-auth'));
    symlinkSync(join(ROOT, 'node_modules', 'ioredis'), join(project, 'node_modules', 'ioredis'));
    symlinkSync(join(ROOT, 'node_modules', '@types', 'node'), join(project, 'node_modules', '@types', 'node'));
    const examples = fencedBlocks('docs/redis-keys.md', 'ts');
    expect(examples.length).toBe(2);
    const files = examples.map((b, i) => {
      const file = `example-${i}.mts`;
      writeFileSync(join(project, file), b.code);
      return file;
    });
    await run(
      join(ROOT, 'node_modules', '.bin', 'tsc'),
      [
        '--noEmit',
        '--strict',
        '--target',
        'es2022',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--types',
        'node',
        ...files,
      ],
      {
        cwd: project,
        env: BASE_ENV,
      },
    ).catch((err: { stdout?: string; message: string }) => {
      throw new Error(`the docs' Node examples do not type-check: ${err.message}\n${err.stdout}`);
    });

    const env = { ...BASE_ENV, ...variables };
    const tsx = join(ROOT, 'node_modules', '.bin', 'tsx');
    const reader = JSON.parse((await run(tsx, [files[0]!], { cwd: project, env, timeout: 30_000 })).stdout.trim()) as {
      token: string;
      replacement: string;
    };
    expect(reader.replacement).not.toBe(reader.token);
    expect(await tokenStatus(reader.replacement)).toBe('valid');
    const plainGet = (await run(tsx, [files[1]!], { cwd: project, env, timeout: 30_000 })).stdout.trim();
    expect(plainGet).toBe(reader.replacement);
  }, 300_000);

  it("docs/messages.md's shell blocks run as written: a message consumed from P:messages, the release test passing", async () => {
    const blocks = fencedBlocks('docs/messages.md', 'sh').map((b) => b.code);
    expect(blocks).toHaveLength(2);
    const [consumer, releaseTest] = await runBlocks(
      blocks,
      {},
      mkdtempSync(join(tmpdir(), 'wxopen-doc-messages-')),
      exportLine,
    );
    const lines = consumer!.trim().split('\n');
    // curl's answer has no trailing newline: XGROUP CREATE's OK follows it on the same line.
    expect(lines[0]).toMatch(/"status":200,"body":"success".*\}OK$/);
    expect(lines).toContain(`${variables.P}:messages`); // XREADGROUP's stream name
    expect(lines).toContain(A);
    expect(consumer).toContain('你好');
    expect(lines.at(-1)).toBe('1'); // XACK acknowledged the entry
    const [report] = jsonValues(releaseTest!);
    expect(report).toMatchObject({ group: 1, passed: true });
  }, 120_000);
});

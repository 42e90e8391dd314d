import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/**
 * The layering of the design (routes → services → wechat/ and store/; src/ never imports test/ or bench/), as
 * `npm run lint` enforces it: the repository's own eslint.config.mjs, on snippets linted as if they were files of
 * the tree (test/support/lint-snippets.mjs).
 */
const ROOT = path.resolve(__dirname, '../..');
const importing = (from: string) => `import { thing } from '${from}';\nexport const used = thing;\n`;

const REFUSED: Array<[file: string, from: string, message: RegExp]> = [
  ['src/wechat/x.ts', '../services/token-service', /wechat\/ and store\/ .* never import services\/ or routes\//],
  ['src/wechat/x.ts', '../routes/auth-push', /never import services\/ or routes\//],
  ['src/store/x.ts', '../services/push-service', /never import services\/ or routes\//],
  ['src/store/memory/x.ts', '../../routes/internal', /never import services\/ or routes\//],
  ['src/services/x.ts', '../routes/authorize', /services\/ never import routes\//],
  ['src/x.ts', '../test/support/redis', /src\/ is shipped: it never imports test\/ or bench\//],
  ['src/services/x.ts', '../../bench/lib/seed', /never imports test\/ or bench\//],
  ['src/wechat/x.ts', '../../test/support/push', /never imports test\/ or bench\//],
];
const ALLOWED: Array<[file: string, from: string]> = [
  ['src/routes/x.ts', '../services/push-service'],
  ['src/services/x.ts', '../wechat/crypto'],
  ['src/services/x.ts', '../store/keys'],
  ['src/wechat/x.ts', './crypto'],
  ['src/store/x.ts', '../wechat/crypto'],
  ['test/unit/x.test.ts', '../../src/services/push-service'],
];

/** One way to run Lua: a raw EVAL/EVALSHA in src/ is refused, runScript (defineCommand) is the way. */
const rawLua = (call: string) => `export const run = (r: any) => r.${call};\n`;
const LUA: Array<[file: string, call: string, refused: boolean]> = [
  ['src/store/x.ts', "eval('return 1', 0)", true],
  ['src/services/x.ts', "evalsha('abc', 0)", true],
  ['src/store/x.ts', "wxLockRelease('k', 'owner')", false],
];

let child: ChildProcess | undefined;
let results: string[][] = [];

beforeAll(async () => {
  const snippets = [
    ...[...REFUSED, ...ALLOWED].map(([file, from]) => ({ filePath: path.join(ROOT, file), code: importing(from) })),
    ...LUA.map(([file, call]) => ({ filePath: path.join(ROOT, file), code: rawLua(call) })),
  ];
  // Its own process group, killed in afterAll if it is still running.
  const proc = spawn(process.execPath, [path.join(ROOT, 'test/support/lint-snippets.mjs')], {
    cwd: ROOT,
    detached: true,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  child = proc;
  let out = '';
  proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve, reject) => {
    proc.once('error', reject);
    proc.once('close', resolve);
    proc.stdin.end(JSON.stringify(snippets));
  });
  child = undefined;
  expect(code).toBe(0);
  results = JSON.parse(out) as string[][];
}, 60_000);

afterAll(() => {
  if (child?.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
});

describe('lint: the layering rule', () => {
  it.each(REFUSED.map((row, i) => [...row, i] as const))('refuses %s importing %s', (_file, _from, message, i) => {
    const errors = results[i];
    expect(errors).toHaveLength(1);
    expect(errors?.[0]).toMatch(/^no-restricted-imports: /);
    expect(errors?.[0]).toMatch(message);
  });

  it.each(ALLOWED.map((row, i) => [...row, REFUSED.length + i] as const))('lets %s import %s', (_file, _from, i) => {
    expect(results[i]).toEqual([]);
  });
});

describe('lint: Lua only through defineCommand', () => {
  const offset = REFUSED.length + ALLOWED.length;
  it.each(LUA.map((row, i) => [...row, offset + i] as const))(
    '%s calling r.%s: refused %s',
    (_file, _call, refused, i) => {
      const restricted = (results[i] ?? []).filter((m) => m.startsWith('no-restricted-syntax: '));
      if (refused) expect(restricted).toEqual([expect.stringMatching(/defineScripts\/runScript/)]);
      else expect(restricted).toEqual([]);
    },
  );
});

/**
 * Server processes run as plain JavaScript, as in production (`node dist/main.js`), not through a TypeScript
 * loader: tsx's `--import` hooks run a second V8 isolate in the process (about +50 MB of RSS) and sit in the
 * module loader. Before a run, src/** and bench/{servers,workers}/** are transpiled (TypeScript's
 * transpileModule, no type check — `npm run typecheck` does that) into node_modules/.cache/wxopen-bench, where
 * `require` still finds the project's node_modules.
 */
import {
  copyFileSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  readFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { ROOT } from './common';

export const BUILD_DIR = join(ROOT, 'node_modules', '.cache', 'wxopen-bench');
const SOURCES = ['src', 'bench/servers', 'bench/workers'];

function* tsFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* tsFiles(path);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) yield path;
  }
}

/** JSON files the sources `require` (the i18n catalogues), copied as they are. */
function* jsonFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* jsonFiles(path);
    else if (name.endsWith('.json')) yield path;
  }
}

/** Transpiles the server sources; returns how many files. */
export function buildServers(): number {
  rmSync(BUILD_DIR, { recursive: true, force: true });
  let count = 0;
  for (const source of SOURCES) {
    for (const file of tsFiles(join(ROOT, source))) {
      const out = join(BUILD_DIR, relative(ROOT, file)).replace(/\.ts$/, '.js');
      const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
        fileName: file,
        compilerOptions: {
          module: ts.ModuleKind.CommonJS,
          target: ts.ScriptTarget.ES2022,
          esModuleInterop: true,
          sourceMap: false,
        },
      });
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, outputText);
      count++;
    }
    for (const file of jsonFiles(join(ROOT, source))) {
      const out = join(BUILD_DIR, relative(ROOT, file));
      mkdirSync(dirname(out), { recursive: true });
      copyFileSync(file, out);
    }
  }
  // src/views.ts finds its templates at `${__dirname}/../views`.
  symlinkSync(join(ROOT, 'views'), join(BUILD_DIR, 'views'), 'dir');
  // The favicon and the console's script (src/routes/pages.ts serves `${__dirname}/../../public`).
  symlinkSync(join(ROOT, 'public'), join(BUILD_DIR, 'public'), 'dir');
  return count;
}

/** `src/main.ts` → the transpiled file to run. */
export function builtEntry(entry: string): string {
  return join(BUILD_DIR, entry.replace(/\.ts$/, '.js'));
}

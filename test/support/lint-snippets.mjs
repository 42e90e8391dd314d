// Lints snippets as if they were files of the tree, with the repository's eslint.config.mjs. Reads
// [{ filePath, code }] as JSON on stdin, writes one array of "ruleId: message" strings per snippet as JSON on stdout.
// A process of its own because ESLint loads its config with import(), which jest's module runtime refuses.
// Type information is off for the snippets (they are not files of tsconfig.json); the layering rule needs none.
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const eslint = new ESLint({
  cwd: process.cwd(),
  overrideConfig: { files: ['**/*.ts'], ...tseslint.configs.disableTypeChecked },
});
const out = [];
for (const { filePath, code } of JSON.parse(input)) {
  const [result] = await eslint.lintText(code, { filePath });
  out.push((result?.messages ?? []).map((m) => `${m.ruleId ?? 'fatal'}: ${m.message}`));
}
process.stdout.write(JSON.stringify(out));

import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

// The design's layering (docs: routes → services → wechat/ and store/, never upward), enforced per folder. Imports in
// src/ are relative, so a pattern is "one or more ../ then the forbidden top-level folder of src/ (or of the repo)".
const upward = (folders, message) => ({ regex: `^(\\.\\./)+(${folders.join('|')})(/|$)`, message });
const toolsOnly = upward(['test', 'bench'], 'src/ is shipped: it never imports test/ or bench/.');

export default tseslint.config(
  { ignores: ['dist/**', 'coverage/**', 'node_modules/**', 'test/artifacts/**', 'bench/results/**'] },
  js.configs.recommended,
  // The syntactic rules on every file (JS included), the type-aware ones below on TypeScript only.
  ...tseslint.configs.recommended,
  // Type-aware rules (floating and misused promises, unsafe any, unbound methods) on every TypeScript file; all of
  // them are in tsconfig.json's include, so the project service finds each one's program.
  ...tseslint.configs.recommendedTypeChecked.map((config) => ({ ...config, files: ['**/*.ts'] })),
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // A caught error (`unknown`) may be passed on by reject(err) as by `throw err`, which only-throw-error allows.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // The rule's default lets Error, URL and URLSearchParams (which stringify to what a template means) into
      // templates when they come from the DOM lib; here, without the DOM lib, they are @types/node's.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        {
          allow: [
            { from: 'lib', name: ['Error', 'URL', 'URLSearchParams'] },
            { from: 'package', package: '@types/node', name: ['URL', 'URLSearchParams'] },
          ],
        },
      ],
    },
  },
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        __dirname: 'readonly',
        module: 'writable',
        require: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
        AbortSignal: 'readonly',
        AbortController: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['warn', 'error'] }],
    },
  },
  {
    // The console's one browser script (served as is, no build step).
    files: ['public/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: { document: 'readonly', navigator: 'readonly', Element: 'readonly' },
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // Plain JS is outside tsconfig.json: no type information to check it with.
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs', 'public/**'], ...tseslint.configs.disableTypeChecked },
  {
    // CLIs and benchmark scripts print tables and URLs for people.
    files: ['bench/**', 'src/sandbox/main.ts', 'src/cli/**', 'test/**'],
    rules: { 'no-console': 'off' },
  },
  {
    // In-memory stand-ins for the Redis stores: `async` without `await` is their contract, so that a throw reaches the
    // caller as a rejection, as it does from the Redis store the memory one replaces.
    files: ['src/store/memory/**/*.ts'],
    rules: { '@typescript-eslint/require-await': 'off' },
  },
  {
    // Tests read what they assert on from values their libraries type as `any`: supertest's `res.body`, JSON.parse,
    // jest's asymmetric matchers (expect.any, expect.objectContaining), page functions run in the browser (no DOM
    // lib here). Typing each read would restate the expectation next to it.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // One way to run Lua (issue 13): ioredis defineCommand through src/store/lua-script.ts, never EVAL/EVALSHA by hand.
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'CallExpression[callee.property.name=/^(eval|evalsha|evalRo|evalshaRo)$/i]',
          message: 'Run Lua through defineScripts/runScript (src/store/lua-script.ts): EVALSHA with NOSCRIPT fallback.',
        },
      ],
    },
  },
  // Layering. Each block names every pattern of its folder: a later block for the same file replaces the rule's options.
  {
    files: ['src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [toolsOnly] }] },
  },
  {
    files: ['src/services/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            toolsOnly,
            upward(['routes'], 'services/ never import routes/ (routes → services → wechat/, store/).'),
          ],
        },
      ],
    },
  },
  {
    files: ['src/wechat/**/*.ts', 'src/store/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            toolsOnly,
            upward(
              ['services', 'routes'],
              'wechat/ and store/ hold I/O: they never import services/ or routes/ (routes → services → wechat/, store/).',
            ),
          ],
        },
      ],
    },
  },
  // Formatting is Prettier's (npm run format:check): turn off the stylistic rules it would fight.
  prettier,
);

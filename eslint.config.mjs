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
  ...tseslint.configs.recommended,
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
  {
    // CLIs and benchmark scripts print tables and URLs for people.
    files: ['bench/**', 'src/sandbox/main.ts', 'src/cli/**', 'test/**'],
    rules: { 'no-console': 'off' },
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

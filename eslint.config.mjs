// ESLint for every room (typescript-eslint's recommended rules, without type information so it runs in seconds).
// Import boundaries between rooms are checked by test/rooms.test.ts and each room's tsconfig.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.e2e/**', 'media/**', '**/*.d.ts', 'test/fixtures/**', '.vscode-test/**', 'scratch/**', '.room-probe-*/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mts'],
    rules: {
      // Unused names are the compiler's job (noUnusedLocals / noUnusedParameters).
      '@typescript-eslint/no-unused-vars': 'off',
      // Loupe's untrusted-input code narrows `unknown` JSON by hand; `any` stays forbidden.
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'prefer-const': 'error',
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { console: 'readonly', process: 'readonly', URL: 'readonly', __dirname: 'readonly' } },
  },
);

// Type-aware lint for every workspace package. A small set on purpose: the rules that catch bugs
// the compiler does not (a promise nobody awaits or catches, an async callback where a sync one is
// expected, awaiting a non-promise). `pnpm lint:ts`; CI runs it.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // The packages' sources (tests included); configs, benches and scripts are outside this lint.
  { ignores: ['**/dist/**', '**/node_modules/**', '**/*.js', '**/*.mjs', '**/*.cjs', '**/*.config.ts', '**/bench/**', 'tools/**', 'runs/**', 'bench-results/**', 'packages/*/test/**', 'packages/*/scripts/**'] },
  {
    files: ['packages/*/src/**/*.ts', 'apps/*/src/**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
);

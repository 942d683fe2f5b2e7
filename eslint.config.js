// ESLint for the whole project: the server, tests, benchmarks, build scripts
// and the web app (TypeScript and Svelte 5), in one flat config.
//   npm run lint
// It starts from the recommended sets of @eslint/js, typescript-eslint and
// eslint-plugin-svelte; each rule chosen on top says why beside it.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import svelte from 'eslint-plugin-svelte'
import globals from 'globals'

export default tseslint.config(
  {
    // A disable comment that no longer silences anything is a stale claim about the code.
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  {
    ignores: ['dist/', '**/node_modules/', 'image/', 'appliance/', 'drizzle/', 'coverage/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    rules: {
      // An unused binding is usually a leftover or a typo; a leading _ says "unused on purpose".
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      // == coerces ('' == 0); the code compares exactly. `x == null` stays allowed for "null or undefined".
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // Haraka's own idiom: a plugin hook keeps `const plugin = this` for its callbacks.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['plugin'] }],
    },
  },
  {
    // Not for components: there `let { a } = $props()` is the Svelte way and svelte/prefer-const judges.
    files: ['**/*.ts', '**/*.js', '**/*.mjs'],
    rules: {
      // `let x` assigned once later, but read by a closure written above it
      // (a timer that its own stop() clears): const cannot express that.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // Type-aware, for the TypeScript outside components (about 40 s more on
    // two cores). A promise nobody awaits or catches loses its error: on a
    // box nobody watches, that is mail silently not delivered.
    files: ['server/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'build/**/*.ts', 'web/src/**/*.ts'],
    ignores: ['**/*.svelte.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's test() and describe() return promises the runner itself awaits.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
    },
  },
  // After the rules above, so that its own rules for components win (svelte/prefer-const knows $props).
  ...svelte.configs.recommended,
  {
    // The web app runs in the browser.
    files: ['web/src/**/*.ts', 'web/src/**/*.svelte', 'web/src/**/*.svelte.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // Svelte components and rune modules: the TypeScript parser inside <script lang="ts">.
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] } },
  },
)

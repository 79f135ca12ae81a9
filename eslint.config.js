// @ts-check
/**
 * Lint configuration (`npm run lint`, part of `npm test`): typescript-eslint's recommended rules,
 * syntax only (no type information, so it stays fast), over the gateway, the adapters, the tests,
 * the benchmarks and the scripts. `kernels/` is AssemblyScript, compiled by its own compiler.
 */
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'data/**', '.tmp/**', 'bench/results/**', 'test/interop/vendor/**', 'kernels/**', '**/*.wasm.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        Buffer: 'readonly',
        URL: 'readonly',
        clearInterval: 'readonly',
        clearTimeout: 'readonly',
        console: 'readonly',
        process: 'readonly',
        setImmediate: 'readonly',
        setInterval: 'readonly',
        setTimeout: 'readonly',
      },
    },
    rules: {
      // Handlers keep the parameters of the signature they implement (Express needs four).
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none', caughtErrors: 'none', ignoreRestSiblings: true, varsIgnorePattern: '^_' }],
      // A default given before a try that may overwrite it reads clearer than the rule's rewrite.
      'no-useless-assignment': 'off',
      // Tests rethrow with the caught error's stack in the message.
      'preserve-caught-error': 'off',
      // Expected outputs in tests are matched with their spaces as printed.
      'no-regex-spaces': 'off',
    },
  },
  {
    // Tests and benchmarks read untyped JSON and reach into private parts on purpose.
    files: ['test/**', 'bench/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);

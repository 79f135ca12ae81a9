// @ts-check
/**
 * Lint configuration (`npm run lint`, part of `npm test`): typescript-eslint's recommended rules,
 * syntax only (no type information, so it stays fast), over the gateway, the adapters, the
 * conformance suite, the tests, the benchmarks and the scripts, plus the import boundaries between
 * the layers of the gateway (docs/architecture.md), the independence of the conformance suite, and
 * the size of their files and functions. `kernels/` is AssemblyScript,
 * compiled by its own compiler.
 */
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** The one direction dependencies point in, quoted by every boundary message. */
const DIRECTION = 'cli -> http -> services -> {protection, deidentify, catalog, access, adapters} -> dicom -> base (errors, logger, canonical-json, config, network, keys)';

/** A relative import of the gateway folder `name` (from any depth). @param {string} name */
const folder = (name) => `(^|/)${name}/`;

/** The algorithms of the protection pipeline: private to gateway/protection/. */
const PROTECTION_INTERNALS = {
  regex: '(^|/)protection/[^/]+/',
  message: 'Only gateway/protection/ reaches into its sub-folders (segmentation/, watermark/, split/); call its entry points protect.ts and reassemble.ts, or manifest, manifest-copy and placement.',
};

/**
 * Each layer and the folders it must not import. A layer's files match exactly one entry, so each
 * gets one no-restricted-imports setting (a later setting of a rule replaces an earlier one).
 */
const LAYERS = [
  {
    files: ['gateway/errors.ts', 'gateway/logger.ts', 'gateway/canonical-json.ts', 'gateway/config.ts', 'gateway/config-backends.ts', 'gateway/config-placement.ts', 'gateway/config-oidc.ts', 'gateway/network.ts', 'gateway/keys/**'],
    what: 'The base modules (errors, logger, canonical-json, config, network, keys) import no other part of the gateway',
    forbidden: ['dicom', 'protection', 'deidentify', 'catalog', 'access', 'services', 'http', 'cli', 'adapters'],
  },
  {
    files: ['gateway/dicom/**'],
    what: 'gateway/dicom/ is the DICOM codec: it imports only the base modules',
    forbidden: ['protection', 'deidentify', 'catalog', 'access', 'services', 'http', 'cli', 'adapters'],
  },
  {
    files: ['gateway/protection/**'],
    what: 'gateway/protection/ is pure computation: no use cases, HTTP, catalog, access or storage',
    forbidden: ['services', 'http', 'catalog', 'access', 'cli', 'adapters'],
  },
  {
    files: ['gateway/deidentify/**'],
    what: 'gateway/deidentify/ works on DICOM bytes and JSON only',
    forbidden: ['services', 'http', 'catalog', 'protection', 'cli', 'adapters'],
  },
  {
    files: ['gateway/catalog/**'],
    what: 'gateway/catalog/ is the master index and its query model, below the use cases',
    forbidden: ['services', 'http', 'cli', 'protection', 'deidentify', 'adapters'],
  },
  {
    files: ['gateway/access/**'],
    what: 'gateway/access/ (authentication, policy, audit) sits below the use cases',
    forbidden: ['services', 'http', 'cli', 'protection', 'deidentify', 'adapters'],
  },
  {
    files: ['adapters/**'],
    what: 'Adapters know nothing of the gateway: they implement adapters/fragment-store.ts and throw FragmentStoreError',
    forbidden: ['gateway'],
  },
  {
    files: ['conformance/**'],
    what: 'conformance/ is a black-box client of any DICOMweb server: it imports nothing of the gateway or the adapters',
    forbidden: ['gateway', 'adapters'],
  },
  {
    files: ['gateway/services/**'],
    what: 'gateway/services/ holds the use cases: HTTP and the command line call them, never the reverse',
    forbidden: ['http', 'cli'],
    extra: [PROTECTION_INTERNALS],
  },
  {
    files: ['gateway/http/**'],
    what: 'gateway/http/ is called by the command line, never the reverse',
    forbidden: ['cli'],
    extra: [PROTECTION_INTERNALS],
  },
  {
    files: ['gateway/cli/**'],
    what: 'gateway/cli/ is the top layer',
    forbidden: [],
    extra: [PROTECTION_INTERNALS],
  },
];

const boundaries = LAYERS.map(({ files, what, forbidden, extra = [] }) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [...forbidden.map((name) => ({ regex: folder(name), message: `${what}; it must not import ${name}/. Dependencies point one way: ${DIRECTION}.` })), ...extra],
      },
    ],
  },
}));

export default defineConfig(
  { ignores: ['node_modules/**', 'dist/**', 'data/**', '.tmp/**', 'bench/results/**', 'test/interop/vendor/**', 'test/interop/ipfs-daemon/**', 'kernels/**', '**/*.wasm.ts'] },
  js.configs.recommended,
  tseslint.configs.recommended,
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
  ...boundaries,
  {
    // Small modules with one job (docs/architecture.md): every file under 400 lines, no function
    // over 80. Generated tables are exempt: the transcription of PS3.15 Table E.1-1 (and the pixel
    // kernels' WebAssembly module, ignored above; the data dictionary is JSON).
    files: ['gateway/**', 'adapters/**', 'conformance/**'],
    ignores: ['gateway/deidentify/annex-e-table.ts'],
    rules: {
      'max-lines': ['error', { max: 399 }],
      'max-lines-per-function': ['error', { max: 80 }],
    },
  },
  {
    // A dynamic import() of the project's own modules would slip past the boundaries above: only the
    // command line, and the adapter registry (adapters of its own layer, loaded on a store's first
    // call), load them lazily. Packages may be loaded on first use (large ones a gateway may never need).
    files: ['gateway/**', 'adapters/**'],
    ignores: ['gateway/cli/**', 'adapters/registry.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: "ImportExpression[source.type!='Literal']", message: 'Import statically (only gateway/cli/ loads modules lazily), so that the layer boundaries can be checked.' },
        { selector: 'ImportExpression[source.value=/^[.]/]', message: 'Import statically (only gateway/cli/ loads modules lazily), so that the layer boundaries can be checked.' },
      ],
    },
  },
);

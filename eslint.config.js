import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettierConfig from 'eslint-config-prettier';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

/**
 * The layers (docs/architecture.md). An import may point down the order, or sideways into a module
 * beside the layers; never up. Tests under test/<layer>/ belong to src/<layer>'s layer.
 */
const ORDERED_LAYERS = ['pattern', 'generate', 'rules', 'engine', 'pipeline', 'testing'];
/** Importable by every layer; they import no layer (each other is fine). */
const BESIDE = ['state', 'queue', 'normalise', 'util', 'stix', 'emulators', 'ingest', 'outputs'];
/** Shells run the layers: src/local runs the Lambda handlers in functions/ (the design's one shell-to-shell arrow). */
const SHELLS = {
  'src/cli': [],
  'src/local': ['functions'],
  functions: [],
  infra: [],
};
/**
 * On top: the package's public face, the benches, the scripts and the shell-level tests, which may import
 * any layer and any shell (an end-to-end test starts the local stack and calls the handlers). Nothing else
 * imports them.
 */
const TOP = [
  'src/index.ts',
  'bench',
  'scripts',
  'test/e2e',
  'test/cli',
  'test/functions',
  'test/local',
  'test/infra',
  'test/package',
  'test/lint',
  'test/browser',
];

/**
 * The normalisation tests check the normaliser's output through the real pattern matcher (a mapping is
 * right when the patterns written for the source fire on it), so test/normalise may import src/pattern.
 */
const BESIDE_TEST_READS = { 'test/normalise': 'pattern' };
const BESIDE_MESSAGE = `${BESIDE.join(', ')} and src/errors.ts sit beside the layers: they import none of them (see docs/architecture.md).`;

const ORDER = `${ORDERED_LAYERS.join(' ← ')} ← shells`;
const layerDirs = (layer) => [`src/${layer}`, `test/${layer}`];
const aboveAllLayers = [...Object.keys(SHELLS), ...TOP];

/** The zones of import-x/no-restricted-paths: files in `target` may not import files in `from`. */
/**
 * The console (src/console/app) runs in the browser and talks only HTTP: it imports no layer, no module beside
 * them and no shell. The shells may import its builder (src/console/build.ts), which bundles it.
 */
const CONSOLE_APP = 'src/console/app';

const LAYER_ZONES = [
  {
    target: CONSOLE_APP,
    from: [...ORDERED_LAYERS, ...BESIDE]
      .map((dir) => `src/${dir}`)
      .concat(['src/errors.ts', 'src/console/build.ts', ...aboveAllLayers]),
    message:
      'The console (src/console/app) talks only HTTP: it imports nothing of the server side (see docs/console.md).',
  },
  ...ORDERED_LAYERS.map((layer, i) => ({
    target: layerDirs(layer),
    from: [...ORDERED_LAYERS.slice(i + 1).flatMap(layerDirs), ...aboveAllLayers],
    message: `Layer "${layer}" may import only the layers below it and the modules beside them (${ORDER}; see docs/architecture.md).`,
  })),
  {
    target: [...BESIDE.flatMap(layerDirs).filter((dir) => !BESIDE_TEST_READS[dir]), 'src/errors.ts'],
    from: [...ORDERED_LAYERS.flatMap(layerDirs), ...aboveAllLayers],
    message: BESIDE_MESSAGE,
  },
  ...Object.entries(BESIDE_TEST_READS).map(([testDir, layer]) => ({
    target: testDir,
    from: [...ORDERED_LAYERS.filter((other) => other !== layer).flatMap(layerDirs), `test/${layer}`, ...aboveAllLayers],
    message: `${BESIDE_MESSAGE} ${testDir} may read src/${layer} only.`,
  })),
  ...Object.entries(SHELLS).map(([shell, allowed]) => ({
    target: shell,
    from: [...Object.keys(SHELLS).filter((other) => other !== shell && !allowed.includes(other)), ...TOP],
    message: `Shell "${shell}" may import the layers but no other shell${allowed.length > 0 ? ` except ${allowed.join(', ')}` : ''} (see docs/architecture.md).`,
  })),
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'cdk.out/**',
      'node_modules/**',
      'src/pattern/generated/**',
      'src/rules/generated/**',
      'coverage/**',
      '.scratch/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettierConfig,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['bin/**/*.js', 'scripts/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    // The TypeScript resolver maps the NodeNext `.js` specifiers onto the `.ts` sources; without it the
    // zones below would match nothing (an unresolved import is skipped, not reported).
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'tsconfig.json' })] },
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: LAYER_ZONES }],
      'import-x/no-unresolved': ['error', { ignore: ['^aws-lambda$'] }],
    },
  },
);

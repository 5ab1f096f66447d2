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
const BESIDE = ['state', 'queue', 'normalise', 'util', 'stix', 'emulators'];
/** Shells run the layers: src/local runs the Lambda handlers in functions/ (the design's one shell-to-shell arrow). */
const SHELLS = {
  'src/cli': [],
  'src/local': ['functions'],
  functions: [],
  infra: [],
};
/** The package's public face, the benches, the scripts and the shell-level tests sit on top: nothing below imports them. */
const TOP = ['src/index.ts', 'bench', 'scripts', 'test/e2e', 'test/package', 'test/lint'];
const SHELL_TESTS = { 'test/cli': 'src/cli', 'test/local': 'src/local', 'test/functions': 'functions', 'test/infra': 'infra' };

const ORDER = `${ORDERED_LAYERS.join(' ← ')} ← shells`;
const layerDirs = (layer) => [`src/${layer}`, `test/${layer}`];
const shellDirs = Object.keys(SHELLS).flatMap((shell) => [shell, ...Object.keys(SHELL_TESTS).filter((t) => SHELL_TESTS[t] === shell)]);
const aboveAllLayers = [...shellDirs, ...TOP];

const layerZones = [
  ...ORDERED_LAYERS.map((layer, i) => ({
    target: layerDirs(layer),
    from: [...ORDERED_LAYERS.slice(i + 1).flatMap(layerDirs), ...aboveAllLayers],
    message: `Layer "${layer}" may import only the layers below it and the modules beside (${ORDER}; see docs/architecture.md).`,
  })),
  {
    target: [...BESIDE.flatMap(layerDirs), 'src/errors.ts'],
    from: [...ORDERED_LAYERS.flatMap(layerDirs), ...aboveAllLayers],
    message: `${BESIDE.join(', ')} and src/errors.ts sit beside the layers: they import none of them (see docs/architecture.md).`,
  },
  ...Object.entries(SHELLS).map(([shell, allowed]) => {
    const others = Object.keys(SHELLS).filter((other) => other !== shell && !allowed.includes(other));
    const tests = Object.keys(SHELL_TESTS).filter((t) => SHELL_TESTS[t] === shell);
    return {
      target: [shell, ...tests],
      from: [...others, ...Object.keys(SHELL_TESTS).filter((t) => !tests.includes(t)), ...TOP],
      message: `Shell "${shell}" may import the layers but no other shell${allowed.length ? ` except ${allowed.join(', ')}` : ''} (see docs/architecture.md).`,
    };
  }),
];

export default tseslint.config(
  { ignores: ['dist/**', 'cdk.out/**', 'node_modules/**', 'src/pattern/generated/**', 'coverage/**'] },
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
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: layerZones }],
      'import-x/no-unresolved': ['error', { ignore: ['^aws-lambda$'] }],
    },
  },
);

/**
 * The console talks only HTTP (#17.3): the eslint layer config refuses an import of server-side code from
 * src/console/app, and leaves its own modules alone. Probe files exist only in memory (as in test/lint).
 */
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: ROOT });
});

async function layerMessages(code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}src/console/app/layer-probe.ts` });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'import-x/no-restricted-paths').map((m) => m.message);
}

describe('the console layer', () => {
  it('refuses server-side imports (engine, state, a shell, the builder) and allows its own modules', async () => {
    for (const specifier of [
      '../../engine/alert.js',
      '../../state/counters.js',
      '../../../functions/console.js',
      '../build.js',
    ])
      expect(
        await layerMessages(`import * as probe from '${specifier}';\nexport const x = probe;\n`),
        specifier,
      ).toEqual([expect.stringContaining('talks only HTTP')]);
    expect(await layerMessages(`import { h } from './dom.js';\nexport const x = h;\n`)).toEqual([]);
  }, 60_000);
});

/**
 * Issue #12, item 3: the layer order (docs/architecture.md) is enforced by `npm run lint`. The
 * project's own ESLint configuration lints probe files that exist only in memory, placed where a
 * real file would be; each case shows that a rule reports an arrow pointing up, and stays quiet on
 * a legal one (a zone whose imports fail to resolve would match nothing and report nothing).
 */
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LAYER_RULE = 'import-x/no-restricted-paths';

let eslint: ESLint;
beforeAll(async () => {
  eslint = new ESLint({ cwd: ROOT });
  // The first lint loads the configuration, the plugins and the TypeScript resolver.
  await eslint.lintText('export {};\n', { filePath: `${ROOT}test/lint/warm-up.ts` });
}, 60_000);

interface Finding {
  rule: string | null;
  line: number;
  message: string;
}

/** Lints `code` as if it were the file at `path` (relative to the repository root). */
async function lint(path: string, code: string): Promise<Finding[]> {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}${path}` });
  if (!result) throw new Error(`ESLint returned no result for ${path}`);
  return result.messages.map((m) => ({ rule: m.ruleId, line: m.line, message: m.message }));
}

const layerFindings = (findings: Finding[]): Finding[] => findings.filter((f) => f.rule === LAYER_RULE);

describe('the layer order, by lint', () => {
  it('reports a test under test/pattern that imports the engine, by a static, a type-only and a dynamic import', async () => {
    const findings = await lint(
      'test/pattern/layer-probe.test.ts',
      [
        "import { StreamingEngine } from '../../src/engine/streaming.js';",
        "import type { AlertDocument } from '../../src/engine/alert.js';",
        "export const probe = [StreamingEngine, {} as AlertDocument, import('../../src/pipeline/detector.js')];",
      ].join('\n'),
    );
    expect(layerFindings(findings).map((f) => f.line)).toEqual([1, 2, 3]);
    expect(layerFindings(findings)[0]?.message).toBe(
      'Unexpected path "../../src/engine/streaming.js" imported in restricted zone. Layer "pattern" may import only ' +
        'the layers below it and the modules beside them (pattern ← generate ← rules ← engine ← pipeline ← testing ← ' +
        'shells; see docs/architecture.md).',
    );
  });

  it('accepts a test under test/pattern that imports pattern and the modules beside it', async () => {
    const findings = await lint(
      'test/pattern/layer-probe.test.ts',
      [
        "import { compilePattern } from '../../src/pattern/compile.js';",
        "import { StixflowError } from '../../src/errors.js';",
        "import { InMemoryStateStore } from '../../src/state/memory-store.js';",
        "import { observed21 } from './fixtures.js';",
        'export const probe = [compilePattern, StixflowError, InMemoryStateStore, observed21];',
      ].join('\n'),
    );
    expect(findings).toEqual([]);
  });

  it('reports src/rules importing the engine, and accepts the engine importing rules', async () => {
    const up = await lint('src/rules/layer-probe.ts', "export { StreamingEngine } from '../engine/streaming.js';\n");
    expect(layerFindings(up).map((f) => f.message)).toEqual([expect.stringContaining('Layer "rules"')]);
    const down = await lint('src/engine/layer-probe.ts', "export { RuleIndex } from '../rules/rule-index.js';\n");
    expect(down).toEqual([]);
  });

  it('reports a module beside the layers that imports one of them', async () => {
    const findings = await lint('src/state/layer-probe.ts', "export type { Rule } from '../rules/model.js';\n");
    expect(layerFindings(findings).map((f) => f.message)).toEqual([expect.stringContaining('sit beside the layers')]);
  });

  it('lets src/local run the handlers in functions/, and no other shell reach into another', async () => {
    expect(
      await lint('src/local/layer-probe.ts', "export { handler } from '../../functions/ingest-http.js';\n"),
    ).toEqual([]);
    const cli = await lint('src/cli/layer-probe.ts', "export { localPrincipal } from '../local/server.js';\n");
    expect(layerFindings(cli).map((f) => f.message)).toEqual([expect.stringContaining('Shell "src/cli"')]);
    const infra = await lint('infra/layer-probe.ts', "export { handler } from '../functions/ingest-http.js';\n");
    expect(layerFindings(infra).map((f) => f.message)).toEqual([expect.stringContaining('Shell "infra"')]);
  });

  it('reports an import it cannot resolve, so that no zone is passed over unseen', async () => {
    const findings = await lint(
      'test/pattern/layer-probe.test.ts',
      "export * from '../../src/engine/no-such-file.js';\n",
    );
    expect(findings.map((f) => f.rule)).toEqual(['import-x/no-unresolved']);
  });
});

/**
 * A synth leaves no temporary directory behind (issue #11, item 24): the rules are staged as
 * JSON in a temporary directory for the bundles, which must be gone once the functions are
 * bundled. The synth runs with TMPDIR pointing at a directory of its own, so that other
 * processes using the shared temporary directory cannot disturb the comparison. (`cdk synth`
 * runs infra/app.ts, which builds the same construct.)
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RULES_COMPILED } from '../../infra/bundling.js';
import { StixDetectionPipeline, stageRulesAsJson, validateRulesDir } from '../../infra/pipeline-construct.js';
import { loadRulesFromPaths } from '../../src/rules/load.js';

/** Temporary entries stixflow itself creates are named stixflow-… (the rules staging: stixflow-rules-…). */
const stixflowEntries = (dir: string): string[] =>
  readdirSync(dir)
    .filter((name) => name.startsWith('stixflow-'))
    .sort();

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'stixflow-synth-test-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('temporary directories of a synth', () => {
  it('a bundled synth in process: none left in the temporary directory, and every bundle still got the rules', () => {
    const privateTmp = join(work, 'tmp-in-process');
    mkdirSync(privateTmp);
    const rulesDir = join(work, 'rules');
    mkdirSync(rulesDir);
    writeFileSync(join(rulesDir, 'a.yaml'), `- id: a\n  name: A\n  severity: low\n  pattern: "[process:name = 'x']"\n`);
    const outdir = join(work, 'cdk.out');
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = privateTmp; // os.tmpdir() reads it on every call
    try {
      expect(tmpdir()).toBe(privateTmp);
      const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
      const stack = new Stack(app, 'TempDirs', { env: { account: '123456789012', region: 'eu-west-1' } });
      const pipeline = new StixDetectionPipeline(stack, 'P', { rulesDir });
      app.synth();
      expect(stixflowEntries(privateTmp)).toEqual([]);
      const bundles = readdirSync(outdir).filter((name) => name.startsWith('asset.'));
      // The pipeline functions, the outbox sweeper (it runs the rules too) and the console (which ships the page, not the rules).
      expect(bundles.length).toBe(Object.keys(pipeline.functions).length + 2);
      const withRules = bundles.filter((bundle) => !readdirSync(join(outdir, bundle)).includes('console'));
      expect(withRules.length).toBe(Object.keys(pipeline.functions).length + 1);
      for (const bundle of withRules)
        expect(readdirSync(join(outdir, bundle, 'rules'))).toEqual(['a.json', RULES_COMPILED]);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  }, 180_000);

  it('stages exactly the rules the loader validated: a dangling link and a link to an ancestor neither crash nor recurse', () => {
    const rulesDir = join(work, 'linked-rules');
    mkdirSync(join(rulesDir, 'team'), { recursive: true });
    writeFileSync(
      join(rulesDir, 'a.yaml'),
      `- id: a\n  name: A\n  severity: low\n  pattern: "[process:name = 'x']"\n---\n- id: b\n  name: B\n  severity: low\n  pattern: "[process:name = 'y']"\n`,
    );
    writeFileSync(
      join(rulesDir, 'team', 'c.json'),
      JSON.stringify([{ id: 'c', name: 'C', severity: 'low', pattern: "[process:name = 'z']" }]),
    );
    symlinkSync(join(work, 'gone'), join(rulesDir, 'old-notes')); // dangling, no rule file by name: a warning
    symlinkSync(rulesDir, join(rulesDir, 'team', 'up')); // back to the top
    expect(validateRulesDir(rulesDir).ruleIds).toEqual(['a', 'b', 'c']);
    const staged = stageRulesAsJson(rulesDir);
    try {
      expect(readdirSync(staged).sort()).toEqual(['a.0.json', 'a.1.json', RULES_COMPILED, 'team']);
      expect(readdirSync(join(staged, 'team'))).toEqual(['c.json']);
      expect(JSON.parse(readFileSync(join(staged, 'a.1.json'), 'utf8'))).toMatchObject([{ id: 'b' }]);
      expect(validateRulesDir(staged).ruleIds).toEqual(['a', 'b', 'c']);
      // The functions load the staged rules through their precompiled form: current, not stale.
      const loaded = loadRulesFromPaths([staged]);
      expect(loaded.rules.map((r) => r.id)).toEqual(['a', 'b', 'c']);
      expect(loaded.diagnostics.map((d) => d.code)).not.toContain('rules-compiled-stale');
    } finally {
      rmSync(staged, { recursive: true, force: true });
    }
  });
});

/**
 * Issue #11, item 11: `cdk synth` refuses a rule that can never match, as every other shell
 * does (the construct validates the rules through the same loader as the functions).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { StixDetectionPipeline, validateRulesDir } from '../../infra/pipeline-construct.js';

const root = mkdtempSync(join(tmpdir(), 'stixflow-synth-unsat-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function rulesDir(name: string, text: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'rules.yaml'), text);
  return dir;
}

const rule = (id: string, pattern: string): string =>
  `- id: ${id}\n  name: ${id}\n  description: d\n  severity: low\n  pattern: "${pattern}"\n`;

describe('synth and unsatisfiable rules', () => {
  it('refuses to synthesise a rule whose pattern can never match, naming file, line, column and code', () => {
    const dir = rulesDir(
      'dead',
      rule('good', "[process:name = 'x']") +
        rule('dead', '[network-traffic:dst_port >= 1025 AND network-traffic:dst_port <= 1023]'),
    );
    expect(() => validateRulesDir(dir)).toThrow(
      /rules\.yaml:10:\d+: error \[unsatisfiable\] pattern: network-traffic:dst_port: no value satisfies 1025 <= x <= 1023/,
    );
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S');
    expect(() => new StixDetectionPipeline(stack, 'P', { rulesDir: dir })).toThrow(
      /refusing to synthesise[\s\S]*\[unsatisfiable\]/,
    );
  });

  it('a rule whose dead observation an observation-level OR keeps alive deploys, with a warning', () => {
    const dir = rulesDir(
      'alive',
      rule('alive', "[network-traffic:x_attr = 'x'] OR [file:name = 'a.exe' AND url:value = 'www.example.com']"),
    );
    const { ruleIds, warnings } = validateRulesDir(dir);
    expect(ruleIds).toEqual(['alive']);
    expect(warnings).toMatch(/warning \[observation-never-matches\]/);
  });
});

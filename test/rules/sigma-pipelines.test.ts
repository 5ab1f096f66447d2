/** Sigma processing pipelines per rule directory: loaded from disk with the rules, matched on events. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRulesFromPaths, type LoadResult } from '../../src/rules/load.js';
import type { Rule } from '../../src/rules/model.js';
import { matches, sigmaRule, testTaxonomy } from './sigma-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'stixflow-sigma-pipeline-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

/** A rules directory: files by relative path. */
function directory(files: Record<string, string>): string {
  const dir = join(root, `case-${++dirs}`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

function load(dir: string): LoadResult {
  return loadRulesFromPaths([dir], { sigmaTaxonomy: testTaxonomy });
}

const rule = (selection: string, id = '00000000-0000-4000-8000-000000000001'): string =>
  sigmaRule(`selection:\n${selection.replace(/^/gm, '    ')}\ncondition: selection`).replace(
    '00000000-0000-4000-8000-000000000001',
    id,
  );

function only(result: LoadResult): Rule {
  expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  expect(result.rules).toHaveLength(1);
  return result.rules[0] as Rule;
}

describe('Sigma pipelines (sigma-pipeline.yml per rules directory)', () => {
  it('field_name_mapping renames a rule field to a taxonomy field, or to an object path', () => {
    const dir = directory({
      'sigma-pipeline.yml': [
        'name: acme names',
        'transformations:',
        '  - type: field_name_mapping',
        '    mapping:',
        '      cmd: CommandLine',
        "      parent: ['ParentCommandLine', 'CommandLine']",
        "      pid: 'x-oca-event:process_ref.x_acme_pid'",
        '',
      ].join('\n'),
      'rule.yml': rule("cmd|contains: 'whoami'\nparent|contains: 'explorer'"),
    });
    const loaded = only(load(dir));
    expect(matches(loaded, { command_line: 'whoami', parent_command_line: 'explorer.exe' })).toBe(true);
    // parent reads either field.
    expect(matches(loaded, { command_line: 'whoami explorer' })).toBe(true);
    expect(matches(loaded, { command_line: 'whoami', parent_command_line: 'cmd' })).toBe(false);
    expect(loaded.sigma?.pipelines).toEqual([join(dir, 'sigma-pipeline.yml')]);
    const path = directory({
      'sigma-pipeline.yml':
        "transformations:\n  - type: field_name_mapping\n    mapping: { pid: 'x-oca-event:process_ref.x_acme_pid' }\n",
      'rule.yml': rule("pid: '42'"),
    });
    expect(only(load(path)).patternText).toContain("x-oca-event:process_ref.x_acme_pid = '42'");
  });

  it('field_name_prefix prefixes every field before the taxonomy reads it', () => {
    const dir = directory({
      'sigma-pipeline.yml': "transformations:\n  - type: field_name_prefix\n    prefix: 'winlog.'\n",
      'rule.yml': rule("Channel: 'Security'"),
    });
    expect(only(load(dir)).patternText).toContain("x-oca-event:x_raw.'winlog.Channel' = 'Security'");
  });

  it('replace_string rewrites values as written (groups as \\1), only for the fields named', () => {
    const dir = directory({
      'sigma-pipeline.yml': [
        'transformations:',
        '  - type: replace_string',
        "    regex: '^C:\\\\(.*)$'",
        "    replacement: 'D:\\\\\\1'",
        '    fields: [CommandLine]',
        '',
      ].join('\n'),
      'rule.yml': rule("CommandLine: 'C:\\tools\\x.exe'\nParentCommandLine: 'C:\\tools\\p.exe'"),
    });
    const loaded = only(load(dir));
    expect(matches(loaded, { command_line: 'D:\\tools\\x.exe', parent_command_line: 'C:\\tools\\p.exe' })).toBe(true);
    expect(matches(loaded, { command_line: 'C:\\tools\\x.exe', parent_command_line: 'C:\\tools\\p.exe' })).toBe(false);
  });

  it('add_condition ANDs conditions into the rules whose logsource its rule_conditions name', () => {
    const dir = directory({
      'sigma-pipeline.yml': [
        'transformations:',
        '  - type: add_condition',
        "    conditions: { ParentCommandLine|contains: 'acme-agent' }",
        '    negated: true',
        '    rule_conditions:',
        '      - { type: logsource, category: process_creation }',
        '  - type: add_condition',
        '    conditions: { ProcessId: 1 }',
        '    rule_conditions:',
        '      - { type: logsource, product: macos }',
        '',
      ].join('\n'),
      'rule.yml': rule("CommandLine|contains: 'whoami'"),
    });
    const loaded = only(load(dir));
    expect(matches(loaded, { command_line: 'whoami', pid: 7 })).toBe(true);
    expect(matches(loaded, { command_line: 'whoami', parent_command_line: 'ACME-AGENT' })).toBe(false);
  });

  it('value_placeholders gives |expand placeholders the pipeline vars', () => {
    const dir = directory({
      'sigma-pipeline.yml': "vars:\n  admins: ['alice', 'bob*']\ntransformations:\n  - type: value_placeholders\n",
      'rule.yml': rule("CommandLine|expand: 'runas %admins%'"),
    });
    const loaded = only(load(dir));
    expect(matches(loaded, { command_line: 'runas alice' })).toBe(true);
    expect(matches(loaded, { command_line: 'runas bobby' })).toBe(true);
    expect(matches(loaded, { command_line: 'runas carol' })).toBe(false);
    // Without value_placeholders the vars are not used, as in pySigma.
    const unused = directory({
      'sigma-pipeline.yml': "vars:\n  admins: ['alice']\ntransformations: []\n",
      'rule.yml': rule("CommandLine|expand: 'runas %admins%'"),
    });
    expect(load(unused).diagnostics.map((d) => d.code)).toEqual(['sigma-unsupported-modifier']);
  });

  it('applies to the rules of its directory and below, outer pipelines first; not to other directories', () => {
    const dir = directory({
      'windows/sigma-pipeline.yml': 'transformations:\n  - type: field_name_mapping\n    mapping: { cmd: cmdline }\n',
      'windows/acme/sigma-pipeline.yml':
        'transformations:\n  - type: field_name_mapping\n    mapping: { cmdline: CommandLine }\n',
      'windows/acme/rule.yml': rule("cmd: 'whoami'"),
      'linux/rule.yml': rule("cmd: 'whoami'", '00000000-0000-4000-8000-000000000002'),
    });
    const result = load(dir);
    const windows = result.rules.find((r) => r.id.endsWith('1'));
    const linux = result.rules.find((r) => r.id.endsWith('2'));
    expect(windows?.patternText).toContain("x-oca-event:process_ref.command_line = 'whoami'");
    expect(windows?.sigma?.pipelines).toEqual([
      join(dir, 'windows', 'sigma-pipeline.yml'),
      join(dir, 'windows', 'acme', 'sigma-pipeline.yml'),
    ]);
    // The linux directory has no pipeline: cmd reads the raw-field fallback.
    expect(linux?.patternText).toContain("x-oca-event:x_raw.cmd = 'whoami'");
  });

  it('an unknown transformation is reported at its type, and the rules of the directory are not run', () => {
    const dir = directory({
      'sigma-pipeline.yml':
        'transformations:\n  - type: field_name_prefix\n    prefix: x.\n  - type: drop_detection_item\n',
      'rule.yml': rule("CommandLine: 'whoami'"),
    });
    const result = load(dir);
    expect(result.rules).toEqual([]);
    const at = (file: string) => result.diagnostics.filter((d) => d.file === join(dir, file));
    expect(at('sigma-pipeline.yml').map((d) => [d.code, d.line])).toEqual([['sigma-pipeline-transformation', 4]]);
    expect(at('sigma-pipeline.yml')[0]?.message).toMatch(/drop_detection_item/);
    expect(at('rule.yml').map((d) => [d.code, d.line])).toEqual([['sigma-pipeline-shape', 1]]);
    expect(at('rule.yml')[0]?.message).toMatch(/the rule is not run/);
  });

  it('rule conditions other than logsource, and malformed transformations, are reported', () => {
    const cases: [string, string][] = [
      [
        'transformations:\n  - type: field_name_prefix\n    prefix: x.\n    rule_conditions: [{ type: tag, tag: attack.t1 }]\n',
        'sigma-pipeline-transformation',
      ],
      ['transformations:\n  - type: replace_string\n    regex: a\n', 'sigma-pipeline-shape'],
      ['transformations:\n  - type: field_name_mapping\n    mapping: { a: "x-oca-event:" }\n', 'sigma-pipeline-shape'],
      ['transformations: nothing\n', 'sigma-pipeline-shape'],
    ];
    for (const [pipeline, code] of cases) {
      const dir = directory({ 'sigma-pipeline.yml': pipeline, 'rule.yml': rule("CommandLine: 'whoami'") });
      const found = load(dir).diagnostics.filter((d) => d.file === join(dir, 'sigma-pipeline.yml'));
      expect(
        found.map((d) => d.code),
        pipeline,
      ).toEqual([code]);
    }
  });
});

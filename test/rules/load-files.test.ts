/**
 * The rule-file loader on awkward directories and files (issue #11, item 14): links that point
 * nowhere or back up the tree, keys a rule file holds but nothing reads, and the rule's `type`
 * (carried into the alert: test/pipeline/rule-type.test.ts).
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadRules, loadRulesFromPaths } from '../../src/rules/load.js';

const ruleText = (id: string, extra = ''): string =>
  `id: ${id}\nname: ${id}\nseverity: low\npattern: "[process:name = 'bash']"\n${extra}`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'stixflow-load-files-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('reading a rules directory', () => {
  it('reports a dangling symbolic link to a rule file as an error for that path, and loads the rest', () => {
    writeFileSync(join(dir, 'a.yaml'), ruleText('a'));
    writeFileSync(join(dir, 'c.yaml'), ruleText('c'));
    const link = join(dir, 'b.yaml');
    symlinkSync(join(dir, 'gone', 'b.yaml'), link);
    const { rules, diagnostics } = loadRulesFromPaths([dir]);
    expect(rules.map((r) => r.id)).toEqual(['a', 'c']);
    expect(diagnostics).toEqual([
      {
        severity: 'error',
        code: 'rule-file-dangling-link',
        file: link,
        message: `${link} is a symbolic link to ${join(dir, 'gone', 'b.yaml')}, which does not exist; skipped`,
      },
    ]);
  });

  it('reports a dangling link that is no rule file by name (it may have been a directory) as a warning', () => {
    writeFileSync(join(dir, 'a.yaml'), ruleText('a'));
    const link = join(dir, 'team-rules');
    symlinkSync('/nonexistent/stixflow/team-rules', link);
    const { rules, diagnostics } = loadRulesFromPaths([dir]);
    expect(rules.map((r) => r.id)).toEqual(['a']);
    expect(diagnostics).toMatchObject([{ severity: 'warning', code: 'rule-file-dangling-link', file: link }]);
  });

  it('follows a link to a directory of rules, reads a directory reached twice once, and ends on a link to an ancestor', () => {
    mkdirSync(join(dir, 'shared'));
    writeFileSync(join(dir, 'shared', 's.yaml'), ruleText('s'));
    mkdirSync(join(dir, 'team'));
    writeFileSync(join(dir, 'team', 't.yaml'), ruleText('t'));
    symlinkSync(join(dir, 'shared'), join(dir, 'team', 'shared-link'));
    symlinkSync(dir, join(dir, 'team', 'up'));
    const { rules, diagnostics } = loadRulesFromPaths([dir]);
    expect(diagnostics).toEqual([]);
    expect(rules.map((r) => r.id)).toEqual(['s', 't']);
  });

  it('reports a loop of symbolic links as unreadable', () => {
    writeFileSync(join(dir, 'a.yaml'), ruleText('a'));
    symlinkSync(join(dir, 'loop-2.yaml'), join(dir, 'loop-1.yaml'));
    symlinkSync(join(dir, 'loop-1.yaml'), join(dir, 'loop-2.yaml'));
    const { rules, diagnostics } = loadRulesFromPaths([dir]);
    expect(rules.map((r) => r.id)).toEqual(['a']);
    expect(diagnostics).toMatchObject([
      {
        severity: 'error',
        code: 'rule-file-unreadable',
        file: join(dir, 'loop-1.yaml'),
        message: expect.stringContaining('a loop of symbolic links'),
      },
      { severity: 'error', code: 'rule-file-unreadable', file: join(dir, 'loop-2.yaml') },
    ]);
  });

  it('still reports a path given on the command line that does not exist as missing', () => {
    const missing = join(dir, 'nope.yaml');
    expect(loadRulesFromPaths([missing]).diagnostics).toMatchObject([
      { severity: 'error', code: 'rule-file-missing', file: missing },
    ]);
  });
});

describe('keys nothing reads', () => {
  const yaml = [
    'version: 2',
    'rules:',
    '  - id: a',
    '    name: a',
    '    severity: low',
    `    pattern: "[process:name = 'bash']"`,
    'group_by: process:x_host_id',
    '',
  ].join('\n');

  it('warns at each unknown top-level key of a YAML rule file, and loads its rules', () => {
    const { rules, diagnostics } = loadRules([{ file: 'rules/x.yaml', text: yaml }]);
    expect(rules.map((r) => r.id)).toEqual(['a']);
    expect(diagnostics).toMatchObject([
      {
        severity: 'warning',
        code: 'unknown-top-level-key',
        file: 'rules/x.yaml',
        line: 1,
        column: 1,
        message: expect.stringContaining("'version'"),
      },
      {
        severity: 'warning',
        code: 'unknown-top-level-key',
        file: 'rules/x.yaml',
        line: 7,
        column: 1,
        message: expect.stringContaining("'group_by'"),
      },
    ]);
  });

  it('warns alike for a JSON rule file (the fast JSON path), with line and column', () => {
    const text = `{\n  "rules": [{ "id": "a", "name": "a", "severity": "low", "pattern": "[process:name = 'bash']" }],\n  "comment": "team A"\n}\n`;
    const { rules, diagnostics } = loadRules([{ file: 'rules/x.json', text }]);
    expect(rules.map((r) => r.id)).toEqual(['a']);
    expect(diagnostics).toMatchObject([
      {
        severity: 'warning',
        code: 'unknown-top-level-key',
        file: 'rules/x.json',
        line: 3,
        column: 3,
        message: expect.stringContaining("'comment'"),
      },
    ]);
  });

  it('a JSON rules file with only `rules:` loads without a diagnostic', () => {
    const text = JSON.stringify({
      rules: [{ id: 'a', name: 'a', severity: 'low', pattern: "[process:name = 'bash']" }],
    });
    expect(loadRules([{ file: 'x.json', text }]).diagnostics).toEqual([]);
  });

  it('an unknown key in a rule is still an error at the key (the schema rejects it)', () => {
    const { rules, diagnostics } = loadRules([{ file: 'r.yaml', text: ruleText('a', 'severty: high\n') }]);
    expect(rules).toEqual([]);
    expect(diagnostics).toMatchObject([
      { severity: 'error', code: 'rule-schema', line: 5, column: 1, message: "(rule): unknown field 'severty'" },
    ]);
  });

  it("warns at an unknown key of a rule's test (the schema leaves tests open), and loads the rule", () => {
    const text = ruleText('a', 'tests:\n  - name: t\n    expected: alert\n    events: []\n');
    const { rules, diagnostics } = loadRules([{ file: 'r.yaml', text }]);
    expect(rules.map((r) => r.id)).toEqual(['a']);
    expect(diagnostics).toMatchObject([
      {
        severity: 'warning',
        code: 'unknown-test-key',
        file: 'r.yaml',
        line: 7,
        column: 5,
        ruleId: 'a',
        message: expect.stringContaining("tests[0]: unknown key 'expected'"),
      },
    ]);
  });
});

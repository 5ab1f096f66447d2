/** Sigma filters: the rules they name get their condition ANDed in, through the real loader and matcher. */
import { describe, expect, it } from 'vitest';
import { loadRules, type LoadResult } from '../../src/rules/load.js';
import type { Rule } from '../../src/rules/model.js';
import { matches, sigmaRule, testTaxonomy } from './sigma-helpers.js';

const RULE = sigmaRule("selection:\n    CommandLine|contains: 'whoami'\ncondition: selection");
const RULE_ID = '00000000-0000-4000-8000-000000000001';

/** A filter document naming these rules, with this body (YAML lines under `filter:`) and logsource. */
function filter(rules: string[], body: string[], logsource = '{ product: windows }'): string {
  return [
    'title: Admin consoles',
    'id: 00000000-0000-4000-8000-0000000000f1',
    `logsource: ${logsource}`,
    'filter:',
    `    rules: [${rules.map((r) => JSON.stringify(r)).join(', ')}]`,
    ...body.map((line) => `    ${line}`),
    '',
  ].join('\n');
}

function load(...texts: string[]): LoadResult {
  return loadRules(
    texts.map((text, i) => ({ file: `rules/${i}.yml`, text })),
    { sigmaTaxonomy: testTaxonomy },
  );
}

function only(result: LoadResult): Rule {
  expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  expect(result.rules).toHaveLength(1);
  return result.rules[0] as Rule;
}

const EXCLUDE_ADMIN = ['selection:', "    ParentCommandLine|contains: 'admin-console'", 'condition: not selection'];

describe('Sigma filters', () => {
  it('a filter naming a rule by id excludes what its selection finds, and keeps the rest', () => {
    const rule = only(load(RULE, filter([RULE_ID], EXCLUDE_ADMIN)));
    expect(matches(rule, { command_line: 'whoami /all', parent_command_line: 'cmd.exe' })).toBe(true);
    expect(matches(rule, { command_line: 'whoami /all', parent_command_line: 'ADMIN-CONSOLE.exe' })).toBe(false);
    // Not (p contains v) holds where p is absent, as in Sigma.
    expect(matches(rule, { command_line: 'whoami' })).toBe(true);
    expect(matches(rule, { command_line: 'hostname', parent_command_line: 'cmd.exe' })).toBe(false);
    expect(rule.sigma?.filters).toEqual(["'Admin consoles'"]);
  });

  it('names rules by title (or name) from another file, loaded before or after the rule', () => {
    for (const texts of [
      [RULE, filter(['Test rule'], EXCLUDE_ADMIN)],
      [filter(['Test rule'], EXCLUDE_ADMIN), RULE],
    ]) {
      const rule = only(load(...texts));
      expect(matches(rule, { command_line: 'whoami', parent_command_line: 'admin-console' })).toBe(false);
    }
  });

  it('several filters of one rule all apply; a positive condition narrows the rule', () => {
    const second = filter([RULE_ID], ['selection:', '    ProcessId: [4, 8]', 'condition: selection']).replace(
      '0000000000f1',
      '0000000000f2',
    );
    const rule = only(load(RULE, filter([RULE_ID], EXCLUDE_ADMIN), second));
    expect(matches(rule, { command_line: 'whoami', pid: 4 })).toBe(true);
    expect(matches(rule, { command_line: 'whoami', pid: 5 })).toBe(false);
    expect(matches(rule, { command_line: 'whoami', pid: 8, parent_command_line: 'admin-console' })).toBe(false);
  });

  it('a filter naming no rule of the load is a warning, and the rules still run unfiltered', () => {
    const result = load(RULE, filter(['no-such-rule'], EXCLUDE_ADMIN));
    expect(result.diagnostics.map((d) => [d.code, d.severity, d.file, d.line])).toEqual([
      ['sigma-filter-rule', 'warning', 'rules/1.yml', 5],
    ]);
    expect(matches(only(result), { command_line: 'whoami', parent_command_line: 'admin-console' })).toBe(true);
  });

  it("a filter whose logsource does not cover the rule's is reported and not applied to it", () => {
    const result = load(RULE, filter([RULE_ID], EXCLUDE_ADMIN, '{ product: linux }'));
    expect(result.diagnostics.map((d) => d.code)).toEqual(['sigma-filter-rule']);
    expect(result.diagnostics[0]?.message).toMatch(/product: linux/);
    expect(matches(only(result), { command_line: 'whoami', parent_command_line: 'admin-console' })).toBe(true);
  });

  it("a filter's problem is reported at the filter, and the rule it names is not run", () => {
    const result = load(RULE, filter([RULE_ID], ['selection:', '    NoSuchField: x', 'condition: not selection']));
    expect(result.rules).toEqual([]);
    expect(result.diagnostics.map((d) => [d.code, d.file, d.line, d.ruleId])).toEqual([
      ['sigma-unknown-field', 'rules/1.yml', 7, RULE_ID],
    ]);
    expect(result.diagnostics[0]?.message).toMatch(/filter 'Admin consoles', for the rule .*: the rule is not run/);
  });

  it('a filter without rules, condition or selection is a shape error at the filter', () => {
    for (const [body, line] of [
      [['selection: { User: x }', 'condition: not selection'], 4],
      [['rules: [x]', 'selection: { User: x }'], 4],
      [['rules: [x]', 'condition: not selection'], 4],
    ] as const) {
      const text = filter([], []).replace(/ {4}rules: \[\]\n/, body.map((b) => `    ${b}\n`).join(''));
      const result = load(RULE, text);
      expect(
        result.diagnostics.map((d) => d.code),
        body.join(' '),
      ).toEqual(['sigma-filter-shape']);
      expect(result.diagnostics[0]?.line).toBeGreaterThanOrEqual(line);
      expect(result.rules).toHaveLength(1);
    }
  });
});

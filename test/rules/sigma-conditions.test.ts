/** Sigma conditions, selection shapes, metadata and loading beside STIX rules. */
import { describe, expect, it } from 'vitest';
import { parseCondition } from '../../src/rules/sigma/condition.js';
import { loadRules } from '../../src/rules/load.js';
import { compileOne, errors, load, matches, sigmaRule, testTaxonomy } from './sigma-helpers.js';

const detection = (selections: string, condition: string) =>
  compileOne(sigmaRule(`${selections}\ncondition: ${condition}`));

const SELECTIONS = [
  "sel_a:\n    CommandLine|contains: 'alpha'",
  "sel_b:\n    CommandLine|contains: 'beta'",
  "filter_c:\n    ParentCommandLine|contains: 'gamma'",
].join('\n');

describe('Sigma conditions', () => {
  const cases: [string, { command_line: string; parent_command_line: string }, boolean][] = [
    ['sel_a and sel_b', { command_line: 'alpha beta', parent_command_line: 'x' }, true],
    ['sel_a and sel_b', { command_line: 'alpha', parent_command_line: 'x' }, false],
    ['sel_a or sel_b', { command_line: 'beta', parent_command_line: 'x' }, true],
    ['not sel_a', { command_line: 'beta', parent_command_line: 'x' }, true],
    ['sel_a and not filter_c', { command_line: 'alpha', parent_command_line: 'gamma' }, false],
    ['sel_a and not filter_c', { command_line: 'alpha', parent_command_line: 'delta' }, true],
    ['(sel_a or sel_b) and not filter_c', { command_line: 'beta', parent_command_line: 'delta' }, true],
    ['not (sel_a or sel_b)', { command_line: 'beta', parent_command_line: 'delta' }, false],
    ['not (sel_a and sel_b)', { command_line: 'beta', parent_command_line: 'delta' }, true],
    ['1 of sel_*', { command_line: 'beta', parent_command_line: 'x' }, true],
    ['all of sel_*', { command_line: 'beta', parent_command_line: 'x' }, false],
    ['all of sel_*', { command_line: 'alpha beta', parent_command_line: 'x' }, true],
    ['1 of them', { command_line: 'x', parent_command_line: 'gamma' }, true],
    ['all of them', { command_line: 'alpha beta', parent_command_line: 'gamma' }, true],
    ['all of them', { command_line: 'alpha beta', parent_command_line: 'x' }, false],
    ['sel_a and not 1 of filter_*', { command_line: 'alpha', parent_command_line: 'gamma' }, false],
    ['not not sel_a', { command_line: 'alpha', parent_command_line: 'x' }, true],
  ];
  for (const [condition, event, expected] of cases)
    it(`${condition} on ${JSON.stringify(event)} is ${String(expected)}`, () => {
      expect(matches(detection(SELECTIONS, condition), event)).toBe(expected);
    });

  it('a list of maps is OR of the maps; a map is AND of its fields', () => {
    const r = detection(
      "selection:\n    - CommandLine|contains: 'a1'\n      ParentCommandLine|contains: 'p1'\n    - CommandLine|contains: 'b2'",
      'selection',
    );
    expect(matches(r, { command_line: 'a1', parent_command_line: 'p1' })).toBe(true);
    expect(matches(r, { command_line: 'a1', parent_command_line: 'zz' })).toBe(false);
    expect(matches(r, { command_line: 'b2', parent_command_line: 'zz' })).toBe(true);
  });

  it('parses precedence: not binds tighter than and, and than or', () => {
    const ids = ['a', 'b', 'c'];
    expect(parseCondition('a or b and not c', ids)).toEqual({
      ok: true,
      node: {
        kind: 'or',
        items: [
          { kind: 'identifier', name: 'a' },
          {
            kind: 'and',
            items: [
              { kind: 'identifier', name: 'b' },
              { kind: 'not', item: { kind: 'identifier', name: 'c' } },
            ],
          },
        ],
      },
    });
    expect(parseCondition('1 of them', ['a', '_hidden'])).toMatchObject({ ok: true, node: { names: ['a'] } });
  });

  it('a bad condition is a diagnostic pointing into the condition', () => {
    const bad: [string, RegExp, number][] = [
      ['sel_a and sel_x', /'sel_x' is not a search identifier/, 10],
      ['sel_a and', /ends where a search identifier is expected/, 9],
      ['(sel_a or sel_b', /expected '\)'/, 15],
      ['1 of nothing_*', /names no search identifier/, 5],
      ['sel_a | count() > 5', /aggregations/, 6],
      ['3 of sel_*', /write '1 of' or 'all of'/, 0],
    ];
    for (const [condition, message, offset] of bad) {
      const found = errors(sigmaRule(`${SELECTIONS}\ncondition: ${condition}`));
      expect(
        found.map((d) => d.code),
        condition,
      ).toEqual(['sigma-condition']);
      expect(found[0]?.message).toMatch(message);
      // `    condition: ` is 15 characters: the condition's text starts at column 16.
      expect([found[0]?.line, found[0]?.column], condition).toEqual([14, 16 + offset]);
    }
  });

  it('a condition that cancels out is reported', () => {
    const found = errors(sigmaRule('sel:\n    CommandLine: []\ncondition: sel'));
    expect(found.map((d) => d.code)).toEqual(['sigma-empty-detection']);
  });

  it('keyword selections search the text the taxonomy names, else are reported', () => {
    const linux = sigmaRule("keywords:\n    - 'segfault at'\n    - 'oom-kill*victim'\ncondition: keywords").replace(
      '    category: process_creation\n    product: windows',
      '    product: linux',
    );
    const rule = compileOne(linux);
    expect(rule.patternText).toBe(
      "[x-oca-event:x_message LIKE '%segfault at%' OR x-oca-event:x_message LIKE '%oom-kill%victim%']",
    );
    const found = errors(sigmaRule("keywords:\n    - 'segfault'\ncondition: keywords"));
    // At the selection's value (the list).
    expect(found.map((d) => [d.code, d.line])).toEqual([['sigma-keyword-selection', 9]]);
  });
});

describe('Sigma metadata and loading', () => {
  const FULL = [
    'title: Suspicious whoami',
    'id: 11111111-2222-4333-8444-555555555555',
    'status: stable',
    'description: |',
    '    whoami run by a service.',
    'references:',
    '    - https://example.org/whoami',
    'author: A. Analyst, B. Builder',
    'date: 2024-05-01',
    'modified: 2025/01/02',
    'tags:',
    '    - attack.discovery',
    '    - attack.t1033',
    '    - cve.2024-0001',
    'logsource:',
    '    category: Process_Creation',
    '    product: Windows',
    'detection:',
    '    selection:',
    "        CommandLine|contains: 'whoami'",
    '    condition: selection',
    'falsepositives:',
    '    - Admin scripts',
    'level: informational',
    'custom_attribute: kept out of the way',
  ].join('\n');

  it('title, id, level, status, tags, author, dates, references, falsepositives', () => {
    const rule = compileOne(FULL);
    expect(rule).toMatchObject({
      id: '11111111-2222-4333-8444-555555555555',
      name: 'Suspicious whoami',
      description: 'whoami run by a service.',
      severity: 'informational',
      category: 'process_creation',
      tags: ['attack.discovery', 'attack.t1033', 'cve.2024-0001'],
      enabled: true,
      source: { file: 'rules/sigma.yml', line: 1 },
    });
    expect(rule.sigma).toEqual({
      level: 'informational',
      status: 'stable',
      author: 'A. Analyst, B. Builder',
      date: '2024-05-01',
      modified: '2025/01/02',
      references: ['https://example.org/whoami'],
      falsePositives: ['Admin scripts'],
      attack: ['attack.discovery', 'attack.t1033'],
      logsource: { category: 'process_creation', product: 'windows' },
      unmappedFields: [],
      caseSensitiveComparisons: [],
    });
  });

  it('deprecated and unsupported rules are reported and not run', () => {
    for (const status of ['deprecated', 'unsupported']) {
      const { rules, diagnostics } = load(FULL.replace('status: stable', `status: ${status}`));
      expect(rules).toEqual([]);
      expect(diagnostics.map((d) => [d.code, d.severity, d.line])).toEqual([['sigma-status-not-run', 'warning', 3]]);
    }
  });

  it('a logsource no mapping produces, a missing id, a bad level', () => {
    const macos = load(FULL.replace('product: Windows', 'product: macos')).diagnostics;
    expect(macos.map((d) => [d.code, d.line])).toEqual([['sigma-unsupported-logsource', 16]]);
    expect(load(FULL.replace(/^id: .*$/m, '')).diagnostics.map((d) => d.code)).toEqual(['sigma-rule-shape']);
    const level = load(FULL.replace('level: informational', 'level: severe')).diagnostics;
    expect(level.map((d) => [d.code, d.line])).toEqual([['sigma-rule-shape', 24]]);
  });

  it('Sigma and STIX rules load side by side; a bad Sigma rule does not stop the others', () => {
    const stix = 'id: stix-1\nname: STIX rule\nseverity: low\npattern: "[process:name = \'cmd.exe\']"\n';
    const result = loadRules(
      [
        { file: 'rules/a.yml', text: FULL },
        { file: 'rules/b.yaml', text: stix },
        { file: 'rules/c.yml', text: FULL.replace(/^id: .*$/m, 'id: other').replace('selection\n', 'nothing\n') },
      ],
      { sigmaTaxonomy: testTaxonomy },
    );
    expect(result.rules.map((r) => r.id)).toEqual(['11111111-2222-4333-8444-555555555555', 'stix-1']);
    expect(result.diagnostics.map((d) => [d.code, d.file])).toEqual([['sigma-condition', 'rules/c.yml']]);
  });

  it('a duplicate Sigma id is reported like any duplicate', () => {
    const result = load(`${FULL}\n---\n${FULL}`);
    expect(result.rules).toHaveLength(1);
    expect(result.diagnostics.map((d) => [d.code, d.line])).toEqual([['duplicate-rule-id', 27]]);
  });

  it('multi-document files: action global, repeat, reset', () => {
    const text = [
      'action: global',
      'title: Shared title',
      'status: test',
      'logsource:',
      '    category: process_creation',
      '    product: windows',
      'detection:',
      '    condition: selection',
      'level: high',
      '---',
      'id: aaaaaaaa-0000-4000-8000-000000000001',
      'detection:',
      '    selection:',
      "        CommandLine|contains: 'one'",
      '---',
      'action: repeat',
      'id: aaaaaaaa-0000-4000-8000-000000000002',
      'detection:',
      '    selection:',
      "        CommandLine|contains: 'two'",
      '---',
      'action: sideways',
      '---',
      'action: reset',
    ].join('\n');
    const { rules, diagnostics } = load(text);
    expect(rules.map((r) => [r.id, r.name, r.severity])).toEqual([
      ['aaaaaaaa-0000-4000-8000-000000000001', 'Shared title', 'high'],
      ['aaaaaaaa-0000-4000-8000-000000000002', 'Shared title', 'high'],
    ]);
    expect(matches(rules[1]!, { command_line: 'two' })).toBe(true);
    expect(matches(rules[1]!, { command_line: 'one' })).toBe(false);
    expect(diagnostics.map((d) => [d.code, d.line])).toEqual([['sigma-multi-document', 22]]);
  });
});

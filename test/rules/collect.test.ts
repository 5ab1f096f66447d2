/** Stage 2, collect: documents → rule and indicator candidates; ids checked across all of them. */
import { describe, expect, it } from 'vitest';
import { collectDocuments, findDuplicateIds, type RuleCandidate } from '../../src/rules/collect.js';
import { loadRules } from '../../src/rules/load.js';
import { readDocuments, type RuleSource } from '../../src/rules/read.js';

const collect = (source: RuleSource) => collectDocuments(readDocuments(source));
const BASH = `"[process:name = 'bash']"`;
const ruleLines = (id: string): string[] => [`id: ${id}`, `name: ${id}`, 'severity: low', `pattern: ${BASH}`];

function indicator(id: string, pattern: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'indicator', spec_version: '2.1', id, pattern, pattern_type: 'stix', ...extra };
}
const feed = (objects: object[]): string =>
  JSON.stringify({ type: 'bundle', id: 'bundle--00000000-0000-4000-8000-000000000001', objects });

describe('collectDocuments', () => {
  it('makes one rule candidate per entry, each knowing where its fields are', () => {
    const text = ['rules:', ...ruleLines('a').map((l, i) => (i === 0 ? `  - ${l}` : `    ${l}`)), '  - 7', ''].join(
      '\n',
    );
    const { candidates, diagnostics } = collect({ file: 'r.yaml', text });
    expect(candidates.map((c) => [c.kind, c.id, c.file, c.position])).toEqual([
      ['rule', 'a', 'r.yaml', { line: 2, column: 5 }],
    ]);
    expect(candidates[0]!.at(['pattern'])).toEqual({ line: 5, column: 14 });
    expect(candidates[0]!.at(['no-such-field'])).toEqual({ line: 2, column: 5 });
    expect(candidates[0]!.atKey([], 'severity')).toEqual({ line: 4, column: 5 });
    expect(candidates[0]!.describePlace()).toBe('r.yaml:2');
    expect(diagnostics).toMatchObject([{ code: 'rule-not-a-mapping', line: 6, column: 5 }]);
  });

  it('reads a single rule mapping and a list, and rejects other shapes at the document', () => {
    expect(collect({ file: 'r.yaml', text: ruleLines('one').join('\n') }).candidates.map((c) => c.id)).toEqual(['one']);
    expect(collect({ file: 'r.yaml', text: 'x: 1\n' }).diagnostics).toMatchObject([
      { code: 'rule-file-shape', line: 1, column: 1 },
    ]);
    expect(collect({ file: 'r.yaml', text: '\n\nplain words\n' }).diagnostics).toMatchObject([
      { code: 'rule-file-shape', line: 3, column: 1 },
    ]);
  });

  it('warns about keys beside rules:, at the key', () => {
    const { diagnostics } = collect({ file: 'r.yaml', text: 'rules: []\nseverity: high\n  # note\n2: two\n' });
    expect(diagnostics).toMatchObject([
      { severity: 'warning', code: 'unknown-top-level-key', line: 2, column: 1, file: 'r.yaml' },
      {
        severity: 'warning',
        code: 'unknown-top-level-key',
        line: 4,
        column: 1,
        message: expect.stringContaining("'2'"),
      },
    ]);
  });

  it('maps STIX indicators onto rule fields, skips non-STIX patterns with a warning, and ignores other objects', () => {
    const text = feed([
      { type: 'identity', id: 'identity--1', name: 'CTI' },
      indicator('indicator--a', "[ipv4-addr:value = '198.51.100.1']", {
        name: 'Bad host',
        x_severity: 'high',
        indicator_types: ['malicious-activity', 3],
        valid_from: '2026-01-01T00:00:00Z',
      }),
      indicator('indicator--b', 'title: x', { pattern_type: 'sigma' }),
      indicator('indicator--c', "[domain-name:value = 'evil.example']", { spec_version: '2.0', x_severity: 'dire' }),
    ]);
    const { candidates, diagnostics } = collect({ file: 'feed.json', text });
    expect(candidates.map((c) => [c.kind, c.id, c.entryName])).toEqual([
      ['indicator', 'indicator--a', 'objects[1]'],
      ['indicator', 'indicator--c', 'objects[3]'],
    ]);
    expect(candidates[0]!.value).toEqual({
      id: 'indicator--a',
      name: 'Bad host',
      description: '',
      severity: 'high',
      category: 'indicator',
      tags: ['malicious-activity'],
      pattern: "[ipv4-addr:value = '198.51.100.1']",
      valid_from: '2026-01-01T00:00:00Z',
    });
    expect(candidates[1]!.value).toMatchObject({
      severity: 'medium',
      stix_version: '2.0',
      name: 'Indicator indicator--c',
    });
    expect(candidates[1]!.describePlace()).toBe('feed.json (objects[3])');
    expect(diagnostics).toMatchObject([
      { severity: 'warning', code: 'indicator-pattern-type', ruleId: 'indicator--b', file: 'feed.json' },
    ]);
  });
});

describe('findDuplicateIds', () => {
  const candidates = (sources: RuleSource[]): RuleCandidate[] => sources.flatMap((s) => collect(s).candidates);

  it('lets the first definition take an id and reports each later one at its place, naming the first', () => {
    const all = candidates([
      { file: 'a.yaml', text: ['- ' + ruleLines('x').join('\n  '), '- ' + ruleLines('y').join('\n  ')].join('\n') },
      { file: 'b.yaml', text: `\n${ruleLines('x').join('\n')}\n` },
      { file: 'feed.json', text: feed([indicator('y', "[ipv4-addr:value = '1.2.3.4']")]) },
    ]);
    const duplicates = findDuplicateIds(all);
    expect([...duplicates.keys()]).toEqual([2, 3]);
    expect(duplicates.get(2)).toEqual({
      severity: 'error',
      code: 'duplicate-rule-id',
      message: "rule id 'x' is already defined at a.yaml:1",
      file: 'b.yaml',
      line: 2,
      column: 1,
      ruleId: 'x',
      related: [{ file: 'a.yaml', line: 1, column: 3, ruleId: 'x' }],
    });
    expect(duplicates.get(3)).toMatchObject({
      message: "indicator id 'y' (objects[0]) is already defined by a rule at a.yaml:5",
      file: 'feed.json',
      related: [{ file: 'a.yaml', line: 5, column: 3 }],
    });
  });

  it('checks ids within a feed, and an indicator against a later rule', () => {
    const all = candidates([
      {
        file: 'feed.json',
        text: feed([
          indicator('i-1', "[ipv4-addr:value = '1.2.3.4']"),
          indicator('i-1', "[ipv4-addr:value = '1.2.3.5']"),
        ]),
      },
      { file: 'r.yaml', text: ruleLines('i-1').join('\n') },
    ]);
    expect([...findDuplicateIds(all).values()].map((d) => [d.file, d.message])).toEqual([
      ['feed.json', "indicator id 'i-1' (objects[1]) is already defined at feed.json (objects[0])"],
      ['r.yaml', "rule id 'i-1' is already defined by an indicator at feed.json (objects[0])"],
    ]);
  });
});

describe('duplicate ids across rules and indicator feeds, through loadRules', () => {
  const rules = [
    'rules:',
    ...['shared', 'only-rule'].flatMap((id) => ruleLines(id).map((l, i) => (i ? `    ${l}` : `  - ${l}`))),
  ];
  const result = loadRules([
    { file: 'rules/r.yaml', text: rules.join('\n') },
    {
      file: 'intel/feed.json',
      text: feed([
        indicator('shared', "[ipv4-addr:value = '198.51.100.1']"),
        indicator('indicator--ok', "[ipv4-addr:value = '198.51.100.2']"),
        indicator('indicator--ok', "[ipv4-addr:value = '198.51.100.3']"),
      ]),
    },
  ]);

  it('reports each duplicate with both places, and loads every other rule and indicator', () => {
    expect(result.rules.map((r) => r.id)).toEqual(['shared', 'only-rule']);
    expect(result.indicators.size).toBe(1);
    expect(result.indicatorSources).toEqual([{ file: 'intel/feed.json', indicators: 1 }]);
    expect(result.diagnostics).toEqual([
      expect.objectContaining({
        code: 'duplicate-rule-id',
        severity: 'error',
        file: 'intel/feed.json',
        ruleId: 'shared',
        message: "indicator id 'shared' (objects[0]) is already defined by a rule at rules/r.yaml:2",
        related: [{ file: 'rules/r.yaml', line: 2, column: 5, ruleId: 'shared' }],
      }),
      expect.objectContaining({
        code: 'duplicate-rule-id',
        ruleId: 'indicator--ok',
        message: "indicator id 'indicator--ok' (objects[2]) is already defined at intel/feed.json (objects[1])",
      }),
    ]);
  });

  it('files the first of two same-id indicators, not the second', () => {
    // Before ids were checked across the feed, both went into the set and both alerted under one id.
    const twice = loadRules([
      {
        file: 'feed.json',
        text: feed([indicator('dup', "[ipv4-addr:value = '198.51.100.7']"), indicator('dup', "[process:name = 'x']")]),
      },
    ]);
    expect(twice.indicators.size).toBe(1);
    expect(twice.diagnostics.map((d) => d.code)).toEqual(['duplicate-rule-id']);
  });

  it('takes the id for its first definition even when that one is invalid', () => {
    const text = [
      '- id: same',
      '  name: broken',
      '  severity: dire',
      `  pattern: ${BASH}`,
      `- ${ruleLines('same').join('\n  ')}`,
    ];
    const loaded = loadRules([{ file: 'r.yaml', text: text.join('\n') }]);
    expect(loaded.rules).toEqual([]);
    expect(loaded.diagnostics.map((d) => [d.code, d.line])).toEqual([
      ['rule-schema', 3],
      ['duplicate-rule-id', 5],
    ]);
  });
});

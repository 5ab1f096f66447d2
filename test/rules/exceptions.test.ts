/**
 * Shared exceptions (#14.5) through the rule loader: which rules an exception selects (all,
 * tags, categories, id globs), that it becomes one of their filters (compared as each rule
 * compares), expiry, and the diagnostics of bad, repeated, expired and unused exceptions.
 */
import { describe, expect, it } from 'vitest';
import { loadRules } from '../../src/rules/load.js';
import type { Rule } from '../../src/rules/model.js';

const NOW = Date.parse('2026-12-02T03:00:00Z');

/** The 1-based column of `needle` on line `line` of `text`. */
function columnOf(text: string, line: number, needle: string): number {
  const at = (text.split('\n')[line - 1] ?? '').indexOf(needle);
  if (at < 0) throw new Error(`'${needle}' is not on line ${line}`);
  return at + 1;
}

const RULES = `rules:
  - id: word-child
    name: w
    severity: high
    category: execution
    tags: [attack.t1059]
    pattern: "[process:parent_ref.name = 'winword.exe']"
  - id: word-child-any-case
    name: w
    severity: high
    case_sensitive: false
    pattern: "[process:parent_ref.name = 'winword.exe']"
  - id: net-out
    name: n
    severity: low
    category: command-and-control
    pattern: "[network-traffic:dst_port = 4444]"
`;

function load(exceptions: string, extra: { file: string; text: string }[] = []) {
  return loadRules([{ file: 'rules.yaml', text: RULES }, { file: 'exceptions.yaml', text: exceptions }, ...extra], {
    now: NOW,
  });
}

const exception = (id: string, appliesTo: string, fields: Record<string, string> = {}): string =>
  [
    `  - id: ${id}`,
    `    pattern: "${fields.pattern ?? "[process:name = 'ansible']"}"`,
    `    applies_to: ${appliesTo}`,
    `    reason: ${fields.reason ?? 'configuration management'}`,
    `    expires: ${fields.expires ?? '2027-01-31'}`,
    '',
  ].join('\n');

const muted = (rules: Rule[]) =>
  Object.fromEntries(rules.map((r) => [r.id, r.filters.flatMap((f) => (f.exception ? [f.exception] : []))]));

function processEvent(name: string, parent = 'x') {
  return [
    {
      type: 'observed-data',
      id: 'observed-data--00000000-0000-4000-8000-000000000001',
      first_observed: '2026-12-01T00:00:00Z',
      last_observed: '2026-12-01T00:00:00Z',
      number_observed: 1,
      objects: { '0': { type: 'process', name, parent_ref: '1' }, '1': { type: 'process', name: parent } },
    },
  ];
}

describe('which rules an exception applies to', () => {
  it('all, by tag, by category, by rule id glob; any selector picks a rule', () => {
    const { rules, diagnostics, exceptions } = load(
      `exceptions:\n${exception('everywhere', 'all')}${exception('by-tag', '{ tags: [attack.t1059] }')}${exception(
        'by-category',
        '{ categories: [command-and-control] }',
      )}${exception('by-glob', '{ rules: ["word-*-case"] }')}${exception('either', '{ tags: [attack.t1059], rules: [net-?ut] }')}`,
    );
    expect(diagnostics).toEqual([]);
    expect(muted(rules)).toEqual({
      'word-child': ['everywhere', 'by-tag', 'either'],
      'word-child-any-case': ['everywhere', 'by-glob'],
      'net-out': ['everywhere', 'by-category', 'either'],
    });
    expect(exceptions.map((e) => [e.id, e.rules, e.file, e.line])).toEqual([
      ['everywhere', ['word-child', 'word-child-any-case', 'net-out'], 'exceptions.yaml', 2],
      ['by-tag', ['word-child'], 'exceptions.yaml', 7],
      ['by-category', ['net-out'], 'exceptions.yaml', 12],
      ['by-glob', ['word-child-any-case'], 'exceptions.yaml', 17],
      ['either', ['word-child', 'net-out'], 'exceptions.yaml', 22],
    ]);
  });

  it('the filter keeps the reason and the expiry (the end of the day a date names)', () => {
    const { rules } = load(`exceptions:\n${exception('e', '{ rules: [net-out] }', { expires: '2027-01-31' })}`);
    const filter = rules.find((r) => r.id === 'net-out')?.filters[0];
    expect(filter).toMatchObject({
      exception: 'e',
      reason: 'configuration management',
      expires: Date.parse('2027-02-01T00:00:00Z'),
      text: "[process:name = 'ansible']",
    });
  });

  it('compares as each rule compares: folded for a case-insensitive rule, exact for the others', () => {
    const { rules } = load(`exceptions:\n${exception('ansible', 'all')}`);
    const filterOf = (id: string) => rules.find((r) => r.id === id)?.filters[0];
    expect(filterOf('word-child-any-case')?.pattern.match(processEvent('ANSIBLE')).matched).toBe(true);
    expect(filterOf('word-child')?.pattern.match(processEvent('ANSIBLE')).matched).toBe(false);
    expect(filterOf('word-child')?.pattern.match(processEvent('ansible')).matched).toBe(true);
  });

  it('may use lists and macros from any file', () => {
    const blocks = {
      file: 'blocks.yaml',
      text: 'lists:\n  tools: [ansible, salt-minion]\nmacros:\n  tool: "process:name IN $tools"\n',
    };
    const { rules, diagnostics } = load(`exceptions:\n${exception('tools', 'all', { pattern: '[$tool]' })}`, [blocks]);
    expect(diagnostics).toEqual([]);
    expect(rules[0]?.filters[0]?.text).toBe("[(process:name IN ('ansible', 'salt-minion'))]");
    expect(rules[0]?.filters[0]?.pattern.match(processEvent('salt-minion')).matched).toBe(true);
  });

  it('applies to rules made from STIX indicators too (category indicator, tags from indicator_types)', () => {
    const feed = JSON.stringify({
      type: 'bundle',
      id: 'bundle--1',
      objects: [
        {
          type: 'indicator',
          id: 'indicator--00000000-0000-4000-8000-000000000001',
          pattern_type: 'stix',
          indicator_types: ['malicious-activity'],
          pattern: "[process:name = 'a'] FOLLOWEDBY [process:name = 'b']",
        },
      ],
    });
    const { rules } = load(`exceptions:\n${exception('feed', '{ categories: [indicator] }')}`, [
      { file: 'feed.json', text: feed },
    ]);
    expect(muted(rules)['indicator--00000000-0000-4000-8000-000000000001']).toEqual(['feed']);
  });
});

describe('exception diagnostics', () => {
  it('an expired exception is a warning at its expires and applies nowhere', () => {
    const text = `exceptions:\n${exception('old', 'all', { expires: '2026-12-01' })}${exception('later-today', 'all', {
      expires: '2026-12-02T04:00:00Z',
    })}`;
    const { rules, diagnostics } = load(text);
    expect(diagnostics.map((d) => [d.code, d.severity, d.file, d.line, d.column])).toEqual([
      ['exception-expired', 'warning', 'exceptions.yaml', 6, 14],
    ]);
    expect(diagnostics[0]?.message).toBe(
      'exception old expired on 2026-12-01 and no longer applies (reason was: configuration management); renew or remove it',
    );
    expect(muted(rules)['word-child']).toEqual(['later-today']);
  });

  it('an exception that selects no loaded rule is a warning at its applies_to', () => {
    const { diagnostics } = load(`exceptions:\n${exception('nobody', '{ tags: [no-such-tag], rules: [zzz*] }')}`);
    expect(diagnostics.map((d) => [d.code, d.severity, d.line, d.column, d.message])).toEqual([
      ['exception-unused', 'warning', 4, 17, 'exception nobody applies to none of the loaded rules (3 rules)'],
    ]);
  });

  it('a missing field, an unknown field, a bad expiry and a repeated id are bad-exception errors, each at its place', () => {
    const text = [
      'exceptions:',
      '  - { id: no-reason, pattern: "[process:name = \'a\']", applies_to: all, expires: 2027-01-01 }',
      '  - { id: colour, pattern: "[process:name = \'a\']", applies_to: all, reason: r, expires: 2027-01-01, colour: blue }',
      '  - { id: soon, pattern: "[process:name = \'a\']", applies_to: all, reason: r, expires: soon }',
      '  - { id: twice, pattern: "[process:name = \'a\']", applies_to: all, reason: r, expires: 2027-01-01 }',
      '  - { id: twice, pattern: "[process:name = \'b\']", applies_to: all, reason: r, expires: 2027-01-01 }',
      '  - { id: nowhere, pattern: "[process:name = \'a\']", applies_to: { hosts: [a] }, reason: r, expires: 2027-01-01 }',
      '',
    ].join('\n');
    const { diagnostics, rules } = load(text);
    expect(diagnostics.map((d) => [d.code, d.line, d.column])).toEqual([
      ['bad-exception', 2, 5],
      ['bad-exception', 3, columnOf(text, 3, 'colour:')],
      ['bad-exception', 7, columnOf(text, 7, '{ hosts')],
      ['bad-exception', 4, columnOf(text, 4, 'soon }')],
      ['bad-exception', 6, 5],
    ]);
    expect(diagnostics[0]?.message).toBe("exception no-reason: (exception): must have required property 'reason'");
    expect(diagnostics[1]?.message).toBe("exception colour: unknown field 'colour'");
    expect(diagnostics[4]?.related).toEqual([{ file: 'exceptions.yaml', line: 5, column: 5 }]);
    expect(muted(rules)['word-child']).toEqual(['twice']);
    expect(rules[0]?.filters[0]?.text).toBe("[process:name = 'a']");
  });

  it('an exception whose pattern does not compile is reported once, at the pattern, and applies nowhere', () => {
    const pattern = "[process:name = 'a' AND process:pid = 'x']";
    const { diagnostics, rules } = load(`exceptions:\n${exception('typed', 'all', { pattern })}`);
    const text = `exceptions:\n${exception('typed', 'all', { pattern })}`;
    expect(diagnostics.map((d) => [d.code, d.line, d.column])).toEqual([
      ['type-mismatch', 3, columnOf(text, 3, "process:pid = 'x'")],
    ]);
    expect(diagnostics[0]?.message).toMatch(/^exception typed: process:pid is an integer/);
    expect(muted(rules)).toEqual({ 'word-child': [], 'word-child-any-case': [], 'net-out': [] });
  });

  it('`exceptions:` that is no list is bad-exception', () => {
    const { diagnostics } = load('exceptions: { id: x }\n');
    expect(diagnostics.map((d) => [d.code, d.line])).toEqual([['bad-exception', 1]]);
  });
});

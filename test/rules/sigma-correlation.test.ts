/**
 * Sigma correlations at load (src/rules/sigma/correlation.ts): what each type compiles to, case
 * folding carried comparison by comparison, `generate` across correlations, references across
 * sources, and aliases (built-in taxonomy; the CLI runs them in test/cli/sigma-correlation-cli.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { loadRules } from '../../src/rules/load.js';
import type { Rule } from '../../src/rules/model.js';

const base = (id: string, name: string, selection: string): string =>
  [
    'title: base ' + name,
    `id: ${id}`,
    `name: ${name}`,
    'logsource: { product: windows, category: process_creation }',
    'detection:',
    `    selection: ${selection}`,
    '    condition: selection',
  ].join('\n');
const A = base('00000000-0000-4000-8000-00000000000a', 'rule_a', "{ CommandLine|cased: 'Whoami' }");
const B = base('00000000-0000-4000-8000-00000000000b', 'rule_b', "{ Image|endswith: '\\net.exe' }");
const correlation = (id: string, lines: string[]): string =>
  ['title: c ' + id, `id: ${id}`, 'correlation:', ...lines.map((l) => `    ${l}`)].join('\n');

const byId = (rules: Rule[], id: string): Rule => {
  const rule = rules.find((r) => r.id === id);
  if (!rule) throw new Error(`no rule ${id}`);
  return rule;
};

describe('Sigma correlations at load', () => {
  it('compiles event_count to a threshold over the ORed rules, keeping each comparison’s case folding', () => {
    const { rules, diagnostics } = loadRules([
      { file: 'base.yml', text: `${A}\n---\n${B}\n` },
      {
        file: 'corr.yml',
        text: correlation('c1', [
          'type: event_count',
          'rules: [rule_a, rule_b]',
          'group-by: [User, Computer]',
          'timespan: 10m',
          'condition: { gt: 4, lte: 9 }',
        ]),
      },
    ]);
    expect(diagnostics).toEqual([]);
    const c = byId(rules, 'c1');
    expect(c.aggregation).toMatchObject({
      kind: 'threshold',
      windowSeconds: 600,
      hopSeconds: 300,
      condition: { gt: 4, lte: 9 },
      measure: { of: 'count' },
    });
    expect(c.groupByText).toEqual(['x-oca-event:process_ref.x_user', 'x-oca-event:host_ref.hostname']);
    const a = byId(rules, '00000000-0000-4000-8000-00000000000a');
    const b = byId(rules, '00000000-0000-4000-8000-00000000000b');
    expect(c.patternText).toBe(`[(${a.patternText.slice(1, -1)}) OR (${b.patternText.slice(1, -1)})]`);
    // The |cased comparison stays case-sensitive, the endswith folds, as in the base rules.
    const folded = (rule: Rule) => [...rule.pattern.caseInsensitiveLeaves].length;
    expect(folded(c)).toBe(folded(a) + folded(b));
    expect(folded(a)).toBe(0);
    expect(folded(b)).toBeGreaterThan(0);
    expect(c.sigma?.caseSensitiveComparisons).toEqual(a.sigma?.caseSensitiveComparisons);
    expect([a.enabled, b.enabled]).toEqual([false, false]);
    expect(a.sigma?.correlatedBy).toEqual(['c1']);
  });

  it('keeps a rule alerting when any correlation naming it says generate: true', () => {
    const { rules } = loadRules([
      {
        file: 'all.yml',
        text: [
          A,
          B,
          correlation('c1', ['type: temporal', 'rules: [rule_a, rule_b]', 'timespan: 1m']),
          correlation('c2', [
            'type: value_count',
            'rules: [rule_b]',
            'timespan: 1h',
            'condition: { field: CommandLine, gte: 3 }',
            'generate: true',
          ]),
        ].join('\n---\n'),
      },
    ]);
    expect(byId(rules, '00000000-0000-4000-8000-00000000000a').enabled).toBe(false);
    expect(byId(rules, '00000000-0000-4000-8000-00000000000b').enabled).toBe(true);
    expect(byId(rules, 'c2').aggregation).toMatchObject({
      kind: 'distinct_count',
      paths: [{ text: 'x-oca-event:process_ref.command_line' }],
    });
    expect(byId(rules, 'c1').patternText).toMatch(/^\(\[.*\] AND \[.*\]\) WITHIN 60 SECONDS$/);
  });

  it('loads aliases that name one path, and reports those that do not, at the alias', () => {
    const alias = (other: string) =>
      correlation('c3', [
        'type: temporal_ordered',
        'rules: [rule_a, rule_b]',
        'group-by: [actor]',
        'timespan: 1m',
        'aliases:',
        '    actor:',
        '        rule_a: User',
        `        rule_b: ${other}`,
      ]);
    const ok = loadRules([{ file: 'x.yml', text: [A, B, alias('User')].join('\n---\n') }]);
    expect(ok.diagnostics).toEqual([]);
    expect(byId(ok.rules, 'c3').groupByText).toEqual(['x-oca-event:process_ref.x_user']);
    expect(byId(ok.rules, 'c3').patternText).toContain('] FOLLOWEDBY [');
    const bad = loadRules([{ file: 'x.yml', text: [A, B, alias('CommandLine')].join('\n---\n') }]);
    expect(bad.diagnostics.map((d) => [d.code, d.ruleId])).toEqual([['sigma-correlation-unsupported', 'c3']]);
    expect(bad.rules.map((r) => r.id)).not.toContain('c3');
    // The named rules still load, and alert, when their correlation does not.
    expect(byId(bad.rules, '00000000-0000-4000-8000-00000000000a').enabled).toBe(true);
  });

  it('carries the correlation’s metadata', () => {
    const text = [
      A,
      `level: critical\nreferences: [https://example.org/recon]\nfalsepositives: [admins]\ntags: [attack.discovery]\n${correlation('c5', ['type: event_count', 'rules: [rule_a]', 'timespan: 1h', 'condition: { gte: 2 }'])}`,
    ].join('\n---\n');
    const c = byId(loadRules([{ file: 'x.yml', text }]).rules, 'c5');
    expect(c.severity).toBe('critical');
    expect(c.sigma).toMatchObject({
      references: ['https://example.org/recon'],
      falsePositives: ['admins'],
      attack: ['attack.discovery'],
      correlation: { type: 'event_count', rules: ['00000000-0000-4000-8000-00000000000a'], timespanSeconds: 3600 },
    });
  });

  it('reports a malformed correlation at its field', () => {
    const { diagnostics } = loadRules([
      {
        file: 'x.yml',
        text: [
          A,
          correlation('c4', ['type: event_count', 'rules: [rule_a]', 'timespan: soon', 'condition: { gte: 2 }']),
        ].join('\n---\n'),
      },
    ]);
    expect(diagnostics.map((d) => [d.code, d.line])).toEqual([['sigma-correlation-shape', 14]]);
  });
});

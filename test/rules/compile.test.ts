/** Stage 3, compile: a candidate → a rule, or an entry of the indicator set. */
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../src/errors.js';
import { collectDocuments, type RuleCandidate } from '../../src/rules/collect.js';
import { compileCandidate, compileIndicator, compileRule } from '../../src/rules/compile.js';
import { readDocuments } from '../../src/rules/read.js';

function candidates(file: string, text: string): RuleCandidate[] {
  return collectDocuments(readDocuments({ file, text })).candidates;
}
const one = (text: string): RuleCandidate => candidates('r.yaml', text)[0]!;
const BASH = `"[process:name = 'bash']"`;
const rule = (extra: string[] = [], pattern = BASH): string =>
  ['id: r', 'name: r', 'severity: low', `pattern: ${pattern}`, ...extra, ''].join('\n');
const feed = (pattern: string, extra: Record<string, unknown> = {}): RuleCandidate =>
  candidates(
    'feed.json',
    JSON.stringify({
      type: 'bundle',
      id: 'bundle--1',
      objects: [{ type: 'indicator', id: 'indicator--1', name: 'ioc', pattern, ...extra }],
    }),
  )[0]!;

describe('compileRule', () => {
  it('compiles the fields, durations through Duration', () => {
    const diagnostics: Diagnostic[] = [];
    const compiled = compileRule(
      one(rule(['suppress: 10m', 'rate_limit: { max_alerts: 2, period: 90 }', 'group_by: process:x_host_id'])),
      diagnostics,
    );
    expect(diagnostics).toEqual([]);
    expect(compiled).toMatchObject({
      id: 'r',
      suppressSeconds: 600,
      rateLimit: { maxAlerts: 2, periodSeconds: 90, throttleSeconds: 600 },
      groupByText: ['process:x_host_id'],
      source: { file: 'r.yaml', line: 1 },
    });
  });

  it('reports a bad duration once, at its value, in Duration’s words', () => {
    for (const [text, reason] of [
      ['5w', "'w' is not a unit"],
      ['"30"', 'a unit follows the number'],
      ['0', 'at least 1 second'],
      ['1.5', 'whole number'],
      ['[1]', 'a duration such as'],
    ] as const) {
      const diagnostics: Diagnostic[] = [];
      expect(compileRule(one(rule([`suppress: ${text}`])), diagnostics), text).toBeUndefined();
      expect(diagnostics, text).toEqual([
        expect.objectContaining({
          code: 'rule-schema',
          line: 5,
          column: 11,
          ruleId: 'r',
          message: expect.stringContaining(reason),
        }),
      ]);
      expect(diagnostics[0]!.message.startsWith('/suppress: '), text).toBe(true);
    }
    const diagnostics: Diagnostic[] = [];
    compileRule(one(rule(['rate_limit: { max_alerts: 1, throttle_for: 2 hours }'])), diagnostics);
    expect(diagnostics).toMatchObject([
      { code: 'rule-schema', line: 5, message: expect.stringMatching(/^\/rate_limit\/throttle_for: /) },
    ]);
  });

  it('appends to the diagnostics it is given and compiles nothing on an error', () => {
    const diagnostics: Diagnostic[] = [{ severity: 'warning', code: 'earlier', message: 'kept' }];
    expect(compileRule(one(rule(['group_by: "not a path"'])), diagnostics)).toBeUndefined();
    expect(diagnostics.map((d) => d.code)).toEqual(['earlier', 'bad-group-by']);
  });
});

describe('compileIndicator', () => {
  it('files a feed shape for the indicator set, with its comparison and root types', () => {
    const diagnostics: Diagnostic[] = [];
    const compiled = compileIndicator(
      feed("[ipv4-addr:value = '198.51.100.1']", { valid_from: '2026-01-01T00:00:00Z' }),
      diagnostics,
    );
    expect(diagnostics).toEqual([]);
    expect(compiled).toMatchObject({
      kind: 'indicator',
      record: {
        id: 'indicator--1',
        name: 'ioc',
        severity: 'medium',
        patternText: "[ipv4-addr:value = '198.51.100.1']",
        stixVersion: '2.1',
        validFrom: Date.UTC(2026, 0, 1),
      },
      observation: { rootTypes: ['ipv4-addr'], comparison: { kind: 'comparison', operator: '=' } },
    });
  });

  it('hands several observation expressions, qualifiers and bad validity to the rule path', () => {
    for (const [pattern, extra] of [
      ["[process:name = 'a'] FOLLOWEDBY [process:name = 'b']", {}],
      ["[process:name = 'a'] REPEATS 2 TIMES", {}],
      ["[process:name = 'a']", { valid_until: 'someday' }],
    ] as const) {
      expect(compileIndicator(feed(pattern, extra), []), pattern).toBe('rule');
    }
    // …which compileCandidate then compiles as a rule (reporting the validity).
    const diagnostics: Diagnostic[] = [];
    expect(compileCandidate(feed("[process:name = 'a']", { valid_until: 'someday' }), diagnostics)).toBeUndefined();
    expect(diagnostics.map((d) => d.code)).toEqual(['bad-validity']);
    expect(compileCandidate(feed("[process:name = 'a'] FOLLOWEDBY [process:name = 'b']"), [])).toMatchObject({
      kind: 'rule',
      rule: { id: 'indicator--1', category: 'indicator' },
    });
  });

  it('refuses a pattern that never matches, or does not parse, at the indicator', () => {
    const diagnostics: Diagnostic[] = [];
    expect(
      compileIndicator(feed("[ipv4-addr:value = '1.1.1.1' AND ipv4-addr:value = '2.2.2.2']"), diagnostics),
    ).toBeUndefined();
    expect(compileIndicator(feed('[ipv4-addr:value = ]'), diagnostics)).toBeUndefined();
    expect(diagnostics.map((d) => [d.severity, d.code, d.file, d.line, d.ruleId])).toEqual([
      ['error', 'unsatisfiable', 'feed.json', 1, 'indicator--1'],
      ['error', 'syntax', 'feed.json', 1, 'indicator--1'],
    ]);
    expect(diagnostics.every((d) => d.message.startsWith('indicator pattern: '))).toBe(true);
    // Kept, with a warning, when unsatisfiable rules are allowed.
    const kept: Diagnostic[] = [];
    expect(
      compileIndicator(feed("[ipv4-addr:value = '1.1.1.1' AND ipv4-addr:value = '2.2.2.2']"), kept, {
        allowUnsatisfiable: true,
      }),
    ).toMatchObject({ kind: 'indicator' });
    expect(kept.map((d) => [d.severity, d.code])).toEqual([['warning', 'unsatisfiable']]);
  });

  it('refuses an indicator whose regex the engine cannot run, rather than loading one that never matches', () => {
    const diagnostics: Diagnostic[] = [];
    expect(compileIndicator(feed("[url:value MATCHES '^https?://(?<=evil)x']"), diagnostics)).toBeUndefined();
    expect(compileIndicator(feed("[url:value MATCHES '^https?://(evil']"), diagnostics)).toBeUndefined();
    expect(diagnostics.map((d) => [d.severity, d.code, d.file, d.ruleId])).toEqual([
      ['error', 'unsupported-regex', 'feed.json', 'indicator--1'],
      ['error', 'bad-regex', 'feed.json', 'indicator--1'],
    ]);
    expect(diagnostics[0]?.message).toMatch(/lookbehind/);
    expect(compileIndicator(feed("[url:value MATCHES '^https?://evil\\\\.example/']"), [])).toMatchObject({
      kind: 'indicator',
    });
  });
});

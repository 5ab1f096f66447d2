import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../src/errors.js';
import { loadRules, loadRulesFromPaths } from '../../src/rules/load.js';
import type { Rule } from '../../src/rules/model.js';

function loadOne(text: string, file = 'rules/test.yaml'): { rules: Rule[]; diagnostics: Diagnostic[] } {
  return loadRules([{ file, text }]);
}

function only(text: string): Rule {
  const { rules, diagnostics } = loadOne(text);
  expect(diagnostics).toEqual([]);
  expect(rules).toHaveLength(1);
  return rules[0]!;
}

/** 1-based column of `needle` on a 1-based line of `lines` (the test fails if it is not there). */
function col(lines: string[], line: number, needle: string, nth = 0): number {
  let from = -1;
  for (let i = 0; i <= nth; i++) {
    from = (lines[line - 1] ?? '').indexOf(needle, from + 1);
    if (from < 0) throw new Error(`'${needle}' not on line ${line}: ${lines[line - 1]}`);
  }
  return from + 1;
}

const BASH = `"[process:name = 'bash']"`;

describe('rule fields', () => {
  const full = [
    'id: full.rule:v1_x-2',
    'name: Full rule',
    'description: Every field set.',
    'severity: critical',
    'category: execution',
    'type: process',
    'tags: [attack.t1059, custom]',
    `pattern: "[process:name = 'bash' AND process:x_host_id = 'web-1']"`,
    'enabled: false',
    'group_by: process:x_host_id',
    'filters:',
    `  - "[process:command_line = 'safe']"`,
    `  - pattern: "[process:x_user = 'backup']"`,
    '    reason: nightly backup job',
    '    expires: 2026-06-30T00:00:00Z',
    'suppress: 600',
    'rate_limit: { max_alerts: 5, period: 2m, throttle_for: 1h }',
    'scope: { tenants: [acme, globex], hosts: [web-1, web-2] }',
    'valid_from: "2026-01-01T00:00:00Z"',
    'valid_until: "2026-12-31T12:30:00Z"',
    'tests:',
    '  - name: bash on web-1 alerts',
    '    expect: { alerts: 1 }',
    '',
  ].join('\n');

  it('parses every field into the Rule', () => {
    const rule = only(full);
    expect(rule.id).toBe('full.rule:v1_x-2');
    expect(rule.name).toBe('Full rule');
    expect(rule.description).toBe('Every field set.');
    expect(rule.severity).toBe('critical');
    expect(rule.category).toBe('execution');
    expect(rule.type).toBe('process');
    expect(rule.tags).toEqual(['attack.t1059', 'custom']);
    expect(rule.patternText).toBe("[process:name = 'bash' AND process:x_host_id = 'web-1']");
    expect(rule.pattern.stixVersion).toBe('2.1');
    expect(rule.pattern.observations).toHaveLength(1);
    expect(rule.enabled).toBe(false);
    expect(rule.groupByText).toEqual(['process:x_host_id']);
    expect(rule.groupBy).toHaveLength(1);
    expect(rule.groupBy[0]).toMatchObject({ objectType: 'process', steps: [{ kind: 'key', name: 'x_host_id' }] });
    expect(rule.filters).toHaveLength(2);
    expect(rule.filters[0]).toMatchObject({ text: "[process:command_line = 'safe']" });
    expect(rule.filters[0]!.reason).toBeUndefined();
    expect(rule.filters[0]!.expires).toBeUndefined();
    expect(rule.filters[0]!.pattern.observations).toHaveLength(1);
    expect(rule.filters[1]).toMatchObject({
      text: "[process:x_user = 'backup']",
      reason: 'nightly backup job',
      expires: Date.UTC(2026, 5, 30),
    });
    expect(rule.suppressSeconds).toBe(600);
    expect(rule.rateLimit).toEqual({ maxAlerts: 5, periodSeconds: 120, throttleSeconds: 3600 });
    expect(rule.scope).toEqual({ tenants: ['acme', 'globex'], hosts: ['web-1', 'web-2'] });
    expect(rule.validFrom).toBe(Date.UTC(2026, 0, 1));
    expect(rule.validUntil).toBe(Date.UTC(2026, 11, 31, 12, 30));
    expect(rule.tests).toEqual([{ name: 'bash on web-1 alerts', expect: { alerts: 1 } }]);
    expect(rule.source).toEqual({ file: 'rules/test.yaml', line: 1 });
  });

  it('gives the optional fields their defaults', () => {
    const rule = only(['id: minimal', 'name: Minimal', 'severity: low', `pattern: ${BASH}`, ''].join('\n'));
    expect(rule.description).toBe('');
    expect(rule.tags).toEqual([]);
    expect(rule.enabled).toBe(true);
    expect(rule.groupBy).toEqual([]);
    expect(rule.groupByText).toEqual([]);
    expect(rule.filters).toEqual([]);
    expect(rule.tests).toEqual([]);
    expect(rule.pattern.stixVersion).toBe('2.1');
    for (const key of ['category', 'type', 'suppressSeconds', 'rateLimit', 'scope', 'validFrom', 'validUntil'] as const)
      expect(rule[key], key).toBeUndefined();
  });

  it('accepts each severity and rejects any other', () => {
    for (const severity of ['low', 'medium', 'high', 'critical']) {
      expect(only(`id: s\nname: s\nseverity: ${severity}\npattern: ${BASH}\n`).severity).toBe(severity);
    }
    const bad = loadOne(`id: s\nname: s\nseverity: Critical\npattern: ${BASH}\n`);
    expect(bad.rules).toEqual([]);
    expect(bad.diagnostics).toMatchObject([
      { severity: 'error', code: 'rule-schema', line: 3, column: 11, ruleId: 's' },
    ]);
  });

  it('checks the id pattern', () => {
    for (const id of ['a', 'A9', 'x.y_z:w-1', `r${'x'.repeat(127)}`])
      expect(only(`id: "${id}"\nname: n\nseverity: low\npattern: ${BASH}\n`).id).toBe(id);
    for (const id of ['-lead', '.lead', 'has space', 'slash/no', `r${'x'.repeat(128)}`, '']) {
      const result = loadOne(`id: "${id}"\nname: n\nseverity: low\npattern: ${BASH}\n`);
      expect(result.rules, id).toEqual([]);
      expect(result.diagnostics, id).toMatchObject([{ code: 'rule-schema', line: 1, column: 5 }]);
      expect(result.diagnostics[0]!.message, id).toMatch(/^\/id: /);
    }
  });

  it('takes group_by as a string or a list', () => {
    const list = only(
      `id: g\nname: g\nseverity: low\npattern: ${BASH}\ngroup_by: [process:x_host_id, "user-account:user_id"]\n`,
    );
    expect(list.groupByText).toEqual(['process:x_host_id', 'user-account:user_id']);
    expect(list.groupBy.map((p) => p.objectType)).toEqual(['process', 'user-account']);
    expect(list.groupBy[1]!.steps).toEqual([{ kind: 'key', name: 'user_id' }]);
  });

  it('reads suppress and rate_limit durations in seconds or with a unit, with rate_limit defaults', () => {
    const durations: [string, number][] = [
      ['45', 45],
      ['30s', 30],
      ['10m', 600],
      ['2h', 7200],
      ['1d', 86400],
    ];
    for (const [text, seconds] of durations) {
      expect(only(`id: d\nname: d\nseverity: low\npattern: ${BASH}\nsuppress: ${text}\n`).suppressSeconds, text).toBe(
        seconds,
      );
    }
    const defaults = only(`id: d\nname: d\nseverity: low\npattern: ${BASH}\nrate_limit: { max_alerts: 3 }\n`);
    expect(defaults.rateLimit).toEqual({ maxAlerts: 3, periodSeconds: 60, throttleSeconds: 600 });
    const numeric = only(
      `id: d\nname: d\nseverity: low\npattern: ${BASH}\nrate_limit: { max_alerts: 1, period: 30, throttle_for: 90 }\n`,
    );
    expect(numeric.rateLimit).toEqual({ maxAlerts: 1, periodSeconds: 30, throttleSeconds: 90 });
    for (const bad of ['0', '10 minutes', '5w', '-3']) {
      const result = loadOne(`id: d\nname: d\nseverity: low\npattern: ${BASH}\nsuppress: ${bad}\n`);
      expect(result.rules, bad).toEqual([]);
      expect(result.diagnostics[0], bad).toMatchObject({ code: 'rule-schema', line: 5, column: 11 });
    }
  });

  it('compiles the pattern under stix_version 2.0 when asked', () => {
    const startStop = `"[process:name = 'bash'] START '2026-01-01T00:00:00Z' STOP '2026-01-02T00:00:00Z'"`;
    const v20 = only(`id: v\nname: v\nseverity: low\nstix_version: "2.0"\npattern: ${startStop}\n`);
    expect(v20.pattern.stixVersion).toBe('2.0');
    // The same pattern is not STIX 2.1 (START/STOP need t'…' literals), which is the default.
    const v21 = loadOne(`id: v\nname: v\nseverity: low\npattern: ${startStop}\n`);
    expect(v21.rules).toEqual([]);
    // One error per bound, both on the pattern's line, each pointing at its string literal.
    const line = `pattern: ${startStop}`;
    expect(v21.diagnostics).toMatchObject([
      {
        severity: 'error',
        code: 'start-stop-needs-timestamp',
        line: 4,
        column: line.indexOf("'2026-01-01") + 1,
        ruleId: 'v',
      },
      {
        severity: 'error',
        code: 'start-stop-needs-timestamp',
        line: 4,
        column: line.indexOf("'2026-01-02") + 1,
        ruleId: 'v',
      },
    ]);
    expect(only(`id: v\nname: v\nseverity: low\nstix_version: "2.1"\npattern: ${BASH}\n`).pattern.stixVersion).toBe(
      '2.1',
    );
  });

  it('rejects an unparseable valid_from / valid_until / filter expires with its position', () => {
    const lines = [
      'id: t',
      'name: t',
      'severity: low',
      `pattern: ${BASH}`,
      'valid_from: yesterday',
      'filters:',
      `  - pattern: ${BASH}`,
      '    expires: soon',
      '',
    ];
    const result = loadOne(lines.join('\n'));
    expect(result.rules).toEqual([]);
    expect(result.diagnostics).toEqual([
      expect.objectContaining({ code: 'bad-filter-expiry', line: 8, column: col(lines, 8, 'soon'), ruleId: 't' }),
      expect.objectContaining({ code: 'bad-validity', line: 5, column: col(lines, 5, 'yesterday'), ruleId: 't' }),
    ]);
  });
});

describe('file shapes', () => {
  const rule = (id: string, indent = ''): string =>
    [`id: ${id}`, `name: ${id}`, 'severity: low', `pattern: ${BASH}`]
      .map((l, i) => (i === 0 ? l : `${indent}${l}`))
      .join('\n');

  it('a single rule mapping', () => {
    const { rules, diagnostics } = loadOne(`${rule('one')}\n`);
    expect(diagnostics).toEqual([]);
    expect(rules.map((r) => [r.id, r.source?.line])).toEqual([['one', 1]]);
  });

  it('a list of rules', () => {
    const { rules, diagnostics } = loadOne(`- ${rule('a', '  ')}\n\n- ${rule('b', '  ')}\n`);
    expect(diagnostics).toEqual([]);
    expect(rules.map((r) => [r.id, r.source?.line])).toEqual([
      ['a', 1],
      ['b', 6],
    ]);
  });

  it('a mapping with a rules: list', () => {
    const { rules, diagnostics } = loadOne(`# comment\nrules:\n  - ${rule('a', '    ')}\n  - ${rule('b', '    ')}\n`);
    expect(diagnostics).toEqual([]);
    expect(rules.map((r) => [r.id, r.source?.line])).toEqual([
      ['a', 3],
      ['b', 7],
    ]);
  });

  it('several YAML documents, each any of the shapes', () => {
    const text = `${rule('a')}\n---\n- ${rule('b', '  ')}\n---\nrules:\n  - ${rule('c', '    ')}\n`;
    const { rules, diagnostics } = loadOne(text);
    expect(diagnostics).toEqual([]);
    expect(rules.map((r) => [r.id, r.source?.line])).toEqual([
      ['a', 1],
      ['b', 6],
      ['c', 12],
    ]);
  });

  it('JSON: a rule, a list, and a rules: mapping', () => {
    const r = (id: string): object => ({
      id,
      name: id,
      severity: 'high',
      pattern: "[process:name = 'bash']",
      group_by: ['process:x_host_id'],
      suppress: '1h',
    });
    const { rules, diagnostics } = loadRules([
      { file: 'one.json', text: JSON.stringify(r('j1')) },
      { file: 'list.json', text: JSON.stringify([r('j2'), r('j3')], null, 2) },
      { file: 'map.json', text: JSON.stringify({ rules: [r('j4')] }) },
    ]);
    expect(diagnostics).toEqual([]);
    expect(rules.map((x) => [x.id, x.source?.file, x.severity, x.suppressSeconds])).toEqual([
      ['j1', 'one.json', 'high', 3600],
      ['j2', 'list.json', 'high', 3600],
      ['j3', 'list.json', 'high', 3600],
      ['j4', 'map.json', 'high', 3600],
    ]);
  });

  it('reports a file that is not any of the shapes, and entries that are not rules', () => {
    expect(loadOne('just a string\n').diagnostics).toMatchObject([{ code: 'rule-file-shape', line: 1, column: 1 }]);
    expect(loadOne('foo: bar\n').diagnostics).toMatchObject([{ code: 'rule-file-shape', line: 1, column: 1 }]);
    const mixed = loadOne(`- 42\n- ${rule('ok', '  ')}\n`);
    expect(mixed.rules.map((r) => r.id)).toEqual(['ok']);
    expect(mixed.diagnostics).toMatchObject([
      { code: 'rule-not-a-mapping', file: 'rules/test.yaml', line: 1, column: 3 },
    ]);
    expect(loadOne('').diagnostics).toEqual([]);
  });
});

describe('a rule file with several broken rules', () => {
  const lines = [
    /*  1 */ 'rules:',
    /*  2 */ '  - id: first-good',
    /*  3 */ '    name: First good',
    /*  4 */ '    severity: low',
    /*  5 */ `    pattern: ${BASH}`,
    /*  6 */ '',
    /*  7 */ '  - id: bad-severity',
    /*  8 */ '    name: Bad severity',
    /*  9 */ '    severity: urgent',
    /* 10 */ `    pattern: ${BASH}`,
    /* 11 */ '',
    /* 12 */ '  - id: unknown-field',
    /* 13 */ '    name: Unknown field',
    /* 14 */ '    severity: low',
    /* 15 */ '    colour: blue',
    /* 16 */ `    pattern: ${BASH}`,
    /* 17 */ '',
    /* 18 */ '  - id: missing-pattern',
    /* 19 */ '    name: Missing pattern',
    /* 20 */ '    severity: low',
    /* 21 */ '',
    /* 22 */ '  - id: pattern-syntax',
    /* 23 */ '    name: Pattern syntax',
    /* 24 */ '    severity: low',
    /* 25 */ `    pattern: "[process:name = 'bash' AND ]"`,
    /* 26 */ '',
    /* 27 */ '  - id: bad-group-by',
    /* 28 */ '    name: Bad group by',
    /* 29 */ '    severity: low',
    /* 30 */ `    pattern: ${BASH}`,
    /* 31 */ '    group_by: [process:name, "no path here"]',
    /* 32 */ '',
    /* 33 */ '  - id: middle-good',
    /* 34 */ '    name: Middle good',
    /* 35 */ '    severity: medium',
    /* 36 */ `    pattern: "[process:name = 'sh']"`,
    /* 37 */ '',
    /* 38 */ '  - id: bad-filter',
    /* 39 */ '    name: Bad filter',
    /* 40 */ '    severity: low',
    /* 41 */ `    pattern: ${BASH}`,
    /* 42 */ '    filters:',
    /* 43 */ `      - "[process:name = 'ok']"`,
    /* 44 */ `      - pattern: "[process:name =]"`,
    /* 45 */ '        reason: broken',
    /* 46 */ '',
    /* 47 */ '  - id: first-good',
    /* 48 */ '    name: Duplicate of the first',
    /* 49 */ '    severity: high',
    /* 50 */ `    pattern: "[process:name = 'zsh']"`,
    /* 51 */ '',
    /* 52 */ '  - id: last-good',
    /* 53 */ '    name: Last good',
    /* 54 */ '    severity: high',
    /* 55 */ `    pattern: "[file:name = 'shadow']"`,
    '',
  ];
  const otherLines = [
    'rules:',
    '  - id: in-other-file',
    '    name: a: b',
    '    severity: low',
    `    pattern: ${BASH}`,
    '',
  ];
  const thirdLines = ['id: third-file-good', 'name: Third', 'severity: low', `pattern: ${BASH}`, ''];

  const result = loadRules([
    { file: 'rules/broken.yaml', text: lines.join('\n') },
    { file: 'rules/other.yaml', text: otherLines.join('\n') },
    { file: 'rules/third.yaml', text: thirdLines.join('\n') },
  ]);
  const byRule = (ruleId: string): Diagnostic[] => result.diagnostics.filter((d) => d.ruleId === ruleId);

  it('still loads the valid rules of the same file, and of the other files', () => {
    expect(result.rules.map((r) => r.id)).toEqual(['first-good', 'middle-good', 'last-good', 'third-file-good']);
    expect(result.rules.find((r) => r.id === 'first-good')?.name).toBe('First good');
    expect(result.rules.map((r) => r.source)).toEqual([
      { file: 'rules/broken.yaml', line: 2 },
      { file: 'rules/broken.yaml', line: 33 },
      { file: 'rules/broken.yaml', line: 52 },
      { file: 'rules/third.yaml', line: 1 },
    ]);
  });

  it('reports every problem as an error, with no warnings', () => {
    expect(result.diagnostics.every((d) => d.severity === 'error')).toBe(true);
    expect(result.diagnostics.map((d) => [d.file, d.code, d.ruleId])).toEqual([
      ['rules/broken.yaml', 'rule-schema', 'bad-severity'],
      ['rules/broken.yaml', 'rule-schema', 'unknown-field'],
      ['rules/broken.yaml', 'rule-schema', 'missing-pattern'],
      ['rules/broken.yaml', 'syntax', 'pattern-syntax'],
      ['rules/broken.yaml', 'bad-group-by', 'bad-group-by'],
      ['rules/broken.yaml', 'syntax', 'bad-filter'],
      ['rules/broken.yaml', 'duplicate-rule-id', 'first-good'],
      ['rules/other.yaml', 'yaml-syntax', undefined],
    ]);
  });

  it('bad severity: at the value, naming the allowed values', () => {
    const [d, ...rest] = byRule('bad-severity');
    expect(rest).toEqual([]);
    expect(d).toMatchObject({ code: 'rule-schema', file: 'rules/broken.yaml', line: 9, column: 15 });
    expect(col(lines, 9, 'urgent')).toBe(15);
    expect(d!.message).toContain('/severity');
    expect(d!.message).toContain('low, medium, high, critical');
  });

  it('unknown field: named, at the field', () => {
    const [d, ...rest] = byRule('unknown-field');
    expect(rest).toEqual([]);
    expect(d!.message).toContain("unknown field 'colour'");
    expect(d).toMatchObject({ code: 'rule-schema', file: 'rules/broken.yaml' });
    // The field is on line 15; pointing at the rule's first line (12) sends the author to the wrong place.
    expect({ line: d!.line, column: d!.column }).toEqual({ line: 15, column: col(lines, 15, 'colour') });
  });

  it('missing pattern: at the rule', () => {
    const [d, ...rest] = byRule('missing-pattern');
    expect(rest).toEqual([]);
    expect(d).toMatchObject({ code: 'rule-schema', file: 'rules/broken.yaml', line: 18, column: 5 });
    expect(d!.message).toContain("'pattern'");
  });

  it('pattern syntax error: its column points into the pattern, at the offending token', () => {
    const [d, ...rest] = byRule('pattern-syntax');
    expect(rest).toEqual([]);
    expect(d).toMatchObject({ code: 'syntax', file: 'rules/broken.yaml', line: 25, offendingToken: ']' });
    expect(d!.column).toBe(42);
    expect(lines[24]![d!.column! - 1]).toBe(']');
    expect(d!.column).toBe(col(lines, 25, 'AND ]') + 4);
  });

  it('bad group_by path: at the offending list item', () => {
    const [d, ...rest] = byRule('bad-group-by');
    expect(rest).toEqual([]);
    expect(d).toMatchObject({ code: 'bad-group-by', file: 'rules/broken.yaml', line: 31, column: 30 });
    expect(col(lines, 31, '"no path here"')).toBe(30);
    expect(d!.message).toContain('no path here');
  });

  it('bad filter pattern: on the filter line, named by index', () => {
    const [d, ...rest] = byRule('bad-filter');
    expect(rest).toEqual([]);
    expect(d).toMatchObject({ code: 'syntax', file: 'rules/broken.yaml', line: 44 });
    expect(d!.message).toMatch(/^filter 1: /);
  });

  it("bad filter pattern: its column points into the filter's pattern, like a rule pattern error", () => {
    const [d] = byRule('bad-filter');
    // `      - pattern: "[process:name =]"`: the offending `]` is at column 34.
    expect(lines[43]![33]).toBe(']');
    expect({ line: d!.line, column: d!.column }).toEqual({ line: 44, column: 34 });
  });

  it('duplicate id: the later rule, pointing back at the first', () => {
    const [d, ...rest] = byRule('first-good');
    expect(rest).toEqual([]);
    expect(d).toMatchObject({ code: 'duplicate-rule-id', file: 'rules/broken.yaml', line: 47, column: 5 });
    expect(d!.message).toContain('rules/broken.yaml:2');
  });

  it('YAML syntax error in another file: at the error, with the file', () => {
    const d = result.diagnostics.find((x) => x.file === 'rules/other.yaml');
    expect(d).toMatchObject({ severity: 'error', code: 'yaml-syntax', line: 3, column: col(otherLines, 3, 'a: b') });
  });

  it('a YAML syntax error skips only its own document', () => {
    const text = [rule('d1'), '---', 'id: d2', 'name: [oops', '---', rule('d3'), ''].join('\n');
    const { rules, diagnostics } = loadOne(text);
    expect(rules.map((r) => r.id)).toEqual(['d1', 'd3']);
    expect(diagnostics).toMatchObject([{ code: 'yaml-syntax', file: 'rules/test.yaml' }]);
    expect(diagnostics[0]!.line).toBeGreaterThanOrEqual(7);
  });

  function rule(id: string): string {
    return [`id: ${id}`, `name: ${id}`, 'severity: low', `pattern: ${BASH}`].join('\n');
  }
});

describe('pattern error columns for other scalar styles', () => {
  // The pattern `([process:name = 'bash' AND ])` has its offending `]` at 1-based pattern column 28 (29 with the parenthesis).
  const cases: { style: string; lines: string[]; line: number; column: number }[] = [
    {
      style: 'double-quoted',
      lines: ['id: p', 'name: p', 'severity: low', `pattern: "([process:name = 'bash' AND ])"`],
      line: 4,
      column: 39,
    },
    {
      style: 'plain',
      lines: ['id: p', 'name: p', 'severity: low', `pattern: ([process:name = 'bash' AND ])`],
      line: 4,
      column: 38,
    },
    {
      style: 'single-quoted with escaped quotes',
      lines: ['id: p', 'name: p', 'severity: low', `pattern: '([process:name = ''bash'' AND ])'`],
      line: 4,
      column: 41,
    },
  ];
  for (const c of cases) {
    it(`${c.style}: the column is the offending token's column in the file`, () => {
      const { rules, diagnostics } = loadOne(c.lines.join('\n'));
      expect(rules).toEqual([]);
      expect(c.lines[c.line - 1]![c.column - 1]).toBe(']');
      expect(diagnostics).toHaveLength(1);
      expect(diagnostics[0]).toMatchObject({ code: 'syntax', offendingToken: ']', ruleId: 'p' });
      expect({ line: diagnostics[0]!.line, column: diagnostics[0]!.column }).toEqual({
        line: c.line,
        column: c.column,
      });
    });
  }

  it('block scalar: points at the token on its content line, or at least at the field', () => {
    const lines = ['id: p', 'name: p', 'severity: low', 'pattern: |-', `  ([process:name = 'bash' AND ])`, ''];
    const { diagnostics } = loadOne(lines.join('\n'));
    expect(diagnostics).toHaveLength(1);
    const at = { line: diagnostics[0]!.line, column: diagnostics[0]!.column };
    const exact = { line: 5, column: col(lines, 5, 'AND ])') + 4 };
    const field = { line: 4, column: col(lines, 4, '|-') };
    expect(lines[exact.line - 1]![exact.column - 1]).toBe(']');
    // Anything else (line 4, column 38) is past the end of `pattern: |-`.
    expect([exact, field]).toContainEqual(at);
  });
});

describe('loadRulesFromPaths', () => {
  let dir: string;
  const write = (path: string, text: string): void => writeFileSync(join(dir, path), text);
  const ruleText = (id: string): string => `id: ${id}\nname: ${id}\nseverity: low\npattern: ${BASH}\n`;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'stixflow-rules-'));
    mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
    write('b.yaml', ruleText('b-yaml'));
    write('a.json', JSON.stringify({ id: 'a-json', name: 'a', severity: 'low', pattern: "[process:name = 'bash']" }));
    write('c.yml', ruleText('c-yml'));
    write('sub/a.yaml', ruleText('sub-a'));
    write('sub/deeper/z.yml', ruleText('deep-z'));
    // Not rule files: never read (they would be errors if they were).
    write('notes.txt', 'not: [a rule');
    write('README.md', '# rules');
    write('sub/rule.yaml.bak', ruleText('backup'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a directory recursively, yaml/yml/json only, in name order', () => {
    const { rules, diagnostics } = loadRulesFromPaths([dir]);
    expect(diagnostics).toEqual([]);
    expect(rules.map((r) => r.id)).toEqual(['a-json', 'b-yaml', 'c-yml', 'sub-a', 'deep-z']);
    expect(rules.map((r) => r.source?.file)).toEqual([
      join(dir, 'a.json'),
      join(dir, 'b.yaml'),
      join(dir, 'c.yml'),
      join(dir, 'sub', 'a.yaml'),
      join(dir, 'sub', 'deeper', 'z.yml'),
    ]);
  });

  it('reads a single file given by path, whatever its extension', () => {
    const { rules, diagnostics } = loadRulesFromPaths([join(dir, 'sub', 'rule.yaml.bak')]);
    expect(diagnostics).toEqual([]);
    expect(rules.map((r) => r.id)).toEqual(['backup']);
  });

  it('reports a missing path and still loads the others', () => {
    const missing = join(dir, 'nope.yaml');
    const { rules, diagnostics } = loadRulesFromPaths([missing, join(dir, 'c.yml')]);
    expect(rules.map((r) => r.id)).toEqual(['c-yml']);
    expect(diagnostics).toEqual([
      expect.objectContaining({ severity: 'error', code: 'rule-file-missing', file: missing }),
    ]);
  });

  it('reports duplicate ids across files', () => {
    const { rules, diagnostics } = loadRulesFromPaths([join(dir, 'c.yml'), join(dir, 'c.yml')]);
    expect(rules.map((r) => r.id)).toEqual(['c-yml']);
    expect(diagnostics).toMatchObject([{ code: 'duplicate-rule-id', ruleId: 'c-yml', line: 1, column: 1 }]);
  });
});

describe('the streaming limit on correlation patterns', () => {
  const many = (n: number, join: string): string =>
    Array.from({ length: n }, (_, i) => `[x:v = 'v${i}']`).join(` ${join} `);
  const text = [
    'rules:',
    '  - id: too-many',
    '    name: Too many',
    '    severity: low',
    `    pattern: "${many(32, 'FOLLOWEDBY')}"`,
    '  - id: many-alternatives',
    '    name: Many alternatives',
    '    severity: low',
    `    pattern: "${many(40, 'OR')}"`,
    '',
  ].join('\n');
  const result = loadRules([{ file: 'rules/many.yaml', text }]);

  it('reports a correlation of 32 expressions at its pattern, and loads a 40-way OR', () => {
    expect(result.rules.map((r) => r.id)).toEqual(['many-alternatives']);
    expect(result.diagnostics).toEqual([
      expect.objectContaining({
        severity: 'error',
        code: 'too-many-observations',
        file: 'rules/many.yaml',
        line: 5,
        ruleId: 'too-many',
        message: expect.stringContaining('at most 31 observation expressions; this one has 32'),
      }),
    ]);
  });
});

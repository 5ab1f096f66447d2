/**
 * The catalogue of rule-loading codes: every code it lists comes out of some rule file (one
 * fixture per code, typed by the catalogue so that a new entry needs one), every code loading
 * emits is catalogued (or is a pattern compiler code), and docs/rules.md lists the same table.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../src/errors.js';
import { PatternDiagnosticCode } from '../../src/pattern/diagnostics.js';
import { RULE_LOAD_CODES, isRuleLoadCode, type RuleLoadCode } from '../../src/rules/diagnostics.js';
import { writeCompiledRules } from '../../src/rules/compile-dir.js';
import { loadRules, loadRulesFromPaths } from '../../src/rules/load.js';
import { builtinSigmaTaxonomy } from '../../src/rules/sigma/taxonomy.js';

const dir = mkdtempSync(join(tmpdir(), 'stixflow-codes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BASH = `"[process:name = 'bash']"`;
const rule = (id: string, extra: string[] = [], pattern = BASH): string =>
  [`id: ${id}`, `name: ${id}`, 'severity: low', `pattern: ${pattern}`, ...extra, ''].join('\n');
const aggregation = (extra: string[], select = BASH): string =>
  [`id: agg`, `name: agg`, 'severity: low', `select: ${select}`, ...extra, ''].join('\n');
const load = (text: string, options = {}): Diagnostic[] =>
  loadRules([{ file: 'rules/x.yaml', text }], options).diagnostics;
const bundle = (objects: object[]): string => JSON.stringify({ type: 'bundle', id: 'bundle--1', objects });

/** A Sigma rule (windows process_creation, built-in taxonomy) with this selection and condition. */
const sigma = (selection: string, condition = 'selection', head = 'status: test'): string =>
  [
    'title: t',
    'id: 5b0c3c1e-0000-4000-8000-000000000001',
    head,
    'logsource: { category: process_creation, product: windows }',
    'detection:',
    `    selection: ${selection}`,
    `    condition: ${condition}`,
    '',
  ].join('\n');

/** The Sigma rule above (named `base`) and a correlation of it with these `correlation:` lines. */
const correlation = (lines: string[]): string =>
  [
    sigma('{ CommandLine: x }').replace('title: t\n', 'title: t\nname: base\n'),
    '---',
    'title: c',
    'id: 5b0c3c1e-0000-4000-8000-0000000000c1',
    'correlation:',
    ...lines.map((line) => `    ${line}`),
    '',
  ].join('\n');

/** The Sigma rule above and a Sigma filter of it with these `filter:` lines. */
const sigmaFilter = (lines: string[]): string =>
  [
    sigma('{ CommandLine: x }'),
    '---',
    'title: f',
    'id: 5b0c3c1e-0000-4000-8000-0000000000f1',
    'logsource: { product: windows }',
    'filter:',
    ...lines.map((line) => `    ${line}`),
    '',
  ].join('\n');

/** A rules directory with this sigma-pipeline.yml and one Sigma rule, loaded from disk. */
const sigmaPipeline = (pipeline: string, ruleText: string): Diagnostic[] => {
  const root = mkdtempSync(join(dir, 'pipeline-'));
  writeFileSync(join(root, 'sigma-pipeline.yml'), pipeline);
  writeFileSync(join(root, 'rule.yml'), ruleText);
  return loadRulesFromPaths([root]).diagnostics;
};

/** One rule source per code that makes loading report it. */
const FIXTURES: Record<RuleLoadCode, () => Diagnostic[]> = {
  'rule-file-missing': () => loadRulesFromPaths([join(dir, 'nowhere.yaml')]).diagnostics,
  'rules-compiled-stale': () => {
    // Precompiled, then a rule file edited: the directory loads from its files, with the warning.
    const compiled = join(dir, 'compiled');
    mkdirSync(compiled);
    writeFileSync(join(compiled, 'a.yaml'), rule('a'));
    writeCompiledRules(compiled);
    writeFileSync(join(compiled, 'a.yaml'), rule('b'));
    return loadRulesFromPaths([compiled]).diagnostics;
  },
  'rule-file-unreadable': () => {
    const loop = mkdtempSync(join(dir, 'loop-'));
    symlinkSync(join(loop, 'b.yaml'), join(loop, 'a.yaml'));
    symlinkSync(join(loop, 'a.yaml'), join(loop, 'b.yaml'));
    return loadRulesFromPaths([loop]).diagnostics;
  },
  'rule-file-dangling-link': () => {
    const links = mkdtempSync(join(dir, 'links-'));
    symlinkSync(join(links, 'gone.yaml'), join(links, 'rule.yaml'));
    return loadRulesFromPaths([links]).diagnostics;
  },
  'yaml-syntax': () => load('id: a\nname: [oops\n'),
  'yaml-warning': () => load(rule('a').replace('pattern: "', 'pattern: !unknown "')),
  'rule-file-shape': () => load('foo: bar\n'),
  'rule-not-a-mapping': () => load(`- 42\n`),
  'unknown-top-level-key': () => load(`rules: []\nrule: oops\n`),
  'indicator-pattern-type': () =>
    loadRules([
      { file: 'feed.json', text: bundle([{ type: 'indicator', id: 'i', pattern_type: 'yara', pattern: 'rule x {}' }]) },
    ]).diagnostics,
  'duplicate-rule-id': () =>
    load(`- ${rule('twice').replace(/\n(?=.)/g, '\n  ')}- ${rule('twice').replace(/\n(?=.)/g, '\n  ')}`),
  'rule-schema': () => load(rule('a', ['colour: blue'])),
  'unknown-test-key': () => load(rule('a', ['tests:', '  - name: t', '    expected: alert'])),
  'too-many-observations': () =>
    load(rule('a', [], `"${Array.from({ length: 32 }, (_, i) => `[x:v = '${i}']`).join(' FOLLOWEDBY ')}"`)),
  'bad-group-by': () => load(rule('a', ['group_by: "no path"'])),
  'bad-case-path': () => load(rule('a', ['case_sensitive: { except: ["no path"] }'])),
  'bad-filter-expiry': () => load(rule('a', ['filters:', `  - { pattern: ${BASH}, expires: soon }`])),
  'bad-validity': () => load(rule('a', ['valid_until: never'])),
  'bad-template': () => load(rule('a', ['title: "{process name} ran"'])),
  'bad-context-path': () => load(rule('a', ['context: { parent: "process:parent_ref" }'])),
  'bad-severity-override': () =>
    load(
      rule('a', [
        'severity_overrides:',
        `  - { when: "[process:pid = 1] FOLLOWEDBY [process:pid = 2]", severity: high }`,
      ]),
    ),
  unsatisfiable: () => load(rule('a', [], `"[process:pid = 1 AND process:pid = 2]"`)),
  'observation-never-matches': () =>
    load(rule('a', [], `"[process:pid = 1 AND process:pid = 2] OR [process:pid = 3]"`)),
  'rule-compile-failed': () =>
    load(sigma('{ CommandLine: x }'), {
      sigmaTaxonomy: {
        ...builtinSigmaTaxonomy,
        field: () => {
          throw new Error('taxonomy table unreadable');
        },
      },
    }),
  'sigma-multi-document': () => load(`action: global\ntitle: t\n---\naction: sideways\n`),
  'sigma-rule-shape': () => load(sigma('{ CommandLine: x }').replace('title: t\n', '')),
  'sigma-status-not-run': () => load(sigma('{ CommandLine: x }', 'selection', 'status: deprecated')),
  // A logsource naming nothing selects nothing (one naming an unknown product needs a mapping declaring it).
  'sigma-unsupported-logsource': () =>
    load(sigma('{ CommandLine: x }').replace('{ category: process_creation, product: windows }', '{}')),
  'sigma-logsource-needs-mapping': () =>
    load(sigma('{ CommandLine: x }').replace('product: windows', 'product: amiga')),
  'sigma-condition': () => load(sigma('{ CommandLine: x }', 'selection and nothing')),
  'sigma-selection-shape': () => load(sigma('[{ CommandLine: x }, [nested]]')),
  // CloudTrail records carry no event text for keywords to search.
  'sigma-keyword-selection': () =>
    load(
      sigma('[whoami]').replace(
        '{ category: process_creation, product: windows }',
        '{ product: aws, service: cloudtrail }',
      ),
    ),
  'sigma-unknown-modifier': () => load(sigma('{ CommandLine|sparkly: x }')),
  'sigma-unsupported-modifier': () => load(sigma('{ CommandLine|fieldref|re: ParentCommandLine }')),
  'sigma-bad-value': () => load(sigma('{ CommandLine|base64: "who*" }')),
  'sigma-unsupported-regex': () => load(sigma('{ CommandLine|re: "(?=a)b" }')),
  'sigma-bad-regex': () => load(sigma('{ CommandLine|re: "(a" }')),
  'sigma-unknown-field': () =>
    // A taxonomy without a raw-field fallback (the built-in one always has one).
    load(sigma('{ CommandLine: x }'), { sigmaTaxonomy: { ...builtinSigmaTaxonomy, field: () => undefined } }),
  'sigma-empty-detection': () => load(sigma('{ CommandLine: [] }')),
  // Sigma correlations
  'sigma-correlation-shape': () => load(correlation(['type: event_count', 'rules: [base]', 'condition: { gte: 2 }'])),
  'sigma-correlation-rule': () =>
    load(correlation(['type: event_count', 'rules: [nothing]', 'timespan: 5m', 'condition: { gte: 2 }'])),
  'sigma-correlation-unsupported': () =>
    load(correlation(['type: event_count', 'rules: [base]', 'timespan: 5m', 'condition: { neq: 2 }'])),
  // Sigma filters and pipelines
  'sigma-filter-shape': () => load(sigmaFilter(['selection: { User: admin }', 'condition: not selection'])),
  'sigma-filter-rule': () =>
    load(sigmaFilter(['rules: [no-such-rule]', 'selection: { User: admin }', 'condition: not selection'])),
  'sigma-pipeline-shape': () =>
    sigmaPipeline('transformations:\n  - type: field_name_prefix\n', sigma('{ CommandLine: x }')),
  'sigma-pipeline-transformation': () =>
    sigmaPipeline('transformations:\n  - type: drop_detection_item\n', sigma('{ CommandLine: x }')),
  // lists, macros and shared exceptions (#14.2, #14.5)
  'bad-block-definition': () => load('lists:\n  empty: []\n'),
  'duplicate-block-name': () => load('lists:\n  apps: [a]\nmacros:\n  apps: "process:name = \'a\'"\n'),
  'unknown-block': () =>
    load(`rules:\n  - ${rule('a', [], '"[process:name IN $nowhere]"').replace(/\n(?=.)/g, '\n    ')}`),
  'block-cycle': () => load('macros:\n  a: "process:pid = 1 OR $b"\n  b: "$a"\n'),
  'block-misuse': () =>
    load(`lists:\n  apps: [a]\nrules:\n  - ${rule('a', [], '"[process:name = $apps]"').replace(/\n(?=.)/g, '\n    ')}`),
  'block-invalid': () =>
    load(`macros:\n  m: "process:name ="\nrules:\n  - ${rule('a', [], '"[$m]"').replace(/\n(?=.)/g, '\n    ')}`),
  'bad-exception': () => load('exceptions:\n  - { id: x, pattern: "[process:name = \'a\']" }\n'),
  'exception-expired': () =>
    load(
      `exceptions:\n  - { id: x, pattern: ${BASH}, applies_to: all, reason: r, expires: 2020-01-01 }\nrules:\n  - ${rule('a').replace(/\n(?=.)/g, '\n    ')}`,
    ),
  'exception-unused': () =>
    load(`exceptions:\n  - { id: x, pattern: ${BASH}, applies_to: { tags: [t] }, reason: r, expires: 2999-01-01 }\n`),
  'aggregation-field': () => load(rule('a', ['window: 10m'])),
  'aggregation-select': () =>
    load(
      aggregation(
        ['kind: threshold', 'window: 10m', 'condition: 5'],
        `"[process:pid = 1] FOLLOWEDBY [process:pid = 2]"`,
      ),
    ),
  'bad-aggregation-path': () => load(aggregation(['kind: threshold', 'window: 10m', 'condition: 5', 'sum: "no path"'])),
  'aggregation-condition': () => load(aggregation(['kind: threshold', 'window: 10m', 'condition: { gt: 5, lt: 3 }'])),
};

const PATTERN_CODES = new Set<string>(Object.values(PatternDiagnosticCode));

describe('the catalogue of rule-loading codes', () => {
  it('has a fixture for every code, and nothing else', () => {
    expect(Object.keys(FIXTURES).sort()).toEqual(Object.keys(RULE_LOAD_CODES).sort());
  });

  for (const [code, fixture] of Object.entries(FIXTURES) as [RuleLoadCode, () => Diagnostic[]][]) {
    it(`${code}: reported with the catalogue's severity, at a file`, () => {
      const diagnostics = fixture();
      const found = diagnostics.filter((d) => d.code === code);
      expect(found.length, JSON.stringify(diagnostics)).toBeGreaterThan(0);
      for (const d of found) {
        expect(d.severity).toBe(RULE_LOAD_CODES[code].severity);
        expect(d.file).toBeTruthy();
        expect(d.message).toBeTruthy();
      }
      // Whatever else the fixture reports is catalogued too, or is a pattern compiler code.
      for (const d of diagnostics) expect(isRuleLoadCode(d.code) || PATTERN_CODES.has(d.code), d.code).toBe(true);
    });
  }

  it('covers everything the repository rules, examples and pattern errors make loading report', () => {
    const diagnostics = [
      ...loadRulesFromPaths(['rules', 'examples']).diagnostics,
      ...load(rule('p', [], `"[process:name = 'x' AND ]"`)),
      ...load(rule('q', [], `"[file:hashes.MD5 = 'abc']"`)),
      ...load(rule('r', ['filters:', `  - "[process:created = t'not a time']"`])),
    ];
    expect(diagnostics.length).toBeGreaterThan(0);
    for (const d of diagnostics) expect(isRuleLoadCode(d.code) || PATTERN_CODES.has(d.code), d.code).toBe(true);
  });

  it('is the table in docs/rules.md, stage and severity included', () => {
    const doc = readFileSync('docs/rules.md', 'utf8');
    const rows = [...doc.matchAll(/^\| `([a-z-]+)` \| (read|collect|compile) \| (error|warning) \|/gm)].map((m) => [
      m[1],
      m[2],
      m[3],
    ]);
    expect(rows).toEqual(Object.entries(RULE_LOAD_CODES).map(([code, e]) => [code, e.stage, e.severity]));
  });
});

/**
 * Issue #11, item 11: one verdict everywhere on a rule whose pattern can never match. The rule
 * loader (which every shell loads through: validate, run, state, test, the Lambda functions,
 * cdk synth) reports it as an error and skips it; `allowUnsatisfiable` /
 * `--allow-unsatisfiable` keeps it, with a warning. Driven through the loader and the CLI.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRules, loadRulesFromPaths } from '../../src/rules/load.js';
import { runCli } from './run-cli.js';

const root = mkdtempSync(join(tmpdir(), 'stixflow-unsat-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
function rulesDir(files: Record<string, string>): string {
  const dir = join(root, `rules-${dirs++}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
function eventsFile(lines: unknown[]): string {
  const file = join(root, `events-${dirs++}.ndjson`);
  writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n'));
  return file;
}

const RULES = `rules:
  - id: fires
    name: Fires
    severity: low
    pattern: "[process:name = 'a.exe']"
    tests:
      - name: a.exe
        events: [{ process: a.exe, datetime: "2026-01-01T10:00:00" }]
        expect: alert
  - id: never-fires
    name: Never fires
    severity: high
    pattern: "[process:name = 'a.exe' AND process:name = 'b.exe']"
    tests:
      - name: nothing can match
        events: [{ process: a.exe, datetime: "2026-01-01T10:00:00" }]
        expect: no-alert
`;
/** Line and column of the second comparison of never-fires's pattern in RULES (1-based). */
const UNSAT_LINE = 13;
const UNSAT_COLUMN = RULES.split('\n')[UNSAT_LINE - 1]!.indexOf("process:name = 'b.exe'") + 1;

const EVENT = { process: 'a.exe', datetime: '2026-01-01T10:00:00' };

describe('the rule loader', () => {
  it('reports a rule that can never match as an error at its comparison, and skips it', () => {
    const { rules, diagnostics } = loadRules([{ file: 'rules.yaml', text: RULES }]);
    expect(rules.map((r) => r.id)).toEqual(['fires']);
    expect(diagnostics).toEqual([
      {
        severity: 'error',
        code: 'unsatisfiable',
        message: "pattern: process:name: no value satisfies = 'a.exe' and = 'b.exe'",
        file: 'rules.yaml',
        line: UNSAT_LINE,
        column: UNSAT_COLUMN,
        offset: expect.any(Number) as number,
        length: "process:name = 'b.exe'".length,
        ruleId: 'never-fires',
      },
    ]);
  });

  it('allowUnsatisfiable keeps it, with the same diagnostic as a warning', () => {
    const { rules, diagnostics } = loadRules([{ file: 'rules.yaml', text: RULES }], { allowUnsatisfiable: true });
    expect(rules.map((r) => r.id)).toEqual(['fires', 'never-fires']);
    expect(diagnostics.map((d) => [d.severity, d.code, d.ruleId, d.line])).toEqual([
      ['warning', 'unsatisfiable', 'never-fires', UNSAT_LINE],
    ]);
    expect(diagnostics[0]?.message).toContain('(kept: unsatisfiable rules allowed)');
  });

  it('a dead observation kept alive by an observation-level OR loads, with a warning', () => {
    const text = `- id: alive\n  name: Alive\n  severity: low\n  pattern: "[network-traffic:x_attr = 'x'] OR [file:name = 'a.exe' AND url:value = 'www.example.com']"\n`;
    const { rules, diagnostics } = loadRules([{ file: 'alive.yaml', text }]);
    expect(rules.map((r) => r.id)).toEqual(['alive']);
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(diagnostics.map((d) => d.code)).toContain('observation-never-matches');
  });

  it('a regex that can never match makes the rule unsatisfiable', () => {
    const text = `- id: anchored\n  name: Anchored wrongly\n  severity: low\n  pattern: "[process:name MATCHES 'Windows^']"\n`;
    const { rules, diagnostics } = loadRules([{ file: 'anchored.yaml', text }]);
    expect(rules).toEqual([]);
    expect(diagnostics.map((d) => [d.severity, d.code, d.ruleId])).toEqual([['error', 'unsatisfiable', 'anchored']]);
  });

  it('an indicator whose pattern can never match is refused from a bundle; the others are indexed', () => {
    const indicator = (n: number, pattern: string): Record<string, unknown> => ({
      type: 'indicator',
      spec_version: '2.1',
      id: `indicator--00000000-0000-4000-8000-00000000000${n}`,
      name: `ioc ${n}`,
      pattern,
      pattern_type: 'stix',
      valid_from: '2025-01-01T00:00:00Z',
    });
    const text = JSON.stringify({
      type: 'bundle',
      id: 'bundle--00000000-0000-4000-8000-000000000001',
      objects: [
        indicator(1, "[ipv4-addr:value = '198.51.100.7']"),
        indicator(2, "[ipv4-addr:value = '198.51.100.7' AND ipv4-addr:value = '198.51.100.8']"),
        indicator(3, "[domain-name:value MATCHES '$evil']"),
      ],
    });
    const loaded = loadRules([{ file: 'feed.json', text }]);
    expect(loaded.indicators.size).toBe(1);
    expect(loaded.diagnostics.map((d) => [d.severity, d.code, d.ruleId])).toEqual([
      ['error', 'unsatisfiable', 'indicator--00000000-0000-4000-8000-000000000002'],
      ['error', 'unsatisfiable', 'indicator--00000000-0000-4000-8000-000000000003'],
    ]);
    const kept = loadRules([{ file: 'feed.json', text }], { allowUnsatisfiable: true });
    expect(kept.indicators.size).toBe(3);
    expect(kept.diagnostics.map((d) => d.severity)).toEqual(['warning', 'warning']);
  });

  it('loadRulesFromPaths passes the option through', () => {
    const dir = rulesDir({ 'rules.yaml': RULES });
    expect(loadRulesFromPaths([dir]).rules.map((r) => r.id)).toEqual(['fires']);
    expect(loadRulesFromPaths([dir], { allowUnsatisfiable: true }).rules.map((r) => r.id)).toEqual([
      'fires',
      'never-fires',
    ]);
  });
});

describe('every command gives the same verdict', () => {
  const dir = rulesDir({ 'rules.yaml': RULES });
  const where = new RegExp(`rules\\.yaml:${UNSAT_LINE}:${UNSAT_COLUMN}: error \\[unsatisfiable\\]`);

  it('validate: an error with the position; --allow-unsatisfiable: a warning, exit 0', async () => {
    const failing = await runCli(['validate', dir]);
    expect(failing.code).toBe(1);
    expect(failing.out).toMatch(where);
    expect(failing.out).toContain('1 rule loaded (0 indicators), 1 with errors');
    const allowed = await runCli(['validate', '--allow-unsatisfiable', dir]);
    expect(allowed.code).toBe(0);
    expect(allowed.out).toMatch(/warning \[unsatisfiable\]/);
    expect(allowed.out).toContain('2 rules loaded (0 indicators), 0 with errors');
  });

  it('validate of a pattern: the same verdict and flag', async () => {
    const pattern = "[process:name = 'a.exe' AND process:name = 'b.exe']";
    expect((await runCli(['validate', pattern])).code).toBe(1);
    const allowed = await runCli(['validate', '--allow-unsatisfiable', pattern]);
    expect(allowed.code).toBe(0);
    expect(allowed.out).toMatch(/warning \[unsatisfiable\]/);
    const alive = await runCli(['validate', "[x:a = 'x'] OR [file:name = 'a' AND url:value = 'b']"]);
    expect(alive.code).toBe(0);
    expect(alive.out).toMatch(/warning \[observation-never-matches\]/);
  });

  it('run: the rule is reported invalid and skipped (exit 1), the others still alert', async () => {
    const events = eventsFile([EVENT]);
    const r = await runCli(['run', '--rules', dir, events]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(where);
    const alerts = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { ruleId: string });
    expect(alerts.map((a) => a.ruleId)).toEqual(['fires']);
    const allowed = await runCli(['run', '--allow-unsatisfiable', '--rules', dir, events]);
    expect(allowed.code).toBe(0);
    expect(allowed.err).toMatch(/warning \[unsatisfiable\]/);
  });

  it('state: the skipped rule is unknown; kept with --allow-unsatisfiable, it is explained', async () => {
    const events = eventsFile([EVENT]);
    const skipped = await runCli(['state', '--rules', dir, '--rule', 'never-fires', '--group', '', events]);
    expect(skipped.err).toMatch(where);
    expect(skipped.code).toBe(2);
    const kept = await runCli([
      'state',
      '--allow-unsatisfiable',
      '--rules',
      dir,
      '--rule',
      'never-fires',
      '--group',
      '',
      events,
    ]);
    expect(kept.code).toBe(0);
    expect(kept.err).toMatch(/warning \[unsatisfiable\]/);
  });

  it('test: a load error fails the run; --allow-unsatisfiable runs the rule and its tests', async () => {
    const failing = await runCli(['test', '--no-generated', dir]);
    expect(failing.code).toBe(1);
    expect(failing.err).toMatch(where);
    expect(failing.out).toContain('1 rules: 1 passed, 0 failed, 0 skipped; 1 load errors');
    const allowed = await runCli(['test', '--no-generated', '--allow-unsatisfiable', dir]);
    expect(allowed.code).toBe(0);
    expect(allowed.out).toContain('PASS never-fires › nothing can match');
  });
});

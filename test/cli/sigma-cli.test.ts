/**
 * Sigma rule files through the CLI: validate, sigma convert, run (alerts from Windows events in
 * the evtx-dump shape, built-in mapping and taxonomy), test (generated checks), emit (events
 * for the converted pattern) and state. Fixtures: test/fixtures/sigma/ (events) and test/fixtures/sigma-rules/.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

const RULES = 'test/fixtures/sigma-rules';
const WHOAMI = `${RULES}/whoami-all.yml`;
const ENCODED = `${RULES}/encoded-powershell.yml`;
const EVENTS = 'test/fixtures/sigma/sysmon-1-events.json';
const dir = mkdtempSync(join(tmpdir(), 'stixflow-sigma-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const alerts = (out: string): Record<string, unknown>[] =>
  out
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('Sigma rules on the command line', () => {
  it('validate reports the rule that cannot run, at its place, and loads the others', async () => {
    const { code, out } = await runCli(['validate', RULES]);
    expect(code).toBe(1);
    expect(out).toContain(
      "test/fixtures/sigma-rules/not-runnable.yml:9:9: error [sigma-unsupported-modifier] 're' transforms a constant, and 'fieldref' compares with another field's value",
    );
    expect(out).toContain('2 rules loaded (0 indicators), 1 with errors');
    expect((await runCli(['validate', WHOAMI, ENCODED])).code).toBe(0);
  });

  it('sigma convert prints the STIX pattern, and what stays case-sensitive', async () => {
    const { code, out } = await runCli(['sigma', 'convert', ENCODED]);
    expect(code).toBe(0);
    expect(out).toContain('# PowerShell downloading with an encoded command (0e9d6c1b-7a52-4c3f-8e21-9b4d2a6f5c02)');
    expect(out).toContain("x-oca-event:process_ref.command_line LIKE '% /enc %'");
    expect(out).toContain("x-oca-event:process_ref.command_line LIKE '%OAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0A%'");
    expect(out).toContain("# case-sensitive: x-oca-event:parent_process_ref.command_line NOT LIKE '%\\\\explorer.exe'");
    const json = await runCli(['sigma', 'convert', '--json', WHOAMI]);
    const converted = JSON.parse(json.out) as { id: string; pattern: string; caseSensitive: string[] };
    expect(converted.id).toBe('5c4f1a2e-0b7d-4d51-9a3e-2f1c8b6d7e01');
    expect(converted.pattern).toMatch(/^\[\(x-oca-event:process_ref\.command_line LIKE '%whoami%' AND /);
    expect(converted.caseSensitive).toEqual([]);
    const bad = await runCli(['sigma', 'convert', `${RULES}/not-runnable.yml`]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('[sigma-unsupported-modifier]');
    expect((await runCli(['sigma', 'frobnicate'])).code).toBe(2);
  });

  it('run raises the Sigma rules’ alerts on Windows events, with their metadata', async () => {
    const { out } = await runCli(['run', '--rules', WHOAMI, '--rules', ENCODED, EVENTS]);
    const raised = alerts(out);
    expect(raised.map((a) => a.ruleId).sort()).toEqual([
      '0e9d6c1b-7a52-4c3f-8e21-9b4d2a6f5c02',
      '5c4f1a2e-0b7d-4d51-9a3e-2f1c8b6d7e01',
    ]);
    const whoami = raised.find((a) => a.ruleId === '5c4f1a2e-0b7d-4d51-9a3e-2f1c8b6d7e01');
    expect(whoami).toMatchObject({
      ruleName: 'Whoami listing every privilege',
      severity: 'high',
      category: 'process_creation',
      tags: ['attack.discovery', 'attack.t1033'],
    });
    // The encoded command's parent is Explorer.EXE: the |cased filter does not take it.
    expect(raised.find((a) => a.ruleId === '0e9d6c1b-7a52-4c3f-8e21-9b4d2a6f5c02')).toBeDefined();
  });

  it('a |cased filter that matches mutes the rule', async () => {
    const rule = join(dir, 'cased.yml');
    writeFileSync(
      rule,
      [
        'title: Notepad not from Explorer',
        'id: 3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b04',
        'logsource: { category: process_creation, product: windows }',
        'detection:',
        "    selection: { CommandLine|contains: 'NOTEPAD' }",
        "    filter: { ParentCommandLine|cased|endswith: '\\Explorer.EXE' }",
        '    condition: selection and not filter',
        'level: low',
      ].join('\n'),
    );
    expect(alerts((await runCli(['run', '--rules', rule, EVENTS])).out)).toEqual([]);
    writeFileSync(rule, readFileSync(rule, 'utf8').replace("'\\Explorer.EXE'", "'\\explorer.exe'"));
    expect(alerts((await runCli(['run', '--rules', rule, EVENTS])).out)).toHaveLength(1);
  });

  it('test runs generated checks on Sigma rules', async () => {
    const { code, out } = await runCli(['test', WHOAMI, ENCODED]);
    expect(code).toBe(0);
    expect(out).toMatch(/2 rules: \d+ passed, 0 failed/);
  });

  it('emit makes events for a converted pattern, and run raises the rule on them', async () => {
    const converted = JSON.parse((await runCli(['sigma', 'convert', '--json', WHOAMI])).out) as { pattern: string };
    const emitted = await runCli(['emit', converted.pattern]);
    expect(emitted.code).toBe(0);
    const events = join(dir, 'emitted.json');
    writeFileSync(events, emitted.out);
    expect(alerts((await runCli(['run', '--rules', WHOAMI, events])).out)).toHaveLength(1);
  });

  it('a rules directory with a filter and a sigma-pipeline.yml: convert shows them, run applies them', async () => {
    const rules = join(dir, 'filtered');
    mkdirSync(rules);
    writeFileSync(
      join(rules, 'shell.yml'),
      [
        'title: Shell children',
        'id: 7e1d0c2b-4a5f-4e6d-9c8b-1a2b3c4d5e6f',
        'logsource: { category: process_creation, product: windows }',
        'detection:',
        '    selection:',
        "        parent|endswith: ['\\cmd.exe', '\\explorer.exe']",
        '    condition: selection',
        'level: low',
        '',
      ].join('\n'),
    );
    // The pipeline names the parent field as this team's rules write it.
    writeFileSync(
      join(rules, 'sigma-pipeline.yml'),
      'name: team names\ntransformations:\n  - type: field_name_mapping\n    mapping: { parent: ParentImage }\n',
    );
    writeFileSync(
      join(rules, 'filters.yml'),
      [
        'title: Notes are fine',
        'id: 7e1d0c2b-4a5f-4e6d-9c8b-1a2b3c4d5e70',
        'logsource: { product: windows }',
        'filter:',
        '    rules: [Shell children]',
        '    selection:',
        "        CommandLine|contains: 'todo.txt'",
        '    condition: not selection',
        '',
      ].join('\n'),
    );
    const converted = await runCli(['sigma', 'convert', rules]);
    expect(converted.code).toBe(0);
    expect(converted.out).toContain(`# pipelines: ${join(rules, 'sigma-pipeline.yml')}`);
    expect(converted.out).toContain("# filtered by 'Notes are fine'");
    expect(converted.out).toContain("x-oca-event:parent_process_ref.image_ref.x_path LIKE '%\\\\cmd.exe'");
    expect(converted.out).toContain("x-oca-event:process_ref.command_line NOT LIKE '%todo.txt%'");
    // Three events: whoami (parent cmd.exe), powershell and notepad todo.txt (parent explorer.exe): the filter
    // leaves out the notepad one.
    const run = await runCli(['run', '--rules', rules, EVENTS]);
    expect(run.code).toBe(0);
    const raised = alerts(run.out);
    expect(raised).toHaveLength(2);
    expect(raised.every((a) => a.ruleId === '7e1d0c2b-4a5f-4e6d-9c8b-1a2b3c4d5e6f')).toBe(true);
  });

  it('state runs on a Sigma rule: one observation expression holds no partial matches', async () => {
    const { code, out } = await runCli([
      'state',
      '--rules',
      WHOAMI,
      '--rule',
      '5c4f1a2e-0b7d-4d51-9a3e-2f1c8b6d7e01',
      EVENTS,
    ]);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual([]);
  });
});

/**
 * Alert content (issue #14, item 4) through rule files and `stixflow run`: titles and
 * descriptions filled from the matched objects, context values, severity overrides, the rule's
 * type as ruleType, every document valid against schemas/alert.schema.json (version 2); alert
 * ids that do not depend on the content, and a redelivered event that raises nothing twice.
 * `stixflow validate` reports bad templates at their place.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALERT_DOCUMENT_SCHEMA, type AlertDocument } from '../../src/engine/alert.js';
import { runCli } from './run-cli.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/alert-content/', import.meta.url));
const RULES = join(FIXTURES, 'rules.yaml');
const EVENTS = join(FIXTURES, 'events.ndjson');
const schema = JSON.parse(readFileSync(new URL('../../schemas/alert.schema.json', import.meta.url), 'utf8')) as {
  $id: string;
};
const validate = new Ajv2020({ allErrors: true, strict: true }).compile(schema);

const documents = (ndjson: string): AlertDocument[] =>
  ndjson
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AlertDocument);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'stixflow-alert-content-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('alert content through stixflow run', () => {
  it('fills titles, descriptions and context from the matched objects, and overrides severities', async () => {
    const r = await runCli(['run', '--rules', RULES, EVENTS]);
    expect(r.err).toBe('3 events, 5 alerts\n');
    expect(r.code).toBe(0);
    const alerts = documents(r.out);
    expect(alerts.map((a) => [a.ruleId, a.title, a.severity])).toEqual([
      ['encoded-powershell-from-office', 'powershell.exe started by WINWORD.EXE on fin-ws-12.corp.example', 'critical'],
      // The pattern matched the parent (a process too): the title names it.
      ['office-starts-a-child', 'WINWORD.EXE started a child on fin-ws-12.corp.example', 'low'],
      ['encoded-powershell-from-office', 'powershell.exe started by EXCEL.EXE on dc-01.corp.example', 'high'],
      ['office-starts-a-child', 'EXCEL.EXE started a child on dc-01.corp.example', 'low'],
      // A correlation: values come from the event that completed it (the connection), which has no process.
      [
        'powershell-then-callback',
        'callback to 203.0.113.50:4444 from fin-ws-12.corp.example after (no process:name)',
        'high',
      ],
    ]);
    const [encoded, , plain, , callback] = alerts;
    expect(encoded).toMatchObject({
      description: 'powershell.exe -nop -w hidden -enc SQBFAFgA ran as jdoe (pid 8132); {literal braces}',
      severityOverride: { when: "process:command_line LIKE '%-enc %'", ruleSeverity: 'medium' },
      context: {
        process_uid: '{ab12-0001}',
        command_line: 'powershell.exe -nop -w hidden -enc SQBFAFgA',
        user: 'S-1-5-21-1004',
        categories: ['process'],
        pid: 8132,
      },
      ruleType: 'process',
      category: 'execution',
    });
    // No user in the second event: the description says so, the context holds null.
    expect(plain?.description).toBe(
      'powershell.exe -File C:\\Scripts\\report.ps1 ran as (no user-account:account_login) (pid 4410); {literal braces}',
    );
    expect(plain?.context?.user).toBeNull();
    expect(plain?.severityOverride).toEqual({ when: "[x-oca-asset:hostname LIKE 'dc-%']", ruleSeverity: 'medium' });
    expect(callback?.context).toEqual({ destination: '203.0.113.50', protocols: ['tcp'] });
    expect(alerts[1]).not.toHaveProperty('severityOverride');
    expect(alerts[1]).not.toHaveProperty('context');
    for (const alert of alerts) {
      expect(alert.schema).toBe(ALERT_DOCUMENT_SCHEMA);
      expect(validate(alert), JSON.stringify(validate.errors)).toBe(true);
    }
  });

  it('gives the same alert ids as the same rules without content, and raises nothing for a redelivery', async () => {
    const withContent = documents((await runCli(['run', '--rules', RULES, EVENTS])).out);
    const bare = readFileSync(RULES, 'utf8')
      .split('\n')
      .filter((line) => !/^\s+(title|description):/.test(line))
      .join('\n')
      .replace(/\n {4}context:\n( {6}.*\n)+/g, '\n')
      .replace(/\n {4}severity_overrides:\n( {6}.*\n)+/g, '\n');
    expect(bare).not.toMatch(/title:|context:|severity_overrides:/);
    writeFileSync(join(dir, 'bare.yaml'), bare);
    const without = documents((await runCli(['run', '--rules', join(dir, 'bare.yaml'), EVENTS])).out);
    expect(without.map((a) => a.title)).toEqual(without.map((a) => a.ruleName));
    expect(without.map((a) => a.id)).toEqual(withContent.map((a) => a.id));
    // The same events again in the same run: every alert was already raised.
    const twice = await runCli(['run', '--rules', RULES, EVENTS, EVENTS]);
    expect(documents(twice.out).map((a) => a.id)).toEqual(withContent.map((a) => a.id));
  });

  it('versions the document: the schema field and the $id of the schema file name the same version', () => {
    expect(ALERT_DOCUMENT_SCHEMA).toBe('stixflow.alert/2');
    expect(schema.$id).toBe('https://stixflow.dev/schemas/alert/2/alert.schema.json');
    expect((schema as unknown as { properties: { schema: { const: string } } }).properties.schema.const).toBe(
      ALERT_DOCUMENT_SCHEMA,
    );
  });
});

describe('stixflow validate on alert content', () => {
  it('reports each problem with file, line and column, and the valid rule still runs', async () => {
    const file = join(dir, 'rules.yaml');
    writeFileSync(
      file,
      `rules:
  - id: bad-content
    name: Bad content
    severity: low
    pattern: "[process:name = 'bash']"
    title: "{process:nmae} on {x-oca-asset:hostname"
    context:
      parent: process:parent_ref
    severity_overrides:
      - { when: "network-traffic:dst_port = '80'", severity: high }
  - id: good-content
    name: Good content
    severity: low
    pattern: "[process:name = 'bash']"
    title: "{process:name} on {x-oca-asset:hostname}"
`,
    );
    const r = await runCli(['validate', file]);
    expect(r.code).toBe(1);
    const lines = `${r.out}\n${r.err}`.split('\n');
    const at = (code: string) => lines.filter((l) => l.includes(`[${code}]`));
    expect(at('unknown-property')).toEqual([expect.stringMatching(/rules\.yaml:6:14: warning .*'nmae'.*'name'/)]);
    expect(at('bad-template')).toEqual([expect.stringMatching(/rules\.yaml:6:31: error .*opens no placeholder/)]);
    expect(at('bad-context-path')).toEqual([expect.stringMatching(/rules\.yaml:8:15: error .*names a reference/)]);
    expect(at('type-mismatch')).toEqual([expect.stringMatching(/rules\.yaml:10:18: error .*dst_port is an integer/)]);
    const run = await runCli(
      ['run', '--rules', file, '-'],
      `${JSON.stringify({ event_type: 'process_create', process_name: 'bash', host: 'web-1', timestamp: '2026-01-01T10:00:00Z' })}\n`,
    );
    expect(documents(run.out).map((a) => [a.ruleId, a.title])).toEqual([['good-content', 'bash on web-1']]);
  });
});

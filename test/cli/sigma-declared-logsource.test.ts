/**
 * Sigma rules of a logsource no built-in mapping produces (here macOS process_creation): they load with the warning
 * sigma-logsource-needs-mapping and run on the events of a user's mapping that declares that logsource
 * (`sigma_logsource`) and keeps the source fields (`raw_fields`); on events of any other mapping they raise nothing.
 * Fixtures: test/fixtures/sigma/declared/ (the mapping, two agent events, the rule).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

const DIR = 'test/fixtures/sigma/declared';
const MAPPING = `${DIR}/acme-mac-agent.mapping.yaml`;
const RULE = `${DIR}/osascript-password-prompt.yml`;
const MAC_EVENTS = `${DIR}/acme-mac-events.json`;
const WINDOWS_EVENTS = 'test/fixtures/sigma/sysmon-1-events.json';
const dir = mkdtempSync(join(tmpdir(), 'stixflow-sigma-declared-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const alerts = (out: string): Record<string, unknown>[] =>
  out
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('Sigma rules for sources stixflow has no mapping for', () => {
  it('load with a warning naming what they need, and compile to the declared logsource and the raw fields', async () => {
    const validated = await runCli(['validate', RULE]);
    expect(validated.code).toBe(0);
    expect(validated.out).toMatch(
      /osascript-password-prompt\.yml:8:3: warning \[sigma-logsource-needs-mapping\] no built-in mapping produces events of the logsource product: macos, category: process_creation/,
    );
    const converted = JSON.parse((await runCli(['sigma', 'convert', '--json', RULE])).out) as {
      pattern: string;
      unmappedFields: string[];
    };
    expect(converted.pattern).toBe(
      "[x-oca-event:x_event_data.Image LIKE '%/osascript' AND x-oca-event:x_event_data.CommandLine LIKE '%display dialog%' AND x-oca-event:x_event_data.CommandLine LIKE '%hidden answer%' AND (x-oca-event:x_sigma_logsource.product = 'macos' AND x-oca-event:x_sigma_logsource.category = 'process_creation')]",
    );
    expect(converted.unmappedFields.sort()).toEqual(['CommandLine', 'Image']);
  });

  it('raise their alert on the events of a mapping declaring the logsource, and only on the matching one', async () => {
    const { code, out, err } = await runCli(['run', '--mapping', MAPPING, '--rules', RULE, MAC_EVENTS]);
    expect(code, err).toBe(0);
    const raised = alerts(out);
    expect(raised).toHaveLength(1);
    expect(raised[0]?.ruleId).toBe('7d3b2a10-4c5e-4f6a-9b8c-1d2e3f4a5b60');
    expect(raised[0]?.severity).toBe('high');
    expect(JSON.stringify(raised[0])).toContain('hidden answer');
  });

  it('raise nothing on events of another product, even where the same fields hold matching values', async () => {
    const windows = await runCli(['run', '--mapping', MAPPING, '--rules', RULE, WINDOWS_EVENTS]);
    expect(windows.code, windows.err).toBe(0);
    expect(alerts(windows.out)).toEqual([]);
    // The agent's events without the declaration: the same fields in x_event_data, no alert.
    const undeclared = await runCli([
      'run',
      '--mapping',
      `${DIR}/acme-mac-agent-undeclared.mapping.yaml`,
      '--rules',
      RULE,
      MAC_EVENTS,
    ]);
    expect(undeclared.code, undeclared.err).toBe(0);
    expect(alerts(undeclared.out)).toEqual([]);
  });

  it('keyword selections search the log line a declaring mapping writes to x_message', async () => {
    const { code, out, err } = await runCli([
      'run',
      '--mapping',
      MAPPING,
      '--rules',
      `${DIR}/keychain-dump-keyword.yml`,
      MAC_EVENTS,
    ]);
    expect(code, err).toBe(0);
    const raised = alerts(out);
    expect(raised.map((a) => a.ruleId)).toEqual(['7d3b2a10-4c5e-4f6a-9b8c-1d2e3f4a5b61']);
    expect(JSON.stringify(raised[0])).toContain('dump-keychain');
  });
});

describe('Sigma keyword selections on Windows events', () => {
  it("search the rendered message and a classic event's unnamed Data texts", async () => {
    const rule = `${DIR}/classic-powershell-keyword.yml`;
    const { code, out, err } = await runCli([
      'run',
      '--rules',
      rule,
      'test/fixtures/windows/powershell-classic-400-evtx.json',
    ]);
    expect(code, err).toBe(0);
    expect(alerts(out).map((a) => a.ruleId)).toEqual(['7d3b2a10-4c5e-4f6a-9b8c-1d2e3f4a5b62']);
    // Events of another logsource raise nothing; nor the event lacking one of the `|all` keywords.
    const other = await runCli(['run', '--rules', rule, WINDOWS_EVENTS]);
    expect(alerts(other.out)).toEqual([]);
    const lacking = join(dir, 'powershell-400-without-nop.json');
    const event = readFileSync('test/fixtures/windows/powershell-classic-400-evtx.json', 'utf8');
    writeFileSync(lacking, event.replace('-nop ', ''));
    const partial = await runCli(['run', '--rules', rule, lacking]);
    expect(partial.code, partial.err).toBe(0);
    expect(alerts(partial.out)).toEqual([]);
  });
});

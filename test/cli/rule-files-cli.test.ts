/**
 * Rule directories through the CLI (issue #11, item 14): a dangling link is reported for its
 * path and the other rules still run; unknown top-level keys are warned about with file, line
 * and column; the rule's `type` reaches the alert.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

const RULES = `rules:
  - id: bash-started
    name: bash started
    severity: low
    type: process
    pattern: "[process:name = 'bash']"
owner: team-a
`;
const EVENT = JSON.stringify({
  event_type: 'process_create',
  process_name: 'bash',
  host: 'web-1',
  timestamp: '2026-01-01T10:00:00Z',
});

let dir: string;
let rulesDir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'stixflow-cli-rules-'));
  rulesDir = join(dir, 'rules');
  mkdirSync(rulesDir);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function writeRules(): { link: string; file: string } {
  const file = join(rulesDir, 'a.yaml');
  writeFileSync(file, RULES);
  const link = join(rulesDir, 'b.yaml');
  symlinkSync(join(dir, 'moved-away.yaml'), link);
  return { link, file };
}

describe('a rules directory with a dangling link and an unknown top-level key', () => {
  it('stixflow run: reports both on stderr, runs the other rules, exit 1; the alert carries ruleType', async () => {
    const { link, file } = writeRules();
    const events = join(dir, 'events.ndjson');
    writeFileSync(events, `${EVENT}\n`);
    const r = await runCli(['run', '--rules', rulesDir, events]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${link}: error [rule-file-dangling-link]`);
    expect(r.err).toContain(`${file}:7:1: warning [unknown-top-level-key] unknown top-level key 'owner'`);
    const alerts = r.out
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { ruleId: string; ruleType?: string });
    expect(alerts.map((a) => [a.ruleId, a.ruleType])).toEqual([['bash-started', 'process']]);
  });

  it('stixflow validate: no crash, each problem at its place, the good rule counted, exit 1', async () => {
    const { link, file } = writeRules();
    const r = await runCli(['validate', rulesDir]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${link}: error [rule-file-dangling-link]`);
    expect(r.out).toContain(`${file}:7:1: warning [unknown-top-level-key]`);
    expect(r.out).toContain('1 rule loaded (0 indicators), 1 with errors');
  });

  it('stixflow validate: a dangling link among pattern files is reported, the other patterns are checked', async () => {
    writeFileSync(join(rulesDir, 'a.pattern'), "[process:name = 'bash']\n");
    const link = join(rulesDir, 'b.pattern');
    symlinkSync(join(dir, 'nowhere.pattern'), link);
    const r = await runCli(['validate', rulesDir]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${link}: error [pattern-file-unreadable]`);
    expect(r.out).toContain('1 valid, 0 invalid');
  });

  it('stixflow validate: only the warning, exit 0, when nothing is broken', async () => {
    writeFileSync(join(rulesDir, 'a.yaml'), RULES);
    const r = await runCli(['validate', rulesDir]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('warning [unknown-top-level-key]');
    expect(r.out).toContain('1 rule loaded (0 indicators), 0 with errors');
  });
});

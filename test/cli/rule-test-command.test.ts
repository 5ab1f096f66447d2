import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

const run = (argv: string[]): ReturnType<typeof runCli> => runCli(argv);

const RULE = (expect: string): string => `rules:
  - id: word-powershell
    name: Word launches PowerShell
    severity: high
    pattern: "[process:name = 'powershell.exe' AND process:parent_ref.name = 'winword.exe']"
    tests:
      - name: winword starts powershell
        events:
          - { process: powershell.exe, parent_process: winword.exe, datetime: "2026-01-01T10:00:00" }
        expect: ${expect}
  - id: untested-sequence
    name: Sequence without tests
    severity: low
    pattern: "([process:name = 'a.exe'] FOLLOWEDBY [process:name = 'b.exe']) WITHIN 60 SECONDS"
`;

describe('stixflow test', () => {
  it('passes the example rules, with written tests for every one, and writes JUnit XML', async () => {
    const junit = join(mkdtempSync(join(tmpdir(), 'stixflow-')), 'junit.xml');
    const { code, out } = await run(['test', 'rules', '--junit', junit]);
    expect(code).toBe(0);
    expect(out).toMatch(/5 rules: \d+ passed, 0 failed, 0 skipped/);
    const xml = readFileSync(junit, 'utf8');
    for (const id of [
      'web-server-spawns-shell',
      'credential-file-read',
      'outbound-unusual-port',
      'word-launches-powershell',
      'web-shell-then-callback',
    ]) {
      expect(xml).toContain(`<testsuite name="${id}"`);
    }
    expect(xml).not.toContain('<failure');
  });

  it('fails a wrong expectation, explains which observation matched, and runs generated checks for untested rules', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stixflow-'));
    writeFileSync(join(dir, 'rules.yaml'), RULE('no-alert'));
    const junit = join(dir, 'junit.xml');
    const { code, out } = await run(['test', dir, '--junit', junit]);
    expect(code).toBe(1);
    expect(out).toContain('FAIL word-powershell › winword starts powershell');
    expect(out).toContain('expected no alert, got 1');
    expect(out).toContain('PASS untested-sequence › generated events that satisfy the pattern raise an alert');
    expect(out).toMatch(/PASS untested-sequence › near miss stays quiet: FOLLOWEDBY reversed/);
    expect(readFileSync(junit, 'utf8')).toContain('<failure message="expected no alert, got 1"');
  });

  it('explains a sequence whose second step never came', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stixflow-'));
    writeFileSync(
      join(dir, 'r.yaml'),
      `- id: seq
  name: seq
  severity: low
  pattern: "([process:name = 'a.exe'] FOLLOWEDBY [process:name = 'b.exe']) WITHIN 60 SECONDS"
  tests:
    - name: only the first step
      events:
        - { process: a.exe, datetime: "2026-01-01T10:00:00" }
      expect: alert
`,
    );
    const { code, out } = await run(['test', dir, '--no-generated']);
    expect(code).toBe(1);
    expect(out).toContain("[process:name = 'a.exe'] is satisfied by event 0");
    expect(out).toContain("[process:name = 'b.exe'] is satisfied by no event");
  });
});

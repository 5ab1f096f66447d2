/**
 * Case-insensitive rules (issue #14, item 1) through the local stack, on a Sysmon event as
 * Winlogbeat ships it (WINWORD.EXE starting powershell.exe): a `case_sensitive: false` rule
 * fires where its case-sensitive twin does not, `except` folds only the listed paths, and a
 * filter compares as its rule does.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../src/local/server.js';
import { runCli } from '../cli/run-cli.js';
import { auth, FIXTURES, stackClient } from './helpers.js';

const RULES_DIR = join(FIXTURES, 'case-rules');
const SYSMON = JSON.stringify(
  JSON.parse(readFileSync(new URL('../fixtures/windows/sysmon-1-winlogbeat.json', import.meta.url), 'utf8')),
);

let stack: LocalStack;
const client = stackClient(() => stack);

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, quiet: true, rulesDir: RULES_DIR });
}, 30_000);

afterAll(async () => {
  await stack?.stop();
});

describe('case_sensitive through the local stack', () => {
  it('folds case where the rule says so, and only there', async () => {
    const { status, body } = await client.post('/events', SYSMON, auth('case-http'));
    expect(status).toBe(202);
    expect(body).toMatchObject({ accepted: 1, alerts: 1 });
    const alerts = await client.alertsFor('case-http', 1);
    expect(alerts.map((a) => a.ruleId)).toEqual(['word-spawns-powershell-any-case']);
  });

  it('counts the alert the folded filter muted as filtered (GET /rules)', async () => {
    const { status, body } = await client.request('GET', '/rules', undefined, auth('case-http'));
    expect(status).toBe(200);
    const rules = body.rules as {
      id: string;
      counters?: { totals: { matches: number; alerts: number; filtered: number } };
    }[];
    const muted = rules.find((r) => r.id === 'encoded-powershell-muted-for-invoices');
    expect(muted?.counters?.totals).toMatchObject({ alerts: 0, filtered: 1 });
  });

  it('stixflow run agrees; without its filter the muted rule alerts, so the filter folded case', async () => {
    const cli = await runCli(['run', '--rules', RULES_DIR, '--tenant', 'case-cli', '-'], `${SYSMON}\n`);
    expect(ruleIdsOf(cli.out)).toEqual(['word-spawns-powershell-any-case']);
    const dir = mkdtempSync(join(tmpdir(), 'stixflow-case-'));
    try {
      const unfiltered = readFileSync(join(RULES_DIR, 'rules.yaml'), 'utf8').replace(/\n {4}filters:[\s\S]*$/, '\n');
      writeFileSync(join(dir, 'rules.yaml'), unfiltered);
      const bare = await runCli(['run', '--rules', dir, '--tenant', 'case-cli-2', '-'], `${SYSMON}\n`);
      expect(ruleIdsOf(bare.out)).toEqual(['encoded-powershell-muted-for-invoices', 'word-spawns-powershell-any-case']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function ruleIdsOf(ndjson: string): string[] {
  return ndjson
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { ruleId: string }).ruleId)
    .sort();
}

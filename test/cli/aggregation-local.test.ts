/**
 * Aggregation rules through the local stack (the deployed handlers on the emulators, state in
 * DynamoDB): password spraying and many failures from Windows 4625 events posted to /events raise
 * the alerts `stixflow run` raises, with the same ids, and posting the same events again raises
 * nothing more.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../src/local/server.js';
import { auth, stackClient } from '../e2e/helpers.js';
import { runCli } from './run-cli.js';

const FIXTURES = 'test/fixtures/aggregation';
/** The stack reads a directory of rule files: the fixtures' rule files, copied into one. */
const RULES = mkdtempSync(join(tmpdir(), 'stixflow-agg-rules-'));
for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.rules.yaml')))
  copyFileSync(join(FIXTURES, file), join(RULES, file));
const EVENTS = readFileSync(`${FIXTURES}/windows-4625-spray.ndjson`, 'utf8');

let stack: LocalStack;
const client = stackClient(() => stack);

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, quiet: true, rulesDir: RULES });
}, 30_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(RULES, { recursive: true, force: true });
});

describe('aggregation rules through the local stack', () => {
  it('raises the alerts of `stixflow run` for POST /events, once however often the events come', async () => {
    const cli = await runCli(['run', '--rules', RULES, '--tenant', 'agg-http', '-'], EVENTS);
    const expected = cli.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; ruleId: string })
      .sort((a, b) => a.id.localeCompare(b.id));
    expect(expected.map((a) => a.ruleId).sort()).toEqual([
      'windows-logon-failures',
      'windows-logon-failures',
      'windows-password-spraying',
      'windows-password-spraying',
    ]);

    const first = await client.post('/events', EVENTS, auth('agg-http'));
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ accepted: 24, alerts: 4 });
    const alerts = await client.alertsFor('agg-http', 4);
    expect(alerts.map((a) => a.id).sort()).toEqual(expected.map((a) => a.id));
    const spray = alerts.find((a) => a.ruleId === 'windows-password-spraying');
    expect(spray?.aggregate).toMatchObject({ kind: 'distinct_count', value: 10 });

    const again = await client.post('/events', EVENTS, auth('agg-http'));
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ accepted: 24, alerts: 0 });
  });
});

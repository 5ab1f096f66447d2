/**
 * Sigma correlation rules through the local stack (the deployed handlers on the emulators, state
 * in DynamoDB): the events posted to /events raise the alerts `stixflow run` raises, with the same
 * ids, and posting them again raises nothing more.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../src/local/server.js';
import { auth, stackClient } from '../e2e/helpers.js';
import { runCli } from './run-cli.js';
import { EVENTS } from './sigma-correlation-events.js';

const RULES = mkdtempSync(join(tmpdir(), 'stixflow-sigma-corr-rules-'));
cpSync('test/fixtures/sigma-correlations/rules', RULES, { recursive: true });
const TEXT = EVENTS.map((e) => JSON.stringify(e)).join('\n') + '\n';

let stack: LocalStack;
const client = stackClient(() => stack);

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, quiet: true, rulesDir: RULES });
}, 30_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(RULES, { recursive: true, force: true });
});

describe('Sigma correlation rules through the local stack', () => {
  it('raises the alerts of `stixflow run` for POST /events, once however often the events come', async () => {
    const cli = await runCli(['run', '--rules', RULES, '--tenant', 'sigma-corr', '-'], TEXT);
    const expected = cli.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; ruleId: string })
      .sort((a, b) => a.id.localeCompare(b.id));
    expect(new Set(expected.map((a) => a.ruleId)).size).toBe(6);

    const first = await client.post('/events', TEXT, auth('sigma-corr'));
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ accepted: EVENTS.length, alerts: expected.length });
    const alerts = await client.alertsFor('sigma-corr', expected.length);
    expect(alerts.map((a) => a.id).sort()).toEqual(expected.map((a) => a.id));

    const again = await client.post('/events', TEXT, auth('sigma-corr'));
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ accepted: EVENTS.length, alerts: 0 });
  });
});

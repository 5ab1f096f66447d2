/**
 * Alert content (issue #14, item 4) through the local stack: the documents on the alert queue
 * carry the filled title, description and context and the overridden severity, agree with
 * `stixflow run` on the same rules and events (ids included), and are valid against
 * schemas/alert.schema.json. A redelivered batch raises nothing new.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertDocument } from '../../src/engine/alert.js';
import { startLocalStack, type LocalStack } from '../../src/local/server.js';
import { runCli } from '../cli/run-cli.js';
import { auth, stackClient } from './helpers.js';

const RULES_DIR = fileURLToPath(new URL('../fixtures/alert-content/', import.meta.url));
const EVENTS = readFileSync(join(RULES_DIR, 'events.ndjson'), 'utf8');
const validate = new Ajv2020({ allErrors: true, strict: true }).compile(
  JSON.parse(readFileSync(new URL('../../schemas/alert.schema.json', import.meta.url), 'utf8')) as object,
);

let stack: LocalStack;
const client = stackClient(() => stack);

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, quiet: true, rulesDir: RULES_DIR });
}, 30_000);

afterAll(async () => {
  await stack?.stop();
});

const content = (a: AlertDocument) => ({
  id: a.id,
  ruleId: a.ruleId,
  title: a.title,
  description: a.description,
  severity: a.severity,
  severityOverride: a.severityOverride,
  context: a.context,
  ruleType: a.ruleType,
});

describe('alert content through the local stack', () => {
  it('publishes filled, versioned documents that agree with stixflow run', async () => {
    const { status, body } = await client.post('/events', EVENTS, auth('content-http'));
    expect(status).toBe(202);
    expect(body).toMatchObject({ accepted: 3, alerts: 5 });
    const alerts = await client.alertsFor('content-http', 5);
    for (const alert of alerts) {
      expect(alert.schema).toBe('stixflow.alert/2');
      expect(validate(alert), JSON.stringify(validate.errors)).toBe(true);
    }
    const encoded = alerts.filter((a) => a.ruleId === 'encoded-powershell-from-office');
    expect(encoded.map((a) => [a.title, a.severity, a.context?.user]).sort()).toEqual([
      ['powershell.exe started by EXCEL.EXE on dc-01.corp.example', 'high', null],
      ['powershell.exe started by WINWORD.EXE on fin-ws-12.corp.example', 'critical', 'S-1-5-21-1004'],
    ]);

    const cli = await runCli(['run', '--rules', RULES_DIR, '--tenant', 'content-http', '-'], EVENTS);
    const fromCli = cli.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AlertDocument);
    const byId = (list: AlertDocument[]) => list.map(content).sort((a, b) => a.id.localeCompare(b.id));
    expect(byId(alerts)).toEqual(byId(fromCli));
  });

  it('raises nothing new when the same events come again', async () => {
    expect((await client.post('/events', EVENTS, auth('content-again'))).body).toMatchObject({ alerts: 5 });
    const first = await client.alertsFor('content-again', 5);
    const again = await client.post('/events', EVENTS, auth('content-again'));
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ accepted: 3, alerts: 0 });
    expect(first.map((a) => a.title).filter((t) => t.includes('(no '))).toEqual([
      'callback to 203.0.113.50:4444 from fin-ws-12.corp.example after (no process:name)',
    ]);
  });
});

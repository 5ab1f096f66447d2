/**
 * Aggregation state on the DynamoDB state store (dynalite on loopback): what a process
 * aggregated survives its restart (a new engine on the same table goes on from the stored
 * windows and terms), a redelivery to the restarted process counts nothing again, and a batch
 * writes each touched group once. A risk score collected by one process is completed by the next.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/engine/alert.js';
import { StreamingEngine, type EventInput } from '../../src/engine/streaming.js';
import { ensureStateTable, startDynamo } from '../../src/emulators/emulators.js';
import { loadRules } from '../../src/rules/load.js';
import type { Rule } from '../../src/rules/model.js';
import { DynamoDbStateStore } from '../../src/state/dynamodb-store.js';
import { observed } from './helpers.js';

let dynamo: Awaited<ReturnType<typeof startDynamo>>;

beforeAll(async () => {
  dynamo = await startDynamo();
});
afterAll(async () => {
  await dynamo.stop();
});

const NOW = Date.UTC(2026, 0, 1, 1);

const RULES = `
- id: spray
  name: spray
  severity: high
  kind: distinct_count
  select: "[x-auth:outcome = 'failure']"
  group_by: x-auth:src
  distinct: x-auth:user
  window: 10m
  hop: 5m
  condition: { gte: 8 }
- id: first-seen
  name: first-seen
  severity: medium
  kind: new_terms
  select: "[x-auth:outcome = 'failure']"
  group_by: x-auth:user
  terms: x-auth:src
  history: 1d
  learning: 60s
  min_group_events: 2
`;

function rules(): Rule[] {
  const loaded = loadRules([{ file: 'agg.yaml', text: RULES }]);
  expect(loaded.diagnostics).toEqual([]);
  return loaded.rules;
}

function failure(id: string, second: number, src: string, user: string): EventInput {
  return observed(id, second, { type: 'x-auth', outcome: 'failure', src, user }).input;
}

/** A fresh process: its own engine, store client object and caches, on the same table. */
async function startProcess(tableName: string): Promise<{ engine: StreamingEngine; store: DynamoDbStateStore }> {
  const store = new DynamoDbStateStore({ client: dynamo.client, tableName, now: () => NOW });
  return { engine: new StreamingEngine({ rules: rules(), store, latenessSeconds: 60, now: () => NOW }), store };
}

async function deliver(engine: StreamingEngine, batch: EventInput[]): Promise<Alert[]> {
  const result = await engine.processBatch(batch);
  expect(result.errors).toEqual([]);
  await engine.acknowledge(result.alerts);
  return result.alerts;
}

describe('aggregation state on DynamoDB (dynalite)', () => {
  it('survives a restart, and a redelivery to the restarted process counts nothing again', async () => {
    const tableName = 'aggregation-state';
    await ensureStateTable(dynamo.client, tableName);
    const spray = Array.from({ length: 8 }, (_, i) => failure(`s${i}`, 10 + i * 5, '203.0.113.50', `user${i}`));

    const first = await startProcess(tableName);
    // Two logins of alice from her usual address, then the first half of the spray.
    const before = await deliver(first.engine, [
      failure('a1', 0, '192.0.2.10', 'alice'),
      failure('a2', 5, '192.0.2.10', 'alice'),
      ...spray.slice(0, 5),
    ]);
    expect(before).toEqual([]);
    const writes = first.store.stats.writes;

    const second = await startProcess(tableName);
    // The rest of the spray (three users: the alert needs what the first process counted); alice from somewhere new.
    const after = await deliver(second.engine, [...spray.slice(5), failure('a3', 90, '198.51.100.99', 'alice')]);
    expect(after.map((a) => [a.ruleId, a.groupKey]).sort()).toEqual([
      ['first-seen', '["alice"]'],
      ['spray', '["203.0.113.50"]'],
      ['spray', '["203.0.113.50"]'],
    ]);
    const sprayAlert = after.find((a) => a.ruleId === 'spray') as Alert;
    expect(sprayAlert.aggregate).toMatchObject({ value: 8, distinct: { estimated: false } });
    const newTerm = after.find((a) => a.ruleId === 'first-seen') as Alert;
    expect(newTerm.aggregate).toMatchObject({
      term: '198.51.100.99',
      history: { groupEvents: 2, knownTerms: 1, recentTerms: ['192.0.2.10'] },
    });
    // One conditional write per touched group and batch: spray by two sources, first-seen by six users.
    expect(writes).toBe(8);

    const third = await startProcess(tableName);
    const again = await third.engine.processBatch([...spray, failure('a3', 90, '198.51.100.99', 'alice')]);
    expect(again.alerts).toEqual([]);
    expect(again.stats.duplicates).toBe(18);
    const explained = await third.engine.explain('default', 'first-seen', '["alice"]');
    expect(explained.aggregate).toMatchObject({ knownTerms: 2, groupEvents: 3 });
  });

  it('keeps a risk score across a restart: the next process completes it, and counts no alert twice', async () => {
    const tableName = 'risk-state';
    await ensureStateTable(dynamo.client, tableName);
    const riskRules = (): Rule[] => {
      const loaded = loadRules([
        {
          file: 'risk.yaml',
          text: `
- id: shell
  name: shell
  severity: low
  risk: 40
  pattern: "[process:name = 'powershell.exe']"
- id: dump
  name: dump
  severity: medium
  risk: 70
  pattern: "[process:name = 'procdump.exe']"
- id: host-risk
  name: host risk
  severity: high
  kind: risk
  select: "[x-stixflow-alert:risk > 0]"
  group_by: process:x_host
  window: 1h
  condition: 100
`,
        },
      ]);
      expect(loaded.diagnostics).toEqual([]);
      return loaded.rules;
    };
    const processOn = (): StreamingEngine =>
      new StreamingEngine({
        rules: riskRules(),
        store: new DynamoDbStateStore({ client: dynamo.client, tableName, now: () => NOW }),
        latenessSeconds: 60,
        now: () => NOW,
      });
    const proc = (id: string, second: number, name: string): EventInput =>
      observed(id, second, { type: 'process', name, x_host: 'h1' }).input;
    const before = await deliver(processOn(), [proc('p1', 0, 'powershell.exe')]);
    expect(before.map((a) => a.ruleId)).toEqual(['shell']);
    // A restarted process: the shell's 40 was stored; the same shell again adds nothing, the dump adds 70.
    const after = await deliver(processOn(), [proc('p1', 0, 'powershell.exe'), proc('p2', 30, 'procdump.exe')]);
    const risk = after.filter((a) => a.ruleId === 'host-risk');
    expect(risk.map((a) => a.aggregate?.value)).toEqual([110, 110]);
    expect(await deliver(processOn(), [proc('p2', 30, 'procdump.exe')])).toEqual([
      expect.objectContaining({ ruleId: 'dump' }),
    ]);
  });
});

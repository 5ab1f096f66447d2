/**
 * Aggregation rule kinds (threshold count, threshold sum, distinct_count, outliers, new_terms, risk), one
 * rule of each (risk: a risk rule over the alerts of five stateless rules that carry a risk) on a workload where 10 % of events are selected (sign-in failures among successes, from
 * 200 sources, each mostly against twenty accounts of 2,000): events per second with in-memory state (beside
 * JSON.parse of the same events' text), DynamoDB writes per event against the emulator by batch
 * size, and bytes of stored state per group.
 */
import { StreamingEngine, type EventInput } from '../src/engine/streaming.js';
import { groupItemKey } from '../src/engine/group-item.js';
import { ensureStateTable, startDynamo } from '../src/emulators/emulators.js';
import { prepareObservedData } from '../src/pattern/observation.js';
import { loadRules } from '../src/rules/load.js';
import type { Rule } from '../src/rules/model.js';
import { DynamoDbStateStore } from '../src/state/dynamodb-store.js';
import { InMemoryStateStore } from '../src/state/memory-store.js';
import { stateKeyId } from '../src/state/types.js';
import type { BenchRow } from './table.js';

const SELECT = "[x-auth:outcome = 'failure']";
const KINDS: Record<string, string> = {
  'threshold (count)': `kind: threshold\n  window: 10m\n  condition: { gte: 10 }`,
  'threshold (sum)': `kind: threshold\n  sum: x-auth:bytes\n  window: 10m\n  condition: { gt: 100000 }`,
  distinct_count: `kind: distinct_count\n  distinct: x-auth:user\n  window: 10m\n  condition: { gte: 8 }`,
  outliers: `kind: outliers\n  bucket: 1m\n  history: 30m\n  deviation: 5\n  min_buckets: 10`,
  new_terms: `kind: new_terms\n  terms: x-auth:user\n  history: 14d\n  learning: 10m\n  min_group_events: 10`,
  risk: `kind: risk\n  window: 10m\n  condition: { gte: 45 }`,
};

/** The risk kind's contributors: five stateless rules, each on the failures of a fifth of the accounts. */
const RISK_CONTRIBUTORS = [0, 1, 2, 3, 4]
  .map(
    (d) =>
      `- id: contributor-${d}\n  name: contributor ${d}\n  severity: low\n  risk: 15\n  pattern: "[x-auth:outcome = 'failure' AND (x-auth:user LIKE '%${d}' OR x-auth:user LIKE '%${d + 5}')]"\n`,
  )
  .join('');

function ruleOf(kind: string): Rule[] {
  const select = kind === 'risk' ? '[x-stixflow-alert:risk > 0]' : SELECT;
  const text = `${kind === 'risk' ? RISK_CONTRIBUTORS : ''}- id: bench\n  name: bench\n  severity: low\n  select: "${select}"\n  group_by: x-auth:src\n  ${KINDS[kind] as string}\n`;
  const loaded = loadRules([{ file: 'bench.yaml', text }]);
  if (loaded.rules.length !== (kind === 'risk' ? 6 : 1)) throw new Error(JSON.stringify(loaded.diagnostics));
  return loaded.rules;
}

/** A seeded generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const START = Date.UTC(2026, 0, 1);

/** Sign-ins one every 50 ms of event time; 10 % fail. Returns the inputs and their JSON text. */
function workload(count: number, seed: number): { inputs: EventInput[]; texts: string[] } {
  const rand = random(seed);
  const inputs: EventInput[] = [];
  const texts: string[] = [];
  for (let i = 0; i < count; i++) {
    const t = new Date(START + i * 50).toISOString();
    const source = Math.floor(rand() * 200);
    const object = {
      id: `x-auth--${seed}-${i}`,
      type: 'x-auth',
      outcome: rand() < 0.1 ? 'failure' : 'success',
      src: `10.0.${source}.1`,
      // Each source signs in as its own twenty accounts, and one time in a hundred as any other.
      user: `user${rand() < 0.01 ? Math.floor(rand() * 2000) : source * 10 + Math.floor(rand() * 20)}`,
      bytes: Math.floor(rand() * 20_000),
    };
    const sdo = {
      type: 'observed-data',
      id: `observed-data--${seed}-${i}`,
      first_observed: t,
      last_observed: t,
      number_observed: 1,
      object_refs: [object.id],
    };
    texts.push(JSON.stringify({ type: 'bundle', objects: [sdo, object] }));
    const observation = prepareObservedData(sdo, i, (ref) => (ref === object.id ? (object as never) : undefined));
    inputs.push({ observation, objects: [object] });
  }
  return { inputs, texts };
}

const now = (): number => START + 86_400_000;

export async function benchAggregation(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const { inputs, texts } = workload(60_000, 7);
  // JSON.parse of the same events, as the yardstick of a per-event cost.
  let sink = 0;
  const p0 = process.hrtime.bigint();
  for (const text of texts) sink += (JSON.parse(text) as { objects: unknown[] }).objects.length;
  const parseRate = texts.length / (Number(process.hrtime.bigint() - p0) / 1e9);
  if (sink === 0) throw new Error('nothing parsed');

  for (const kind of Object.keys(KINDS)) {
    const store = new InMemoryStateStore({ now });
    const engine = new StreamingEngine({ rules: ruleOf(kind), store, latenessSeconds: 60, now });
    const warm = 10_000;
    for (let i = 0; i < warm; i += 100)
      await engine.acknowledge((await engine.processBatch(inputs.slice(i, i + 100))).alerts);
    let alerts = 0;
    const t0 = process.hrtime.bigint();
    for (let i = warm; i < inputs.length; i += 100) {
      const result = await engine.processBatch(inputs.slice(i, i + 100));
      alerts += result.alerts.length;
      await engine.acknowledge(result.alerts);
    }
    const eps = (inputs.length - warm) / (Number(process.hrtime.bigint() - t0) / 1e9);
    rows.push({
      name: `${kind}: events/s (in-memory state, batches of 100)`,
      value: eps,
      unit: 'events/s',
      note: `${(eps / parseRate).toFixed(2)}× JSON.parse of the events (${Math.round(parseRate).toLocaleString('en-US')}/s); ${alerts} alerts`,
    });
    // State bytes per group, as stored (the group's item, holding this one rule's state): every
    // group the run left, averaged (and the largest).
    const sizes: number[] = [];
    for (let g = 0; g < 200; g++) {
      const key = groupItemKey('default', `["10.0.${g}.1"]`);
      const item = (await store.getMany([key])).get(stateKeyId(key));
      if (item) sizes.push(Buffer.byteLength(item.value));
    }
    if (sizes.length === 0) throw new Error(`${kind}: no group state found to measure`);
    rows.push({
      name: `${kind}: state bytes per group`,
      value: sizes.reduce((a, b) => a + b, 0) / Math.max(1, sizes.length),
      unit: 'bytes',
      note: `${sizes.length} groups, largest ${Math.max(...sizes)} bytes (item limit 65,536)`,
    });
  }

  const dynamo = await startDynamo();
  try {
    let table = 0;
    for (const kind of Object.keys(KINDS))
      for (const batch of [25, 100]) {
        const tableName = `bench-aggregation-${++table}`;
        await ensureStateTable(dynamo.client, tableName);
        const store = new DynamoDbStateStore({ client: dynamo.client, tableName, now });
        const engine = new StreamingEngine({ rules: ruleOf(kind), store, latenessSeconds: 60, now });
        const events = inputs.slice(0, 5000);
        for (let i = 0; i < events.length; i += batch)
          await engine.acknowledge((await engine.processBatch(events.slice(i, i + batch))).alerts);
        rows.push({
          name: `${kind}: DynamoDB writes per event, batches of ${batch}`,
          value: store.stats.writes / events.length,
          unit: 'writes/event',
          ...(batch === 100 ? { target: '≤ 0.2' } : {}),
          note: `${store.stats.reads} reads (BatchGet), ${store.stats.writes} conditional writes, ${store.stats.conflicts} conflicts; 10 % of events selected`,
        });
      }
  } finally {
    await dynamo.stop();
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { printTable } = await import('./table.js');
  printTable('Aggregation rule kinds', await benchAggregation());
}

/**
 * Streaming correlation: events per second with 100 multi-observation rules (in-memory state),
 * DynamoDB calls per event against the emulator, and bytes of state per partial match.
 */
import { serialiseGroupState, emptyGroupState } from '../src/engine/group-state.js';
import { StreamingEngine, type EventInput } from '../src/engine/streaming.js';
import { ensureStateTable, startDynamo } from '../src/emulators/emulators.js';
import { prepareObservations } from '../src/pattern/observation.js';
import { createRule, type Rule } from '../src/rules/model.js';
import { DynamoDbStateStore } from '../src/state/dynamodb-store.js';
import { InMemoryStateStore } from '../src/state/memory-store.js';
import { syntheticEvents } from './events.js';
import type { BenchRow } from './table.js';

const NAMES = ['bash', 'sh', 'nginx', 'powershell.exe', 'winword.exe', 'python3', 'sshd', 'cmd.exe', 'curl', 'java'];
const PORTS = [22, 80, 443, 4444, 8080, 3389];

/** 100 multi-observation rules over the synthetic traffic: sequences, ANDs and REPEATS, per host. */
export function sequenceRules(count: number): Rule[] {
  const rules: Rule[] = [];
  for (let i = 0; i < count; i++) {
    // One rule in ten watches names the traffic holds; the rest watch tools it never runs, as
    // most correlation rules are quiet most of the time.
    const a = i % 10 === 0 ? (NAMES[i % NAMES.length] as string) : `tool${i}.exe`;
    const b = NAMES[(i * 7 + 3) % NAMES.length] as string;
    const port = i % 10 === 0 ? (PORTS[i % PORTS.length] as number) : 20_000 + i;
    const shape = i % 3;
    const pattern =
      shape === 0
        ? `([process:name = '${a}'] FOLLOWEDBY [network-traffic:dst_port = ${port}]) WITHIN ${60 + i} SECONDS`
        : shape === 1
          ? `([process:name = '${a}'] AND [process:name = '${b}']) WITHIN ${120 + i} SECONDS`
          : `[network-traffic:dst_port = ${port}] REPEATS ${3 + (i % 4)} TIMES WITHIN ${300 + i} SECONDS`;
    rules.push(createRule({ id: `seq-${i}`, name: `sequence ${i}`, pattern, groupBy: ['process:x_host_id'] }));
  }
  return rules;
}

/** Microseconds per event of JSON.parse of the events' text: the floor any engine is measured against. */
function jsonParseMicros(events: object[]): number {
  const texts = events.map((e) => JSON.stringify(e));
  let sink = 0;
  for (const text of texts) sink += (JSON.parse(text) as { id: string }).id.length; // warm-up
  const t0 = process.hrtime.bigint();
  for (let round = 0; round < 4; round++)
    for (const text of texts) sink += (JSON.parse(text) as { id: string }).id.length;
  const micros = Number(process.hrtime.bigint() - t0) / 1e3 / (texts.length * 4);
  return sink > 0 ? micros : micros;
}

function inputs(count: number, seed: number): EventInput[] {
  return prepareObservations(syntheticEvents(count, seed)).map((observation) => ({ observation }));
}

export async function benchStreaming(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const rules = sequenceRules(100);

  const stream = inputs(40_000, 21);
  const engine = new StreamingEngine({ rules, store: new InMemoryStateStore(), latenessSeconds: 60 });
  const warm = 10_000;
  for (let i = 0; i < warm; i += 100)
    await engine.acknowledge((await engine.processBatch(stream.slice(i, i + 100))).alerts);
  let alerts = 0;
  const t0 = process.hrtime.bigint();
  for (let i = warm; i < stream.length; i += 100) {
    const result = await engine.processBatch(stream.slice(i, i + 100));
    alerts += result.alerts.length;
    await engine.acknowledge(result.alerts);
  }
  const eps = (stream.length - warm) / (Number(process.hrtime.bigint() - t0) / 1e9);
  rows.push({
    name: 'streaming engine, 100 multi-observation rules (in-memory state)',
    value: eps,
    unit: 'events/s',
    note: `batches of 100, ${alerts} alerts`,
  });
  const parseMicros = jsonParseMicros(syntheticEvents(5000, 21));
  rows.push({
    name: 'streaming engine per event ÷ JSON.parse per event (same events)',
    value: 1e6 / eps / parseMicros,
    unit: '×',
    target: '≤ 3',
    note: `JSON.parse ${parseMicros.toFixed(2)} µs per event`,
  });

  // Against DynamoDB (dynalite on loopback): calls per event, by batch size.
  const dynamo = await startDynamo();
  try {
    for (const batch of [1, 25, 100]) {
      const tableName = `bench-${batch}`;
      await ensureStateTable(dynamo.client, tableName);
      const store = new DynamoDbStateStore({ client: dynamo.client, tableName });
      const ddbEngine = new StreamingEngine({ rules, store, latenessSeconds: 60 });
      const events = inputs(2000, 31);
      // Writes of acknowledgements (outbox clears after delivery) apart from correlation writes.
      let ackWrites = 0;
      let ackUnits = 0;
      for (let i = 0; i < events.length; i += batch) {
        const { alerts: raised } = await ddbEngine.processBatch(events.slice(i, i + batch));
        const [writes, units] = [store.stats.writes, store.stats.writeUnits];
        await ddbEngine.acknowledge(raised);
        ackWrites += store.stats.writes - writes;
        ackUnits += store.stats.writeUnits - units;
      }
      const calls = store.stats.reads + store.stats.writes;
      rows.push({
        name: `DynamoDB calls per event, batches of ${batch}`,
        value: calls / events.length,
        unit: 'calls/event',
        note: `${store.stats.reads} reads (BatchGet), ${store.stats.writes} conditional writes, ${store.stats.conflicts} conflicts`,
      });
      rows.push({
        name: `DynamoDB write units per event, batches of ${batch}`,
        value: store.stats.writeUnits / events.length,
        unit: 'WCU/event',
        ...(batch === 100 ? { target: '≤ 0.5' } : {}),
        note: `${store.stats.writes} writes of ${(store.stats.writeUnits / Math.max(1, store.stats.writes)).toFixed(2)} WCU on average; ${ackWrites} of them (${ackUnits} WCU) acknowledgements`,
      });
      rows.push({
        name: `DynamoDB read units per event, batches of ${batch}`,
        value: store.stats.readUnits / events.length,
        unit: 'RCU/event',
        ...(batch === 100 ? { target: '≤ 0.5' } : {}),
        note: `${store.stats.keysRead} keys read, strongly consistent`,
      });
    }
  } finally {
    await dynamo.stop();
  }

  // Bytes per partial match: a group state holding 50 partial matches, serialised as stored.
  const state = emptyGroupState();
  for (let i = 0; i < 50; i++) {
    state.events.push({
      id: `observed-data--${'0123abcd'.repeat(4).slice(0, 8)}-${String(i).padStart(4, '0')}-5000-8000-00000000${String(i).padStart(4, '0')}`,
      firstObserved: 1767225600000000 + i * 1_000_000,
      lastObserved: 1767225600000000 + i * 1_000_000,
      instancesLeft: 1,
      observations: 1,
      arrival: i,
      sourceEventId: `src-event-${i}`,
    });
  }
  state.watermark = 1767225600000000 + 50_000_000;
  const bytes = Buffer.byteLength(serialiseGroupState(state)) / 50;
  rows.push({
    name: 'state bytes per partial match (serialised, 50 held)',
    value: bytes,
    unit: 'bytes',
    target: '≤ 512',
  });
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { printTable } = await import('./table.js');
  printTable('Streaming correlation', await benchStreaming());
}

/**
 * Storage-layer figures measured against dynalite on loopback. Call counts and item sizes carry
 * over to DynamoDB; latencies are the emulator's (an in-process LevelDB), not AWS's, and only
 * useful for spotting regressions in the client-side path.
 *
 * Run alone: npx tsx bench/storage.ts
 */
import { pathToFileURL } from 'node:url';
import { ensureStateTable, startDynamo } from '../src/emulators/emulators.js';
import { DynamoDbStateStore } from '../src/state/dynamodb-store.js';
import { stateItemBytes } from '../src/state/item-size.js';
import { stateTableKey } from '../src/state/table-schema.js';
import type { StateKey } from '../src/state/types.js';

export interface BenchFigure {
  name: string;
  value: number;
  unit: string;
  target?: string;
  note?: string;
}

/** A representative correlation state: three partial matches of a sequence rule, with bindings and event refs. */
function sampleState(): string {
  const partial = (i: number) => ({
    step: i % 3,
    firstSeen: `2025-06-01T12:0${i}:00.000Z`,
    lastSeen: `2025-06-01T12:0${i}:30.000Z`,
    count: i + 1,
    events: [`observed-data--6d9e0f2a-1c3b-4e5f-8a7b-0c1d2e3f4a5${i}`],
    bindings: { 'ipv4-addr:value': `198.51.100.${10 + i}`, 'process:name': 'powershell.exe' },
  });
  return JSON.stringify({ v: 1, partials: [partial(0), partial(1), partial(2)] });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function benchStorage(): Promise<BenchFigure[]> {
  const dynamo = await startDynamo();
  try {
    const tableName = 'bench-state';
    await ensureStateTable(dynamo.client, tableName);
    const store = new DynamoDbStateStore({ client: dynamo.client, tableName });
    const value = sampleState();
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    const keys: StateKey[] = Array.from({ length: 25 }, (_, i) => ({
      tenant: 'tenant-0001',
      ruleId: 'rule--lateral-movement',
      group: `host-${i}`,
    }));

    // Warm up the connection and the emulator before timing anything.
    for (let i = 0; i < 20; i += 1)
      await store.put({ key: { ...keys[0]!, group: `warmup-${i}` }, value, expiresAt }, null);

    const putMs: number[] = [];
    const putRounds = 200;
    for (let i = 0; i < putRounds; i += 1) {
      const key = keys[i % keys.length]!;
      const expected = i < keys.length ? null : Math.floor(i / keys.length);
      const started = performance.now();
      const outcome = await store.put({ key, value, expiresAt }, expected);
      putMs.push(performance.now() - started);
      if (!outcome.ok) throw new Error(`bench put unexpectedly refused: ${outcome.reason}`);
    }
    putMs.sort((a, b) => a - b);

    const getRounds = 50;
    const readsBefore = store.stats.reads;
    const getMs: number[] = [];
    for (let i = 0; i < getRounds; i += 1) {
      const started = performance.now();
      const read = await store.getMany(keys);
      getMs.push(performance.now() - started);
      if (read.size !== keys.length) throw new Error(`bench getMany returned ${read.size} of ${keys.length} items`);
    }
    getMs.sort((a, b) => a - b);
    const callsPerGetMany = (store.stats.reads - readsBefore) / getRounds;

    const itemBytes = stateItemBytes(stateTableKey(keys[0]!), 1, value, expiresAt);
    return [
      {
        name: 'state.getMany(25 keys) DynamoDB calls',
        value: callsPerGetMany,
        unit: 'calls',
        target: '1',
        note: 'BatchGetItem round trips per call',
      },
      {
        name: 'state.getMany(25 keys) latency p50',
        value: round(percentile(getMs, 50)),
        unit: 'ms',
        note: 'dynalite on loopback',
      },
      {
        name: 'state.put latency p50',
        value: round(percentile(putMs, 50)),
        unit: 'ms',
        note: 'conditional PutItem, dynalite on loopback',
      },
      {
        name: 'state.put latency p95',
        value: round(percentile(putMs, 95)),
        unit: 'ms',
        note: 'conditional PutItem, dynalite on loopback',
      },
      {
        name: 'state item size (sample of 3 partial matches)',
        value: itemBytes,
        unit: 'bytes',
        target: '<= 65536 (maxItemBytes)',
        note: `value ${Buffer.byteLength(value)} bytes; ${Math.ceil(itemBytes / 1024)} WCU per write, ${Math.ceil(itemBytes / 4096)} RCU per strong read`,
      },
    ];
  } finally {
    await dynamo.stop();
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const figure of await benchStorage()) {
    console.log(`${figure.name}: ${figure.value} ${figure.unit}${figure.note ? ` (${figure.note})` : ''}`);
  }
}

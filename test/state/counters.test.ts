import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureStateTable, startDynamo, type RunningDynamo } from '../../src/emulators/emulators.js';
import {
  CounterBuffer,
  DynamoDbCounterStore,
  InMemoryCounterStore,
  dayStartMs,
  utcDay,
  zeroCounts,
  type CounterDeltas,
  type CounterStore,
} from '../../src/state/counters.js';
import { AggregatingCounterStore } from '../../src/state/counters.js';
import { CounterFlushError, InvalidCounterError } from '../../src/state/errors.js';
import { TTL_ATTRIBUTE, counterTableKey } from '../../src/state/table-schema.js';

let dynamo: RunningDynamo;
let tableCount = 0;
beforeAll(async () => {
  dynamo = await startDynamo();
});
afterAll(async () => {
  await dynamo?.stop();
});

type CountingStore = CounterStore & { incrementCalls: number };

function describeCounterStore(name: string, factory: () => Promise<CountingStore>): void {
  describe(`CounterStore behaviour: ${name}`, () => {
    let store: CountingStore;
    beforeEach(async () => {
      store = await factory();
    });

    it('adds concurrent increments atomically', async () => {
      await Promise.all(
        Array.from({ length: 40 }, () => store.increment('acme', 'rule-1', '2025-03-01', { matches: 1, alerts: 2 })),
      );
      const read = await store.read('acme', ['rule-1'], ['2025-03-01']);
      expect(read.get('rule-1')?.get('2025-03-01')).toEqual({ ...zeroCounts(), matches: 40, alerts: 80 });
    });

    it('reads back per rule and per day, zero-filling what was never counted', async () => {
      await store.increment('acme', 'rule-1', '2025-03-01', { matches: 3, late: 1 });
      await store.increment('acme', 'rule-1', '2025-03-02', { filtered: 5 });
      await store.increment('acme', 'rule-2', '2025-03-02', { suppressed: 2, evicted: 4 });
      const read = await store.read('acme', ['rule-1', 'rule-2', 'rule-3'], ['2025-03-01', '2025-03-02']);
      expect(read.get('rule-1')?.get('2025-03-01')).toEqual({ ...zeroCounts(), matches: 3, late: 1 });
      expect(read.get('rule-1')?.get('2025-03-02')).toEqual({ ...zeroCounts(), filtered: 5 });
      expect(read.get('rule-2')?.get('2025-03-01')).toEqual(zeroCounts());
      expect(read.get('rule-2')?.get('2025-03-02')).toEqual({ ...zeroCounts(), suppressed: 2, evicted: 4 });
      expect(read.get('rule-3')?.get('2025-03-02')).toEqual(zeroCounts());
    });

    it('keeps tenants apart, including tenants containing the separator', async () => {
      await store.increment('a#b', 'c', '2025-03-01', { matches: 1 });
      await store.increment('a', 'b#c', '2025-03-01', { matches: 10 });
      expect((await store.read('a#b', ['c'], ['2025-03-01'])).get('c')?.get('2025-03-01')?.matches).toBe(1);
      expect((await store.read('a', ['b#c'], ['2025-03-01'])).get('b#c')?.get('2025-03-01')?.matches).toBe(10);
      expect((await store.read('other', ['c', 'b#c'], ['2025-03-01'])).get('c')?.get('2025-03-01')?.matches).toBe(0);
    });

    it('skips all-zero increments without a call and rejects bad input', async () => {
      await store.increment('acme', 'rule-1', '2025-03-01', { matches: 0 });
      expect(store.incrementCalls).toBe(0);
      await expect(store.increment('acme', 'rule-1', '2025-02-30', { matches: 1 })).rejects.toThrow(
        InvalidCounterError,
      );
      await expect(store.increment('acme', 'rule-1', '2025-3-1', { matches: 1 })).rejects.toThrow(InvalidCounterError);
      await expect(store.increment('acme', 'rule-1', '2025-03-01', { matches: -1 })).rejects.toThrow(
        InvalidCounterError,
      );
      await expect(store.increment('acme', 'rule-1', '2025-03-01', { matches: 0.5 })).rejects.toThrow(
        InvalidCounterError,
      );
      await expect(store.increment('acme', 'rule-1', '2025-03-01', { bogus: 1 } as CounterDeltas)).rejects.toThrow(
        InvalidCounterError,
      );
      await expect(store.read('acme', ['rule-1'], ['yesterday'])).rejects.toThrow(InvalidCounterError);
    });

    it('is flushed by CounterBuffer with one increment per (tenant, rule, day)', async () => {
      const buffer = new CounterBuffer(store);
      for (let i = 0; i < 50; i += 1) {
        buffer.add('acme', `rule-${i % 2}`, '2025-03-01', { matches: 1 });
        buffer.add('acme', 'rule-0', '2025-03-02', { alerts: 1, matches: 0 });
      }
      buffer.add('globex', 'rule-0', '2025-03-01', { late: 7 });
      expect(buffer.pendingKeys).toBe(4);
      expect(await buffer.flush()).toEqual({ updates: 4 });
      expect(store.incrementCalls).toBe(4);
      expect(buffer.pendingKeys).toBe(0);
      const read = await store.read('acme', ['rule-0', 'rule-1'], ['2025-03-01', '2025-03-02']);
      expect(read.get('rule-0')?.get('2025-03-01')?.matches).toBe(25);
      expect(read.get('rule-1')?.get('2025-03-01')?.matches).toBe(25);
      expect(read.get('rule-0')?.get('2025-03-02')?.alerts).toBe(50);
      expect((await store.read('globex', ['rule-0'], ['2025-03-01'])).get('rule-0')?.get('2025-03-01')?.late).toBe(7);
      expect(await buffer.flush()).toEqual({ updates: 0 });
      expect(store.incrementCalls).toBe(4);
    });
  });
}

describeCounterStore('InMemoryCounterStore', async () => new InMemoryCounterStore());
describeCounterStore('DynamoDbCounterStore on dynalite', async () => {
  const tableName = `counters-${++tableCount}`;
  await ensureStateTable(dynamo.client, tableName);
  return new DynamoDbCounterStore({ client: dynamo.client, tableName });
});

describe('DynamoDbCounterStore storage details', () => {
  it('sets a ttl 35 days after the counted day', async () => {
    const tableName = `counters-${++tableCount}`;
    await ensureStateTable(dynamo.client, tableName);
    const store = new DynamoDbCounterStore({ client: dynamo.client, tableName });
    await store.increment('acme', 'rule-1', '2025-03-01', { matches: 1 });
    const key = counterTableKey('acme', 'rule-1', '2025-03-01');
    const { Item } = await dynamo.client.send(
      new GetItemCommand({ TableName: tableName, Key: { pk: { S: key.pk }, sk: { S: key.sk } } }),
    );
    expect(Item?.[TTL_ATTRIBUTE]).toEqual({ N: String(Date.UTC(2025, 2, 1) / 1000 + 35 * 86_400) });
    expect(Item?.matches).toEqual({ N: '1' });
  });

  it('reads many rules and days in BatchGetItem rounds of 100 keys', async () => {
    const tableName = `counters-${++tableCount}`;
    await ensureStateTable(dynamo.client, tableName);
    const store = new DynamoDbCounterStore({ client: dynamo.client, tableName });
    const rules = Array.from({ length: 30 }, (_, i) => `rule-${i}`);
    const days = ['2025-03-01', '2025-03-02', '2025-03-03', '2025-03-04', '2025-03-05'];
    await store.increment('acme', 'rule-29', '2025-03-05', { alerts: 3 });
    const read = await store.read('acme', rules, days);
    expect(store.readCalls).toBe(2); // 150 keys
    expect(read.get('rule-29')?.get('2025-03-05')?.alerts).toBe(3);
    expect([...read.values()].reduce((n, perDay) => n + perDay.size, 0)).toBe(150);
  });
});

describe('CounterBuffer failures', () => {
  it('keeps the deltas of a failed flush and writes them on the next one', async () => {
    const inner = new InMemoryCounterStore();
    let failNext = true;
    const flaky: CounterStore = {
      increment: async (...args) => {
        if (failNext) {
          failNext = false;
          throw new Error('simulated outage');
        }
        return inner.increment(...args);
      },
      read: (...args) => inner.read(...args),
    };
    const buffer = new CounterBuffer(flaky, { concurrency: 1 });
    buffer.add('acme', 'rule-1', '2025-03-01', { matches: 2 });
    buffer.add('acme', 'rule-2', '2025-03-01', { matches: 3 });
    await expect(buffer.flush()).rejects.toThrow(CounterFlushError);
    expect(buffer.pendingKeys).toBe(1);
    buffer.add('acme', 'rule-1', '2025-03-01', { matches: 1 });
    await buffer.flush();
    const read = await inner.read('acme', ['rule-1', 'rule-2'], ['2025-03-01']);
    expect(read.get('rule-1')?.get('2025-03-01')?.matches).toBe(3);
    expect(read.get('rule-2')?.get('2025-03-01')?.matches).toBe(3);
  });

  it('validates when adding, not when flushing', () => {
    const buffer = new CounterBuffer(new InMemoryCounterStore());
    expect(() => buffer.add('acme', 'rule-1', 'not-a-day', { matches: 1 })).toThrow(InvalidCounterError);
    expect(() => buffer.add('', 'rule-1', '2025-03-01', { matches: 1 })).toThrow();
    expect(buffer.pendingKeys).toBe(0);
  });
});

describe('day helpers', () => {
  it('round-trips UTC days', () => {
    expect(utcDay(dayStartMs('2024-02-29') + 86_399_999)).toBe('2024-02-29');
    expect(() => dayStartMs('2023-02-29')).toThrow(InvalidCounterError);
  });
});

describe('AggregatingCounterStore (#18: counters per container-minute)', () => {
  it('writes once per interval however many batches counted, and a read in the process sees pending counts', async () => {
    let nowMs = Date.UTC(2026, 0, 1, 12);
    const inner = new InMemoryCounterStore();
    const store = new AggregatingCounterStore(inner, { now: () => nowMs, flushIntervalMs: 60_000 });
    for (let batch = 0; batch < 50; batch++) {
      await store.increment('t', 'r1', '2026-01-01', { matches: 2 });
      await store.increment('t', 'r2', '2026-01-01', { alerts: 1 });
      nowMs += 1000;
    }
    expect(inner.incrementCalls).toBe(0);
    nowMs += 10_000; // past the minute: the next increment writes the totals, one call per counter item
    await store.increment('t', 'r1', '2026-01-01', { matches: 1 });
    expect(inner.incrementCalls).toBe(2);
    await store.increment('t', 'r1', '2026-01-01', { late: 1 });
    expect(inner.incrementCalls).toBe(2);
    // Reading (through any store of this process) writes what is pending first.
    const counts = await inner.read('t', ['r1', 'r2'], ['2026-01-01']);
    expect(counts.get('r1')?.get('2026-01-01')).toMatchObject({ matches: 101, late: 1 });
    expect(counts.get('r2')?.get('2026-01-01')).toMatchObject({ alerts: 50 });
    expect(store.pendingKeys).toBe(0);
  });
});

import {
  GetItemCommand,
  type BatchGetItemCommandInput,
  type BatchGetItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureStateTable, startDynamo, type RunningDynamo } from '../../src/emulators/emulators.js';
import { DynamoDbStateStore } from '../../src/state/dynamodb-store.js';
import { StateStoreError } from '../../src/state/errors.js';
import { stateTableKey, TTL_ATTRIBUTE, VERSION_ATTRIBUTE } from '../../src/state/table-schema.js';
import { stateKeyId, type StateKey } from '../../src/state/types.js';
import { describeStateStore, incompressible } from './state-store-suite.js';

let dynamo: RunningDynamo;
let tableCount = 0;

beforeAll(async () => {
  dynamo = await startDynamo();
});
afterAll(async () => {
  await dynamo?.stop();
});

async function freshTable(): Promise<string> {
  const name = `state-${++tableCount}`;
  await ensureStateTable(dynamo.client, name);
  return name;
}

async function getRaw(tableName: string, key: StateKey) {
  const tableKey = stateTableKey(key);
  const { Item } = await dynamo.client.send(
    new GetItemCommand({
      TableName: tableName,
      Key: { pk: { S: tableKey.pk }, sk: { S: tableKey.sk } },
      ConsistentRead: true,
    }),
  );
  return Item;
}

describeStateStore(
  'DynamoDbStateStore on dynalite',
  async ({ now, maxItemBytes }) =>
    new DynamoDbStateStore({ client: dynamo.client, tableName: await freshTable(), now, maxItemBytes }),
);

describe('DynamoDbStateStore storage details', () => {
  const T0 = 1_750_000_000;
  const key: StateKey = { tenant: 'acme', ruleId: 'rule-1', group: 'host-a' };

  it('writes the ttl attribute (epoch seconds) on every item, on create and on update', async () => {
    const tableName = await freshTable();
    const store = new DynamoDbStateStore({ client: dynamo.client, tableName, now: () => T0 * 1000 });
    const keys = [key, { ...key, group: 'host-b' }, { ...key, tenant: 'globex' }];
    for (const [i, k] of keys.entries()) await store.put({ key: k, value: `v${i}`, expiresAt: T0 + 100 + i }, null);
    await store.put({ key, value: 'updated', expiresAt: T0 + 500 }, 1);
    const items = await Promise.all(keys.map((k) => getRaw(tableName, k)));
    expect(items.map((item) => item?.[TTL_ATTRIBUTE])).toEqual([
      { N: String(T0 + 500) },
      { N: String(T0 + 101) },
      { N: String(T0 + 102) },
    ]);
    expect(items[0]?.[VERSION_ATTRIBUTE]).toEqual({ N: '2' });
  });

  it('keeps an expired item physically (the emulator never deletes it) yet reads it as absent and lets a create replace it', async () => {
    const tableName = await freshTable();
    let nowMs = T0 * 1000;
    const store = new DynamoDbStateStore({ client: dynamo.client, tableName, now: () => nowMs });
    await store.put({ key, value: 'old', expiresAt: T0 + 5 }, null);
    nowMs = (T0 + 6) * 1000;
    expect(await getRaw(tableName, key)).toBeDefined();
    expect((await store.getMany([key])).size).toBe(0);
    expect(await store.put({ key, value: 'new', expiresAt: T0 + 60 }, null)).toEqual({ ok: true, version: 1 });
    expect((await getRaw(tableName, key))?.val).toEqual({ S: 'new' });
  });

  it('stores a long value deflated, under the cap its text would exceed, and bills its compressed size', async () => {
    const tableName = await freshTable();
    const store = new DynamoDbStateStore({
      client: dynamo.client,
      tableName,
      maxItemBytes: 4096,
      now: () => T0 * 1000,
    });
    const long = `{"events":[${Array.from({ length: 300 }, (_, i) => `{"id":"observed-data--${i}","f":1767225600000000}`).join(',')}]}`;
    expect(long.length).toBeGreaterThan(12_000);
    expect(await store.put({ key, value: long, expiresAt: T0 + 60 }, null)).toEqual({ ok: true, version: 1 });
    const raw = await getRaw(tableName, key);
    expect(raw?.val).toBeUndefined();
    expect(raw?.z?.B?.byteLength).toBeLessThan(2048);
    expect(store.stats.writeUnits).toBeLessThanOrEqual(2);
    expect((await store.getMany([key])).get(stateKeyId(key))?.value).toBe(long);
    expect(store.stats.readUnits).toBe(1);
  });

  it('writes nothing for a too-large value', async () => {
    const tableName = await freshTable();
    const store = new DynamoDbStateStore({ client: dynamo.client, tableName, maxItemBytes: 1024 });
    expect(await store.put({ key, value: incompressible(2000), expiresAt: T0 }, null)).toEqual({
      ok: false,
      reason: 'too-large',
    });
    expect(await getRaw(tableName, key)).toBeUndefined();
  });

  it('uses one BatchGetItem per 100 keys', async () => {
    const store = new DynamoDbStateStore({ client: dynamo.client, tableName: await freshTable() });
    const keys = (n: number) => Array.from({ length: n }, (_, i) => ({ ...key, group: `g${i}` }));
    const calls = async (n: number) => {
      const before = store.stats.reads;
      await store.getMany(keys(n));
      return store.stats.reads - before;
    };
    expect([await calls(25), await calls(100), await calls(101), await calls(300)]).toEqual([1, 1, 2, 3]);
  });

  it('asks again for UnprocessedKeys until every key is read', async () => {
    const tableName = await freshTable();
    const store = new DynamoDbStateStore({ client: dynamo.client, tableName, sleep: async () => {} });
    const keys = Array.from({ length: 40 }, (_, i) => ({ ...key, group: `g${i}` }));
    for (const k of keys) await store.put({ key: k, value: k.group, expiresAt: 4_000_000_000 }, null);
    // Simulate DynamoDB throttling part of each batch: the first two calls only serve half their keys.
    let throttledCalls = 0;
    dynamo.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'BatchGetItemCommand' || throttledCalls >= 2) return next(args);
        throttledCalls += 1;
        const input = args.input as BatchGetItemCommandInput;
        const request = input.RequestItems![tableName]!;
        const served = request.Keys!.slice(0, Math.ceil(request.Keys!.length / 2));
        const held = request.Keys!.slice(served.length);
        const result = await next({
          ...args,
          input: { ...input, RequestItems: { [tableName]: { ...request, Keys: served } } },
        });
        const output = result.output as BatchGetItemCommandOutput;
        output.UnprocessedKeys = { [tableName]: { ...request, Keys: held } };
        return result;
      },
      { step: 'initialize', name: 'throttle-batch-get' },
    );
    try {
      const read = await store.getMany(keys);
      expect(read.size).toBe(40);
      for (const k of keys) expect(read.get(stateKeyId(k))?.value).toBe(k.group);
      expect(store.stats.reads).toBe(3);
      expect(store.stats.unprocessedRetries).toBe(20 + 10);
    } finally {
      dynamo.client.middlewareStack.remove('throttle-batch-get');
    }
  });

  it('raises StateStoreError (not a conflict) when the table is missing', async () => {
    const store = new DynamoDbStateStore({ client: dynamo.client, tableName: 'no-such-table' });
    await expect(store.put({ key, value: 'x', expiresAt: T0 }, null)).rejects.toThrow(StateStoreError);
    await expect(store.getMany([key])).rejects.toThrow(StateStoreError);
    // The SDK's own error stays underneath, for the log.
    await expect(store.getMany([key])).rejects.toMatchObject({ cause: { name: 'ResourceNotFoundException' } });
    expect(store.stats.conflicts).toBe(0);
  });

  it('refuses a maxItemBytes above the DynamoDB item limit', () => {
    expect(() => new DynamoDbStateStore({ client: dynamo.client, tableName: 'x', maxItemBytes: 500 * 1024 })).toThrow(
      RangeError,
    );
  });
});

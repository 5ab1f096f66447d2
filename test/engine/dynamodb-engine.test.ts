/**
 * The streaming engine on the DynamoDB state store, against dynalite on loopback: calls per
 * batch, concurrency of 8 workers on one table, idempotency and explain.
 */
import { PutItemCommand, type BatchGetItemCommandInput, type PutItemCommandInput } from '@aws-sdk/client-dynamodb';
import { groupItemKey } from '../../src/engine/group-item.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamingEngine, type EventInput } from '../../src/engine/streaming.js';
import { ensureStateTable, startDynamo } from '../../src/emulators/emulators.js';
import { DynamoDbStateStore } from '../../src/state/dynamodb-store.js';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import { stateTableKey } from '../../src/state/table-schema.js';
import { observed, rule } from './helpers.js';

let dynamo: Awaited<ReturnType<typeof startDynamo>>;
let table = 0;

beforeAll(async () => {
  dynamo = await startDynamo();
});
afterAll(async () => {
  await dynamo.stop();
});

async function newStore(): Promise<DynamoDbStateStore> {
  const tableName = `state-${++table}`;
  await ensureStateTable(dynamo.client, tableName);
  return new DynamoDbStateStore({ client: dynamo.client, tableName });
}

const sequence = rule(
  'word-then-shell',
  "([process:name = 'winword.exe'] FOLLOWEDBY [process:name = 'powershell.exe']) WITHIN 60 SECONDS",
  ['process:x_host_id'],
);
const single = rule('shell', "[process:name = 'bash']");
const repeats = rule('brute-force', '[user-account:x_failed_login = true] REPEATS 3 TIMES WITHIN 30 SECONDS', [
  'user-account:user_id',
]);

function proc(id: string, second: number, name: string, host: string): EventInput {
  return observed(id, second, { type: 'process', name, x_host_id: host }).input;
}

describe('streaming engine on DynamoDB (dynalite)', () => {
  it('makes no DynamoDB call for events that touch no multi-observation rule, and one read and one write per touched item per batch', async () => {
    const store = await newStore();
    const engine = new StreamingEngine({ rules: [sequence, single], store });
    const before = { ...store.stats };
    const quiet = await engine.processBatch([proc('q1', 0, 'bash', 'h1'), proc('q2', 1, 'ls', 'h1')]);
    expect(quiet.alerts.map((a) => a.ruleId)).toEqual(['shell']);
    expect(store.stats.reads - before.reads).toBe(0);
    expect(store.stats.writes - before.writes).toBe(0);

    const batch = await engine.processBatch([
      proc('a', 0, 'winword.exe', 'h1'),
      proc('b', 1, 'winword.exe', 'h2'),
      proc('c', 5, 'powershell.exe', 'h1'),
      proc('d', 6, 'powershell.exe', 'h2'),
    ]);
    expect(batch.alerts.map((a) => a.groupKey).sort()).toEqual(['["h1"]', '["h2"]']);
    expect(store.stats.reads - before.reads).toBe(1);
    expect(store.stats.writes - before.writes).toBe(2);
  });

  it('correlates per group only and never alerts twice for a redelivered batch', async () => {
    const store = await newStore();
    const engine = new StreamingEngine({ rules: [sequence], store });
    const first = await engine.processBatch([
      proc('w1', 0, 'winword.exe', 'h1'),
      proc('p2', 10, 'powershell.exe', 'h2'),
    ]);
    expect(first.alerts).toEqual([]);
    const second = await engine.processBatch([proc('p1', 20, 'powershell.exe', 'h1')]);
    expect(second.alerts).toHaveLength(1);
    expect(second.alerts[0]!.observedDataIds).toEqual(['observed-data--p1', 'observed-data--w1']);
    await engine.acknowledge(second.alerts);
    const again = await engine.processBatch([
      proc('w1', 0, 'winword.exe', 'h1'),
      proc('p1', 20, 'powershell.exe', 'h1'),
    ]);
    expect(again.alerts).toEqual([]);
    expect(again.stats.duplicates).toBe(2);
  });

  it('re-sends an alert committed but not acknowledged (outbox), with the same id', async () => {
    const store = await newStore();
    const engine = new StreamingEngine({ rules: [sequence], store });
    const { alerts } = await engine.processBatch([
      proc('w', 0, 'winword.exe', 'h1'),
      proc('p', 3, 'powershell.exe', 'h1'),
    ]);
    expect(alerts).toHaveLength(1);
    // The send failed: the input is redelivered; the same alert comes back, then is cleared.
    const retried = await engine.processBatch([proc('p', 3, 'powershell.exe', 'h1')]);
    expect(retried.alerts.map((a) => a.id)).toEqual(alerts.map((a) => a.id));
    await engine.acknowledge(retried.alerts);
    expect((await engine.processBatch([proc('p', 3, 'powershell.exe', 'h1')])).alerts).toEqual([]);
  });

  it('explains what is satisfied, pending, and when it expires', async () => {
    const store = await newStore();
    const engine = new StreamingEngine({ rules: [sequence], store });
    await engine.processBatch([proc('w', 0, 'winword.exe', 'h9')]);
    const explanation = await engine.explain('default', 'word-then-shell', '["h9"]');
    expect(explanation.stateful).toBe(true);
    expect(explanation.observations.map((o) => o.text)).toEqual([
      "[process:name = 'winword.exe']",
      "[process:name = 'powershell.exe']",
    ]);
    expect(explanation.partialMatches).toHaveLength(1);
    expect(explanation.partialMatches[0]!.satisfies).toEqual([0]);
    expect(explanation.pendingObservations).toEqual([1]);
    expect(explanation.partialMatches[0]!.expires).toMatch(/^2026-01-01T00:06:00Z/);
  });

  it('8 concurrent workers on one table produce exactly the alerts of one worker', async () => {
    // 40 users, each with 3 failed logins 5 s apart (REPEATS 3 within 30 s) and 20 hosts, each
    // with winword then powershell: 60 alerts, whatever the interleaving.
    const events: EventInput[] = [];
    for (let u = 0; u < 40; u++) {
      for (let k = 0; k < 3; k++)
        events.push(
          observed(`u${u}-${k}`, u * 100 + k * 5, { type: 'user-account', user_id: `user${u}`, x_failed_login: true })
            .input,
        );
    }
    for (let h = 0; h < 20; h++) {
      events.push(proc(`h${h}-w`, h * 100, 'winword.exe', `host${h}`));
      events.push(proc(`h${h}-p`, h * 100 + 30, 'powershell.exe', `host${h}`));
    }
    // A deterministic shuffle, then a round-robin deal into 8 workers' batches of 4.
    const shuffled = events
      .map((e, i) => ({ e, k: (i * 7919) % 101 }))
      .sort((a, b) => a.k - b.k)
      .map((x) => x.e);
    const runWith = async (workers: number, store: DynamoDbStateStore | InMemoryStateStore): Promise<string[]> => {
      const engines = Array.from(
        { length: workers },
        () => new StreamingEngine({ rules: [sequence, repeats], store, latenessSeconds: 86_400 }),
      );
      const queues: EventInput[][][] = engines.map(() => []);
      for (let i = 0; i < shuffled.length; i += 4)
        (queues[(i / 4) % workers] as EventInput[][]).push(shuffled.slice(i, i + 4));
      const ids = new Set<string>();
      await Promise.all(
        engines.map(async (engine, w) => {
          for (const batch of queues[w] as EventInput[][]) {
            const result = await engine.processBatch(batch);
            expect(result.errors).toEqual([]);
            await engine.acknowledge(result.alerts);
            result.alerts.forEach((a) => ids.add(a.id));
          }
        }),
      );
      return [...ids].sort();
    };
    const one = await runWith(1, new InMemoryStateStore());
    const store = await newStore();
    const eight = await runWith(8, store);
    expect(one).toHaveLength(60);
    expect(eight).toEqual(one);
  });

  // Issue #11.3: one over-long group value used to make getMany throw for the whole batch.
  describe('over-long group values and per-key failures', () => {
    const cjkHost = '\u6f22\u5b57'.repeat(150); // 300 CJK characters: 2700 bytes once URI-encoded

    it('a 300-CJK-character hostname as group_by value raises its FOLLOWEDBY alert', async () => {
      const store = await newStore();
      const engine = new StreamingEngine({ rules: [sequence], store });
      const first = await engine.processBatch([proc('cjk-w', 0, 'winword.exe', cjkHost)]);
      expect(first.errors).toEqual([]);
      const second = await engine.processBatch([proc('cjk-p', 5, 'powershell.exe', cjkHost)]);
      expect(second.errors).toEqual([]);
      expect(second.alerts.map((a) => [a.groupKey, a.observedDataIds])).toEqual([
        [JSON.stringify([cjkHost]), ['observed-data--cjk-p', 'observed-data--cjk-w']],
      ]);
      await engine.acknowledge(second.alerts);
      expect(
        (await engine.explain('default', 'word-then-shell', JSON.stringify([cjkHost]))).stateExpiresAt,
      ).toBeDefined();
    });

    it('a batch of it and normal events alerts for all', async () => {
      const store = await newStore();
      const engine = new StreamingEngine({ rules: [sequence], store });
      const result = await engine.processBatch([
        proc('n-w', 0, 'winword.exe', 'web-1'),
        proc('c-w', 0, 'winword.exe', cjkHost),
        proc('m-w', 0, 'winword.exe', 'db-1'),
        proc('n-p', 5, 'powershell.exe', 'web-1'),
        proc('c-p', 5, 'powershell.exe', cjkHost),
        proc('m-p', 5, 'powershell.exe', 'db-1'),
      ]);
      expect(result.errors).toEqual([]);
      expect(result.alerts.map((a) => a.groupKey).sort()).toEqual(
        [JSON.stringify([cjkHost]), '["db-1"]', '["web-1"]'].sort(),
      );
    });

    it('a key whose read or write fails fails only its own events, each reported with its index and rule', async () => {
      const store = await newStore();
      const engine = new StreamingEngine({ rules: [sequence], store });
      const poisoned = encodeURIComponent('["poison"]');
      // DynamoDB failing for one item (a hot partition throttled past the SDK's retries, say):
      // reads that include it fail, and so do writes of it.
      dynamo.client.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'BatchGetItemCommand') {
            const request = Object.values((args.input as BatchGetItemCommandInput).RequestItems ?? {})[0];
            if (request?.Keys?.some((k) => k.pk?.S?.includes(poisoned)))
              throw Object.assign(new Error('throughput exceeded'), { name: 'ProvisionedThroughputExceededException' });
          }
          if (
            context.commandName === 'PutItemCommand' &&
            (args.input as PutItemCommandInput).Item?.pk?.S?.includes(encodeURIComponent('["poison-write"]'))
          ) {
            throw Object.assign(new Error('internal server error'), { name: 'InternalServerError' });
          }
          return next(args);
        },
        { step: 'initialize', name: 'fail-one-key' },
      );
      try {
        const result = await engine.processBatch([
          proc('ok-w', 0, 'winword.exe', 'web-1'),
          proc('bad-w', 0, 'winword.exe', 'poison'),
          proc('ok-p', 5, 'powershell.exe', 'web-1'),
          proc('bad-p', 5, 'powershell.exe', 'poison'),
          proc('badw-w', 0, 'winword.exe', 'poison-write'),
          proc('badw-p', 5, 'powershell.exe', 'poison-write'),
        ]);
        expect(result.alerts.map((a) => a.observedDataIds)).toEqual([['observed-data--ok-p', 'observed-data--ok-w']]);
        expect(result.errors.map((e) => [e.code, e.eventIndex, e.ruleId]).sort()).toEqual([
          ['state-store', 1, 'word-then-shell'],
          ['state-store', 3, 'word-then-shell'],
          ['state-store', 4, 'word-then-shell'],
          ['state-store', 5, 'word-then-shell'],
        ]);
        expect(result.errors.every((e) => e.message.includes('poison'))).toBe(true);
        expect(result.matched.map((m) => m.eventIndex).sort()).toEqual([0, 2]);
      } finally {
        dynamo.client.middlewareStack.remove('fail-one-key');
      }
      // The good key was committed: its events are used up by the alert.
      const explained = await engine.explain('default', 'word-then-shell', '["web-1"]');
      expect(explained.partialMatches).toEqual([]);
    });
  });
});

describe('#12.5 a corrupt state item on DynamoDB', () => {
  it('fails only its own events, as state-corrupt, not retryable (a retry meets the same item)', async () => {
    const store = await newStore();
    const tableName = `state-${table}`;
    const key = stateTableKey(groupItemKey('default', '["bad"]'));
    // A row without its value attribute: what no writer of this version leaves, but a hand edit might.
    await dynamo.client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: { pk: { S: key.pk }, sk: { S: key.sk }, v: { N: '1' }, ttl: { N: String(4_000_000_000) } },
      }),
    );
    const engine = new StreamingEngine({ rules: [sequence], store });
    const result = await engine.processBatch([
      proc('w-ok', 0, 'winword.exe', 'good'),
      proc('w-bad', 0, 'winword.exe', 'bad'),
    ]);
    expect(result.errors.map((e) => [e.code, e.eventIndex, e.retryable])).toEqual([['state-corrupt', 1, undefined]]);
    expect(result.errors[0]?.message).toContain('missing its version, value or ttl');
    expect(result.matched.map((m) => m.eventIndex)).toEqual([0]);
  });
});

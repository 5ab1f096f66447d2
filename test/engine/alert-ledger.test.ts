import { createHash } from 'node:crypto';
/**
 * The alert ledger (#11.2) on both state stores: the in-memory store and the DynamoDB store
 * against dynalite on loopback. The same behaviour is asserted on each.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AlertLedger,
  DEFAULT_DEDUPE_WINDOW_SECONDS,
  ledgerAlertKey,
  ledgerHitKey,
} from '../../src/engine/alert-ledger.js';
import { alertId, type Alert } from '../../src/engine/alert.js';
import { compileGroupKey } from '../../src/engine/grouping.js';
import { parseObjectPath } from '../../src/pattern/object-path.js';
import { ensureStateTable, startDynamo, type RunningDynamo } from '../../src/emulators/emulators.js';
import type { ObjectPath } from '../../src/pattern/ast.js';
import { DynamoDbStateStore } from '../../src/state/dynamodb-store.js';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import { stateKeyId, type StateStore } from '../../src/state/types.js';
import { observed } from './helpers.js';

let dynamo: RunningDynamo;
let tables = 0;
beforeAll(async () => {
  dynamo = await startDynamo();
});
afterAll(async () => {
  await dynamo?.stop();
});

type Factory = (now: () => number, maxItemBytes?: number) => Promise<StateStore>;
const stores: [string, Factory][] = [
  [
    'in-memory store',
    async (now, maxItemBytes) => new InMemoryStateStore({ now, ...(maxItemBytes ? { maxItemBytes } : {}) }),
  ],
  [
    'DynamoDB store (dynalite)',
    async (now, maxItemBytes) => {
      const tableName = `ledger-${++tables}`;
      await ensureStateTable(dynamo.client, tableName);
      return new DynamoDbStateStore({
        client: dynamo.client,
        tableName,
        now,
        ...(maxItemBytes ? { maxItemBytes } : {}),
      });
    },
  ],
];

function alert(n: number, extra: Partial<Alert> = {}): Alert {
  const observedDataIds = [`observed-data--00000000-0000-4000-8000-${String(n).padStart(12, '0')}`];
  return {
    id: alertId('acme', 'shell', '', observedDataIds),
    ruleId: 'shell',
    ruleName: 'Shell',
    severity: 'high',
    description: '',
    tags: [],
    tenant: 'acme',
    groupKey: '',
    firstObserved: '2026-01-01T00:00:00Z',
    lastObserved: '2026-01-01T00:00:00Z',
    observedDataIds,
    sourceEventIds: [],
    objects: [],
    created: '2026-01-01T12:00:00.000Z',
    ...extra,
  };
}

for (const [name, factory] of stores) {
  describe(`alert ledger on the ${name}`, () => {
    let nowMs: number;
    let store: StateStore;
    let ledger: AlertLedger;
    const now = (): number => nowMs;

    beforeEach(async () => {
      nowMs = Date.UTC(2026, 0, 1, 12);
      store = await factory(now);
      ledger = new AlertLedger(store, { now });
    });

    it('an alert already recorded is told apart by the item its failed create returned, with no read, where the store returns it', async () => {
      await ledger.record([alert(1)]);
      const before = { ...store.stats };
      const again = await ledger.record([alert(1)]);
      expect(again.resent).toEqual([alert(1)]);
      expect(store.stats.conflicts - before.conflicts).toBe(1);
      // The in-memory store returns the item; dynalite ignores ReturnValuesOnConditionCheckFailure,
      // so against it the ledger reads the item once.
      expect(store.stats.reads - before.reads).toBe(name === 'in-memory store' ? 0 : 1);
    });

    it('a new alert costs one conditional create and no read; it is fresh once, then pending (re-sent), then a duplicate once settled', async () => {
      const before = { ...store.stats };
      const first = await ledger.record([alert(1), alert(2)]);
      expect(first.fresh.map((a) => a.id)).toEqual([alert(1).id, alert(2).id]);
      expect(first.resent).toEqual([]);
      expect(store.stats.writes - before.writes).toBe(2);
      expect(store.stats.reads - before.reads).toBe(0);

      // Not settled (the send failed): raised again, it is a re-send of the stored copy.
      const again = await ledger.record([alert(1, { created: '2026-01-01T13:00:00.000Z' })]);
      expect(again.fresh).toEqual([]);
      expect(again.resent).toEqual([alert(1)]);

      await ledger.settle([{ alert: alert(1), outcome: 'delivered' }], again.versions);
      const third = await ledger.record([alert(1), alert(2)]);
      expect(third.duplicates.map((a) => a.id)).toEqual([alert(1).id]);
      expect(third.resent.map((a) => a.id)).toEqual([alert(2).id]);
    });

    it('settles without known versions too, and keeps the first settlement', async () => {
      await ledger.record([alert(1)]);
      await ledger.settle([{ alert: alert(1), outcome: 'suppressed' }]);
      await ledger.settle([{ alert: alert(1), outcome: 'delivered' }]);
      const item = (await store.getMany([ledgerAlertKey(alert(1))])).get(stateKeyId(ledgerAlertKey(alert(1))));
      expect(JSON.parse(item!.value)).toEqual({ status: 'suppressed' });
      expect((await ledger.record([alert(1)])).duplicates).toHaveLength(1);
    });

    it('drops a second copy of an alert within one call', async () => {
      const result = await ledger.record([alert(1), alert(1), alert(2)]);
      expect(result.fresh.map((a) => a.id)).toEqual([alert(1).id, alert(2).id]);
      expect(result.duplicates.map((a) => a.id)).toEqual([alert(1).id]);
    });

    it('keeps alerts for the dedupe window (default 7 days), then forgets them', async () => {
      expect(ledger.dedupeWindowSeconds).toBe(DEFAULT_DEDUPE_WINDOW_SECONDS);
      expect(DEFAULT_DEDUPE_WINDOW_SECONDS).toBe(7 * 86_400);
      const recorded = await ledger.record([alert(1)]);
      await ledger.settle([{ alert: alert(1), outcome: 'delivered' }], recorded.versions);
      nowMs += (DEFAULT_DEDUPE_WINDOW_SECONDS - 1) * 1000;
      expect((await ledger.record([alert(1)])).duplicates).toHaveLength(1);
      nowMs += 2000;
      expect((await ledger.record([alert(1)])).fresh).toHaveLength(1);

      const short = new AlertLedger(store, { now, dedupeWindowSeconds: 60 });
      await short.settle([{ alert: alert(3), outcome: 'delivered' }]);
      nowMs += 61_000;
      expect((await short.record([alert(3)])).fresh).toHaveLength(1);
      expect(() => new AlertLedger(store, { dedupeWindowSeconds: 0 })).toThrow(RangeError);
    });

    it('an alert too large for a state item is recorded without its copy, and re-sent as raised again', async () => {
      const small = await factory(now, 4096);
      const tight = new AlertLedger(small, { now });
      // Text that does not deflate (the DynamoDB store deflates long values): digests, chained.
      let description = '';
      for (let i = 0; description.length < 8000; i++)
        description += createHash('sha256').update(`${i}`).digest('base64');
      const big = alert(1, { description });
      expect((await tight.record([big])).fresh).toEqual([big]);
      const item = (await small.getMany([ledgerAlertKey(big)])).get(stateKeyId(ledgerAlertKey(big)));
      expect(JSON.parse(item!.value)).toEqual({ status: 'pending' });
      expect((await tight.record([big])).resent).toEqual([big]);
    });

    it('two workers recording the same alert at once: exactly one gets it fresh', async () => {
      const other = new AlertLedger(store, { now });
      const [a, b] = await Promise.all([ledger.record([alert(1)]), other.record([alert(1)])]);
      expect(a.fresh.length + b.fresh.length).toBe(1);
      expect(a.resent.length + b.resent.length).toBe(1);
    });

    it('counts a hit once per (tenant, rule, kind, event), however often it comes', async () => {
      const hit = (ruleId: string, kind: string, eventId: string, tenant = 'acme') => ({
        tenant,
        ruleId,
        kind,
        eventId,
      });
      const hits = [
        hit('r1', 'filtered', 'observed-data--a'),
        hit('r1', 'filtered', 'observed-data--a'),
        hit('r2', 'filtered', 'observed-data--a'),
        hit('r1', 'late', 'observed-data--a'),
        hit('r1', 'filtered', 'observed-data--a', 'globex'),
      ];
      const first = await ledger.firstHits(hits);
      expect(first).toEqual([hits[0], hits[2], hits[3], hits[4]]);
      expect(await ledger.firstHits(hits.map((h) => ({ ...h })))).toEqual([]);
      // A long or non-ASCII event id still makes a key the store takes.
      const long = hit('r1', 'filtered', `observed-data--${'é'.repeat(600)}`);
      expect(await ledger.firstHits([long])).toEqual([long]);
      expect(await ledger.firstHits([long])).toEqual([]);
    });
  });
}

describe('ledger keys', () => {
  it('cannot collide with correlation groups or the gate items', () => {
    const path = parseObjectPath('process:x_host_id') as ObjectPath;
    const group = compileGroupKey([path])(
      observed('e1', 0, { type: 'process', name: '#ledger alert x', x_host_id: '#ledger alert x' }).input.observation,
    );
    expect(group).toBe('["#ledger alert x"]');
    for (const key of [
      ledgerAlertKey(alert(1)),
      ledgerHitKey({ tenant: 'acme', ruleId: 'shell', kind: 'filtered', eventId: 'observed-data--a' }),
    ]) {
      // Correlation groups are '' or a JSON array; the gate uses '#suppress …' and '#rate'.
      expect(key.group.startsWith('#ledger ')).toBe(true);
      expect(key.group).not.toBe('');
    }
    expect(ledgerAlertKey(alert(1)).group).not.toBe(
      ledgerHitKey({ tenant: 'acme', ruleId: 'shell', kind: 'alert', eventId: alert(1).id }).group,
    );
  });
});

/** #12.2: the stored format of a correlation state, its format number, and reading the previous format. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { groupItemCodec, groupItemKey, readRuleItem, writeRuleItem } from '../../src/engine/group-item.js';
import { GROUP_STATE_FORMAT, groupStateCodec, type GroupState } from '../../src/engine/group-state.js';
import { fingerprint, StreamingEngine } from '../../src/engine/streaming.js';
import { printPattern } from '../../src/pattern/print.js';
import { StateCorruptError } from '../../src/state/errors.js';
import { packValue } from '../../src/state/item-size.js';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import { stateKeyId, type StateKey } from '../../src/state/types.js';
import { observed, rule } from './helpers.js';

/** A state as format 1 stored it (no format field), byte for byte as written before #12. */
const FORMAT_1 =
  '{"events":[{"id":"observed-data--a1","f":1767225601000000,"l":1767225602000000,"n":2,"m":1,"a":0,"s":"src-a1"}],' +
  '"used":[["observed-data--b0",1767225600000000]],"watermark":1767225601000000,"evicted":3,"arrivals":1,"outbox":[],' +
  '"patternKey":"abcdefghijklmnopqrstuv","observationsKey":"vutsrqponmlkjihgfedcba"}';

describe('groupStateCodec', () => {
  it('reads a state of the previous format into readable fields', () => {
    const state = groupStateCodec.decode(FORMAT_1);
    expect(state).toEqual({
      events: [
        {
          id: 'observed-data--a1',
          firstObserved: 1767225601000000,
          lastObserved: 1767225602000000,
          instancesLeft: 2,
          observations: 1,
          arrival: 0,
          sourceEventId: 'src-a1',
        },
      ],
      used: [['observed-data--b0', 1767225600000000]],
      watermark: 1767225601000000,
      evicted: 3,
      arrivals: 1,
      outbox: [],
      patternKey: 'abcdefghijklmnopqrstuv',
      observationsKey: 'vutsrqponmlkjihgfedcba',
    } satisfies GroupState);
  });

  it('reads a state of format 2 (the layout of format 1 with its format number)', () => {
    expect(groupStateCodec.decode(FORMAT_1.replace('{', '{"format":2,'))).toEqual(groupStateCodec.decode(FORMAT_1));
  });

  it('writes its format number and the compact layout, and reads back what it wrote', () => {
    const state = groupStateCodec.decode(FORMAT_1);
    const text = groupStateCodec.encode(state);
    const stored = JSON.parse(text) as Record<string, unknown>;
    expect(GROUP_STATE_FORMAT).toBe(3);
    expect(stored).toEqual({
      f: 3,
      w: 1767225601000000,
      r: 1,
      // [id, watermark − first, mask, arrivals − arrival, last − first, instances left, source event id]
      e: [['observed-data--a1', 0, 1, 1, 1000000, 2, 'src-a1']],
      u: [['observed-data--b0', 1000000]],
      x: 3,
      p: 'abcdefghijklmnopqrstuv',
      k: 'vutsrqponmlkjihgfedcba',
    });
    expect(text.length).toBeLessThan(FORMAT_1.length);
    expect(groupStateCodec.decode(text)).toEqual(state);
    // An event with one instance, no source id and no duration is four numbers and its id.
    const plain: GroupState = {
      ...state,
      events: [
        { id: 'observed-data--c', firstObserved: 5, lastObserved: 5, instancesLeft: 1, observations: 2, arrival: 0 },
      ],
      watermark: 7,
    };
    expect((JSON.parse(groupStateCodec.encode(plain)) as { e: unknown }).e).toEqual([['observed-data--c', 2, 2, 1]]);
    expect(groupStateCodec.decode(groupStateCodec.encode(plain))).toEqual(plain);
    // The empty state is its format alone; no watermark yet is read back as -Infinity.
    const empty = groupStateCodec.empty();
    expect(groupStateCodec.encode(empty)).toBe('{"f":3}');
    expect(groupStateCodec.decode(groupStateCodec.encode(empty))).toEqual(empty);
  });

  it('refuses, as corrupt, a format it does not know and text that is no state', () => {
    expect(() => groupStateCodec.decode(FORMAT_1.replace('{', '{"format":3,'))).toThrow(StateCorruptError);
    expect(() => groupStateCodec.decode('{"events":')).toThrow(StateCorruptError);
    expect(() => groupStateCodec.decode('[]')).toThrow(StateCorruptError);
    expect(() => groupStateCodec.decode('{"events":[]}')).toThrow(/lacks its events, used ids or outbox/);
    expect(() => groupStateCodec.decode('{"f":3,"w":1,"e":[["observed-data--a",0]]}')).toThrow(StateCorruptError);
    expect(() => groupStateCodec.decode('{"f":3,"w":"soon"}')).toThrow(StateCorruptError);
  });

  it('lets the engine go on from a state stored in the previous format', async () => {
    const T0 = Date.UTC(2026, 0, 1, 0, 1, 0);
    const store = new InMemoryStateStore({ now: () => T0 });
    const pair = rule('pair', "[x-thing:v = 'a'] FOLLOWEDBY [x-thing:v = 'b']");
    const key: StateKey = { tenant: 'default', ruleId: 'pair', group: '' };
    // An 'a' buffered by an engine of the previous format (its fingerprints are not this rule's,
    // and format 1 states from before fingerprints have none: the next search is a full one).
    const legacy =
      '{"events":[{"id":"observed-data--a1","f":1767225601000000,"l":1767225601000000,"n":1,"m":1,"a":0}],' +
      '"used":[],"watermark":1767225601000000,"evicted":0,"arrivals":1,"outbox":[]}';
    await writeRuleItem(store, { key, value: legacy, expiresAt: Math.floor(T0 / 1000) + 3600 }, null);
    const engine = new StreamingEngine({ rules: [pair], store, now: () => T0 });
    const result = await engine.processBatch([observed('b1', 5, { type: 'x-thing', v: 'b' }).input]);
    expect(result.errors).toEqual([]);
    expect(result.alerts.map((a) => a.observedDataIds)).toEqual([['observed-data--a1', 'observed-data--b1']]);
    const written = JSON.parse((await readRuleItem(store, key))?.value ?? '{}') as { f?: number };
    expect(written.f).toBe(GROUP_STATE_FORMAT);
  });
});

describe('group items (#18)', () => {
  it('hold every rule of a group in one item, store fingerprints as digests, and notice an edited rule', async () => {
    const { StreamingEngine } = await import('../../src/engine/streaming.js');
    const { InMemoryStateStore } = await import('../../src/state/memory-store.js');
    const { groupItemKey } = await import('../../src/engine/group-item.js');
    const { stateKeyId } = await import('../../src/state/types.js');
    const { rule, observed } = await import('./helpers.js');
    const T = Date.UTC(2026, 0, 1);
    const store = new InMemoryStateStore({ now: () => T });
    const rules = [
      rule('first', "[process:name = 'a'] FOLLOWEDBY [process:name = 'b']", ['process:x_host_id']),
      rule('second', "[process:name = 'a'] AND [process:name = 'c']", ['process:x_host_id']),
    ];
    const engine = new StreamingEngine({ rules, store, now: () => T });
    const a = observed('a1', 0, { type: 'process', name: 'a', x_host_id: 'h1' }).input;
    const batch = await engine.processBatch([a]);
    expect(batch.stats.stateWrites).toBe(1); // both rules' states, one item
    const key = groupItemKey('default', '["h1"]');
    const stored = (await store.getMany([key])).get(stateKeyId(key))!;
    const item = JSON.parse(stored.value) as { rules: Record<string, [number, Record<string, unknown>, string]> };
    expect(Object.keys(item.rules).sort()).toEqual(['first', 'second']);
    expect(item.rules.first![1].patternKey).toBeUndefined();
    // Per rule, the observation expressions' digest; the patterns' are in the item's digest.
    expect(item.rules.first![2]).toMatch(/^[A-Za-z0-9_-]{6}$/);
    expect(item.rules.first).toHaveLength(3);
    expect((JSON.parse(stored.value) as { d?: string }).d).toMatch(/^[A-Za-z0-9_-]{8}$/);
    // Another engine with the same rules takes the state as its own: the B completes the sequence.
    const same = new StreamingEngine({ rules, store, now: () => T });
    const b = observed('b1', 5, { type: 'process', name: 'b', x_host_id: 'h1' }).input;
    expect((await same.processBatch([b])).alerts.map((x) => x.ruleId)).toEqual(['first']);
    // An engine whose 'second' has other observation expressions drops that rule's partial match only.
    const c = observed('c1', 6, { type: 'process', name: 'c', x_host_id: 'h1' }).input;
    const edited = new StreamingEngine({
      rules: [rules[0]!, rule('second', "[process:name = 'z'] AND [process:name = 'c']", ['process:x_host_id'])],
      store,
      now: () => T,
    });
    const result = await edited.processBatch([c]);
    expect(result.alerts).toEqual([]);
    expect(result.stats.evicted).toBe(1);
  });
});

describe('group item formats (#18)', () => {
  it('reads an item of format 1 (absolute expiries) and writes format 3 (expiries relative to the item)', async () => {
    const { groupItemCodec, ruleExpiry, ruleState, GROUP_ITEM_FORMAT } = await import('../../src/engine/group-item.js');
    const T = Date.UTC(2026, 0, 1);
    const codec = groupItemCodec(() => T);
    // As format 1 wrote it: each rule's expiresAt whole, its state in the layout of its codec then.
    const format1 =
      '{"format":1,"rules":{"one":[1767229200,{"format":2,"events":[],"used":[],"watermark":null,"evicted":0,"arrivals":0,"outbox":[]}],' +
      '"two":[1767225700,{"format":2,"events":[],"used":[],"watermark":1767225600000000,"evicted":2,"arrivals":5,"outbox":[]}]}}';
    const item = codec.decode(format1);
    expect(ruleExpiry(item, 'one')).toBe(1767229200);
    expect(ruleExpiry(item, 'two')).toBe(1767225700);
    const nowSeconds = Math.floor(T / 1000);
    expect(ruleState(item, 'two', groupStateCodec, nowSeconds)).toMatchObject({ evicted: 2, arrivals: 5 });
    const written = JSON.parse(codec.encode(item)) as { format: number; x: number; rules: Record<string, unknown[]> };
    expect(GROUP_ITEM_FORMAT).toBe(3);
    expect(written.format).toBe(3);
    expect(written.x).toBe(1767229200);
    expect(written.rules.one![0]).toBe(0);
    expect(written.rules.two![0]).toBe(3500);
    const again = codec.decode(JSON.stringify(written));
    expect(ruleExpiry(again, 'one')).toBe(1767229200);
    expect(ruleExpiry(again, 'two')).toBe(1767225700);
    expect(ruleState(again, 'two', groupStateCodec, nowSeconds)).toEqual(
      ruleState(item, 'two', groupStateCodec, nowSeconds),
    );
    expect(() => codec.decode('{"format":4,"rules":{}}')).toThrow(StateCorruptError);
    expect(() => codec.decode('{"format":2,"rules":{}}')).toThrow(/lacks its expiry/);
  });

  it('stores a state without buffered events with neither fingerprints nor digests', async () => {
    const { groupItemKey } = await import('../../src/engine/group-item.js');
    const { stateKeyId } = await import('../../src/state/types.js');
    const T = Date.UTC(2026, 0, 1, 0, 10);
    const store = new InMemoryStateStore({ now: () => T });
    const late = rule('late', "[x-thing:v = 'a'] FOLLOWEDBY [x-thing:v = 'b']");
    const engine = new StreamingEngine({ rules: [late], store, now: () => T });
    const raised = await engine.processBatch([
      observed('a1', 1, { type: 'x-thing', v: 'a' }).input,
      observed('b1', 2, { type: 'x-thing', v: 'b' }).input,
    ]);
    expect(raised.alerts).toHaveLength(1);
    await engine.acknowledge(raised.alerts);
    const key = groupItemKey('default', '');
    const stored = JSON.parse((await store.getMany([key])).get(stateKeyId(key))!.value) as {
      rules: Record<string, unknown[]>;
    };
    // Both events were used by the alert: nothing buffered, so the masks' meaning does not matter.
    expect(stored.rules.late).toHaveLength(2);
    expect(stored.rules.late![1]).not.toHaveProperty('p');
    // An engine with the rule edited takes the state as it is: the used ids still reject a redelivery.
    const edited = new StreamingEngine({
      rules: [rule('late', "([x-thing:v = 'a'] FOLLOWEDBY [x-thing:v = 'b']) WITHIN 60 SECONDS")],
      store,
      now: () => T,
    });
    const again = await edited.processBatch([observed('b1', 2, { type: 'x-thing', v: 'b' }).input]);
    expect(again.alerts).toEqual([]);
    expect(again.stats.duplicates).toBe(1);
    expect(again.stats.evicted).toBe(0);
  });
});

describe('group item digests (#18: format 3, one pattern digest an item)', () => {
  const T = Date.UTC(2026, 0, 1, 0, 10);
  const host = (id: string, second: number, name: string) =>
    observed(id, second, { type: 'process', name, x_host_id: 'h1' }).input;
  const key = groupItemKey('default', '["h1"]');
  const sortedIds = (alerts: { ruleId: string; observedDataIds: string[] }[]) =>
    alerts.map((a) => [a.ruleId, [...a.observedDataIds].sort()]).sort();

  it('after one rule of an item has a qualifier edited, its next search is a full one, and no rule of the item loses a partial match', async () => {
    const store = new InMemoryStateStore({ now: () => T });
    const pair = (seconds: number) =>
      rule('pair', `([process:name = 'a'] FOLLOWEDBY [process:name = 'b']) WITHIN ${seconds} SECONDS`, [
        'process:x_host_id',
      ]);
    const other = rule('other', "[process:name = 'c'] AND [process:name = 'd']", ['process:x_host_id']);
    const before = new StreamingEngine({ rules: [pair(5), other], store, now: () => T });
    // a then b ten seconds later: too far apart for 5 seconds, so both stay buffered; c waits for a d.
    expect((await before.processBatch([host('a1', 0, 'a'), host('b1', 10, 'b'), host('c1', 11, 'c')])).alerts).toEqual(
      [],
    );
    // The item's pattern digest no longer matches: which rule changed cannot be told, so both are searched
    // fully once. Only a full search binds a1 and b1 (a2 starts nothing); other's c1 is still there for d1.
    const after = new StreamingEngine({ rules: [pair(60), other], store, now: () => T });
    const result = await after.processBatch([host('a2', 20, 'a'), host('d1', 21, 'd')]);
    expect(result.errors).toEqual([]);
    expect(sortedIds(result.alerts)).toEqual([
      ['other', ['observed-data--c1', 'observed-data--d1']],
      ['pair', ['observed-data--a1', 'observed-data--b1']],
    ]);
    expect(result.stats.evicted).toBe(0);
    // Written again with the rules as they are: one digest covers both, no rule is marked stale.
    const stored = JSON.parse((await store.getMany([key])).get(stateKeyId(key))!.value) as {
      d?: string;
      rules: Record<string, unknown[]>;
    };
    expect(stored.d).toMatch(/^[A-Za-z0-9_-]{8}$/);
    expect(Object.values(stored.rules).every((entry) => entry.length <= 3)).toBe(true);
  });

  it('reads a format 2 item (both digests a rule): a rule as it was takes its state as its own, an edited one drops its masks', async () => {
    const store = new InMemoryStateStore({ now: () => T });
    const pair = rule('pair', "[process:name = 'a'] FOLLOWEDBY [process:name = 'b']", ['process:x_host_id']);
    const other = rule('other', "[process:name = 'c'] AND [process:name = 'd']", ['process:x_host_id']);
    const engine = new StreamingEngine({ rules: [pair, other], store, now: () => T });
    await engine.processBatch([host('a1', 0, 'a'), host('c1', 1, 'c')]);
    const written = (await store.getMany([key])).get(stateKeyId(key))!;
    // The same item as format 2 wrote it: per rule, its pattern's digest and its observations' (6 + 6
    // characters), no item digest. 'other' carries digests of another rule's fingerprints.
    const item = JSON.parse(written.value) as { format: number; d?: string; rules: Record<string, unknown[]> };
    const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest('base64url').slice(0, 6);
    item.format = 2;
    delete item.d;
    item.rules.pair![2] = digest(fingerprint(printPattern(pair.pattern.ast))) + (item.rules.pair![2] as string);
    item.rules.other![2] = 'zzzzzzzzzzzz';
    expect(
      (await store.put({ key, value: JSON.stringify(item), expiresAt: written.expiresAt }, written.version)).ok,
    ).toBe(true);
    const fresh = new StreamingEngine({ rules: [pair, other], store, now: () => T });
    const result = await fresh.processBatch([host('b1', 5, 'b'), host('d1', 6, 'd')]);
    expect(result.errors).toEqual([]);
    expect(sortedIds(result.alerts)).toEqual([['pair', ['observed-data--a1', 'observed-data--b1']]]);
    expect(result.stats.evicted).toBe(1);
    expect((JSON.parse((await store.getMany([key])).get(stateKeyId(key))!.value) as { format: number }).format).toBe(3);
  });

  it('refuses malformed digests: a pair of digests in format 3, a stale mark in format 2', () => {
    const codec = groupItemCodec(() => T);
    const state = '{"f":3,"w":1,"e":[["observed-data--a",0,1,0]]}';
    expect(() => codec.decode(`{"format":3,"x":1,"rules":{"r":[0,${state},"abcdefabcdef"]}}`)).toThrow(
      /malformed digests/,
    );
    expect(() => codec.decode(`{"format":2,"x":1,"rules":{"r":[0,${state},"abcdefabcdef",0]}}`)).toThrow(
      /malformed digests/,
    );
    expect(() => codec.decode(`{"format":3,"x":1,"rules":{"r":[0,${state},"abcdef",1]}}`)).toThrow(/malformed digests/);
    expect(() => codec.decode(`{"format":3,"x":1,"d":7,"rules":{}}`)).toThrow(/malformed pattern digest/);
  });
});

describe('what digests cost a group item (#18)', () => {
  it('40 rules of distinct patterns and observations cost at most 8 stored bytes each in digests (format 2: 12)', async () => {
    const T = Date.UTC(2026, 0, 1, 0, 10);
    const store = new InMemoryStateStore({ now: () => T });
    const rules = Array.from({ length: 40 }, (_, i) =>
      rule(`r${i}`, `([process:name = 'a'] FOLLOWEDBY [process:name = 'b${i}']) WITHIN ${60 + i} SECONDS`, [
        'process:x_host_id',
      ]),
    );
    const engine = new StreamingEngine({ rules, store, now: () => T });
    await engine.processBatch([observed('a1', 0, { type: 'process', name: 'a', x_host_id: 'h1' }).input]);
    const key = groupItemKey('default', '["h1"]');
    const value = (await store.getMany([key])).get(stateKeyId(key))!.value;
    const item = JSON.parse(value) as { d?: string; rules: Record<string, unknown[]> };
    expect(Object.values(item.rules).every((entry) => entry.length === 3)).toBe(true);
    // Billed by the stored (deflated) size: the same item with no digest at all is the floor.
    const stored = (text: string): number => {
      const packed = packValue(text);
      return 'text' in packed ? Buffer.byteLength(packed.text) : packed.deflated.byteLength;
    };
    delete item.d;
    for (const [ruleId, entry] of Object.entries(item.rules)) item.rules[ruleId] = entry.slice(0, 2);
    expect(stored(value) - stored(JSON.stringify(item))).toBeLessThanOrEqual(40 * 8);
  });
});

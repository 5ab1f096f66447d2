/**
 * Hardening of the streaming engine and its state (issue #11, items 3, 5–8, 16–18, 24 and the
 * exactly-once matched counter), on the in-memory store. The DynamoDB (dynalite) side of item 3
 * is in dynamodb-engine.test.ts. Every test drives the real engine with real rules.
 */
import { readFileSync } from 'node:fs';
import { readRuleItem, writeRuleItem } from '../../src/engine/group-item.js';
import { groupStateCodec } from '../../src/engine/group-state.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TRUNCATION_MARKER, toAlertDocument, type Alert } from '../../src/engine/alert.js';
import { compileGroupKey } from '../../src/engine/grouping.js';
import { stringKey } from '../../src/rules/rule-index.js';
import {
  StreamingEngine,
  type BatchResult,
  type EventInput,
  type StreamingEngineOptions,
} from '../../src/engine/streaming.js';
import { StixflowError } from '../../src/errors.js';
import { compilePattern } from '../../src/pattern/compile.js';
import { prepareObservedData } from '../../src/pattern/observation.js';
import { printPattern } from '../../src/pattern/print.js';
import type { Rule } from '../../src/rules/model.js';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import { DEFAULT_MAX_STATE_ITEM_BYTES, stateTableKey } from '../../src/state/table-schema.js';
import { stateItemBytes } from '../../src/state/item-size.js';
import type { StateKey } from '../../src/state/types.js';
import { observed, rule } from './helpers.js';

/** Wall clock of the tests: 2026-01-01T01:00:00Z; event times are seconds after 2026-01-01T00:00:00Z. */
const T0 = Date.UTC(2026, 0, 1, 1, 0, 0);

function setup(
  rules: Rule[],
  options: Partial<StreamingEngineOptions> = {},
  maxItemBytes?: number,
): { engine: StreamingEngine; store: InMemoryStateStore } {
  const store = new InMemoryStateStore({ now: () => T0, ...(maxItemBytes ? { maxItemBytes } : {}) });
  return { engine: new StreamingEngine({ rules, store, now: () => T0, ...options }), store };
}

function x(id: string, second: number, v: string, extra: Record<string, unknown> = {}, count = 1): EventInput {
  return observed(id, second, { type: 'x', v, ...extra }, count).input;
}

/** An observed-data with no id (as code or a raw 2.0 feed may give), with one embedded object. */
function anonymous(second: number, v: string, extra: Record<string, unknown> = {}): EventInput {
  const t = new Date(Date.UTC(2026, 0, 1) + second * 1000).toISOString();
  const sdo = {
    type: 'observed-data',
    first_observed: t,
    last_observed: t,
    number_observed: 1,
    objects: { '0': { type: 'x', v, ...extra } },
  };
  return { observation: prepareObservedData(sdo, 0, () => undefined) };
}

async function storedState(
  store: InMemoryStateStore,
  key: StateKey,
): Promise<{ value: Record<string, unknown>; bytes: number } | undefined> {
  const item = await readRuleItem(store, key);
  if (!item) return undefined;
  return {
    // Read through the codec: the stored layout is compact (format 3), the fields are the state's own.
    value: groupStateCodec.decode(item.value) as unknown as Record<string, unknown>,
    bytes: stateItemBytes(stateTableKey(key), item.version, item.value, item.expiresAt),
  };
}

const od = (id: string): string => `observed-data--${id}`;
const validateAlertDocument = new Ajv2020({ allErrors: true, strict: true }).compile(
  JSON.parse(readFileSync(new URL('../../schemas/alert.schema.json', import.meta.url), 'utf8')) as object,
);
const A = "[x:v = 'a']";
const B = "[x:v = 'b']";
const pair = (groupBy: string[] = []): Rule => rule('ab', `${A} FOLLOWEDBY ${B}`, groupBy);

describe('#11.24 engine options are validated at construction', () => {
  it('names every bad option and why, in one invalid-engine-option error', () => {
    const store = new InMemoryStateStore();
    let error: unknown;
    try {
      new StreamingEngine({
        rules: [pair()],
        store,
        latenessSeconds: -1,
        maxPartialsPerGroup: 2.5,
        unboundedTtlSeconds: NaN,
        maxConflictRetries: -3,
        maxAlertsPerEvent: 0,
        maxClockSkewSeconds: NaN,
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StixflowError);
    expect((error as StixflowError).code).toBe('invalid-engine-option');
    const message = (error as StixflowError).message;
    expect(message).toContain('latenessSeconds must be at least 0, got -1');
    expect(message).toContain('maxPartialsPerGroup must be a whole number, got 2.5');
    expect(message).toContain('unboundedTtlSeconds must be a number, got NaN');
    expect(message).toContain('maxConflictRetries must be at least 0, got -3');
    expect(message).toContain('maxAlertsPerEvent must be at least 1, got 0');
    expect(message).toContain('maxClockSkewSeconds must be a number, got NaN');
    expect(() => new StreamingEngine({ rules: [], store, latenessSeconds: Infinity })).toThrow(
      /latenessSeconds must be finite/,
    );
    expect(() => new StreamingEngine({ rules: [], store, maxPartialsPerGroup: '5' as unknown as number })).toThrow(
      /maxPartialsPerGroup must be a number, got string/,
    );
  });

  it('accepts the edges: no lateness, no retries, no future check', () => {
    const store = new InMemoryStateStore();
    expect(
      () =>
        new StreamingEngine({
          rules: [pair()],
          store,
          latenessSeconds: 0,
          maxConflictRetries: 0,
          maxClockSkewSeconds: Infinity,
          maxAlertsPerEvent: 1,
          maxPartialsPerGroup: 1,
        }),
    ).not.toThrow();
  });
});

describe('#11.8 group keys are injective, alert ids depend on content only', () => {
  const keyOf = compileGroupKey(rule('g', A, ['x:host']).groupBy);
  const withHost = (host: unknown): string => {
    const sdo = {
      type: 'observed-data',
      first_observed: '2026-01-01T00:00:00Z',
      last_observed: '2026-01-01T00:00:00Z',
      number_observed: 1,
      objects: { '0': host === undefined ? { type: 'x' } : { type: 'x', host } },
    };
    return keyOf(prepareObservedData(sdo, 0, () => undefined));
  };

  it('gives different keys to different typed values (property, seeded)', () => {
    const value = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom('∅', 'null', '1', 'true', '', '[]', '{"number":"NaN"}'),
      fc.string({ maxLength: 4 }),
      fc.string({ minLength: 250, maxLength: 300 }),
      fc.integer({ min: -3, max: 3 }),
      fc.double({ noNaN: true }),
      fc.boolean(),
    );
    fc.assert(
      fc.property(value, value, (a, b) => {
        // Two values are the same group exactly when they are the same value of the same type.
        expect(withHost(a) === withHost(b)).toBe(
          Object.is(a, b) || (a === b && a !== undefined) || (typeof a === 'number' && a === b),
        );
      }),
      { seed: 1108, numRuns: 3000 },
    );
  });

  it('keeps a missing value apart from a real "∅", and 1 apart from "1"', async () => {
    expect(withHost(undefined)).not.toBe(withHost('∅'));
    expect(withHost(1)).not.toBe(withHost('1'));
    expect(withHost(true)).not.toBe(withHost('true'));
    const { engine } = setup([pair(['x:host'])]);
    const result = await engine.processBatch([
      x('a1', 0, 'a', { host: '∅' }),
      x('b1', 1, 'b'),
      x('a2', 2, 'a', { host: 1 }),
      x('b2', 3, 'b', { host: '1' }),
    ]);
    expect(result.alerts).toEqual([]);
    const same = await engine.processBatch([x('b3', 4, 'b', { host: '∅' }), x('b4', 5, 'b', { host: 1 })]);
    expect(same.alerts.map((a) => a.groupKey)).toEqual(['["∅"]', '[1]']);
  });

  it('gives an observed-data without an id the same alert id at position 0 and at position 5 (stateless)', async () => {
    const single = rule('single', A);
    const first = await setup([single]).engine.processBatch([anonymous(0, 'a')]);
    const fillers = Array.from({ length: 5 }, (_, i) => x(`z${i}`, i, 'z'));
    const fifth = await setup([single]).engine.processBatch([...fillers, anonymous(0, 'a')]);
    expect(first.alerts).toHaveLength(1);
    expect(fifth.alerts.map((a) => a.id)).toEqual(first.alerts.map((a) => a.id));
    expect(first.alerts[0]!.observedDataIds[0]).toMatch(
      /^observed-data--[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    // Another content, another id.
    const other = await setup([single]).engine.processBatch([anonymous(1, 'a')]);
    expect(other.alerts[0]!.id).not.toBe(first.alerts[0]!.id);
  });

  it('gives a sequence of observed-data without ids the same alert id wherever they sit (stateful), and sees a redelivery as one', async () => {
    const first = await setup([pair()]).engine.processBatch([anonymous(0, 'a'), anonymous(1, 'b')]);
    const fillers = Array.from({ length: 5 }, (_, i) => x(`z${i}`, i, 'z'));
    const { engine } = setup([pair()]);
    const later = await engine.processBatch([...fillers, anonymous(0, 'a'), x('z9', 0, 'z'), anonymous(1, 'b')]);
    expect(first.alerts).toHaveLength(1);
    expect(later.alerts.map((a) => a.id)).toEqual(first.alerts.map((a) => a.id));
    const twice = await setup([rule('r2', `${A} REPEATS 2 TIMES`)]).engine.processBatch([
      anonymous(0, 'a'),
      x('z', 0, 'z'),
      anonymous(0, 'a'),
    ]);
    expect(twice.alerts).toEqual([]);
    expect(twice.stats.duplicates).toBe(1);
  });
});

describe('#11.7 state fingerprints are collision-safe', () => {
  /** Two patterns of the same shape whose printed texts collide in the old 30-bit fingerprint. */
  function collidingPatterns(): [string, string] {
    const template = printPattern(compilePattern(`[x:v = 'K'] FOLLOWEDBY ${B}`).ast!);
    const seen = new Map<number, string>();
    for (let i = 0; ; i++) {
      const k = `k${i}`;
      const h = stringKey(template.replace("'K'", `'${k}'`));
      const other = seen.get(h);
      if (other !== undefined) return [`[x:v = '${other}'] FOLLOWEDBY ${B}`, `[x:v = '${k}'] FOLLOWEDBY ${B}`];
      seen.set(h, k);
    }
  }

  it('does not read the masks of an edited rule with the new meaning, even when the old 30-bit keys collide', async () => {
    const [before, after] = collidingPatterns();
    expect(stringKey(printPattern(compilePattern(before).ast!))).toBe(
      stringKey(printPattern(compilePattern(after).ast!)),
    );
    const store = new InMemoryStateStore({ now: () => T0 });
    const oldValue = before.match(/'(k\d+)'/)![1]!;
    const old = new StreamingEngine({ rules: [rule('pair', before)], store, now: () => T0 });
    expect((await old.processBatch([x('a1', 0, oldValue)])).alerts).toEqual([]);
    // The edited rule asks for another value: the buffered event must not stand for it.
    const edited = new StreamingEngine({ rules: [rule('pair', after)], store, now: () => T0 });
    const result = await edited.processBatch([x('b1', 5, 'b')]);
    expect(result.alerts).toEqual([]);
    expect(result.stats.evicted).toBe(1);
  });

  it('reads a state with the old numeric fingerprints as written for another rule', async () => {
    const store = new InMemoryStateStore({ now: () => T0 });
    const engine = new StreamingEngine({ rules: [pair()], store, now: () => T0 });
    await engine.processBatch([x('a1', 0, 'a')]);
    const key: StateKey = { tenant: 'default', ruleId: 'ab', group: '' };
    const item = (await readRuleItem(store, key))!;
    // As format 2 stored it, with the 30-bit numeric fingerprints of before #11.7.
    const state = groupStateCodec.decode(item.value);
    const legacy = {
      format: 2,
      events: state.events.map((e) => ({
        id: e.id,
        f: e.firstObserved,
        l: e.lastObserved,
        n: e.instancesLeft,
        m: e.observations,
        a: e.arrival,
      })),
      used: state.used,
      watermark: state.watermark,
      evicted: state.evicted,
      arrivals: state.arrivals,
      outbox: state.outbox,
      patternKey: 123456,
      observationsKey: 654321,
    };
    expect(
      (await writeRuleItem(store, { key, value: JSON.stringify(legacy), expiresAt: item.expiresAt }, item.version)).ok,
    ).toBe(true);
    const fresh = new StreamingEngine({ rules: [pair()], store, now: () => T0 });
    const result = await fresh.processBatch([x('b1', 5, 'b')]);
    expect(result.alerts).toEqual([]);
    expect(result.stats.evicted).toBe(1);
    // The numeric fingerprints are gone (a state with no partial match left is stored without any).
    expect(typeof (await storedState(store, key))!.value.patternKey).not.toBe('number');
  });
});

describe('#11.6 evictions by reconcile are written back and counted', () => {
  it('writes and counts them when the batch changes nothing else (its only event is late)', async () => {
    const store = new InMemoryStateStore({ now: () => T0 });
    const key: StateKey = { tenant: 'default', ruleId: 'pair', group: '' };
    const v1 = new StreamingEngine({
      rules: [rule('pair', `${A} FOLLOWEDBY ${B}`)],
      store,
      now: () => T0,
      latenessSeconds: 60,
    });
    await v1.processBatch([x('a1', 1000, 'a')]);
    const v2 = new StreamingEngine({
      rules: [rule('pair', `[x:v = 'c'] FOLLOWEDBY ${B}`)],
      store,
      now: () => T0,
      latenessSeconds: 60,
    });
    const result = await v2.processBatch([x('b0', 0, 'b')]);
    expect(result.late.map((l) => l.eventIndex)).toEqual([0]);
    expect(result.stats.evicted).toBe(1);
    const stored = (await storedState(store, key))!.value;
    expect(stored.events).toEqual([]);
    expect(stored.evicted).toBe(1);
    // Counted once: the next batch finds them gone.
    expect((await v2.processBatch([x('b00', 0, 'b')])).stats.evicted).toBe(0);
  });
});

describe('#11.5 a state that outgrows its item keeps the alerts it completed', () => {
  it('commits the outbox, evicting partial matches oldest first, and reports the eviction', async () => {
    const { engine, store } = setup([pair()], {}, 4096);
    const key: StateKey = { tenant: 'default', ruleId: 'ab', group: '' };
    // B's before any A can never be followed: they stay as partial matches and fill the item.
    // (56 of them: the compact layout of format 3 holds 30 in about 2 KB.)
    const waiting = Array.from({ length: 56 }, (_, i) => x(`b-early-${String(i).padStart(2, '0')}`, i, 'b'));
    const filling = await engine.processBatch(waiting);
    expect(filling.errors).toEqual([]);
    expect((await storedState(store, key))!.bytes).toBeGreaterThan(3000);
    const result = await engine.processBatch([x('a1', 100, 'a', { padding: 'p'.repeat(600) }), x('b1', 101, 'b')]);
    expect(result.alerts.map((a) => a.observedDataIds)).toEqual([[od('a1'), od('b1')]]);
    expect(result.errors.filter((e) => e.severity === 'error')).toEqual([]);
    const warning = result.errors.find((e) => e.code === 'state-evicted');
    expect(warning).toMatchObject({ severity: 'warning', ruleId: 'ab', eventIndex: 0 });
    expect(result.stats.evicted).toBeGreaterThan(0);
    const stored = (await storedState(store, key))!;
    expect(stored.bytes).toBeLessThanOrEqual(4096);
    expect(stored.value.evicted).toBe(result.stats.evicted);
    // The oldest went first: the newest early B's are still there.
    const left = (stored.value.events as { id: string }[]).map((e) => e.id);
    expect(left).toContain(od('b-early-55'));
    expect(left).not.toContain(od('b-early-00'));
    // Committed: a redelivery sends the same alert again from the outbox, until acknowledged.
    const again = await engine.processBatch([x('b1', 101, 'b')]);
    expect(again.alerts.map((a) => a.id)).toEqual(result.alerts.map((a) => a.id));
    await engine.acknowledge(again.alerts);
    expect((await engine.processBatch([x('b1', 101, 'b')])).alerts).toEqual([]);
  });
});

describe('#11.5 when evicting partial matches is not enough', () => {
  const key: StateKey = { tenant: 'default', ruleId: 'ab', group: '' };
  const padded = (id: string, second: number, v: string): EventInput => x(id, second, v, { padding: 'p'.repeat(1800) });

  it('stores the pending alert without its objects, and still sends it whole now', async () => {
    const { engine, store } = setup([pair()], {}, 2000);
    const result = await engine.processBatch([padded('a1', 0, 'a'), padded('b1', 1, 'b')]);
    expect(result.errors.map((e) => [e.code, e.severity])).toEqual([['state-evicted', 'warning']]);
    expect(result.errors[0]!.message).toContain('keep no objects');
    expect(result.alerts).toHaveLength(1);
    expect((result.alerts[0]!.objects[0] as Record<string, unknown>).padding).toBe('p'.repeat(1800));
    const outbox = (await storedState(store, key))!.value.outbox as Alert[];
    expect(outbox.map((a) => [a.id, a.objects, a.objectsOmitted])).toEqual([[result.alerts[0]!.id, [], 1]]);
    // A redelivery re-sends the committed copy, with the same id.
    expect((await engine.processBatch([padded('b1', 1, 'b')])).alerts.map((a) => a.id)).toEqual([result.alerts[0]!.id]);
  });

  it('sends the alerts uncommitted, reported, when not even they fit; a redelivery computes the same ids', async () => {
    const { engine, store } = setup([pair()], {}, 500);
    const batch = [padded('a1', 0, 'a'), padded('b1', 1, 'b')];
    const result = await engine.processBatch(batch);
    expect(result.errors.map((e) => [e.code, e.ruleId, e.eventIndex])).toEqual([['state-too-large', 'ab', 0]]);
    expect(result.alerts).toHaveLength(1);
    expect(await storedState(store, key)).toBeUndefined();
    // Marked, so that the pipeline's alert ledger stands in for the outbox (test/pipeline/delivery-robustness.test.ts).
    expect(result.uncommitted).toEqual(result.alerts.map((a) => a.id));
    expect((await engine.processBatch(batch)).alerts.map((a) => a.id)).toEqual(result.alerts.map((a) => a.id));
  });
});

describe('#11.16 number_observed is counted, never expanded', () => {
  it('999,999,999 instances on both halves of FOLLOWEDBY: bounded alerts, the rest counted, state small', async () => {
    const { engine, store } = setup([pair()]);
    const key: StateKey = { tenant: 'default', ruleId: 'ab', group: '' };
    const batch = [
      x('00000000-0000-4000-8000-00000000000a', 0, 'a', {}, 999_999_999),
      x('00000000-0000-4000-8000-00000000000b', 1, 'b', {}, 999_999_999),
    ];
    const result = await engine.processBatch(batch);
    expect(result.errors).toEqual([]);
    expect(result.alerts).toHaveLength(10);
    expect(new Set(result.alerts.map((a) => a.id)).size).toBe(10);
    expect(result.alerts.slice(0, 9).every((a) => a.additionalMatches === undefined)).toBe(true);
    expect(result.alerts[9]!.additionalMatches).toBe(999_999_989);
    // The published documents keep to the alert schema, with the count on the last.
    for (const alert of result.alerts)
      expect(validateAlertDocument(toAlertDocument(alert)), JSON.stringify(validateAlertDocument.errors)).toBe(true);
    const stored = (await storedState(store, key))!;
    expect(stored.value.events).toEqual([]);
    expect(stored.bytes).toBeLessThan(DEFAULT_MAX_STATE_ITEM_BYTES);
    // Exactly once: a redelivery sends the committed alerts again as they were, and counts nothing new.
    const again = await engine.processBatch(batch);
    expect(again.alerts).toEqual(result.alerts);
    expect(again.stats.duplicates).toBe(2);
    await engine.acknowledge(again.alerts);
    expect((await engine.processBatch(batch)).alerts).toEqual([]);
  });

  it('counts repeated matches arithmetically for REPEATS too, with the cap as an option', async () => {
    const { engine } = setup([rule('r3', `${A} REPEATS 3 TIMES`)], { maxAlertsPerEvent: 3 });
    const result = await engine.processBatch([x('a', 0, 'a', {}, 999_999_999)]);
    expect(result.alerts).toHaveLength(3);
    expect(result.alerts[2]!.additionalMatches).toBe(333_333_333 - 3);
    expect((await engine.explain('default', 'r3', '')).partialMatches).toEqual([]);
  });

  it('keeps what is left over: 1,000 A instances, 400 B instances leave 600 A instances', async () => {
    const { engine } = setup([pair()]);
    const result = await engine.processBatch([x('a', 0, 'a', {}, 1000), x('b', 1, 'b', {}, 400)]);
    expect(result.alerts).toHaveLength(10);
    expect(result.alerts[9]!.additionalMatches).toBe(390);
    expect(
      (await engine.explain('default', 'ab', '')).partialMatches.map((p) => [p.observedDataId, p.instancesLeft]),
    ).toEqual([[od('a'), 600]]);
  });

  it('the batch matcher decides 999,999,999 instances on both halves as well', () => {
    const bundles = [
      observed('a', 0, { type: 'x', v: 'a' }, 999_999_999).bundle,
      observed('b', 1, { type: 'x', v: 'b' }, 999_999_999).bundle,
    ];
    expect(compilePattern(`${A} FOLLOWEDBY ${B}`).match(bundles).matched).toBe(true);
    expect(compilePattern(`(${A} FOLLOWEDBY ${B}) REPEATS 5 TIMES`).match(bundles).matched).toBe(true);
  });
});

describe('#11.17 padded events neither hide a sequence nor make an alert too large', () => {
  const sequence = rule(
    'word-then-shell',
    "[process:name = 'winword.exe'] FOLLOWEDBY [process:name = 'powershell.exe']",
    ['process:x_host_id'],
  );
  const proc = (id: string, second: number, name: string, extra: Record<string, unknown> = {}, count = 1): EventInput =>
    observed(id, second, { type: 'process', name, x_host_id: 'h1', ...extra }, count).input;

  it('a 70 KB command_line on both halves still alerts, with a bounded copy marked as cut', async () => {
    const { engine, store } = setup([sequence]);
    const padded = `powershell -enc ${'A'.repeat(70_000)}`;
    const result = await engine.processBatch([
      proc('w', 0, 'winword.exe', { command_line: padded }),
      proc('p', 5, 'powershell.exe', { command_line: padded }),
    ]);
    expect(result.errors).toEqual([]);
    expect(result.alerts).toHaveLength(1);
    const line = (result.alerts[0]!.objects[0] as Record<string, unknown>).command_line as string;
    expect(line.startsWith('powershell -enc AAAA')).toBe(true);
    expect(line.endsWith(`${TRUNCATION_MARKER}${padded.length} characters]`)).toBe(true);
    expect(line.length).toBeLessThan(2200);
    const stored = (await storedState(store, { tenant: 'default', ruleId: 'word-then-shell', group: '["h1"]' }))!;
    expect(stored.bytes).toBeLessThanOrEqual(DEFAULT_MAX_STATE_ITEM_BYTES);
  });

  it('number_observed 1,000 on both halves with padding still alerts within the item size', async () => {
    const { engine, store } = setup([sequence]);
    const padded = 'x'.repeat(20_000);
    const result = await engine.processBatch([
      proc('w', 0, 'winword.exe', { command_line: padded }, 1000),
      proc('p', 5, 'powershell.exe', { command_line: padded }, 1000),
    ]);
    expect(result.errors.filter((e) => e.severity === 'error')).toEqual([]);
    expect(result.alerts).toHaveLength(10);
    expect(result.alerts[9]!.additionalMatches).toBe(990);
    const stored = (await storedState(store, { tenant: 'default', ruleId: 'word-then-shell', group: '["h1"]' }))!;
    expect(stored.bytes).toBeLessThanOrEqual(DEFAULT_MAX_STATE_ITEM_BYTES);
  });

  it('an alert of a 260 KB command_line serialises under 256 KiB, with the marker', async () => {
    const { engine } = setup([rule('shell', "[process:name = 'powershell.exe']")]);
    const huge = 'B'.repeat(260_000);
    const result = await engine.processBatch([proc('p', 0, 'powershell.exe', { command_line: huge })]);
    expect(result.alerts).toHaveLength(1);
    const body = JSON.stringify(toAlertDocument(result.alerts[0]!));
    expect(Buffer.byteLength(body, 'utf8')).toBeLessThan(256 * 1024);
    expect(body).toContain(`${TRUNCATION_MARKER}260000 characters]`);
  });

  it('bounds an event of many large objects, a huge group value and long ids too', async () => {
    const grouped = rule('by-host', "[process:name = 'cmd.exe'] FOLLOWEDBY [process:name = 'cmd.exe']", [
      'process:x_host_id',
    ]);
    const { engine } = setup([grouped, rule('cmd', "[process:name = 'cmd.exe']")]);
    const host = '\u6f22'.repeat(300_000);
    const objects = Array.from({ length: 500 }, (_, i) => ({
      type: 'process',
      id: `process--${i}`,
      name: 'cmd.exe',
      x_host_id: host,
      args: Array.from({ length: 300 }, () => 'y'.repeat(3000)),
    }));
    const sdo = {
      type: 'observed-data',
      id: `observed-data--${'i'.repeat(100_000)}`,
      first_observed: '2026-01-01T00:00:00Z',
      last_observed: '2026-01-01T00:00:00Z',
      number_observed: 2,
      object_refs: objects.map((o) => o.id),
    };
    const observation = prepareObservedData(sdo, 0, (ref) => objects.find((o) => o.id === ref) as never);
    const result = await engine.processBatch([{ observation, objects, sourceEventId: 's'.repeat(100_000) }]);
    expect(result.errors).toEqual([]);
    expect(result.alerts.map((a) => a.ruleId).sort()).toEqual(['by-host', 'cmd']);
    for (const alert of result.alerts) {
      expect(Buffer.byteLength(JSON.stringify(toAlertDocument(alert)), 'utf8')).toBeLessThan(256 * 1024);
      expect(alert.objectsOmitted).toBeGreaterThan(0);
      expect(
        validateAlertDocument({
          ...toAlertDocument(alert),
          observedDataIds: [],
          sighting: { ...toAlertDocument(alert).sighting, observed_data_refs: [] },
        }),
        JSON.stringify(validateAlertDocument.errors),
      ).toBe(true);
    }
    const byHost = result.alerts.find((a) => a.ruleId === 'by-host') as Alert;
    expect(byHost.groupKey.length).toBeLessThan(400);
    expect(byHost.observedDataIds[0]!.length).toBeLessThan(400);
    expect(byHost.sourceEventIds[0]!.length).toBeLessThan(400);
  });
});

describe('#11.18 an event from the future does not blind its group', () => {
  it('reports a 2099 event and keeps the watermark, so a real sequence after it still alerts', async () => {
    const { engine } = setup([pair(['x:host'])], { latenessSeconds: 60 });
    const object = { type: 'x', id: 'x--future', v: 'a', host: 'h1' };
    const sdo = {
      type: 'observed-data',
      id: od('future'),
      first_observed: '2099-01-01T00:00:00Z',
      last_observed: '2099-01-01T00:00:00Z',
      number_observed: 1,
      object_refs: [object.id],
    };
    const fromTheFuture: EventInput = {
      observation: prepareObservedData(sdo, 0, () => object as never),
      objects: [object],
    };
    const first = await engine.processBatch([fromTheFuture]);
    expect(first.errors.map((e) => [e.code, e.eventIndex, e.ruleId, e.severity])).toEqual([
      ['future-event', 0, 'ab', 'warning'],
    ]);
    expect(first.matched).toEqual([]);
    const real = await engine.processBatch([x('a1', 10, 'a', { host: 'h1' }), x('b1', 20, 'b', { host: 'h1' })]);
    expect(real.late).toEqual([]);
    expect(real.alerts.map((a) => a.observedDataIds)).toEqual([[od('a1'), od('b1')]]);
  });

  it('accepts events within the allowed skew, and the check can be turned off', async () => {
    // The clock is at 01:00:00; an event 200 s ahead of it is within the default 300 s.
    const { engine } = setup([pair()]);
    const ahead = await engine.processBatch([x('a1', 3600 + 200, 'a'), x('b1', 3600 + 250, 'b')]);
    expect(ahead.errors).toEqual([]);
    expect(ahead.alerts).toHaveLength(1);
    const beyond = await setup([pair()]).engine.processBatch([x('a2', 3600 + 301, 'a')]);
    expect(beyond.errors.map((e) => e.code)).toEqual(['future-event']);
    const unchecked = await setup([pair()], { maxClockSkewSeconds: Infinity }).engine.processBatch([
      x('a3', 3600 + 10_000, 'a'),
      x('b3', 3600 + 10_001, 'b'),
    ]);
    expect(unchecked.alerts).toHaveLength(1);
  });
});

describe('#11.3 long group values and per-key store failures (in memory)', () => {
  const hostRule = rule('host-seq', "[x:v = 'a'] FOLLOWEDBY [x:v = 'b']", ['x:hostname']);
  const cjkHost = '\u6f22\u5b57'.repeat(150); // 300 CJK characters

  it('a 300-CJK-character hostname as group_by value still correlates and alerts', async () => {
    const { engine } = setup([hostRule]);
    const result = await engine.processBatch([
      x('a1', 0, 'a', { hostname: cjkHost }),
      x('b1', 1, 'b', { hostname: cjkHost }),
    ]);
    expect(result.errors).toEqual([]);
    expect(result.alerts.map((a) => a.groupKey)).toEqual([JSON.stringify([cjkHost])]);
  });

  it('a batch of it and normal events alerts for all', async () => {
    const { engine } = setup([hostRule]);
    const result = await engine.processBatch([
      x('n-a', 0, 'a', { hostname: 'web-1' }),
      x('c-a', 0, 'a', { hostname: cjkHost }),
      x('m-a', 0, 'a', { hostname: 'db-1' }),
      x('n-b', 1, 'b', { hostname: 'web-1' }),
      x('c-b', 1, 'b', { hostname: cjkHost }),
      x('m-b', 1, 'b', { hostname: 'db-1' }),
    ]);
    expect(result.errors).toEqual([]);
    expect(result.alerts.map((a) => a.observedDataIds).sort()).toEqual([
      [od('c-a'), od('c-b')],
      [od('m-a'), od('m-b')],
      [od('n-a'), od('n-b')],
    ]);
  });

  it('a key the store refuses fails only its own events, each reported with its index and rule', async () => {
    const { engine } = setup([hostRule]);
    const bad = (input: EventInput): EventInput => ({ ...input, tenant: 'bad\uD800' });
    const result = await engine.processBatch([
      x('n-a', 0, 'a', { hostname: 'web-1' }),
      bad(x('x-a', 0, 'a', { hostname: 'web-1' })),
      x('n-b', 1, 'b', { hostname: 'web-1' }),
      bad(x('x-b', 1, 'b', { hostname: 'web-1' })),
    ]);
    expect(result.alerts.map((a) => a.observedDataIds)).toEqual([[od('n-a'), od('n-b')]]);
    expect(result.errors.map((e) => [e.code, e.eventIndex, e.ruleId])).toEqual([
      ['invalid-state-key', 1, 'host-seq'],
      ['invalid-state-key', 3, 'host-seq'],
    ]);
  });
});

describe('matched counts a stateful match once, however often its event is delivered', () => {
  it('lists stateful matches only the first time, stateless ones every time, with the observed-data id', async () => {
    const { engine } = setup([pair(), rule('single', A)]);
    const batch = [x('a1', 0, 'a'), x('z', 1, 'z'), x('b1', 2, 'b')];
    const view = (r: BatchResult): unknown[] =>
      r.matched
        .map((m) => [m.ruleId, m.eventIndex, m.observedDataId, m.stateless])
        .sort((p, q) => JSON.stringify(p).localeCompare(JSON.stringify(q)));
    const first = await engine.processBatch(batch);
    expect(view(first)).toEqual([
      ['ab', 0, od('a1'), false],
      ['ab', 2, od('b1'), false],
      ['single', 0, od('a1'), true],
    ]);
    const again = await engine.processBatch(batch);
    expect(view(again)).toEqual([['single', 0, od('a1'), true]]);
    expect(again.stats.duplicates).toBe(2);
  });

  it('gives filtered entries their observed-data id and kind too', async () => {
    const filteredRule: Rule = {
      ...rule('single', A),
      filters: [{ text: "[x:host = 'lab']", pattern: compilePattern("[x:host = 'lab']") }],
    };
    const result = await setup([filteredRule]).engine.processBatch([x('a1', 0, 'a', { host: 'lab' })]);
    expect(result.filtered).toEqual([{ eventIndex: 0, ruleId: 'single', observedDataId: od('a1'), stateless: true }]);
  });
});

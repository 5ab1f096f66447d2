/**
 * Edge cases of the streaming engine on the in-memory store: lateness, window expiry and TTL,
 * the per-group cap, tenant isolation, every observation operator and qualifier across events,
 * alert documents, and evaluation errors. The worked examples of docs/streaming.md are checked
 * here too (the "docs:" tests), step by step as the doc's tables describe them.
 */
import { describe, expect, it } from 'vitest';
import { readRuleItem } from '../../src/engine/group-item.js';
import { groupStateCodec } from '../../src/engine/group-state.js';
import { alertId } from '../../src/engine/alert.js';
import { StreamingEngine, type EventInput, type StreamingEngineOptions } from '../../src/engine/streaming.js';
import { compilePattern } from '../../src/pattern/compile.js';
import { prepareObservedData, type PreparedObservation } from '../../src/pattern/observation.js';
import type { Rule } from '../../src/rules/model.js';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import type { StateKey } from '../../src/state/types.js';
import { observed, rule } from './helpers.js';

/** Wall clock of the tests: 2026-01-01T01:00:00Z, movable. */
const T0 = Date.UTC(2026, 0, 1, 1, 0, 0);
const T0_SECONDS = T0 / 1000;

function clock(start = T0): { now: () => number; advance(seconds: number): void } {
  let t = start;
  return { now: () => t, advance: (seconds) => void (t += seconds * 1000) };
}

function setup(
  rules: Rule[],
  options: Partial<StreamingEngineOptions> = {},
): { engine: StreamingEngine; store: InMemoryStateStore; clk: ReturnType<typeof clock> } {
  const clk = clock();
  const store = new InMemoryStateStore({ now: clk.now });
  const engine = new StreamingEngine({ rules, store, now: clk.now, ...options });
  return { engine, store, clk };
}

/** An `x` event with property v at `second` (event time, seconds after 2026-01-01T00:00:00Z). */
function x(id: string, second: number, v: string, extra: Record<string, unknown> = {}, count = 1): EventInput {
  return observed(id, second, { type: 'x', v, ...extra }, count).input;
}

/** An `x` event covering [first, last] (seconds), for observed-data that aggregate over an interval. */
function span(id: string, first: number, last: number, v: string): { bundle: object; input: EventInput } {
  const at = (s: number): string => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();
  const object = { type: 'x', id: `x--${id}`, v };
  const sdo = {
    type: 'observed-data',
    id: `observed-data--${id}`,
    first_observed: at(first),
    last_observed: at(last),
    number_observed: 1,
    object_refs: [object.id],
  };
  const observation: PreparedObservation = prepareObservedData(sdo, 0, (ref) =>
    ref === object.id ? (object as never) : undefined,
  );
  return {
    bundle: { type: 'bundle', id: `bundle--${id}`, objects: [sdo, object] },
    input: { observation, objects: [object], sourceEventId: `src-${id}` },
  };
}

/** Feeds events one batch each, acknowledging alerts; returns the alerted observed-data ids per step. */
async function steps(engine: StreamingEngine, events: EventInput[]): Promise<string[][][]> {
  const out: string[][][] = [];
  for (const e of events) {
    const { alerts, errors } = await engine.processBatch([e]);
    expect(errors).toEqual([]);
    await engine.acknowledge(alerts);
    out.push(alerts.map((a) => a.observedDataIds));
  }
  return out;
}

const od = (id: string): string => `observed-data--${id}`;
const A = "[x:v = 'a']";
const B = "[x:v = 'b']";

describe('late events', () => {
  const followed = rule('ab', `${A} FOLLOWEDBY ${B}`, ['x:host']);

  it('reports an event more than the allowance behind the group watermark as late, and it completes nothing', async () => {
    const { engine } = setup([followed], { latenessSeconds: 60 });
    expect((await engine.processBatch([x('b1', 100, 'b', { host: 'h1' })])).alerts).toEqual([]);
    const result = await engine.processBatch([x('c', 0, 'z', { host: 'h1' }), x('a1', 39, 'a', { host: 'h1' })]);
    expect(result.alerts).toEqual([]);
    expect(result.late).toEqual([
      { eventIndex: 1, ruleId: 'ab', groupKey: '["h1"]', observedDataId: od('a1'), lagSeconds: 61 },
    ]);
    const explanation = await engine.explain('default', 'ab', '["h1"]');
    expect(explanation.partialMatches.map((p) => p.observedDataId)).toEqual([od('b1')]);
  });

  it('lets an out-of-order event within the allowance complete the match (exactly the allowance is still on time)', async () => {
    const { engine } = setup([followed], { latenessSeconds: 60 });
    await engine.processBatch([x('b1', 100, 'b', { host: 'h1' })]);
    const result = await engine.processBatch([x('a1', 40, 'a', { host: 'h1' })]);
    expect(result.late).toEqual([]);
    expect(result.alerts.map((a) => a.observedDataIds)).toEqual([[od('a1'), od('b1')]]);
  });

  it('measures lateness per group: an old event in another group is on time', async () => {
    const { engine } = setup([followed], { latenessSeconds: 60 });
    await engine.processBatch([x('b1', 1000, 'b', { host: 'h1' })]);
    const result = await engine.processBatch([x('a2', 0, 'a', { host: 'h2' }), x('b2', 1, 'b', { host: 'h2' })]);
    expect(result.late).toEqual([]);
    expect(result.alerts.map((a) => a.groupKey)).toEqual(['["h2"]']);
  });
});

describe('windows expire', () => {
  const windowed = rule('ab10', `(${A} FOLLOWEDBY ${B}) WITHIN 10 SECONDS`);
  const unbounded = rule('ab', `${A} FOLLOWEDBY ${B}`);

  it('prunes a partial match that can no longer be within the window of an on-time event', async () => {
    const { engine } = setup([windowed], { latenessSeconds: 60 });
    await engine.processBatch([x('a0', 0, 'a')]);
    expect((await engine.explain('default', 'ab10', '')).partialMatches.map((p) => p.observedDataId)).toEqual([
      od('a0'),
    ]);
    // watermark 71: an on-time event is at >= 11 s, more than 10 s after a0
    await engine.processBatch([x('a71', 71, 'a')]);
    const explanation = await engine.explain('default', 'ab10', '');
    expect(explanation.partialMatches.map((p) => p.observedDataId)).toEqual([od('a71')]);
    expect(explanation.pendingObservations).toEqual([1]);
    const b = await engine.processBatch([x('b11', 11, 'b')]);
    expect(b.late).toEqual([]);
    expect(b.alerts).toEqual([]);
    // one second earlier would have been late
    const tooLate = await engine.processBatch([x('b10', 10, 'b')]);
    expect(tooLate.late.map((l) => l.lagSeconds)).toEqual([61]);
    expect(tooLate.alerts).toEqual([]);
  });

  it('keeps a partial match exactly at the window + lateness edge', async () => {
    const { engine } = setup([windowed], { latenessSeconds: 60 });
    await engine.processBatch([x('a0', 0, 'a'), x('a70', 70, 'a')]);
    expect((await engine.explain('default', 'ab10', '')).partialMatches.map((p) => p.observedDataId)).toEqual([
      od('a0'),
      od('a70'),
    ]);
    expect((await engine.processBatch([x('b10', 10, 'b')])).alerts.map((a) => a.observedDataIds)).toEqual([
      [od('a0'), od('b10')],
    ]);
  });

  it('writes expiresAt = now + window + lateness for a bounded rule (when dedupe memory is shorter)', async () => {
    const { engine, store } = setup([windowed], { latenessSeconds: 60 });
    await engine.processBatch([x('a0', 0, 'a')]);
    const key: StateKey = { tenant: 'default', ruleId: 'ab10', group: '' };
    const item = await readRuleItem(store, key);
    expect(item?.expiresAt).toBe(T0_SECONDS + 10 + 60);
    expect((await engine.explain('default', 'ab10', '')).stateExpiresAt).toBe('2026-01-01T01:01:10.000Z');
  });

  it('keeps the state for at least a day while an alert waits in the outbox', async () => {
    const { engine, store } = setup([windowed], { latenessSeconds: 60 });
    const { alerts } = await engine.processBatch([x('a0', 0, 'a'), x('b0', 1, 'b')]);
    expect(alerts).toHaveLength(1);
    const key: StateKey = { tenant: 'default', ruleId: 'ab10', group: '' };
    expect((await readRuleItem(store, key))?.expiresAt).toBe(T0_SECONDS + 24 * 3600);
    await engine.acknowledge(alerts);
    expect((await readRuleItem(store, key))?.expiresAt).toBe(T0_SECONDS + 70);
  });

  it('writes expiresAt = now + unboundedTtlSeconds for an unbounded rule', async () => {
    const { engine, store } = setup([unbounded], { unboundedTtlSeconds: 3600 });
    await engine.processBatch([x('a0', 0, 'a')]);
    const key: StateKey = { tenant: 'default', ruleId: 'ab', group: '' };
    expect((await readRuleItem(store, key))?.expiresAt).toBe(T0_SECONDS + 3600);
  });

  it('treats the state as absent once the clock passes expiresAt: a later B does not alert', async () => {
    const { engine, store, clk } = setup([unbounded], { unboundedTtlSeconds: 3600 });
    await engine.processBatch([x('a0', 0, 'a')]);
    const key: StateKey = { tenant: 'default', ruleId: 'ab', group: '' };
    clk.advance(3600); // exactly at expiresAt: still live
    expect((await readRuleItem(store, key)) !== undefined).toBe(true);
    clk.advance(1);
    expect((await readRuleItem(store, key)) !== undefined).toBe(false);
    const explanation = await engine.explain('default', 'ab', '');
    expect(explanation.partialMatches).toEqual([]);
    expect(explanation.stateExpiresAt).toBeUndefined();
    expect((await engine.processBatch([x('b5', 5, 'b')])).alerts).toEqual([]);
  });

  it('while not expired, the same B alerts (control for the test above)', async () => {
    const { engine, clk } = setup([unbounded], { unboundedTtlSeconds: 3600 });
    await engine.processBatch([x('a0', 0, 'a')]);
    clk.advance(3600);
    expect((await engine.processBatch([x('b5', 5, 'b')])).alerts).toHaveLength(1);
  });
});

describe('per-group cap', () => {
  it('keeps the newest maxPartialsPerGroup partial matches and counts the evicted', async () => {
    const { engine } = setup([rule('ab', `${A} FOLLOWEDBY ${B}`)], { maxPartialsPerGroup: 3 });
    const result = await engine.processBatch([
      x('a4', 4, 'a'),
      x('a1', 1, 'a'),
      x('a5', 5, 'a'),
      x('a2', 2, 'a'),
      x('a3', 3, 'a'),
    ]);
    expect(result.stats.evicted).toBe(2);
    const explanation = await engine.explain('default', 'ab', '');
    expect(explanation.evicted).toBe(2);
    expect(explanation.partialMatches.map((p) => p.observedDataId).sort()).toEqual([od('a3'), od('a4'), od('a5')]);
    // counts accumulate across batches
    const more = await engine.processBatch([x('a6', 6, 'a')]);
    expect(more.stats.evicted).toBe(1);
    expect((await engine.explain('default', 'ab', '')).evicted).toBe(3);
  });
});

describe('tenants', () => {
  it('never share state: A in t1 and B in t2 do not correlate', async () => {
    const { engine } = setup([rule('ab', `${A} FOLLOWEDBY ${B}`, ['x:host'])]);
    const r1 = await engine.processBatch([
      { ...x('a1', 0, 'a', { host: 'h' }), tenant: 't1' },
      { ...x('b2', 5, 'b', { host: 'h' }), tenant: 't2' },
    ]);
    expect(r1.alerts).toEqual([]);
    expect((await engine.explain('t1', 'ab', '["h"]')).partialMatches.map((p) => p.observedDataId)).toEqual([od('a1')]);
    expect((await engine.explain('t2', 'ab', '["h"]')).partialMatches.map((p) => p.observedDataId)).toEqual([od('b2')]);
    const r2 = await engine.processBatch([{ ...x('b1', 6, 'b', { host: 'h' }), tenant: 't1' }]);
    expect(r2.alerts.map((a) => [a.tenant, a.observedDataIds])).toEqual([['t1', [od('a1'), od('b1')]]]);
  });

  it('uses the batch default tenant for events without one', async () => {
    const { engine } = setup([rule('ab', `${A} FOLLOWEDBY ${B}`)]);
    await engine.processBatch([x('a1', 0, 'a')], 't9');
    expect((await engine.processBatch([{ ...x('b1', 5, 'b'), tenant: 't9' }])).alerts.map((a) => a.tenant)).toEqual([
      't9',
    ]);
  });
});

describe('operators and qualifiers across events', () => {
  it('AND alerts in either order', async () => {
    const { engine } = setup([rule('and', `${A} AND ${B}`)]);
    expect(await steps(engine, [x('a1', 0, 'a'), x('b1', 5, 'b')])).toEqual([[], [[od('a1'), od('b1')]]]);
    expect(await steps(engine, [x('b2', 10, 'b'), x('a2', 15, 'a')])).toEqual([[], [[od('a2'), od('b2')]]]);
  });

  it('OR is stateless: alerts at once, no store call', async () => {
    const { engine, store } = setup([rule('or', `${A} OR ${B}`)]);
    const result = await engine.processBatch([x('b1', 0, 'b'), x('z', 1, 'z'), x('a1', 2, 'a')]);
    expect(result.alerts.map((a) => a.observedDataIds)).toEqual([[od('b1')], [od('a1')]]);
    expect(store.stats.writes).toBe(0);
    expect(store.stats.reads).toBe(0);
    expect(engine.statefulRuleIds).toEqual([]);
  });

  it('FOLLOWEDBY needs the left side first in event time (ties allowed), whatever the arrival order', async () => {
    const { engine } = setup([rule('ab', `${A} FOLLOWEDBY ${B}`)]);
    expect(await steps(engine, [x('b1', 0, 'b'), x('a1', 5, 'a')])).toEqual([[], []]);
    const tie = setup([rule('ab', `${A} FOLLOWEDBY ${B}`)]);
    expect(await steps(tie.engine, [x('a1', 5, 'a'), x('b1', 5, 'b')])).toEqual([[], [[od('a1'), od('b1')]]]);
    const late = setup([rule('ab', `${A} FOLLOWEDBY ${B}`)]);
    expect(await steps(late.engine, [x('b1', 10, 'b'), x('a1', 5, 'a')])).toEqual([[], [[od('a1'), od('b1')]]]);
  });

  it('WITHIN n: exactly n seconds apart alerts, n + 1 does not', async () => {
    const exact = setup([rule('w', `(${A} FOLLOWEDBY ${B}) WITHIN 10 SECONDS`)]);
    expect(await steps(exact.engine, [x('a1', 0, 'a'), x('b1', 10, 'b')])).toEqual([[], [[od('a1'), od('b1')]]]);
    const over = setup([rule('w', `(${A} FOLLOWEDBY ${B}) WITHIN 10 SECONDS`)]);
    expect(await steps(over.engine, [x('a1', 0, 'a'), x('b1', 11, 'b')])).toEqual([[], []]);
  });

  it('START/STOP ignores events outside [start, stop)', async () => {
    const pattern = `(${A} AND ${B}) START t'2026-01-01T00:00:00Z' STOP t'2026-01-01T00:01:00Z'`;
    const { engine } = setup([rule('ss', pattern)]);
    // b at 60 s is at STOP (excluded); b at 59 s is inside
    expect(await steps(engine, [x('a1', 30, 'a'), x('b60', 60, 'b'), x('b59', 59, 'b')])).toEqual([
      [],
      [],
      [[od('a1'), od('b59')]],
    ]);
    const before = setup([rule('ss', pattern)]);
    // an a one second before START does not count
    expect(await steps(before.engine, [x('a0', -1, 'a'), x('b1', 10, 'b')])).toEqual([[], []]);
  });

  it('START/STOP on a single observation is stateless and still bounded', async () => {
    const { engine, store } = setup([rule('ss1', `${A} START t'2026-01-01T00:00:00Z' STOP t'2026-01-01T00:01:00Z'`)]);
    const result = await engine.processBatch([x('a1', 59, 'a'), x('a2', 60, 'a')]);
    expect(result.alerts.map((a) => a.observedDataIds)).toEqual([[od('a1')]]);
    expect(store.stats.writes).toBe(0);
  });

  it('REPEATS 3 TIMES: three distinct events alert', async () => {
    const { engine } = setup([rule('r3', `${A} REPEATS 3 TIMES`)]);
    expect(await steps(engine, [x('a1', 0, 'a'), x('a2', 1, 'a'), x('a3', 2, 'a')])).toEqual([
      [],
      [],
      [[od('a1'), od('a2'), od('a3')]],
    ]);
  });

  it('REPEATS 3 TIMES: the same event redelivered three times does not alert', async () => {
    const { engine } = setup([rule('r3', `${A} REPEATS 3 TIMES`)]);
    const e = x('a1', 0, 'a');
    const inOneBatch = await engine.processBatch([e, e, e]);
    expect(inOneBatch.alerts).toEqual([]);
    expect(inOneBatch.stats.duplicates).toBe(2);
    expect((await engine.processBatch([e])).alerts).toEqual([]);
  });

  it('REPEATS 3 TIMES: one observed-data with number_observed 3 alerts', async () => {
    const { engine } = setup([rule('r3', `${A} REPEATS 3 TIMES`)]);
    const result = await engine.processBatch([x('a1', 0, 'a', {}, 3)]);
    expect(result.alerts.map((a) => a.observedDataIds)).toEqual([[od('a1')]]);
    expect((await engine.explain('default', 'r3', '')).partialMatches).toEqual([]);
  });

  it('consumes the events of a match: a second B alone does not alert; a new A then B does, with another id', async () => {
    const { engine } = setup([rule('ab', `${A} FOLLOWEDBY ${B}`)]);
    const first = await engine.processBatch([x('a1', 0, 'a'), x('b1', 5, 'b')]);
    expect(first.alerts).toHaveLength(1);
    await engine.acknowledge(first.alerts);
    expect((await engine.processBatch([x('b2', 10, 'b')])).alerts).toEqual([]);
    await engine.processBatch([x('a2', 20, 'a')]);
    const second = await engine.processBatch([x('b3', 25, 'b')]);
    expect(second.alerts.map((a) => a.observedDataIds)).toEqual([[od('a2'), od('b3')]]);
    expect(second.alerts[0]!.id).not.toBe(first.alerts[0]!.id);
  });

  it('precedence: [A] FOLLOWEDBY [B] WITHIN n qualifies only [B]', async () => {
    const loose = setup([rule('p', `${A} FOLLOWEDBY ${B} WITHIN 60 SECONDS`)]);
    expect(await steps(loose.engine, [x('a1', 0, 'a'), x('b1', 3600, 'b')])).toEqual([[], [[od('a1'), od('b1')]]]);
    const tight = setup([rule('p', `(${A} FOLLOWEDBY ${B}) WITHIN 60 SECONDS`)]);
    expect(await steps(tight.engine, [x('a1', 0, 'a'), x('b1', 3600, 'b')])).toEqual([[], []]);
  });
});

describe('alert documents', () => {
  const base = rule('word-then-shell', `(${A} FOLLOWEDBY ${B}) WITHIN 60 SECONDS`, ['x:host']);
  const named: Rule = { ...base, name: 'Word then shell', severity: 'high', category: 'execution', tags: ['t1'] };

  async function run(): Promise<Awaited<ReturnType<StreamingEngine['processBatch']>>> {
    const { engine } = setup([named]);
    await engine.processBatch([x('a1', 0, 'a', { host: 'h1' })]);
    return engine.processBatch([x('b1', 30, 'b', { host: 'h1' })]);
  }

  it('carries the rule, group, events and times', async () => {
    const { alerts } = await run();
    expect(alerts).toHaveLength(1);
    const alert = alerts[0]!;
    expect(alert).toMatchObject({
      ruleId: 'word-then-shell',
      ruleName: 'Word then shell',
      severity: 'high',
      category: 'execution',
      tags: ['t1'],
      tenant: 'default',
      groupKey: '["h1"]',
      firstObserved: '2026-01-01T00:00:00Z',
      lastObserved: '2026-01-01T00:00:30Z',
      observedDataIds: [od('a1'), od('b1')],
      sourceEventIds: ['src-a1', 'src-b1'],
      created: '2026-01-01T01:00:00.000Z',
    });
    expect(alert.objects).toEqual([{ id: 'x--b1', type: 'x', v: 'b', host: 'h1' }]);
    expect(alert.id).toBe(alertId('default', 'word-then-shell', '["h1"]', [od('b1'), od('a1')]));
    expect(alert.id).toMatch(/^alert--[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('has deterministic ids: the same inputs in a fresh engine give the same id; another tenant another id', async () => {
    const one = await run();
    const two = await run();
    expect(two.alerts.map((a) => a.id)).toEqual(one.alerts.map((a) => a.id));
    expect(alertId('other', 'word-then-shell', '["h1"]', [od('a1'), od('b1')])).not.toBe(one.alerts[0]!.id);
  });

  it('re-sends an unacknowledged alert with the same id, and not after acknowledge', async () => {
    const { engine } = setup([named]);
    const first = await engine.processBatch([x('a1', 0, 'a', { host: 'h1' }), x('b1', 30, 'b', { host: 'h1' })]);
    const again = await engine.processBatch([x('b1', 30, 'b', { host: 'h1' })]);
    expect(again.alerts.map((a) => a.id)).toEqual(first.alerts.map((a) => a.id));
    expect(again.stats.duplicates).toBe(1);
    await engine.acknowledge(again.alerts);
    expect((await engine.processBatch([x('b1', 30, 'b', { host: 'h1' })])).alerts).toEqual([]);
  });
});

describe('instances (number_observed)', () => {
  it('raises as many alerts as there are disjoint sets of instances', async () => {
    const { engine } = setup([rule('r3', `${A} REPEATS 3 TIMES`)]);
    const result = await engine.processBatch([x('a1', 0, 'a', {}, 7)]);
    expect(result.alerts).toHaveLength(2);
    expect((await engine.explain('default', 'r3', '')).partialMatches.map((p) => p.instancesLeft)).toEqual([1]);
  });

  // Engine bug (reported): two distinct matches over the same observed-data (different
  // instances) get the same deterministic alert id, so downstream deduplication drops the
  // second alert and acknowledging one clears both from the outbox.
  it('gives distinct ids to distinct matches over the same observed-data', async () => {
    const { engine } = setup([rule('r3', `${A} REPEATS 3 TIMES`)]);
    const result = await engine.processBatch([x('a1', 0, 'a', {}, 6)]);
    expect(result.alerts).toHaveLength(2);
    expect(new Set(result.alerts.map((a) => a.id)).size).toBe(2);
  });
});

describe('evaluation errors', () => {
  it('reports a throwing rule with eventIndex and ruleId while other rules alert on the same event', async () => {
    const bad = rule('bad-ts', "[x:t > t'2020-01-01T00:00:00Z']");
    const badStateful = rule('bad-ts-seq', `[x:t > t'2020-01-01T00:00:00Z'] FOLLOWEDBY ${B}`);
    const good = rule('good', A);
    const { engine } = setup([bad, badStateful, good]);
    const result = await engine.processBatch([
      x('ok', 0, 'z', { t: '2019-01-01T00:00:00Z' }),
      x('a1', 1, 'a', { t: 'garbage' }),
    ]);
    expect(result.alerts.map((a) => [a.ruleId, a.observedDataIds])).toEqual([['good', [od('a1')]]]);
    expect(result.errors.map((e) => [e.code, e.eventIndex, e.ruleId, e.severity])).toEqual([
      ['bad-timestamp-in-data', 1, 'bad-ts', 'error'],
      ['bad-timestamp-in-data', 1, 'bad-ts-seq', 'error'],
    ]);
  });

  // A search that is possible but explosive: a C observed before every A, so no combination of
  // three A's can be followed by it, and each new A makes the search try C(n, 3) of them.
  it('reports a rule whose correlation search exceeds the match budget as an error, and still alerts other rules', async () => {
    const heavy = rule('heavy', `(${A} REPEATS 3 TIMES) FOLLOWEDBY [x:v = 'c']`);
    const good = rule('good', A);
    const { engine } = setup([heavy, good], { maxPartialsPerGroup: 200 });
    const events = [x('c0', 0, 'c'), ...Array.from({ length: 100 }, (_, i) => x(`a${i}`, i + 1, 'a'))];
    const result = await engine.processBatch(events).catch((error: unknown) => error);
    expect(result).not.toBeInstanceOf(Error);
    const ok = result as Awaited<ReturnType<StreamingEngine['processBatch']>>;
    expect(ok.alerts.filter((a) => a.ruleId === 'good')).toHaveLength(100);
    expect(ok.errors.some((e) => e.code === 'match-budget-exceeded' && e.ruleId === 'heavy')).toBe(true);
  });
});

describe('observed-data spanning an interval', () => {
  // Lateness is judged on first_observed (when the observation began), which is what makes
  // pruning by the rule's window sound: an on-time event never starts before
  // watermark − lateness. An interval event that began too long ago is reported late, never
  // silently dropped; within the allowance it correlates exactly as the batch matcher says.
  const pattern = `(${A} AND ${B}) WITHIN 10 SECONDS`;
  const events = [span('a0', 0, 0, 'a'), span('b100', 100, 100, 'b'), span('b-long', 5, 1000, 'b')];

  it('correlates like the batch matcher when the interval began within the lateness allowance', async () => {
    expect(compilePattern(pattern).match(events.map((e) => e.bundle)).observedDataIds).toEqual([
      od('a0'),
      od('b-long'),
    ]);
    const { engine } = setup([rule('ab', pattern)], { latenessSeconds: 120 });
    const got = await steps(
      engine,
      events.map((e) => e.input),
    );
    expect(got).toEqual([[], [], [[od('a0'), od('b-long')]]]);
  });

  it('reports an interval event that began more than the allowance before the newest as late', async () => {
    const { engine } = setup([rule('ab', pattern)], { latenessSeconds: 60 });
    await engine.processBatch([events[0]!.input]);
    await engine.processBatch([events[1]!.input]);
    const result = await engine.processBatch([events[2]!.input]);
    expect(result.alerts).toEqual([]);
    expect(result.late).toEqual([
      { eventIndex: 0, ruleId: 'ab', groupKey: '', observedDataId: od('b-long'), lagSeconds: 95 },
    ]);
  });
});

describe('many observation expressions', () => {
  const alternatives = (n: number, join: string): string =>
    Array.from({ length: n }, (_, i) => `[x:v = 'v${i}']`).join(` ${join} `);

  it('a single-observation rule of 40 alternatives alerts on any of them, the last ones too', async () => {
    const { engine } = setup([rule('many-or', alternatives(40, 'OR'))]);
    expect(await steps(engine, [x('e1', 1, 'v0'), x('e2', 2, 'v35'), x('e3', 3, 'v39'), x('e4', 4, 'v40')])).toEqual([
      [[od('e1')]],
      [[od('e2')]],
      [[od('e3')]],
      [],
    ]);
  });

  it('with START/STOP, an alternative past the 31st is judged by its own test, not by a shared bit', async () => {
    const start = "t'2026-01-01T00:00:10Z'";
    const stop = "t'2026-01-01T00:00:20Z'";
    // Alternatives 0–34 are bounded by START/STOP, 35–39 are not: a shared bit would let an
    // event matching v36 outside the interval borrow the bound of another alternative.
    const bounded = `(${alternatives(35, 'OR')}) START ${start} STOP ${stop}`;
    const free = Array.from({ length: 5 }, (_, i) => `[x:v = 'w${i + 35}']`).join(' OR ');
    const { engine } = setup([rule('bounded', `(${bounded}) OR ${free}`)]);
    expect(await steps(engine, [x('in', 15, 'v33'), x('out', 30, 'v33'), x('free', 30, 'w36')])).toEqual([
      [[od('in')]],
      [],
      [[od('free')]],
    ]);
  });

  it('a correlation rule of 31 expressions correlates by its last one', async () => {
    const { engine } = setup([rule('and-31', alternatives(31, 'AND'))]);
    const events = Array.from({ length: 31 }, (_, i) => x(`e${i}`, i + 1, `v${30 - i}`));
    const result = await steps(engine, events);
    expect(result.slice(0, 30).every((alerts) => alerts.length === 0)).toBe(true);
    expect(result[30]?.[0]).toHaveLength(31);
  });

  it('refuses a correlation rule of 32 expressions, naming the limit', () => {
    expect(() => setup([rule('and-32', alternatives(32, 'AND'))])).toThrow(
      /at most 31 observation expressions; this one has 32/,
    );
  });
});

describe('a rule edited while it holds state', () => {
  const a = (id: string, second: number): EventInput => x(id, second, 'a');
  const b = (id: string, second: number): EventInput => x(id, second, 'b');

  it('a wider window: events already buffered correlate on the next event (a full search)', async () => {
    const store = new InMemoryStateStore({ now: () => T0 });
    const before = new StreamingEngine({
      rules: [rule('pair', "([x:v = 'a'] FOLLOWEDBY [x:v = 'b']) WITHIN 5 SECONDS")],
      store,
      now: () => T0,
    });
    expect(await steps(before, [a('a1', 0), b('b1', 10)])).toEqual([[], []]);
    const after = new StreamingEngine({
      rules: [rule('pair', "([x:v = 'a'] FOLLOWEDBY [x:v = 'b']) WITHIN 60 SECONDS")],
      store,
      now: () => T0,
    });
    expect(await steps(after, [a('a2', 11)])).toEqual([[[od('a1'), od('b1')]]]);
  });

  it('other observation expressions: the buffered events are dropped, not read with the new meaning', async () => {
    const store = new InMemoryStateStore({ now: () => T0 });
    const before = new StreamingEngine({
      rules: [rule('pair', "[x:v = 'a'] FOLLOWEDBY [x:v = 'b']")],
      store,
      now: () => T0,
    });
    expect(await steps(before, [a('a1', 0)])).toEqual([[]]);
    // The first expression now asks for 'c': the buffered 'a' must not stand for it.
    const after = new StreamingEngine({
      rules: [rule('pair', "[x:v = 'c'] FOLLOWEDBY [x:v = 'b']")],
      store,
      now: () => T0,
    });
    expect(await steps(after, [b('b1', 5)])).toEqual([[]]);
    const explained = await after.explain('default', 'pair', '');
    expect(explained.partialMatches.map((p) => p.observedDataId)).toEqual([od('b1')]);
    expect(explained.evicted).toBe(1);
  });
});

describe('acknowledging alerts', () => {
  const pair = "[x:v = 'a'] FOLLOWEDBY [x:v = 'b']";
  const pairKey: StateKey = { tenant: 'default', ruleId: 'pair', group: '' };
  const storedState = async (store: InMemoryStateStore): Promise<{ outbox: unknown[]; events: { id: string }[] }> =>
    groupStateCodec.decode((await readRuleItem(store, pairKey))?.value ?? '{"f":3}');

  it('clears the outbox of a state this engine just wrote without reading it again', async () => {
    const { engine, store } = setup([rule('pair', pair)]);
    const { alerts } = await engine.processBatch([x('a1', 1, 'a'), x('b1', 2, 'b')]);
    expect(alerts).toHaveLength(1);
    const reads = store.stats.reads;
    await engine.acknowledge(alerts);
    expect(store.stats.reads).toBe(reads);
    expect((await storedState(store)).outbox).toEqual([]);
  });

  it('clears it from the item its failed write returned when another worker wrote in between', async () => {
    const { engine, store, clk } = setup([rule('pair', pair)]);
    const other = new StreamingEngine({ rules: [rule('pair', pair)], store, now: clk.now });
    const { alerts } = await engine.processBatch([x('a1', 1, 'a'), x('b1', 2, 'b')]);
    // The other worker touches the group first: its write carries the unacknowledged alert on.
    expect((await other.processBatch([x('a2', 3, 'a')])).alerts.map((a) => a.id)).toEqual(alerts.map((a) => a.id));
    const { reads, conflicts } = store.stats;
    await engine.acknowledge(alerts);
    // The conditional write at the version this engine wrote conflicts; the store returns the
    // other worker's item with the failure, so clearing needs no second read.
    expect(store.stats.conflicts).toBe(conflicts + 1);
    expect(store.stats.reads).toBe(reads);
    const state = await storedState(store);
    expect(state.outbox).toEqual([]);
    expect(state.events.map((e) => e.id)).toEqual([od('a2')]);
  });
});

/**
 * The aggregation rule kinds in the streaming engine: hopping-window thresholds (count, sum,
 * max; lower bounds alert at once, upper bounds when the window closes), distinct counts (exact,
 * then a HyperLogLog sketch), new terms (history, learning, min_group_events), lateness, future
 * events, redelivery, rule edits, the stored state and explain; and the property that random
 * redeliveries and shuffles within the lateness give the same alerts.
 */
import { describe, expect, it } from 'vitest';
import { readRuleItem } from '../../src/engine/group-item.js';
import { DistinctSketch, SKETCH_RELATIVE_ERROR } from '../../src/engine/aggregation-sketch.js';
import { aggregationStateCodec } from '../../src/engine/aggregation-state.js';
import type { Alert } from '../../src/engine/alert.js';
import { StreamingEngine, type EventInput } from '../../src/engine/streaming.js';
import { loadRules } from '../../src/rules/load.js';
import type { Rule } from '../../src/rules/model.js';
import { StateCorruptError } from '../../src/state/errors.js';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import { observed } from './helpers.js';

const NOW = Date.UTC(2026, 0, 3);
const BASE = '2026-01-01T00:00';

function rulesOf(yaml: string): Rule[] {
  const loaded = loadRules([{ file: 'agg.yaml', text: yaml }]);
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  expect(errors).toEqual([]);
  return loaded.rules;
}

function auth(id: string, second: number, fields: Record<string, unknown>, count = 1): EventInput {
  return observed(id, second, { type: 'x-auth', outcome: 'failure', ...fields }, count).input;
}

/** The store on the engine's clock, so that state expiry is in the same (test) time. */
function memoryStore(): InMemoryStateStore {
  return new InMemoryStateStore({ now: () => NOW });
}

function engineFor(rules: Rule[], store = memoryStore(), latenessSeconds = 60): StreamingEngine {
  return new StreamingEngine({ rules, store, latenessSeconds, now: () => NOW });
}

/** Runs batches, acknowledging what each sends (as the pipeline does), and returns every alert sent. */
async function run(engine: StreamingEngine, batches: EventInput[][]): Promise<Alert[]> {
  const sent: Alert[] = [];
  for (const batch of batches) {
    const result = await engine.processBatch(batch);
    expect(result.errors.filter((e) => e.severity === 'error')).toEqual([]);
    sent.push(...result.alerts);
    await engine.acknowledge(result.alerts);
  }
  return sent;
}

const windowOf = (a: Alert): string => (a.aggregate?.window as { start: string }).start;

const COUNT = `
id: failures
name: failures
severity: medium
kind: threshold
select: "[x-auth:outcome = 'failure']"
group_by: x-auth:src
window: 60s
hop: 30s
condition: { gte: 3 }
`;

describe('threshold', () => {
  it('alerts once per hopping window whose count reaches the condition, on the event that makes it hold', async () => {
    const engine = engineFor(rulesOf(COUNT));
    // src a: 3 failures at 0, 20, 40 s; src b: 2 only.
    const sent = await run(engine, [
      [auth('a1', 0, { src: 'a' }), auth('b1', 1, { src: 'b' }), auth('a2', 20, { src: 'a' })],
      [auth('a3', 40, { src: 'a' }), auth('b2', 41, { src: 'b' }), auth('a4', 45, { src: 'a' })],
    ]);
    // Windows containing 0–45 s that hold ≥ 3: [0, 60) only ([-30, 30) has 2, [30, 90) has 2).
    expect(sent.map((a) => [a.groupKey, windowOf(a)])).toEqual([['["a"]', `${BASE}:00Z`]]);
    const alert = sent[0] as Alert;
    expect(alert.aggregate).toMatchObject({ kind: 'threshold', measure: 'count', value: 3, events: 3 });
    expect(alert.observedDataIds).toEqual(['observed-data--a1', 'observed-data--a2', 'observed-data--a3']);
    expect(alert.objects.length).toBeGreaterThan(0);
  });

  it('counts number_observed, and the sum or maximum of a numeric path', async () => {
    const rules = rulesOf(`
- id: bytes
  name: bytes
  severity: high
  kind: threshold
  select: "[x-auth:outcome = 'failure']"
  group_by: x-auth:src
  sum: x-auth:bytes
  window: 60s
  condition: { gt: 1000 }
- id: biggest
  name: biggest
  severity: high
  kind: threshold
  select: "[x-auth:outcome = 'failure']"
  max: x-auth:bytes
  window: 60s
  condition: { gte: 900 }
- id: instances
  name: instances
  severity: low
  kind: threshold
  select: "[x-auth:outcome = 'failure']"
  window: 60s
  condition: 5
`);
    const sent = await run(engineFor(rules), [
      [auth('s1', 1, { src: 'h', bytes: 600 }), auth('s2', 2, { src: 'h', bytes: 'not a number' }, 4)],
      [auth('s3', 3, { src: 'h', bytes: 500 })],
    ]);
    const byRule = (id: string): Alert[] => sent.filter((a) => a.ruleId === id);
    expect(byRule('bytes').map((a) => a.aggregate?.value)).toEqual([1100, 1100]);
    expect(byRule('biggest')).toEqual([]);
    // 1 + 4 + 1 instances.
    expect(byRule('instances').map((a) => a.aggregate?.value)).toEqual([5, 5]);
  });

  it('decides a condition with an upper bound when the window closes, and never on an empty window', async () => {
    const rules = rulesOf(`
id: few
name: few
severity: low
kind: threshold
select: "[x-auth:outcome = 'failure']"
group_by: x-auth:src
window: 60s
condition: { gte: 2, lte: 3 }
`);
    const engine = engineFor(rules, memoryStore(), 10);
    // Two events in [0, 60) and [-30, 30); nothing decided until the watermark passes 60 + 10 s.
    const early = await run(engine, [[auth('f1', 5, { src: 'x' }), auth('f2', 25, { src: 'x' })]]);
    expect(early).toEqual([]);
    const later = await run(engine, [[auth('f3', 100, { src: 'x' })]]);
    expect(later.map(windowOf).sort()).toEqual(['2025-12-31T23:59:30Z', `${BASE}:00Z`]);
    expect(later[0]?.aggregate?.decided).toBe('when the window closed');
    // A window decided on closing carries no objects of the event that closed it.
    expect(later[0]?.objects).toEqual([]);
    expect(later[0]?.observedDataIds).toEqual(['observed-data--f1', 'observed-data--f2']);
  });

  it('reports late and future events and takes neither', async () => {
    const engine = engineFor(rulesOf(COUNT), memoryStore(), 10);
    await run(engine, [[auth('l1', 100, { src: 'a' })]]);
    const result = await engine.processBatch([
      auth('l2', 80, { src: 'a' }),
      auth('l3', 86_400 * 5, { src: 'a' }),
      auth('l4', 95, { src: 'a' }),
    ]);
    expect(result.late.map((l) => l.observedDataId)).toEqual(['observed-data--l2']);
    expect(result.errors.map((e) => [e.code, e.eventIndex])).toEqual([['future-event', 1]]);
    expect(result.matched.map((m) => m.observedDataId)).toEqual(['observed-data--l4']);
  });

  it('never counts a redelivered event twice, and sends an unacknowledged alert again with the same id', async () => {
    const engine = engineFor(rulesOf(COUNT));
    const batch = [auth('r1', 0, { src: 'a' }), auth('r2', 1, { src: 'a' })];
    await run(engine, [batch, batch, batch]);
    const third = await engine.processBatch([auth('r3', 2, { src: 'a' }), ...batch]);
    expect(third.stats.duplicates).toBe(2);
    expect(third.alerts).toHaveLength(2); // windows [-30, 30) and [0, 60)
    const again = await engine.processBatch([auth('r3', 2, { src: 'a' })]);
    expect(again.redelivered.sort()).toEqual(third.alerts.map((a) => a.id).sort());
    await engine.acknowledge(again.alerts);
    const quiet = await engine.processBatch([auth('r3', 2, { src: 'a' })]);
    expect(quiet.alerts).toEqual([]);
  });

  it('starts afresh after an edit of the rule, keeping what it remembers of taken events', async () => {
    const store = memoryStore();
    await run(engineFor(rulesOf(COUNT), store), [[auth('e1', 0, { src: 'a' }), auth('e2', 1, { src: 'a' })]]);
    const edited = engineFor(rulesOf(COUNT.replace('gte: 3', 'gte: 2')), store);
    const result = await edited.processBatch([auth('e1', 0, { src: 'a' }), auth('e3', 2, { src: 'a' })]);
    expect(result.stats.duplicates).toBe(1);
    expect(result.stats.evicted).toBe(1); // the slot of the old definition
    expect(result.alerts).toEqual([]); // one event counted since the edit
  });
});

describe('distinct_count', () => {
  const DISTINCT = (exact: number): string => `
id: spray
name: spray
severity: high
kind: distinct_count
select: "[x-auth:outcome = 'failure']"
group_by: x-auth:src
distinct: x-auth:user
window: 10m
condition: { gte: 5 }
exact_up_to: ${exact}
`;

  it('counts distinct values exactly up to the bound, with a sample in the alert', async () => {
    const events = ['u1', 'u2', 'u1', 'u3', 'u4', 'u2', 'u5'].map((u, i) =>
      auth(`d${i}`, i * 10, { src: 's', user: u }),
    );
    const sent = await run(engineFor(rulesOf(DISTINCT(100))), [events]);
    expect(sent.map(windowOf)).toEqual(['2025-12-31T23:55:00Z', `${BASE}:00Z`]);
    expect(sent[0]?.aggregate).toMatchObject({
      value: 5,
      events: 7,
      distinct: { count: 5, estimated: false, sample: ['u1', 'u2', 'u3', 'u4', 'u5'] },
    });
  });

  it('combines paths, and skips events without a value', async () => {
    const rules = rulesOf(DISTINCT(100).replace('distinct: x-auth:user', 'distinct: [x-auth:user, x-auth:domain]'));
    const events = [
      auth('c1', 1, { src: 's', user: 'u', domain: 'A' }),
      auth('c2', 2, { src: 's', user: 'u', domain: 'B' }),
      auth('c3', 3, { src: 's', user: 'v', domain: 'A' }),
      auth('c4', 4, { src: 's', user: 'w' }),
      auth('c5', 5, { src: 's', user: 'v', domain: 'B' }),
      auth('c6', 6, { src: 's', user: 1, domain: 'A' }),
    ];
    const sent = await run(engineFor(rules), [events]);
    expect(sent[0]?.aggregate?.distinct).toMatchObject({ count: 5, estimated: false });
    expect((sent[0]?.aggregate?.distinct as { sample: unknown[] }).sample).toContainEqual({
      'x-auth:user': 1,
      'x-auth:domain': 'A',
    });
  });

  it('goes over to a sketch past the bound, stating its error, and keeps the state bounded', async () => {
    const rules = rulesOf(DISTINCT(20).replace('gte: 5', 'gte: 400'));
    const engine = engineFor(rules);
    const events = Array.from({ length: 500 }, (_, i) => auth(`k${i}`, i * 0.5, { src: 's', user: `user-${i}` }));
    const sent = await run(engine, [events.slice(0, 250), events.slice(250)]);
    expect(sent.length).toBeGreaterThan(0);
    const distinct = sent[0]?.aggregate?.distinct as { count: number; estimated: boolean; relativeError: number };
    expect(distinct.estimated).toBe(true);
    expect(distinct.relativeError).toBeCloseTo(SKETCH_RELATIVE_ERROR);
    const explained = await engine.explain('default', 'spray', '["s"]');
    const slots = explained.aggregate?.slots as { distinct: number; sketched: boolean }[];
    expect(slots.every((s) => s.sketched)).toBe(true);
  });
});

describe('the HyperLogLog sketch', () => {
  it('estimates within three standard errors, merges as a union, and round-trips', () => {
    for (const n of [10, 1000, 20_000]) {
      const sketch = new DistinctSketch();
      for (let i = 0; i < n; i++) sketch.add(`value-${i}`);
      for (let i = 0; i < n; i++) sketch.add(`value-${i}`); // repeats change nothing
      expect(Math.abs(sketch.estimate() - n) / n).toBeLessThan(3 * SKETCH_RELATIVE_ERROR);
      expect(DistinctSketch.decode(sketch.encode())?.estimate()).toBe(sketch.estimate());
    }
    const left = new DistinctSketch();
    const right = new DistinctSketch();
    for (let i = 0; i < 5000; i++) (i % 2 ? left : right).add(`v${i}`);
    for (let i = 0; i < 2500; i++) left.add(`v${i}`);
    left.merge(right);
    expect(Math.abs(left.estimate() - 5000) / 5000).toBeLessThan(3 * SKETCH_RELATIVE_ERROR);
    expect(DistinctSketch.decode('bm90IGEgc2tldGNo')).toBeUndefined();
  });
});

const NEW_TERMS = `
id: first-seen
name: first-seen
severity: medium
kind: new_terms
select: "[x-proc:name != '']"
group_by: x-proc:host
terms: x-proc:name
history: 1h
learning: 10m
min_group_events: 3
`;

function proc(id: string, second: number, host: string, name: string): EventInput {
  return observed(id, second, { type: 'x-proc', host, name }).input;
}

describe('new_terms', () => {
  it('alerts on a term first seen after the learning period, once the group has enough events', async () => {
    const engine = engineFor(rulesOf(NEW_TERMS));
    const sent = await run(engine, [
      [proc('n1', 0, 'h1', 'explorer.exe'), proc('n2', 60, 'h1', 'svchost.exe'), proc('n3', 300, 'h1', 'mmc.exe')],
      // After learning (10 min): explorer is known, cmd is new.
      [proc('n4', 700, 'h1', 'explorer.exe'), proc('n5', 720, 'h1', 'cmd.exe'), proc('n6', 730, 'h1', 'cmd.exe')],
      // h2 is past its learning period but has too few events.
      [proc('m1', 0, 'h2', 'a.exe'), proc('m2', 900, 'h2', 'b.exe')],
    ]);
    expect(sent.map((a) => [a.groupKey, a.aggregate?.term])).toEqual([['["h1"]', 'cmd.exe']]);
    expect(sent[0]?.aggregate).toMatchObject({
      firstSeen: '2026-01-01T00:12:00Z',
      history: { seconds: 3600, groupEvents: 4, knownTerms: 3, groupSince: `${BASE}:00Z` },
    });
  });

  it('alerts again on a term not seen within the history, with another id', async () => {
    const engine = engineFor(rulesOf(NEW_TERMS));
    const warmUp = [0, 10, 20, 30].map((s, i) => proc(`w${i}`, s, 'h', 'base.exe'));
    const sent = await run(engine, [
      warmUp,
      [proc('t1', 700, 'h', 'tool.exe')],
      [proc('t2', 1500, 'h', 'tool.exe')], // within the hour: not new
      [proc('t3', 1500 + 3601, 'h', 'tool.exe'), proc('b9', 1500 + 3600, 'h', 'base.exe')], // gap > 1 h: new again
    ]);
    expect(sent.map((a) => a.aggregate?.term)).toEqual(['tool.exe', 'base.exe', 'tool.exe']);
    expect(new Set(sent.map((a) => a.id)).size).toBe(3);
    expect(sent[2]?.aggregate?.lastSeenBefore).toBe('2026-01-01T00:25:00Z');
  });
});

describe('outliers', () => {
  const OUTLIERS = `
id: spike
name: spike
severity: high
kind: outliers
select: "[x-auth:outcome = 'failure']"
group_by: x-auth:src
bucket: 1m
history: 10m
deviation: 3
min_buckets: 5
`;

  it('judges a closed bucket against the median and MAD of the buckets before it, empty ones as zero', async () => {
    const engine = engineFor(rulesOf(OUTLIERS), memoryStore(), 0);
    // Minutes 0–7: 2, 3, 2, 0 (no event), 3, 2, 3, 2 failures; minute 8: 12; minute 9 closes it.
    const perMinute = [2, 3, 2, 0, 3, 2, 3, 2, 12, 1];
    const events = perMinute.flatMap((n, minute) =>
      Array.from({ length: n }, (_, i) => auth(`o${minute}-${i}`, minute * 60 + i, { src: 'h' })),
    );
    // A spike early on is not judged: too few baseline buckets.
    const early = [
      auth('x0', 0, { src: 'early' }),
      ...Array.from({ length: 30 }, (_, i) => auth(`x${i + 1}`, 60 + i, { src: 'early' })),
      auth('x99', 180, { src: 'early' }),
    ];
    const sent = await run(engine, [events.slice(0, 20), events.slice(20), early]);
    expect(sent.map((a) => [a.groupKey, (a.aggregate?.bucket as { start: string }).start])).toEqual([
      ['["h"]', '2026-01-01T00:08:00Z'],
    ]);
    expect(sent[0]?.aggregate).toMatchObject({
      kind: 'outliers',
      value: 12,
      baseline: { buckets: 8, median: 2, deviations: 3 },
    });
    const baseline = sent[0]?.aggregate?.baseline as { scale: number; threshold: number };
    expect(baseline.scale).toBeCloseTo(1.4826 * 0.5);
    expect(baseline.threshold).toBeCloseTo(2 + 3 * 1.4826 * 0.5);
  });
});

describe('the stored state', () => {
  it('round-trips, starts afresh on a state another kind wrote, and refuses an unknown format', async () => {
    const store = memoryStore();
    const engine = engineFor(rulesOf(COUNT), store);
    await run(engine, [[auth('s1', 0, { src: 'a' }), auth('s2', 1, { src: 'a' })]]);
    const item = await readRuleItem(store, { tenant: 'default', ruleId: 'failures', group: '["a"]' });
    const text = (item as { value: string }).value;
    const state = aggregationStateCodec.decode(text);
    expect(aggregationStateCodec.encode(state)).toBe(text);
    expect(state.slots.map((s) => s.count)).toEqual([2]);
    expect(aggregationStateCodec.decode('{"format":2,"events":[],"used":[],"outbox":[]}').slots).toEqual([]);
    expect(() => aggregationStateCodec.decode('{"aggregation":9}')).toThrow(StateCorruptError);
    expect(() => aggregationStateCodec.decode('not json')).toThrow(StateCorruptError);
  });

  it('explains a group: its slots and windows, or its known terms', async () => {
    const engine = engineFor([...rulesOf(COUNT), ...rulesOf(NEW_TERMS)]);
    await run(engine, [[auth('x1', 0, { src: 'a' }), proc('p1', 0, 'h', 'a.exe')]]);
    const windows = await engine.explain('default', 'failures', '["a"]');
    expect(windows.aggregate).toMatchObject({
      kind: 'threshold',
      slots: [{ events: 1 }],
      decidedWhen: 'the condition first holds',
    });
    const terms = await engine.explain('default', 'first-seen', '["h"]');
    expect(terms.aggregate).toMatchObject({ kind: 'new_terms', knownTerms: 1, groupEvents: 1 });
    expect(terms.stateExpiresAt).toBeDefined();
  });
});

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

const EVERY_KIND = `
- id: count
  name: count
  severity: low
  kind: threshold
  select: "[x-auth:outcome = 'failure']"
  group_by: x-auth:src
  window: 60s
  hop: 20s
  condition: { gte: 4 }
- id: sum
  name: sum
  severity: low
  kind: threshold
  select: "[x-auth:outcome = 'failure']"
  group_by: x-auth:src
  sum: x-auth:bytes
  window: 2m
  condition: { gt: 2000 }
- id: range
  name: range
  severity: low
  kind: threshold
  select: "[x-auth:outcome = 'failure']"
  group_by: x-auth:src
  window: 60s
  hop: 30s
  condition: { gte: 2, lt: 4 }
- id: distinct
  name: distinct
  severity: low
  kind: distinct_count
  select: "[x-auth:outcome = 'failure']"
  group_by: x-auth:src
  distinct: x-auth:user
  window: 2m
  hop: 1m
  exact_up_to: 3
  condition: { gte: 4 }
- id: outliers
  name: outliers
  severity: low
  kind: outliers
  select: "[x-auth:outcome = 'failure']"
  group_by: x-auth:src
  bucket: 1m
  history: 10m
  deviation: 1
  min_buckets: 3
- id: terms
  name: terms
  severity: low
  kind: new_terms
  select: "[x-auth:outcome = 'failure']"
  group_by: x-auth:src
  terms: x-auth:user
  history: 1d
  learning: 3m
  min_group_events: 1
`;

describe('redeliveries and shuffles within the lateness', () => {
  const LATENESS = 30;

  /**
   * Events of four sources in event-time order. Each source's first event comes more than the
   * lateness before its others, so that its learning period starts at the same event in any
   * order within the lateness (docs/rule-kinds.md says why a shuffle across the start of a
   * learning period or a history period may change a new_terms alert).
   */
  function stream(rand: () => number): { t: number; input: EventInput }[] {
    const events: { t: number; input: EventInput }[] = [];
    for (let g = 0; g < 4; g++)
      events.push({ t: g, input: auth(`g${g}-first`, g, { src: `s${g}`, user: 'u0', bytes: 1 }) });
    let t = 100;
    for (let i = 0; i < 220; i++) {
      t += Math.floor(rand() * 8);
      const g = Math.floor(rand() * 4);
      const fields = { src: `s${g}`, user: `u${Math.floor(rand() * 12)}`, bytes: Math.floor(rand() * 600) };
      events.push({ t, input: auth(`e${i}`, t, fields) });
    }
    return events;
  }

  function batches<T>(items: T[], rand: () => number): T[][] {
    const out: T[][] = [];
    for (let i = 0; i < items.length;) {
      const size = 1 + Math.floor(rand() * 15);
      out.push(items.slice(i, i + size));
      i += size;
    }
    return out;
  }

  for (const seed of [1, 2, 3, 4, 5]) {
    it(`gives the same alerts as the ordered stream (seed ${seed})`, async () => {
      const rand = random(seed);
      const events = stream(rand);
      const ordered = await run(engineFor(rulesOf(EVERY_KIND), memoryStore(), LATENESS), [events.map((e) => e.input)]);
      // Shuffled within the lateness: ordered by event time plus a jitter below it.
      const jittered = events
        .map((e) => ({ ...e, key: e.t + rand() * (LATENESS - 1) }))
        .sort((a, b) => a.key - b.key)
        .map((e) => e.input);
      // Redelivered: a fifth of the events again, anywhere after their first delivery.
      const delivered = [...jittered];
      for (const input of jittered.filter(() => rand() < 0.2)) {
        const after = delivered.indexOf(input) + 1;
        delivered.splice(after + Math.floor(rand() * (delivered.length - after + 1)), 0, input);
      }
      const shuffled = await run(engineFor(rulesOf(EVERY_KIND), memoryStore(), LATENESS), batches(delivered, rand));
      const ids = (alerts: Alert[]): string[] => alerts.map((a) => `${a.ruleId} ${a.groupKey} ${a.id}`).sort();
      expect(ids(shuffled)).toEqual(ids(ordered));
      // Every kind alerted (so the comparison is not vacuous), and each alert was sent once.
      expect(new Set(ordered.map((a) => a.ruleId))).toEqual(
        new Set(['count', 'sum', 'range', 'distinct', 'outliers', 'terms']),
      );
      expect(new Set(ids(shuffled)).size).toBe(shuffled.length);
    });
  }
});

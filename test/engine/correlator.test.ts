/**
 * The correlator on its own: a pure function of (rule, state, hits, clock), run here with no
 * store at all.
 */
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/engine/alert.js';
import { correlate, fitGroupState, reconcile } from '../../src/engine/correlator.js';
import { emptyGroupState, type GroupState } from '../../src/engine/group-state.js';
import { CompiledPatternRules, type PatternRule } from '../../src/engine/pattern-kind.js';
import type { Hit, KindOptions } from '../../src/engine/rule-kind.js';
import type { StateKey } from '../../src/state/types.js';
import { observed, rule } from './helpers.js';

const T0 = Date.UTC(2026, 0, 1, 0, 10, 0);
const clock = (): number => T0;
const OPTIONS: KindOptions = {
  latenessMicros: 60e6,
  maxPartialsPerGroup: 100,
  unboundedTtlSeconds: 3600,
  maxAlertsPerEvent: 10,
  clockSkewMicros: 300e6,
};
const KEY: StateKey = { tenant: 'acme', ruleId: 'pair', group: '["h1"]' };

function compile(pattern: string, options: Partial<KindOptions> = {}): PatternRule {
  return new CompiledPatternRules([rule('pair', pattern)], { ...OPTIONS, ...options }).rules[0] as PatternRule;
}

/** A hit of an event with value `v` at `second` (after 2026-01-01T00:00:00Z), satisfying expressions `mask`. */
function hit(id: string, second: number, mask: number, eventIndex = 0): Hit {
  return { input: observed(id, second, { type: 'x-thing', v: id }).input, eventIndex, observations: mask };
}

const PAIR = "[x-thing:v = 'a'] FOLLOWEDBY [x-thing:v = 'b']";

describe('correlate', () => {
  it('buffers a partial match, completes it with the next event, and uses both up', () => {
    const pair = compile(PAIR);
    const first = correlate(pair, emptyGroupState(), [hit('a1', 0, 0b01)], clock, KEY);
    expect(first).toMatchObject({ alerts: [], late: [], evicted: 0, duplicates: 0, changed: true });
    expect(first.state.events.map((e) => [e.id, e.observations, e.instancesLeft])).toEqual([
      ['observed-data--a1', 0b01, 1],
    ]);
    const second = correlate(pair, first.state, [hit('b1', 5, 0b10, 3)], clock, KEY);
    expect(second.alerts.map((a) => [a.tenant, a.groupKey, a.observedDataIds])).toEqual([
      ['acme', '["h1"]', ['observed-data--a1', 'observed-data--b1']],
    ]);
    expect(second.state.outbox).toEqual(second.alerts);
    expect(second.state.events).toEqual([]);
    expect(second.state.used.map(([id]) => id).sort()).toEqual(['observed-data--a1', 'observed-data--b1']);
    expect(second.taken.map((h) => h.eventIndex)).toEqual([3]);
    // A redelivery of a used event is a duplicate: not taken, nothing raised, nothing to write.
    const again = correlate(pair, second.state, [hit('b1', 5, 0b10)], clock, KEY);
    expect(again).toMatchObject({ alerts: [], duplicates: 1, taken: [], changed: false });
  });

  it('applies a batch in event-time order, whatever the arrival order', () => {
    const pair = compile(PAIR);
    const result = correlate(pair, emptyGroupState(), [hit('b1', 5, 0b10, 0), hit('a1', 1, 0b01, 1)], clock, KEY);
    expect(result.alerts).toHaveLength(1);
    expect(result.taken.map((h) => h.eventIndex)).toEqual([1, 0]);
  });

  it('reports an event later than the lateness behind the watermark, and does not take it', () => {
    const pair = compile(PAIR);
    const state = correlate(pair, emptyGroupState(), [hit('a9', 500, 0b01)], clock, KEY).state;
    const result = correlate(pair, state, [hit('a1', 100, 0b01, 2)], clock, KEY);
    expect(result.late).toEqual([
      { eventIndex: 2, ruleId: 'pair', groupKey: '["h1"]', observedDataId: 'observed-data--a1', lagSeconds: 400 },
    ]);
    expect(result).toMatchObject({ taken: [], changed: false });
  });

  it('refuses an event from beyond the allowed clock skew, leaving the watermark', () => {
    const pair = compile(PAIR);
    const future = (T0 - Date.UTC(2026, 0, 1)) / 1000 + 3600;
    const result = correlate(pair, emptyGroupState(), [hit('a1', future, 0b01, 4)], clock, KEY);
    expect(result.diagnostics.map((d) => [d.code, d.eventIndex, d.ruleId])).toEqual([['future-event', 4, 'pair']]);
    expect(result.state.watermark).toBe(-Infinity);
    expect(result.changed).toBe(false);
  });

  it('evicts the oldest partial matches past the per-group cap, and counts them', () => {
    const pair = compile(PAIR, { maxPartialsPerGroup: 2 });
    const result = correlate(pair, emptyGroupState(), [hit('a1', 1, 1), hit('a2', 2, 1), hit('a3', 3, 1)], clock, KEY);
    expect(result.evicted).toBe(1);
    expect(result.state.evicted).toBe(1);
    expect(result.state.events.map((e) => e.id)).toEqual(['observed-data--a2', 'observed-data--a3']);
  });

  it('drops buffered events whose masks mean other expressions after a rule edit, and counts them', () => {
    const before = compile(PAIR);
    const state = correlate(before, emptyGroupState(), [hit('a1', 1, 1)], clock, KEY).state;
    const edited = compile("[x-thing:v = 'c'] FOLLOWEDBY [x-thing:v = 'b']");
    const result = correlate(edited, state, [], clock, KEY);
    expect(result).toMatchObject({ evicted: 1, changed: true });
    expect(result.state.events).toEqual([]);
    expect(result.state.observationsKey).toBe(edited.observationsKey);
    // Reconciled once: the same state no longer differs.
    expect(reconcile(edited, result.state)).toBe(0);
  });

  it('raises one alert per repeat of a binding over number_observed, up to the per-event cap', () => {
    const repeats = compile("[x-thing:v = 'a'] REPEATS 2 TIMES", { maxAlertsPerEvent: 2 });
    const many: Hit = {
      input: observed('a1', 1, { type: 'x-thing', v: 'a' }, 10).input,
      eventIndex: 0,
      observations: 1,
    };
    const result = correlate(repeats, emptyGroupState(), [many], clock, KEY);
    expect(result.alerts).toHaveLength(2);
    expect(new Set(result.alerts.map((a) => a.id)).size).toBe(2);
    expect((result.alerts[1] as Alert).additionalMatches).toBe(3);
  });

  it('is a function of its inputs: the same state, hits and clock give the same result', () => {
    const pair = compile(PAIR);
    const hits = [hit('a1', 1, 1), hit('a2', 2, 1), hit('b1', 3, 2)];
    const start = (): GroupState => correlate(pair, emptyGroupState(), [hit('b0', 0, 2)], clock, KEY).state;
    const one = correlate(pair, start(), hits, clock, KEY);
    const two = correlate(pair, start(), hits, clock, KEY);
    expect(one).toEqual(two);
  });
});

describe('fitGroupState', () => {
  it('sheds partial matches oldest first, then used ids, then the objects of stored alerts', () => {
    const pair = compile(PAIR);
    const state = correlate(
      pair,
      emptyGroupState(),
      [hit('a1', 1, 1), hit('b1', 2, 2), hit('a2', 3, 1)],
      clock,
      KEY,
    ).state;
    expect(state.events.map((e) => e.id)).toEqual(['observed-data--a2']);
    const fit = fitGroupState(state);
    expect(fit.shrink()).toBe(true);
    expect(state.events).toEqual([]);
    expect(fit.shrink()).toBe(true); // 2 used ids: halved
    expect(fit.shrink()).toBe(true);
    expect(state.used).toEqual([]);
    expect(fit.shrink()).toBe(true);
    expect(state.outbox.every((a) => a.objects.length === 0 && (a.objectsOmitted ?? 0) > 0)).toBe(true);
    expect(fit.shrink()).toBe(false);
    expect(fit.evicted).toBe(1);
    expect(fit.describe()).toEqual([
      '1 partial match(es) evicted, oldest first',
      '2 used id(s) forgotten',
      'the stored copies of its pending alerts keep no objects',
    ]);
  });
});

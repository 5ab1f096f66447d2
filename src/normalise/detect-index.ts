/**
 * Dismisses, in one pass over an event's top-level keys, the mappings whose detection cannot hold. Every mapping
 * is scored for every event, and asking each mapping's gates in turn (`event[key]` for every key of every
 * condition) cost a quarter of normalising a small record: keyed lookups of absent keys on objects of many
 * shapes. Here each key the event has is looked up once in a table of the conditions it opens. The survivors
 * are scored as before, so the outcome is the same: this only skips mappings whose own gates would reject.
 * What the pass found is also handed to the survivors' scoring (`opened`), which would otherwise look the same
 * keys up again, each a keyed load of an absent key (a sixth of normalising a Zeek record).
 */
import type { DetectGates, GateState, JsonRecord } from './fields.js';

export interface DetectPrefilter {
  /** 1 for each mapping that may fit the event, 0 for those whose gates cannot be met. */
  (event: JsonRecord): Uint8Array;
  /**
   * Which of a mapping's `all` and `any` gates the last event opened (ungated conditions are open), for its
   * `score`. A superset of what the mapping's own gates find is safe: its predicates still decide.
   */
  opened(mapping: number): GateState;
}

/** Limit of the per-condition stamp before the stamps are cleared (the stamp is an event counter). */
const STAMP_LIMIT = 0x3fffffff;

export function createDetectPrefilter(gatesOf: readonly (DetectGates | undefined)[]): DetectPrefilter {
  const mappingCount = gatesOf.length;
  /** Per mapping: gated `all` conditions that must all open, ungated `any` conditions (always open), `min`. */
  const gatedAll = new Int32Array(mappingCount);
  const ungatedAny = new Int32Array(mappingCount);
  const min = new Int32Array(mappingCount);
  /** Per mapping: 1 when it cannot be dismissed by keys (no gates known). */
  const alwaysScored = new Uint8Array(mappingCount);
  /** Per condition: its mapping, and whether it is an `all` (1) or an `any` (0) condition. */
  const conditionMapping: number[] = [];
  const conditionIsAll: number[] = [];
  const byKey = new Map<string, number[]>();
  /** Per mapping, per `all` / `any` condition in order: its condition number, or -1 when it is ungated. */
  const allConditionsOf: Int32Array[] = [];
  const anyConditionsOf: Int32Array[] = [];
  const addCondition = (mapping: number, isAll: boolean, keys: readonly string[]): number => {
    const condition = conditionMapping.length;
    conditionMapping.push(mapping);
    conditionIsAll.push(isAll ? 1 : 0);
    for (const key of keys) {
      let list = byKey.get(key);
      if (list === undefined) byKey.set(key, (list = []));
      list.push(condition);
    }
    return condition;
  };
  // A key found on every object's prototype (`constructor`) is "there" for the mappings' own gates: such a
  // condition is treated as ungated, since the pass below sees only the event's own keys.
  const gateOf = (keys: readonly string[] | undefined): readonly string[] | undefined =>
    keys === undefined || keys.some((key) => key in Object.prototype) ? undefined : keys;
  gatesOf.forEach((gates, m) => {
    allConditionsOf.push(new Int32Array(gates?.all.length ?? 0).fill(-1));
    anyConditionsOf.push(new Int32Array(gates?.any.length ?? 0).fill(-1));
    if (gates === undefined) {
      alwaysScored[m] = 1;
      return;
    }
    min[m] = gates.min;
    let gated = 0;
    gates.all.forEach((keys, i) => {
      const gate = gateOf(keys);
      if (gate === undefined) return;
      gated++;
      (allConditionsOf[m] as Int32Array)[i] = addCondition(m, true, gate);
    });
    let ungated = 0;
    gates.any.forEach((keys, i) => {
      const gate = gateOf(keys);
      if (gate === undefined) ungated++;
      else (anyConditionsOf[m] as Int32Array)[i] = addCondition(m, false, gate);
    });
    gatedAll[m] = gated;
    ungatedAny[m] = ungated;
  });
  const mappingOf = Int32Array.from(conditionMapping);
  const isAll = Uint8Array.from(conditionIsAll);
  const stamps = new Int32Array(mappingOf.length);
  let stamp = 0;
  const openAll = new Int32Array(mappingCount);
  const openAny = new Int32Array(mappingCount);
  const candidates = new Uint8Array(mappingCount);
  const states: GateState[] = allConditionsOf.map((all, m) => ({
    all: new Uint8Array(all.length),
    any: new Uint8Array((anyConditionsOf[m] as Int32Array).length),
  }));
  const fill = (into: Uint8Array, conditions: Int32Array): void => {
    for (let i = 0; i < conditions.length; i++) {
      const condition = conditions[i]!;
      into[i] = condition < 0 || stamps[condition] === stamp ? 1 : 0;
    }
  };

  const prefilter = (event: JsonRecord): Uint8Array => {
    if (++stamp > STAMP_LIMIT) {
      stamps.fill(0);
      stamp = 1;
    }
    openAll.fill(0);
    openAny.fill(0);
    // Own and inherited enumerable keys, as `event[key] !== undefined` would find them; a key whose value is
    // undefined opens its conditions here, which only means that mapping is scored (and rejected) as before.
    for (const key in event) {
      const conditions = byKey.get(key);
      if (conditions === undefined) continue;
      for (let i = 0; i < conditions.length; i++) {
        const condition = conditions[i]!;
        if (stamps[condition] === stamp) continue;
        stamps[condition] = stamp;
        const mapping = mappingOf[condition]!;
        if (isAll[condition] === 1) openAll[mapping]!++;
        else openAny[mapping]!++;
      }
    }
    for (let m = 0; m < mappingCount; m++) {
      candidates[m] =
        alwaysScored[m] === 1 || (openAll[m] === gatedAll[m] && openAny[m]! + ungatedAny[m]! >= min[m]!) ? 1 : 0;
    }
    return candidates;
  };
  const opened = (mapping: number): GateState => {
    const state = states[mapping] as GateState;
    fill(state.all, allConditionsOf[mapping] as Int32Array);
    fill(state.any, anyConditionsOf[mapping] as Int32Array);
    return state;
  };
  return Object.assign(prefilter, { opened });
}

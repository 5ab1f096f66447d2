/**
 * Dismisses, in one pass over an event's top-level keys, the mappings whose detection cannot hold. Every mapping
 * is scored for every event, and asking each mapping's gates in turn (`event[key]` for every key of every
 * condition) cost a quarter of normalising a small record: keyed lookups of absent keys on objects of many
 * shapes. Here each key the event has is looked up once in a table of the conditions it opens. The survivors
 * are scored as before, so the outcome is the same: this only skips mappings whose own gates would reject.
 */
import type { DetectGates, JsonRecord } from './fields.js';

export type DetectPrefilter = (event: JsonRecord) => Uint8Array;

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
  const addCondition = (mapping: number, isAll: boolean, keys: readonly string[]): void => {
    const condition = conditionMapping.length;
    conditionMapping.push(mapping);
    conditionIsAll.push(isAll ? 1 : 0);
    for (const key of keys) {
      let list = byKey.get(key);
      if (list === undefined) byKey.set(key, (list = []));
      list.push(condition);
    }
  };
  // A key found on every object's prototype (`constructor`) is "there" for the mappings' own gates: such a
  // condition is treated as ungated, since the pass below sees only the event's own keys.
  const gateOf = (keys: readonly string[] | undefined): readonly string[] | undefined =>
    keys === undefined || keys.some((key) => key in Object.prototype) ? undefined : keys;
  gatesOf.forEach((gates, m) => {
    if (gates === undefined) {
      alwaysScored[m] = 1;
      return;
    }
    min[m] = gates.min;
    let gated = 0;
    for (const keys of gates.all) {
      const gate = gateOf(keys);
      if (gate === undefined) continue;
      gated++;
      addCondition(m, true, gate);
    }
    let ungated = 0;
    for (const keys of gates.any) {
      const gate = gateOf(keys);
      if (gate === undefined) ungated++;
      else addCondition(m, false, gate);
    }
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

  return (event) => {
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
}

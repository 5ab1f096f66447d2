/**
 * The state an aggregation rule keeps per (tenant, rule, group), and its stored form.
 *
 * Windowed kinds (threshold, distinct_count) keep one slot per hop of event time that still
 * belongs to an open window: its event count, sum, maximum, distinct values (exactly up to the
 * rule's bound, then a HyperLogLog sketch) and a few event ids for the alert. new_terms keeps
 * the group's terms with when each was first and last seen, the group's first event time and
 * its event count. Both keep the ids of events taken recently enough that a redelivery would
 * still be on time (older ones are rejected as late anyway), the event-time watermark, the
 * windows already alerted, and the outbox of alerts committed and not yet acknowledged.
 */
import { StateCorruptError } from '../state/errors.js';
import type { Alert } from './alert.js';
import { DistinctSketch } from './aggregation-sketch.js';
import type { StateCodec } from './rule-kind.js';

export interface WindowSlot {
  /** Slot start, µs since the epoch (a multiple of the hop). */
  start: number;
  count: number;
  sum: number;
  /** Largest numeric value seen; null while none. */
  max: number | null;
  /** Earliest first_observed and latest last_observed of its events, µs. */
  first: number;
  last: number;
  /** Distinct values (their canonical text), while no more than the rule's bound. */
  values?: string[];
  /** Once past the bound: the sketch of every value, and the first few values as a sample. */
  sketch?: DistinctSketch;
  /** A few of its events' observed-data ids, for the alert. */
  ids: string[];
  /** risk rules: each contributing rule once, with its risk and a few of its alerts' ids. */
  contributors?: RiskContributor[];
}

/** A rule that fired for a risk rule's entity within a slot. */
export interface RiskContributor {
  ruleId: string;
  ruleName: string;
  risk: number;
  /** Ids of its alerts in the slot, at most a few (the first ones by event time). */
  alerts: string[];
}

export interface KnownTerm {
  /** The term's canonical text. */
  term: string;
  /** When the current appearance started, and when the term was last seen (µs). */
  first: number;
  last: number;
}

export interface AggregationState {
  /** Fingerprint of the rule's definition when written: another definition starts afresh. */
  definition?: string;
  watermark: number;
  /** Ids of taken events with their first_observed (µs), while a redelivery would be on time. */
  recent: [string, number][];
  slots: WindowSlot[];
  /** Window starts (µs) that alerted or were decided, while their window can still change. */
  decided: number[];
  /** Windows starting before this (µs) were decided on closing (conditions with an upper bound). */
  closedBefore: number;
  terms: KnownTerm[];
  /** The group's earliest event (µs; Infinity while none) and selected events taken. */
  since: number;
  events: number;
  /** Slots or terms dropped to bound the state, counted. */
  evicted: number;
  outbox: Alert[];
}

export function emptyAggregationState(): AggregationState {
  return {
    watermark: -Infinity,
    recent: [],
    slots: [],
    decided: [],
    closedBefore: -Infinity,
    terms: [],
    since: Infinity,
    events: 0,
    evicted: 0,
    outbox: [],
  };
}

/**
 * Format 1, one JSON object marked `"aggregation":1`: slots are
 * `[start, count, sum, max|null, first, last, ids, values|null, sketch|null, contributors?]` (a
 * sketch as the base64 of its registers; contributors `[ruleId, ruleName, risk, alertIds]`, risk
 * rules only, absent from the items of the other kinds), terms `[term, first, last]`; infinities are null.
 */
export const AGGREGATION_STATE_FORMAT = 1;

type StoredContributor = [string, string, number, string[]];
type StoredSlot =
  | [number, number, number, number | null, number, number, string[], string[] | null, string | null]
  | [
      number,
      number,
      number,
      number | null,
      number,
      number,
      string[],
      string[] | null,
      string | null,
      StoredContributor[],
    ];

interface StoredAggregationState {
  aggregation: number;
  definition?: string;
  watermark: number | null;
  recent: [string, number][];
  slots: StoredSlot[];
  decided: number[];
  closedBefore: number | null;
  terms: [string, number, number][];
  since: number | null;
  events: number;
  evicted: number;
  outbox: Alert[];
}

const finiteOrNull = (n: number): number | null => (Number.isFinite(n) ? n : null);

export function encodeAggregationState(state: AggregationState): string {
  const stored: StoredAggregationState = {
    aggregation: AGGREGATION_STATE_FORMAT,
    ...(state.definition !== undefined ? { definition: state.definition } : {}),
    watermark: finiteOrNull(state.watermark),
    recent: state.recent,
    slots: state.slots.map((s): StoredSlot => {
      const head = [
        s.start,
        s.count,
        s.sum,
        s.max,
        s.first,
        s.last,
        s.ids,
        s.values ?? null,
        s.sketch ? s.sketch.encode() : null,
      ] as const;
      return s.contributors
        ? [...head, s.contributors.map((c): StoredContributor => [c.ruleId, c.ruleName, c.risk, c.alerts])]
        : [...head];
    }),
    decided: state.decided,
    closedBefore: finiteOrNull(state.closedBefore),
    terms: state.terms.map((t) => [t.term, t.first, t.last]),
    since: finiteOrNull(state.since),
    events: state.events,
    evicted: state.evicted,
    outbox: state.outbox,
  };
  return JSON.stringify(stored);
}

/**
 * Reads a stored state. A state another kind wrote under the same key (the rule's id was a
 * pattern rule before) is not this kind's: the rule starts afresh rather than failing its events.
 */
export function decodeAggregationState(text: string): AggregationState {
  let raw: StoredAggregationState;
  try {
    raw = JSON.parse(text) as StoredAggregationState;
  } catch {
    throw new StateCorruptError('a stored aggregation state is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new StateCorruptError('a stored aggregation state is not an object');
  if (raw.aggregation === undefined) return emptyAggregationState();
  if (raw.aggregation !== AGGREGATION_STATE_FORMAT)
    throw new StateCorruptError(
      `a stored aggregation state has format ${JSON.stringify(raw.aggregation)}; this version reads format ${AGGREGATION_STATE_FORMAT}`,
    );
  if (
    !Array.isArray(raw.slots) ||
    !Array.isArray(raw.terms) ||
    !Array.isArray(raw.recent) ||
    !Array.isArray(raw.outbox) ||
    !Array.isArray(raw.decided)
  )
    throw new StateCorruptError('a stored aggregation state lacks its slots, terms, ids or outbox');
  const slots = raw.slots.map((s): WindowSlot => {
    const slot: WindowSlot = { start: s[0], count: s[1], sum: s[2], max: s[3], first: s[4], last: s[5], ids: s[6] };
    if (s[7] !== null) slot.values = s[7];
    if (s[8] !== null) {
      const sketch = DistinctSketch.decode(s[8]);
      if (!sketch) throw new StateCorruptError('a stored aggregation state holds a malformed sketch');
      slot.sketch = sketch;
    }
    const contributors = s[9];
    if (contributors !== undefined) {
      if (!Array.isArray(contributors)) throw new StateCorruptError('a stored risk slot has malformed contributors');
      slot.contributors = contributors.map(([ruleId, ruleName, risk, alerts]) => ({ ruleId, ruleName, risk, alerts }));
    }
    return slot;
  });
  const state: AggregationState = {
    watermark: raw.watermark ?? -Infinity,
    recent: raw.recent,
    slots,
    decided: raw.decided,
    closedBefore: raw.closedBefore ?? -Infinity,
    terms: raw.terms.map(([term, first, last]) => ({ term, first, last })),
    since: raw.since ?? Infinity,
    events: raw.events ?? 0,
    evicted: raw.evicted ?? 0,
    outbox: raw.outbox,
  };
  if (raw.definition !== undefined) state.definition = raw.definition;
  return state;
}

export const aggregationStateCodec: StateCodec<AggregationState> = {
  format: AGGREGATION_STATE_FORMAT,
  empty: emptyAggregationState,
  encode: encodeAggregationState,
  decode: decodeAggregationState,
};

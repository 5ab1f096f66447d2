/**
 * The correlation state of one (tenant, rule, group): the observed-data that satisfy some
 * observation expression of the rule and have not been used by an alert yet ("partial
 * matches"), the ids recently used (so redelivered events never count twice), the event-time
 * watermark for lateness, and alerts committed but not yet confirmed sent (outbox).
 *
 * In memory the fields have readable names; what is stored (one DynamoDB item) is written by
 * `groupStateCodec`, compactly and with an explicit format number, so that the stored layout
 * can change without the code that works on the state knowing about it.
 */
import { StateCorruptError } from '../state/errors.js';
import type { Alert } from './alert.js';
import type { StateCodec } from './rule-kind.js';

export interface BufferedEvent {
  /** observed-data id */
  id: string;
  /** first_observed, last_observed in microseconds since the epoch */
  firstObserved: number;
  lastObserved: number;
  /** instances not yet used by an alert (starts at number_observed) */
  instancesLeft: number;
  /** bit i set: the event satisfies observation expression i of the rule */
  observations: number;
  /** source event id, when the normaliser recorded one */
  sourceEventId?: string;
  /** arrival order, to break ties deterministically */
  arrival: number;
}

export interface GroupState {
  events: BufferedEvent[];
  /**
   * observed-data ids used up by alerts, with their first_observed (µs): a redelivery of one
   * must not count again. Kept only while such a redelivery would still be on time; after
   * that it is rejected as late anyway, so the list stays as small as the window.
   */
  used: [string, number][];
  /** highest first_observed seen in this group, microseconds */
  watermark: number;
  /** partial matches evicted by the per-group cap, counted */
  evicted: number;
  arrivals: number;
  outbox: Alert[];
  /**
   * Set when a binding search gave up (budget): bindings among the buffered events may then
   * exist without the next event, so the next search is a full one, not only for bindings
   * that use the newly arrived event.
   */
  unsettled?: boolean;
  /**
   * Fingerprints of the rule's pattern and of its observation expressions when this state was
   * written (absent in states written before they existed; 30-bit numbers in states written
   * before they were collision-safe strings, which never equal a current one). The masks of
   * the buffered events are only meaningful for the same observation expressions.
   */
  patternKey?: string | number;
  observationsKey?: string | number;
}

export function emptyGroupState(): GroupState {
  return { events: [], used: [], watermark: -Infinity, evicted: 0, arrivals: 0, outbox: [] };
}

/**
 * The stored layout. Format 1 (items written before formats were numbered) has no `format`
 * field and otherwise the same layout as format 2: a buffered event is `{ id, f, l, n, m, a, s? }`
 * (first and last observed, instances left, observation mask, arrival, source event id), short
 * because one item holds up to 64 KiB of them; the watermark is null while there is none.
 */
interface StoredEvent {
  id: string;
  f: number;
  l: number;
  n: number;
  m: number;
  a: number;
  s?: string;
}

interface StoredGroupState {
  format?: number;
  events: StoredEvent[];
  used: [string, number][];
  watermark: number | null;
  evicted: number;
  arrivals: number;
  outbox: Alert[];
  unsettled?: boolean;
  patternKey?: string | number;
  observationsKey?: string | number;
}

/** The format `groupStateCodec` writes; it reads this one and every earlier one. */
export const GROUP_STATE_FORMAT = 2;

/** One buffered event in the stored layout (`s` undefined is left out by JSON.stringify). */
function encodeEvent(e: BufferedEvent): StoredEvent {
  return {
    id: e.id,
    f: e.firstObserved,
    l: e.lastObserved,
    n: e.instancesLeft,
    m: e.observations,
    a: e.arrival,
    s: e.sourceEventId,
  };
}

function decodeEvent(e: StoredEvent): BufferedEvent {
  const event: BufferedEvent = {
    id: e.id,
    firstObserved: e.f,
    lastObserved: e.l,
    instancesLeft: e.n,
    observations: e.m,
    arrival: e.a,
  };
  if (e.s !== undefined) event.sourceEventId = e.s;
  return event;
}

/**
 * The stored text, made by one JSON.stringify of the stored layout: a state is encoded on every write, and text
 * pieced together from parts (the events, then the rest) is a tree of strings that the store's size check and
 * the write then copy flat again, which made the in-memory streaming bench slower than before the codec.
 */
export function serialiseGroupState(state: GroupState): string {
  const source = state.events;
  const events = new Array<StoredEvent>(source.length);
  for (let i = 0; i < source.length; i++) events[i] = encodeEvent(source[i] as BufferedEvent);
  const stored: StoredGroupState = {
    format: GROUP_STATE_FORMAT,
    events,
    used: state.used,
    watermark: Number.isFinite(state.watermark) ? state.watermark : null,
    evicted: state.evicted,
    arrivals: state.arrivals,
    outbox: state.outbox,
  };
  if (state.unsettled) stored.unsettled = true;
  if (state.patternKey !== undefined) stored.patternKey = state.patternKey;
  if (state.observationsKey !== undefined) stored.observationsKey = state.observationsKey;
  return JSON.stringify(stored);
}

/** Reads a stored state of any known format; throws StateCorruptError for anything else. */
export function parseGroupState(text: string): GroupState {
  let raw: StoredGroupState;
  try {
    raw = JSON.parse(text) as StoredGroupState;
  } catch {
    throw new StateCorruptError('a stored correlation state is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new StateCorruptError('a stored correlation state is not an object');
  const format = raw.format ?? 1;
  if (format !== 1 && format !== GROUP_STATE_FORMAT)
    throw new StateCorruptError(
      `a stored correlation state has format ${JSON.stringify(raw.format)}; this version reads formats 1 to ${GROUP_STATE_FORMAT}`,
    );
  if (!Array.isArray(raw.events) || !Array.isArray(raw.used) || !Array.isArray(raw.outbox))
    throw new StateCorruptError('a stored correlation state lacks its events, used ids or outbox');
  const state: GroupState = {
    events: raw.events.map(decodeEvent),
    used: raw.used,
    watermark: raw.watermark ?? -Infinity,
    evicted: raw.evicted ?? 0,
    arrivals: raw.arrivals ?? 0,
    outbox: raw.outbox,
  };
  if (raw.unsettled) state.unsettled = true;
  if (raw.patternKey !== undefined) state.patternKey = raw.patternKey;
  if (raw.observationsKey !== undefined) state.observationsKey = raw.observationsKey;
  return state;
}

/** How a correlation (STIX pattern) rule's state is stored. */
export const groupStateCodec: StateCodec<GroupState> = {
  format: GROUP_STATE_FORMAT,
  empty: emptyGroupState,
  encode: serialiseGroupState,
  decode: parseGroupState,
};

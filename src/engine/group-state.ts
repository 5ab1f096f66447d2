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
 * The stored layouts. Format 1 (items written before formats were numbered) has no `format`
 * field and otherwise the same layout as format 2: a buffered event is `{ id, f, l, n, m, a, s? }`
 * (first and last observed, instances left, observation mask, arrival, source event id); the
 * watermark is null while there is none.
 *
 * Format 3 (`{"f":3,…}`, written since #18) is the compact one: a group item holds the states of
 * every rule of its group, about forty in a busy one, and DynamoDB bills each write per KiB of
 * the whole item, so per rule the skeleton (field names, zero counters, empty lists) and the
 * 16-digit timestamps were most of what was written. A buffered event is a tuple
 * `[id, watermark − first_observed, mask, arrivals − arrival(, last_observed − first_observed,
 * instances left(, source event id))]` (the tail only when not 0, 1 and absent); a used id is
 * `[id, watermark − first_observed]`; fields at their default are left out:
 * `{"f":3,"w":watermark,"r":arrivals,"e":[…],"u":[…],"x":evicted,"o":[outbox],"z":1 (unsettled),
 * "p":patternKey,"k":observationsKey}`.
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

/** A buffered event in format 3: [id, Δfirst, mask, Δarrival(, Δlast, instances left(, source event id))]. */
type CompactEvent =
  | [string, number, number, number]
  | [string, number, number, number, number, number]
  | [string, number, number, number, number, number, string];

interface CompactGroupState {
  f: 3;
  w?: number;
  r?: number;
  e?: CompactEvent[];
  u?: [string, number][];
  x?: number;
  o?: Alert[];
  z?: 1;
  p?: string | number;
  k?: string | number;
}

/** The format `groupStateCodec` writes; it reads this one and every earlier one. */
export const GROUP_STATE_FORMAT = 3;

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
 * pieced together from parts is a tree of strings that the store's size check and the write then copy flat again.
 */
export function serialiseGroupState(state: GroupState): string {
  const stored: CompactGroupState = { f: 3 };
  // Times are stored relative to the watermark (a state with events always has one; 0 otherwise).
  const watermark = Number.isFinite(state.watermark) ? state.watermark : 0;
  if (Number.isFinite(state.watermark)) stored.w = state.watermark;
  if (state.arrivals !== 0) stored.r = state.arrivals;
  const source = state.events;
  if (source.length > 0) {
    const events = new Array<CompactEvent>(source.length);
    for (let i = 0; i < source.length; i++) {
      const e = source[i] as BufferedEvent;
      const head: [string, number, number, number] = [
        e.id,
        watermark - e.firstObserved,
        e.observations,
        state.arrivals - e.arrival,
      ];
      events[i] =
        e.sourceEventId !== undefined
          ? [...head, e.lastObserved - e.firstObserved, e.instancesLeft, e.sourceEventId]
          : e.lastObserved !== e.firstObserved || e.instancesLeft !== 1
            ? [...head, e.lastObserved - e.firstObserved, e.instancesLeft]
            : head;
    }
    stored.e = events;
  }
  if (state.used.length > 0) {
    const used = new Array<[string, number]>(state.used.length);
    for (let i = 0; i < used.length; i++) {
      const [id, first] = state.used[i] as [string, number];
      used[i] = [id, watermark - first];
    }
    stored.u = used;
  }
  if (state.evicted !== 0) stored.x = state.evicted;
  if (state.outbox.length > 0) stored.o = state.outbox;
  if (state.unsettled) stored.z = 1;
  if (state.patternKey !== undefined) stored.p = state.patternKey;
  if (state.observationsKey !== undefined) stored.k = state.observationsKey;
  return JSON.stringify(stored);
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function parseCompact(raw: CompactGroupState): GroupState {
  const events = raw.e ?? [];
  const used = raw.u ?? [];
  const outbox = raw.o ?? [];
  const watermark = raw.w ?? 0;
  const arrivals = raw.r ?? 0;
  if (!Array.isArray(events) || !Array.isArray(used) || !Array.isArray(outbox))
    throw new StateCorruptError('a stored correlation state lacks its events, used ids or outbox');
  if (!isNumber(watermark) || !isNumber(arrivals))
    throw new StateCorruptError('a stored correlation state has a malformed watermark or arrival count');
  const state: GroupState = {
    events: events.map((e) => {
      if (!Array.isArray(e) || typeof e[0] !== 'string' || !isNumber(e[1]) || !isNumber(e[2]) || !isNumber(e[3]))
        throw new StateCorruptError('a stored correlation state has a malformed buffered event');
      const firstObserved = watermark - e[1];
      const event: BufferedEvent = {
        id: e[0],
        firstObserved,
        lastObserved: firstObserved + (e[4] ?? 0),
        instancesLeft: e[5] ?? 1,
        observations: e[2],
        arrival: arrivals - e[3],
      };
      if (e[6] !== undefined) event.sourceEventId = e[6];
      return event;
    }),
    used: used.map((u) => {
      if (!Array.isArray(u) || typeof u[0] !== 'string' || !isNumber(u[1]))
        throw new StateCorruptError('a stored correlation state has a malformed used id');
      return [u[0], watermark - u[1]] as [string, number];
    }),
    watermark: raw.w ?? -Infinity,
    evicted: raw.x ?? 0,
    arrivals,
    outbox,
  };
  if (raw.z) state.unsettled = true;
  if (raw.p !== undefined) state.patternKey = raw.p;
  if (raw.k !== undefined) state.observationsKey = raw.k;
  return state;
}

/** Reads a stored state of any known format; throws StateCorruptError for anything else. */
export function parseGroupState(text: string): GroupState {
  let raw: StoredGroupState | CompactGroupState;
  try {
    raw = JSON.parse(text) as StoredGroupState | CompactGroupState;
  } catch {
    throw new StateCorruptError('a stored correlation state is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new StateCorruptError('a stored correlation state is not an object');
  if ('f' in raw && raw.f === 3 && !('format' in raw)) return parseCompact(raw);
  const old = raw as StoredGroupState;
  const format = old.format ?? 1;
  if (format !== 1 && format !== 2)
    throw new StateCorruptError(
      `a stored correlation state has format ${JSON.stringify(old.format)}; this version reads formats 1 to ${GROUP_STATE_FORMAT}`,
    );
  if (!Array.isArray(old.events) || !Array.isArray(old.used) || !Array.isArray(old.outbox))
    throw new StateCorruptError('a stored correlation state lacks its events, used ids or outbox');
  const state: GroupState = {
    events: old.events.map(decodeEvent),
    used: old.used,
    watermark: old.watermark ?? -Infinity,
    evicted: old.evicted ?? 0,
    arrivals: old.arrivals ?? 0,
    outbox: old.outbox,
  };
  if (old.unsettled) state.unsettled = true;
  if (old.patternKey !== undefined) state.patternKey = old.patternKey;
  if (old.observationsKey !== undefined) state.observationsKey = old.observationsKey;
  return state;
}

/** How a correlation (STIX pattern) rule's state is stored. */
export const groupStateCodec: StateCodec<GroupState> = {
  format: GROUP_STATE_FORMAT,
  empty: emptyGroupState,
  encode: serialiseGroupState,
  decode: parseGroupState,
  // Without buffered events, reconciling with any rule changes nothing (src/engine/correlator.ts).
  fingerprinted: (state) => state.events.length > 0,
};

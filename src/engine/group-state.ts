/**
 * The correlation state of one (tenant, rule, group): the observed-data that satisfy some
 * observation expression of the rule and have not been used by an alert yet ("partial
 * matches"), the ids recently used (so redelivered events never count twice), the event-time
 * watermark for lateness, and alerts committed but not yet confirmed sent (outbox).
 * Serialised compactly: it is stored as one DynamoDB item.
 */
import type { Alert } from './alert.js';

export interface BufferedEvent {
  /** observed-data id */
  id: string;
  /** first_observed, last_observed in microseconds since the epoch */
  f: number;
  l: number;
  /** instances not yet used by an alert (starts at number_observed) */
  n: number;
  /** bit i set: the event satisfies observation expression i of the rule */
  m: number;
  /** source event id, when the normaliser recorded one */
  s?: string;
  /** arrival order, to break ties deterministically */
  a: number;
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

export function serialiseGroupState(state: GroupState): string {
  return JSON.stringify({ ...state, watermark: Number.isFinite(state.watermark) ? state.watermark : null });
}

export function parseGroupState(text: string): GroupState {
  const raw = JSON.parse(text) as Omit<GroupState, 'watermark'> & { watermark: number | null };
  return { ...raw, watermark: raw.watermark ?? -Infinity };
}

/**
 * Envelopes: containers that carry source records rather than being events themselves. Each record is normalised
 * on its own (and recognised on its own), so one bad record loses nothing else.
 */

/** The records an input object carries: itself, unless it is an envelope. */
export function eventRecords(value: unknown): unknown[] {
  return [value];
}

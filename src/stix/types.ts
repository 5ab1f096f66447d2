/** The STIX shapes the engine reads and writes. Kept loose: SCOs are open-ended JSON objects. */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A STIX Cyber-observable Object (2.1: with `id`; 2.0: keyed inside `objects`). */
export interface StixObject {
  type: string;
  id?: string;
  [property: string]: unknown;
}

/** STIX 2.1 observed-data (with `object_refs`) or 2.0 observed-data (with embedded `objects`). */
export interface ObservedData extends StixObject {
  type: 'observed-data';
  first_observed: string;
  last_observed: string;
  number_observed: number;
  object_refs?: string[];
  objects?: Record<string, StixObject>;
}

export interface Bundle {
  type: 'bundle';
  id: string;
  objects: StixObject[];
}

/** One event as the engine consumes it: an observed-data and the SCOs it references. */
export interface ObservedEvent {
  observedData: ObservedData;
  /** The SCOs referenced by `object_refs` (empty for 2.0 observed-data with embedded objects). */
  objects: StixObject[];
}

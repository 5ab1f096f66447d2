/**
 * Builders of observed data for the pattern tests. Every test writes its own cases from the
 * STIX 2.1 specification; nothing here is read from outside the repository.
 */
import { compilePattern } from '../../src/pattern/compile.js';
import type { Bundle, ObservedData, StixObject } from '../../src/stix/types.js';

/** The instant every relative time in the tests counts from. */
export const BASE_MS = Date.UTC(2024, 0, 1, 0, 0, 0);

/** A STIX timestamp `seconds` after BASE (fractions allowed, millisecond precision). */
export function at(seconds: number): string {
  return new Date(BASE_MS + Math.round(seconds * 1000)).toISOString();
}

let counter = 0;

/** A deterministic UUID-shaped suffix, unique within the test process. */
export function uuid(): string {
  counter++;
  return `00000000-0000-4000-8000-${counter.toString(16).padStart(12, '0')}`;
}

/** An SCO with an id (`type--uuid` unless given). */
export function sco(type: string, props: Record<string, unknown> = {}, id?: string): StixObject {
  return { type, id: id ?? `${type}--${uuid()}`, ...props };
}

export interface ObservedOptions {
  /** first_observed; a number is seconds after BASE. Default: BASE. */
  first?: string | number;
  /** last_observed; a number is seconds after BASE. Default: first. */
  last?: string | number;
  /** number_observed. Default 1. */
  count?: number;
  id?: string;
}

function stamp(t: string | number): string {
  return typeof t === 'number' ? at(t) : t;
}

function envelope(opts: ObservedOptions): Omit<ObservedData, 'object_refs' | 'objects'> {
  const first = stamp(opts.first ?? 0);
  const last = stamp(opts.last ?? opts.first ?? 0);
  return {
    type: 'observed-data',
    spec_version: '2.1',
    id: opts.id ?? `observed-data--${uuid()}`,
    created: '2024-01-01T00:00:00.000Z',
    modified: '2024-01-01T00:00:00.000Z',
    first_observed: first,
    last_observed: last,
    number_observed: opts.count ?? 1,
  };
}

/**
 * A STIX 2.1 bundle: one observed-data whose object_refs list every given object (ids are
 * added where missing), followed by the objects themselves.
 */
export function observed21(
  objects: Array<Record<string, unknown>>,
  opts: ObservedOptions = {},
): Bundle & { observedData: ObservedData } {
  const withIds = objects.map((o) => (typeof o.id === 'string' ? (o as StixObject) : sco(String(o.type), o)));
  const observedData: ObservedData = {
    ...envelope(opts),
    object_refs: withIds.map((o) => o.id as string),
  } as ObservedData;
  const bundle = { type: 'bundle' as const, id: `bundle--${uuid()}`, objects: [observedData, ...withIds] };
  // Not enumerable: the bundle stays plain STIX JSON, tests can still reach the observed-data.
  Object.defineProperty(bundle, 'observedData', { value: observedData, enumerable: false });
  return bundle as Bundle & { observedData: ObservedData };
}

/** A STIX 2.0 observed-data with embedded objects keyed '0', '1', … (or by the given keys). */
export function observed20(
  objects: Array<Record<string, unknown>> | Record<string, Record<string, unknown>>,
  opts: ObservedOptions = {},
): ObservedData {
  const embedded: Record<string, StixObject> = {};
  if (Array.isArray(objects)) objects.forEach((o, i) => (embedded[String(i)] = o as StixObject));
  else for (const [k, o] of Object.entries(objects)) embedded[k] = o as StixObject;
  const { spec_version: _drop, ...rest } = envelope(opts) as Record<string, unknown>;
  return { ...rest, objects: embedded } as ObservedData;
}

/** Shorthand: a 2.1 bundle holding one SCO of `type` with `props`. */
export function one(
  type: string,
  props: Record<string, unknown>,
  opts: ObservedOptions = {},
): Bundle & { observedData: ObservedData } {
  return observed21([{ type, ...props }], opts);
}

/** The id of the observed-data of a bundle built by observed21. */
export function odId(bundle: { observedData: ObservedData }): string {
  return bundle.observedData.id as string;
}

/** Compiles `pattern` and matches it against `data`: the boolean result. */
export function matches(pattern: string, data: unknown, stixVersion: '2.0' | '2.1' = '2.1'): boolean {
  return compilePattern(pattern, { stixVersion }).match(data).matched;
}

/** Base64 of the given bytes. */
export function b64(bytes: number[]): string {
  return Buffer.from(bytes).toString('base64');
}

/**
 * Observed data as the evaluators read it: one prepared record per observed-data, with its
 * time interval in microseconds, its instance count, the objects it covers (its "roots"),
 * grouped by type, and the scope in which `_ref`/`_refs` resolve. Built once per event and
 * shared by every rule that evaluates it.
 */
import { InputError, type Diagnostic } from '../errors.js';
import type { ObservedData, StixObject } from '../stix/types.js';
import { parseStixTimestamp } from './literals.js';

export interface RootObject {
  /** The object's key: its id (2.1) or its key in `objects` (2.0). */
  key: string;
  object: StixObject;
}

export interface PreparedObservation {
  /** Position of this observed-data in the input. */
  index: number;
  id: string | undefined;
  observedData: ObservedData;
  /** Interval bounds in microseconds since the epoch. */
  firstObserved: number;
  lastObserved: number;
  numberObserved: number;
  roots: RootObject[];
  byType: Map<string, RootObject[]>;
  /** Resolves `_ref` values: ids (2.1) or `objects` keys (2.0), only within this observed-data. */
  resolve(ref: string): StixObject | undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string, index: number, code = 'bad-observed-data'): InputError {
  const diagnostic: Diagnostic = { severity: 'error', code, message, eventIndex: index };
  return new InputError(code, `observed-data ${index}: ${message}`, [diagnostic]);
}

function scopeOf(roots: RootObject[]): (ref: string) => StixObject | undefined {
  const scope = new Map(roots.map((r) => [r.key, r.object]));
  return (ref) => scope.get(ref);
}

/**
 * Prepares one observed-data. `lookup` finds SCOs by id for 2.1 `object_refs`.
 * Throws InputError for data that is not usable observed-data.
 */
export function prepareObservedData(
  sdo: Record<string, unknown>,
  index: number,
  lookup: (id: string) => StixObject | undefined,
): PreparedObservation {
  const first = typeof sdo.first_observed === 'string' ? parseStixTimestamp(sdo.first_observed) : undefined;
  const last = typeof sdo.last_observed === 'string' ? parseStixTimestamp(sdo.last_observed) : undefined;
  if (first === undefined) throw invalid(`first_observed ${JSON.stringify(sdo.first_observed)} is not a STIX timestamp`, index, 'bad-timestamp');
  if (last === undefined) throw invalid(`last_observed ${JSON.stringify(sdo.last_observed)} is not a STIX timestamp`, index, 'bad-timestamp');
  if (last < first) throw invalid('last_observed is before first_observed', index, 'bad-interval');
  const count = sdo.number_observed;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) {
    throw invalid(`number_observed must be a whole number of at least 1, got ${JSON.stringify(count)}`, index, 'bad-number-observed');
  }
  // Some 2.1 producers leave an empty `objects` beside `object_refs`; only a non-empty one clashes.
  const embedded = isRecord(sdo.objects) && Object.keys(sdo.objects).length === 0 && sdo.object_refs !== undefined ? undefined : sdo.objects;
  const refs = sdo.object_refs;
  if (embedded !== undefined && refs !== undefined) {
    throw invalid('has both objects (STIX 2.0) and object_refs (STIX 2.1); use one', index, 'objects-and-object-refs');
  }
  const roots: RootObject[] = [];
  let resolve: (ref: string) => StixObject | undefined;
  if (isRecord(embedded)) {
    for (const [key, object] of Object.entries(embedded)) {
      if (isRecord(object)) roots.push({ key, object: object as StixObject });
    }
    resolve = (ref) => {
      const object = embedded[ref];
      return isRecord(object) ? (object as StixObject) : undefined;
    };
  } else if (Array.isArray(refs)) {
    for (const ref of refs) {
      if (typeof ref !== 'string') continue;
      const object = lookup(ref);
      if (object && !roots.some((r) => r.key === ref)) roots.push({ key: ref, object });
    }
    // References resolve only to this observed-data's own objects. An event references a
    // handful, so a scan of its list costs less than building a map per event.
    resolve = refs.length <= 16 ? (ref) => (refs.includes(ref) ? lookup(ref) : undefined) : scopeOf(roots);
  } else {
    throw invalid('has neither objects (STIX 2.0) nor object_refs (STIX 2.1)', index, 'no-objects');
  }
  const byType = new Map<string, RootObject[]>();
  for (const root of roots) {
    const type = root.object.type;
    if (typeof type !== 'string') continue;
    const list = byType.get(type);
    if (list) list.push(root);
    else byType.set(type, [root]);
  }
  return {
    index,
    id: typeof sdo.id === 'string' ? sdo.id : undefined,
    observedData: sdo as ObservedData,
    firstObserved: first,
    lastObserved: last,
    numberObserved: count,
    roots,
    byType,
    resolve,
  };
}

/**
 * Prepares the input of the batch matcher: a STIX 2.0 observed-data with embedded `objects`, a
 * 2.1 bundle, a 2.1 observed-data with `object_refs` and its SCOs, or an array of any of these.
 * Observed-data keep their input order (bundles expanded in place).
 */
export function prepareObservations(input: unknown): PreparedObservation[] {
  const items = Array.isArray(input) ? input : [input];
  const observedData: Record<string, unknown>[] = [];
  const byId = new Map<string, StixObject>();
  const collect = (item: unknown): void => {
    if (!isRecord(item)) return;
    if (item.type === 'bundle') {
      if (Array.isArray(item.objects)) for (const inner of item.objects) collect(inner);
      return;
    }
    // STIX 2.0 producers (and the 2.0 reference suite) also send observation containers under
    // other type names: what makes an observation is its interval and objects.
    if (item.type === 'observed-data' || ('first_observed' in item && isRecord(item.objects))) observedData.push(item);
    else if (typeof item.id === 'string' && typeof item.type === 'string') byId.set(item.id, item as StixObject);
  };
  items.forEach((item, i) => {
    if (!isRecord(item)) throw invalid(`input item is ${item === null ? 'null' : typeof item}, not a STIX object`, i, 'not-an-object');
    collect(item);
  });
  return observedData.map((sdo, i) => prepareObservedData(sdo, i, (id) => byId.get(id)));
}

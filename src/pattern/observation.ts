/**
 * Observed data as the evaluators read it: one prepared record per observed-data, with its
 * time interval in microseconds, its instance count, the objects it covers (its "roots"),
 * grouped by type, and the scope in which `_ref`/`_refs` resolve. Built once per event and
 * shared by every rule that evaluates it.
 */
import { InputError, type Diagnostic } from '../errors.js';
import type { ObservedData, StixObject } from '../stix/types.js';
import { parseStixTimestamp } from './literals.js';
import { PathValueCache, type PathTable, type PathTree } from './path-table.js';

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
  /** The distinct root object types, in first-seen order; `rootsOfType[i]` holds those of `types[i]`. */
  types: string[];
  rootsOfType: RootObject[][];
  /** The root objects of one type, if any. */
  objectsOfType(type: string): RootObject[] | undefined;
  /** Resolves `_ref` values: ids (2.1) or `objects` keys (2.0), only within this observed-data. */
  resolve(ref: string): StixObject | undefined;
  /**
   * LIKE / MATCHES comparisons that saw this event's value cut to its first
   * MAX_SEARCHED_LENGTH characters (./evaluate.ts), counted as they run.
   */
  valuesCut?: number;
  /**
   * The values of one of its objects at every path of `tree` (./path-table.ts), read once and
   * kept for the other comparisons and the rule index. Absent from hand-made observations,
   * whose objects may change between reads: their paths are walked each time.
   */
  pathTable?(object: object, tree: PathTree): PathTable;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string, index: number, code = 'bad-observed-data'): InputError {
  const diagnostic: Diagnostic = { severity: 'error', code, message, eventIndex: index };
  return new InputError(code, `observed-data ${index}: ${message}`, [diagnostic]);
}

/** Above this many roots, references resolve through a map (built on first use), not a scan. */
const SCAN_LIMIT = 16;

/**
 * One prepared observed-data. A class, so that the per-event work is filling a few fields:
 * its methods are shared, and an event of a handful of objects needs no map of its own.
 */
class Observation implements PreparedObservation {
  readonly types: string[];
  readonly rootsOfType: RootObject[][];
  valuesCut = 0;
  private scope: Map<string, StixObject> | undefined;
  /** Created on the first read: an event no rule reads (the kinds without rules) needs none. */
  private pathCache: PathValueCache | undefined;

  constructor(
    readonly index: number,
    readonly id: string | undefined,
    readonly observedData: ObservedData,
    readonly firstObserved: number,
    readonly lastObserved: number,
    readonly numberObserved: number,
    readonly roots: RootObject[],
    /** STIX 2.0: the embedded `objects`, which `_ref` values key into. */
    private readonly embedded: Record<string, unknown> | undefined,
  ) {
    // Sized up front: arrays grown by push reserve room for 17, and this runs for every event.
    const types = new Array<string>(roots.length);
    const rootsOfType = new Array<RootObject[]>(roots.length);
    let distinct = 0;
    for (const root of roots) {
      const type = root.object.type;
      if (typeof type !== 'string') continue;
      let at = 0;
      while (at < distinct && types[at] !== type) at++;
      if (at < distinct) (rootsOfType[at] as RootObject[]).push(root);
      else {
        types[distinct] = type;
        rootsOfType[distinct++] = [root];
      }
    }
    // Cutting the length is a runtime call: only when some roots shared a type.
    if (distinct < roots.length) {
      types.length = distinct;
      rootsOfType.length = distinct;
    }
    this.types = types;
    this.rootsOfType = rootsOfType;
  }

  objectsOfType(type: string): RootObject[] | undefined {
    const at = this.types.indexOf(type);
    return at >= 0 ? this.rootsOfType[at] : undefined;
  }

  pathTable(object: object, tree: PathTree): PathTable {
    return (this.pathCache ??= new PathValueCache((ref) => this.resolve(ref))).tableOf(object, tree);
  }

  resolve(ref: string): StixObject | undefined {
    if (this.embedded !== undefined) {
      const object = this.embedded[ref];
      return isRecord(object) ? (object as StixObject) : undefined;
    }
    // References resolve only to this observed-data's own objects (its object_refs, which
    // are its roots). An event references a handful, so a scan costs less than a map.
    const roots = this.roots;
    if (roots.length <= SCAN_LIMIT) {
      for (let i = 0; i < roots.length; i++)
        if ((roots[i] as RootObject).key === ref) return (roots[i] as RootObject).object;
      return undefined;
    }
    this.scope ??= new Map(roots.map((r) => [r.key, r.object]));
    return this.scope.get(ref);
  }
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
  // Most events are one instant (normalised events always are): the same text need not be read twice.
  const last =
    typeof sdo.last_observed === 'string'
      ? sdo.last_observed === sdo.first_observed
        ? first
        : parseStixTimestamp(sdo.last_observed)
      : undefined;
  if (first === undefined)
    throw invalid(
      `first_observed ${JSON.stringify(sdo.first_observed)} is not a STIX timestamp`,
      index,
      'bad-timestamp',
    );
  if (last === undefined)
    throw invalid(`last_observed ${JSON.stringify(sdo.last_observed)} is not a STIX timestamp`, index, 'bad-timestamp');
  if (last < first) throw invalid('last_observed is before first_observed', index, 'bad-interval');
  const count = sdo.number_observed;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) {
    throw invalid(
      `number_observed must be a whole number of at least 1, got ${JSON.stringify(count)}`,
      index,
      'bad-number-observed',
    );
  }
  // Some 2.1 producers leave an empty `objects` beside `object_refs`; only a non-empty one clashes.
  const embedded =
    isRecord(sdo.objects) && Object.keys(sdo.objects).length === 0 && sdo.object_refs !== undefined
      ? undefined
      : sdo.objects;
  const refs = sdo.object_refs;
  if (embedded !== undefined && refs !== undefined) {
    throw invalid('has both objects (STIX 2.0) and object_refs (STIX 2.1); use one', index, 'objects-and-object-refs');
  }
  let roots: RootObject[] = [];
  if (isRecord(embedded)) {
    for (const [key, object] of Object.entries(embedded)) {
      if (isRecord(object)) roots.push({ key, object: object as StixObject });
    }
  } else if (Array.isArray(refs)) {
    roots = new Array<RootObject>(refs.length); // sized up front, trimmed below
    let found = 0;
    for (const ref of refs) {
      if (typeof ref !== 'string') continue;
      const object = lookup(ref);
      if (object === undefined) continue;
      let repeated = false;
      for (let i = 0; i < found && !repeated; i++) repeated = (roots[i] as RootObject).key === ref;
      if (!repeated) roots[found++] = { key: ref, object };
    }
    if (found < roots.length) roots.length = found;
  } else {
    throw invalid('has neither objects (STIX 2.0) nor object_refs (STIX 2.1)', index, 'no-objects');
  }
  return new Observation(
    index,
    typeof sdo.id === 'string' ? sdo.id : undefined,
    sdo as ObservedData,
    first,
    last,
    count,
    roots,
    isRecord(embedded) ? embedded : undefined,
  );
}

/**
 * Prepares the input of the batch matcher: a STIX 2.0 observed-data with embedded `objects`, a
 * 2.1 bundle, a 2.1 observed-data with `object_refs` and its SCOs, or an array of any of these.
 * Observed-data keep their input order (bundles expanded in place).
 */
export function prepareObservations(input: unknown): PreparedObservation[] {
  const items = Array.isArray(input) ? input : [input];
  items.forEach((item, i) => {
    if (!isRecord(item))
      throw invalid(`input item is ${item === null ? 'null' : typeof item}, not a STIX object`, i, 'not-an-object');
  });
  // A reference resolves among the objects listed beside its observed-data (its bundle, or
  // the top-level items), then anywhere in the input, through a map built only if needed.
  let everywhere: Map<string, StixObject> | undefined;
  const anywhere = (id: string): StixObject | undefined => {
    if (everywhere === undefined) {
      const all = new Map<string, StixObject>();
      const gather = (list: readonly unknown[]): void => {
        for (const item of list) {
          if (!isRecord(item)) continue;
          if (item.type === 'bundle') {
            if (Array.isArray(item.objects)) gather(item.objects);
          } else if (isReferable(item)) all.set(item.id as string, item as StixObject);
        }
      };
      gather(items);
      everywhere = all;
    }
    return everywhere.get(id);
  };
  const prepared: PreparedObservation[] = [];
  // Bundles are prepared as they are met, so observed-data keep their input order; one scope
  // serves every top-level bundle in turn, as each is done before the next begins.
  const topScope = new ReferenceScope(anywhere).reset(items);
  const bundleScope = new ReferenceScope(anywhere);
  const walk = (list: readonly unknown[], scope: ReferenceScope): void => {
    for (const item of list) {
      if (!isRecord(item)) continue;
      if (item.type === 'bundle') {
        if (!Array.isArray(item.objects)) continue;
        const inner = scope === topScope ? bundleScope : new ReferenceScope(anywhere);
        inner.reset(item.objects);
        walk(item.objects, inner);
      } else if (isObservationContainer(item)) {
        prepared.push(prepareObservedData(item, prepared.length, scope.find));
      }
    }
  };
  walk(items, topScope);
  return prepared;
}

const NOWHERE = (): undefined => undefined;

/**
 * Prepares one normalised event: its observed-data, whose references resolve among `objects`
 * (its SCOs) only. Throws InputError for data that is not usable observed-data.
 */
export function prepareEvent(
  observedData: Record<string, unknown>,
  objects: readonly unknown[],
  index: number,
): PreparedObservation {
  return prepareObservedData(observedData, index, new ReferenceScope(NOWHERE).reset(objects).find);
}

/**
 * What makes an observation: an observed-data, or (as STIX 2.0 producers and the 2.0
 * reference suite also send) any object with an interval and embedded objects.
 */
function isObservationContainer(item: Record<string, unknown>): boolean {
  return item.type === 'observed-data' || (item.first_observed !== undefined && isRecord(item.objects));
}

/** An object a reference may point at: it has an id and a type and is not an observation. */
function isReferable(item: Record<string, unknown>): boolean {
  return (
    typeof item.id === 'string' &&
    typeof item.type === 'string' &&
    item.type !== 'bundle' &&
    !isObservationContainer(item)
  );
}

/** The objects listed beside an observed-data (a bundle's, or the top-level items), by id. */
class ReferenceScope {
  private objects: readonly unknown[] = [];
  private byId: Map<string, StixObject> | undefined;

  constructor(private readonly anywhere: (id: string) => StixObject | undefined) {}

  reset(objects: readonly unknown[]): this {
    this.objects = objects;
    this.byId = undefined;
    return this;
  }

  readonly find = (id: string): StixObject | undefined => {
    const objects = this.objects;
    if (objects.length <= SCAN_LIMIT) {
      // From the end, as the map below: an id given twice resolves to its last object.
      for (let i = objects.length - 1; i >= 0; i--) {
        const object = objects[i];
        if (isRecord(object) && object.id === id && isReferable(object)) return object as StixObject;
      }
    } else {
      if (this.byId === undefined) {
        this.byId = new Map();
        for (const object of objects)
          if (isRecord(object) && isReferable(object)) this.byId.set(object.id as string, object as StixObject);
      }
      const found = this.byId.get(id);
      if (found !== undefined) return found;
    }
    return this.anywhere(id);
  };
}

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
  /** The distinct root object types, in first-seen order; `rootsOfType[i]` holds those of `types[i]`. */
  types: string[];
  rootsOfType: RootObject[][];
  /** The root objects of one type, if any. */
  objectsOfType(type: string): RootObject[] | undefined;
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

/** Above this many roots, references resolve through a map (built on first use), not a scan. */
const SCAN_LIMIT = 16;

/**
 * One prepared observed-data. A class, so that the per-event work is filling a few fields:
 * its methods are shared, and an event of a handful of objects needs no map of its own.
 */
class Observation implements PreparedObservation {
  readonly types: string[] = [];
  readonly rootsOfType: RootObject[][] = [];
  private scope: Map<string, StixObject> | undefined;

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
    for (const root of roots) {
      const type = root.object.type;
      if (typeof type !== 'string') continue;
      const at = this.types.indexOf(type);
      if (at >= 0) (this.rootsOfType[at] as RootObject[]).push(root);
      else {
        this.types.push(type);
        this.rootsOfType.push([root]);
      }
    }
  }

  objectsOfType(type: string): RootObject[] | undefined {
    const at = this.types.indexOf(type);
    return at >= 0 ? this.rootsOfType[at] : undefined;
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
      for (let i = 0; i < roots.length; i++) if ((roots[i] as RootObject).key === ref) return (roots[i] as RootObject).object;
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
  if (isRecord(embedded)) {
    for (const [key, object] of Object.entries(embedded)) {
      if (isRecord(object)) roots.push({ key, object: object as StixObject });
    }
  } else if (Array.isArray(refs)) {
    for (const ref of refs) {
      if (typeof ref !== 'string') continue;
      const object = lookup(ref);
      if (object === undefined) continue;
      let repeated = false;
      for (let i = 0; i < roots.length && !repeated; i++) repeated = (roots[i] as RootObject).key === ref;
      if (!repeated) roots.push({ key: ref, object });
    }
  } else {
    throw invalid('has neither objects (STIX 2.0) nor object_refs (STIX 2.1)', index, 'no-objects');
  }
  return new Observation(index, typeof sdo.id === 'string' ? sdo.id : undefined, sdo as ObservedData, first, last, count, roots, isRecord(embedded) ? embedded : undefined);
}

/**
 * Prepares the input of the batch matcher: a STIX 2.0 observed-data with embedded `objects`, a
 * 2.1 bundle, a 2.1 observed-data with `object_refs` and its SCOs, or an array of any of these.
 * Observed-data keep their input order (bundles expanded in place).
 */
export function prepareObservations(input: unknown): PreparedObservation[] {
  const items = Array.isArray(input) ? input : [input];
  // Objects are grouped as they arrive: each bundle is a group, and the top-level items
  // outside bundles are one. A reference resolves in its own group first (a bundle holds an
  // event's observed-data with its SCOs), then anywhere in the input, through a map built
  // only if some reference needs it.
  type Group = { observedData: Record<string, unknown>[]; positions: number[]; objects: StixObject[] };
  const newGroup = (): Group => ({ observedData: [], positions: [], objects: [] });
  const top = newGroup();
  const groups: Group[] = [top];
  let seen = 0;
  const collect = (item: unknown, group: Group): void => {
    if (!isRecord(item)) return;
    const type = item.type;
    if (type === 'bundle') {
      if (!Array.isArray(item.objects)) return;
      const inner = newGroup();
      groups.push(inner);
      for (const object of item.objects) collect(object, inner);
      return;
    }
    // STIX 2.0 producers (and the 2.0 reference suite) also send observation containers under
    // other type names: what makes an observation is its interval and objects.
    if (type === 'observed-data' || (item.first_observed !== undefined && isRecord(item.objects))) {
      group.observedData.push(item);
      group.positions.push(seen++);
    } else if (typeof item.id === 'string' && typeof type === 'string') group.objects.push(item as StixObject);
  };
  items.forEach((item, i) => {
    if (!isRecord(item)) throw invalid(`input item is ${item === null ? 'null' : typeof item}, not a STIX object`, i, 'not-an-object');
    collect(item, top);
  });
  let everywhere: Map<string, StixObject> | undefined;
  const anywhere = (id: string): StixObject | undefined => {
    if (everywhere === undefined) {
      everywhere = new Map();
      for (const group of groups) for (const object of group.objects) everywhere.set(object.id as string, object);
    }
    return everywhere.get(id);
  };
  // Observed-data keep their input order (bundles expanded in place): each is placed at the
  // position it was seen at.
  const prepared = new Array<PreparedObservation>(seen);
  for (const group of groups) {
    const local = group.objects;
    let localMap: Map<string, StixObject> | undefined;
    // Producers list object_refs in the order of the objects: the object after the last one
    // found is tried first.
    let cursor = 0;
    const lookup = (id: string): StixObject | undefined => {
      if (local.length <= SCAN_LIMIT) {
        const next = local[cursor];
        if (next !== undefined && next.id === id) {
          cursor++;
          return next;
        }
        for (let i = 0; i < local.length; i++) {
          if ((local[i] as StixObject).id === id) {
            cursor = i + 1;
            return local[i];
          }
        }
      } else {
        localMap ??= new Map(local.map((o) => [o.id as string, o]));
        const found = localMap.get(id);
        if (found !== undefined) return found;
      }
      return anywhere(id);
    };
    group.observedData.forEach((sdo, k) => {
      const index = group.positions[k] as number;
      prepared[index] = prepareObservedData(sdo, index, lookup);
    });
  }
  return prepared;
}

/**
 * Reading source fields by dotted path, where the event may nest objects (`{"process": {"name": …}}`), use dotted
 * keys (`{"process.name": …}`) or mix both. Used for format detection and `when` conditions; the main mapping pass
 * walks the event instead (see compiler.ts).
 */

export type JsonRecord = Record<string, unknown>;

export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export type FieldGetter = (event: JsonRecord) => unknown;

/** Compiles a dotted path into a getter that tries every split of the path into nested and dotted keys. */
/** The value under `key`, else under a key equal to it ignoring case. */
function caseless(node: JsonRecord, key: string): unknown {
  const exact = node[key];
  if (exact !== undefined) return exact;
  const wanted = key.toLowerCase();
  // Lower-casing never shortens a text (İ is the one character it lengthens), so a longer key cannot match:
  // this runs for every event (entra-id's detection), and most keys are dismissed without a new string.
  const longest = wanted.length;
  for (const k in node) if (k.length <= longest && k.toLowerCase() === wanted) return node[k];
  return undefined;
}

/** How a mapping reads fields: case-insensitively or not, and other places a field may be found (`aliases`). */
export interface ReadOptions {
  caseInsensitive?: boolean;
  aliases?: Readonly<Record<string, readonly string[]>>;
  /** Paths read like the top level (`Event.EventData`): a field is also looked for below each. */
  roots?: readonly string[];
}

/** A getter for a field and its aliases: the first scalar found wins, else the first value found. */
export function compileFieldGetter(path: string, options: ReadOptions = {}): FieldGetter {
  const places = [path, ...(options.aliases?.[path] ?? [])];
  for (const root of options.roots ?? []) if (!root.endsWith('*')) places.push(`${root}.${path}`);
  const getters = places.map((p) => compileGetter(p, options.caseInsensitive === true));
  if (getters.length === 1) return getters[0] as FieldGetter;
  return (event) => {
    let first: unknown;
    for (const get of getters) {
      const value = get(event);
      if (value === undefined || value === null) continue;
      if (typeof value !== 'object') return value;
      first ??= value;
    }
    return first;
  };
}

function compileGetter(path: string, caseInsensitive = false): FieldGetter {
  const segments = path.split('.');
  const count = segments.length;
  const read = caseInsensitive ? caseless : (node: JsonRecord, key: string): unknown => node[key];
  if (count === 1) return caseInsensitive ? (event) => caseless(event, path) : (event) => event[path];
  // joined[i][j]: segments i..j joined with dots, precomputed so the getter does not build strings.
  const joined: string[][] = [];
  for (let i = 0; i < count; i++) {
    const row: string[] = [];
    for (let j = i; j < count; j++) row[j] = segments.slice(i, j + 1).join('.');
    joined.push(row);
  }
  const from = (node: JsonRecord, i: number): unknown => {
    const row = joined[i] as string[];
    // Shortest key first: nested objects are the common shape.
    for (let j = i; j < count; j++) {
      const value = read(node, row[j] as string);
      if (value === undefined) continue;
      if (j === count - 1) return value;
      if (isRecord(value)) {
        const found = from(value, j + 1);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  };
  return (event) => from(event, 0);
}

export type Condition =
  | { present: string }
  | { absent: string }
  | { equals: { field: string; value: string | number | boolean } }
  | { in: { field: string; values: (string | number | boolean)[] } }
  | { is: { field: string; type: 'string' | 'number' | 'boolean' | 'object' | 'array' } };

export type Predicate = (event: JsonRecord) => boolean;

export function compileCondition(condition: Condition, options: ReadOptions = {}): Predicate {
  const compileGetter = (path: string): FieldGetter => compileFieldGetter(path, options);
  if ('present' in condition) {
    const get = compileGetter(condition.present);
    return (event) => {
      const v = get(event);
      return v !== undefined && v !== null;
    };
  }
  if ('absent' in condition) {
    const get = compileGetter(condition.absent);
    return (event) => {
      const v = get(event);
      return v === undefined || v === null;
    };
  }
  if ('equals' in condition) {
    const get = compileGetter(condition.equals.field);
    const expected = condition.equals.value;
    // Numbers and their decimal text are the same value here: sources write event ids either way ("4688", 4688).
    const text = typeof expected === 'number' ? String(expected) : undefined;
    return (event) => {
      const v = get(event);
      return (
        v === expected ||
        (text !== undefined && v === text) ||
        (typeof v === 'number' && typeof expected === 'string' && String(v) === expected)
      );
    };
  }
  if ('in' in condition) {
    const get = compileGetter(condition.in.field);
    const allowed = new Set<unknown>(condition.in.values);
    for (const v of condition.in.values) allowed.add(typeof v === 'number' ? String(v) : v);
    return (event) => {
      const v = get(event);
      return allowed.has(v) || (typeof v === 'number' && allowed.has(String(v)));
    };
  }
  const get = compileGetter(condition.is.field);
  switch (condition.is.type) {
    case 'object':
      return (event) => isRecord(get(event));
    case 'array':
      return (event) => Array.isArray(get(event));
    default: {
      const type = condition.is.type;
      return (event) => typeof get(event) === type;
    }
  }
}

export interface DetectSpec {
  all?: Condition[];
  any?: Condition[];
  none?: Condition[];
  /** At least this many `any` conditions must hold (default 1): one generic field is not enough for loose formats. */
  min?: number;
  /** Added to the score, so that a mapping for one source outranks generic schema mappings (ecs, flat). */
  weight?: number;
}

/** The field a condition reads. */
function conditionField(condition: Condition): string {
  if ('present' in condition) return condition.present;
  if ('absent' in condition) return condition.absent;
  if ('equals' in condition) return condition.equals.field;
  if ('in' in condition) return condition.in.field;
  return condition.is.field;
}

/** Whether an event fits a mapping's `detect`, and how specifically. */
export interface CompiledDetect {
  /**
   * -1: the mapping does not fit; otherwise the number of conditions that hold (`all` and `any`). `opened`: which
   * gates the event opens, when the caller has found out already (the detection prefilter).
   */
  score(event: JsonRecord, opened?: GateState): number;
  /** How close an event that does not fit came: the share of conditions that hold and what is missing. */
  explain(event: JsonRecord): { share: number; missing: string[] };
  /** The top-level keys each condition needs one of (undefined: no gate), for scoring many mappings at once. */
  gates?: DetectGates;
  /**
   * The highest score `score` can return (every `all` and `any` condition holding, plus the weight), so that a
   * caller looking for the best mapping can leave unscored those that cannot reach the best score found.
   */
  maxScore?: number;
}

/** Per `all` and `any` condition (in order), 1 when the event has one of its gate's keys or it has no gate. */
export interface GateState {
  all: Uint8Array;
  any: Uint8Array;
}

/** Per `all` and `any` condition, the top-level keys of which one must be there for it to hold (see conditionGate). */
export interface DetectGates {
  all: readonly (readonly string[] | undefined)[];
  any: readonly (readonly string[] | undefined)[];
  /** How many `any` conditions must hold. */
  min: number;
}

export function compileDetect(spec: DetectSpec, options: ReadOptions = {}): Predicate & CompiledDetect {
  const compileCondition = (condition: Condition): Predicate => compileConditionWithCase(condition, options);
  const allConditions = spec.all ?? [];
  const anyConditions = spec.any ?? [];
  const noneConditions = spec.none ?? [];
  const all = allConditions.map(compileCondition);
  const any = anyConditions.map(compileCondition);
  const none = noneConditions.map(compileCondition);
  const min = any.length === 0 ? 0 : Math.min(spec.min ?? 1, any.length);
  const weight = spec.weight ?? 0;
  // Cheap gates before the getters (every mapping is scored for every event): a condition that needs a field can
  // only hold when one of the top-level keys its field may be found under is there, so conditions whose keys are
  // all absent are known false (or, for `absent`, true) without reading, and a mapping whose `all` or `min` cannot
  // be met is dismissed after a few property lookups.
  const allGates = allConditions.map((c) => conditionGate(c, options));
  const anyGates = anyConditions.map((c) => conditionGate(c, options));
  const noneGates = noneConditions.map((c) => conditionGate(c, options));
  const open = (event: JsonRecord, keys: readonly string[] | undefined): boolean => {
    if (keys === undefined) return true;
    for (let i = 0; i < keys.length; i++) if (event[keys[i] as string] !== undefined) return true;
    return false;
  };
  const anyOpen = new Array<boolean>(any.length).fill(false);
  const score = (event: JsonRecord, opened?: GateState): number => {
    let reachable = 0;
    if (opened === undefined) {
      for (let i = 0; i < all.length; i++) if (!open(event, allGates[i])) return -1;
      for (let i = 0; i < any.length; i++) {
        const isOpen = open(event, anyGates[i]);
        anyOpen[i] = isOpen;
        if (isOpen) reachable++;
      }
    } else {
      const allOpened = opened.all;
      const anyOpened = opened.any;
      for (let i = 0; i < all.length; i++) if (allOpened[i] === 0) return -1;
      for (let i = 0; i < any.length; i++) {
        const isOpen = anyOpened[i] === 1;
        anyOpen[i] = isOpen;
        if (isOpen) reachable++;
      }
    }
    if (reachable < min) return -1;
    for (let i = 0; i < all.length; i++) if (!(all[i] as Predicate)(event)) return -1;
    for (let i = 0; i < none.length; i++) if (open(event, noneGates[i]) && (none[i] as Predicate)(event)) return -1;
    let held = 0;
    for (let i = 0; i < any.length; i++) if (anyOpen[i] === true && (any[i] as Predicate)(event)) held++;
    return held < min ? -1 : all.length + held + weight;
  };
  const positiveCount = allConditions.filter((c) => !('absent' in c)).length;
  /** Whether any positive condition can hold, by its gate. */
  const reachable = (event: JsonRecord): boolean => {
    for (let i = 0; i < all.length; i++)
      if (!('absent' in (allConditions[i] as Condition)) && open(event, allGates[i])) return true;
    for (let i = 0; i < any.length; i++) if (open(event, anyGates[i])) return true;
    return false;
  };
  const explain = (event: JsonRecord): { share: number; missing: string[] } => {
    // Closeness counts what the event has, not what it lacks: `absent` and `none` conditions that hold say nothing.
    // So an event with none of the top-level keys of any positive condition comes nowhere near (an unrecognised
    // event is explained against every mapping: this keeps a body of junk lines cheap).
    if (positiveCount + min > 0 && !reachable(event)) return { share: 0, missing: [] };
    const missing: string[] = [];
    let held = 0;
    let positive = 0;
    allConditions.forEach((condition, i) => {
      const holds = (all[i] as Predicate)(event);
      if (!('absent' in condition)) positive++;
      if (!holds) missing.push('absent' in condition ? `no ${condition.absent}` : conditionField(condition));
      else if (!('absent' in condition)) held++;
    });
    none.forEach((p, i) => {
      if (p(event)) missing.push(`no ${conditionField(noneConditions[i] as Condition)}`);
    });
    let anyHeld = 0;
    any.forEach((p) => (p(event) ? anyHeld++ : undefined));
    held += Math.min(anyHeld, min);
    if (anyHeld < min) {
      const absent = anyConditions.filter((_, i) => !(any[i] as Predicate)(event)).map(conditionField);
      missing.push(
        min - anyHeld === 1
          ? `one of ${absent.slice(0, 4).join(', ')}${absent.length > 4 ? ', …' : ''}`
          : `${min - anyHeld} more of ${absent.slice(0, 4).join(', ')}${absent.length > 4 ? ', …' : ''}`,
      );
    }
    const total = positive + min;
    return { share: total === 0 ? 1 : held / total, missing };
  };
  const predicate = ((event: JsonRecord) => score(event) >= 0) as Predicate & CompiledDetect;
  predicate.score = score;
  predicate.explain = explain;
  predicate.gates = { all: allGates, any: anyGates, min };
  predicate.maxScore = all.length + any.length + weight;
  return predicate;
}

const compileConditionWithCase = compileCondition;

/**
 * Top-level keys under which the field of a condition that needs its field (not `absent`) may be found, or
 * undefined: no gate (`absent` conditions, case-insensitive mappings, roots that may be anywhere).
 */
function conditionGate(condition: Condition, options: ReadOptions): string[] | undefined {
  if (options.caseInsensitive === true || 'absent' in condition) return undefined;
  const field = conditionField(condition);
  const places = [field, ...(options.aliases?.[field] ?? [])];
  for (const root of options.roots ?? []) {
    // A field getter does not look below roots ending in `*` (compileFieldGetter), so neither does its gate.
    if (root.endsWith('*')) continue;
    if (root.startsWith('*')) return undefined;
    places.push(`${root}.${field}`);
  }
  // Dotted keys ("id.orig_h" as one key) start with the same first segment's text, so the first segment or the
  // whole dotted path may be the top-level key.
  const keys = new Set<string>();
  for (const place of places) {
    const segments = place.split('.');
    for (let i = 1; i <= segments.length; i++) keys.add(segments.slice(0, i).join('.'));
  }
  return [...keys];
}

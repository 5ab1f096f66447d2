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
export function compileGetter(path: string): FieldGetter {
  const segments = path.split('.');
  const count = segments.length;
  if (count === 1) return (event) => event[path];
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
      const value = node[row[j] as string];
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

export function compileCondition(condition: Condition): Predicate {
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
    return (event) => get(event) === expected;
  }
  if ('in' in condition) {
    const get = compileGetter(condition.in.field);
    const allowed = new Set<unknown>(condition.in.values);
    return (event) => allowed.has(get(event));
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
}

export function compileDetect(spec: DetectSpec): Predicate {
  const all = (spec.all ?? []).map(compileCondition);
  const any = (spec.any ?? []).map(compileCondition);
  const none = (spec.none ?? []).map(compileCondition);
  return (event) => {
    for (const p of all) if (!p(event)) return false;
    for (const p of none) if (p(event)) return false;
    if (any.length === 0) return true;
    for (const p of any) if (p(event)) return true;
    return false;
  };
}

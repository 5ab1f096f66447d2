/** Group keys: the values of a rule's group_by paths in an event, joined into one key. */
import type { ObjectPath } from '../pattern/ast.js';
import { compilePath } from '../pattern/evaluate.js';
import type { PreparedObservation } from '../pattern/observation.js';
import { parsePattern } from '../pattern/parse.js';

const parsedPaths = new Map<string, ObjectPath | string>();

/** Parses `type:path` text into an object path, or returns an error message. Memoised: rules
 * share a handful of group_by paths, and each parse costs a trip through the pattern parser. */
export function parseObjectPath(text: string): ObjectPath | string {
  let parsed = parsedPaths.get(text);
  if (parsed === undefined) {
    parsed = parseObjectPathUncached(text);
    if (parsedPaths.size < 10_000) parsedPaths.set(text, parsed);
  }
  return parsed;
}

function parseObjectPathUncached(text: string): ObjectPath | string {
  const parsed = parsePattern(`[EXISTS ${text}]`);
  const root = parsed.ast?.root;
  if (!root || root.kind !== 'observation' || root.comparison.kind !== 'exists') {
    return parsed.diagnostics[0]?.message ?? `'${text}' is not an object path`;
  }
  return root.comparison.path;
}

export type GroupKeyFunction = (observation: PreparedObservation) => string;

/** Events that lack a group-by value fall in this group, so that they are still correlated (and visible). */
export const MISSING_GROUP_VALUE = '∅';

export function compileGroupKey(paths: ObjectPath[]): GroupKeyFunction {
  if (paths.length === 0) return () => '';
  const readers = paths.map((path) => {
    const walk = compilePath(path.steps);
    return (observation: PreparedObservation): string => {
      let found: unknown;
      for (const root of observation.objectsOfType(path.objectType) ?? []) {
        walk(root.object, observation, (v) => {
          if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
            found = v;
            return true;
          }
          return false;
        });
        if (found !== undefined) break;
      }
      return found === undefined ? MISSING_GROUP_VALUE : String(found);
    };
  });
  return (observation) => JSON.stringify(readers.map((read) => read(observation)));
}

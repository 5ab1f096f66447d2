/** Object paths (`type:property.path`) written outside a pattern, as rules' group_by are. */
import type { ObjectPath } from './ast.js';
import { parsePattern } from './parse.js';

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

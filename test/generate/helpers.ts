import { compilePattern, type CompiledPattern } from '../../src/pattern/compile.js';
import type { Bundle, StixObject } from '../../src/stix/types.js';
import { generateEvents } from '../../src/generate/index.js';

export function matches(pattern: string | CompiledPattern, events: Bundle[] | Bundle): boolean {
  const p = typeof pattern === 'string' ? compilePattern(pattern) : pattern;
  return p.match(events).matched;
}

/** The root SCOs (the first object_ref of each observed-data) of a set, in order. */
export function roots(set: Bundle[]): StixObject[] {
  return set.map((b) => {
    const od = b.objects[0] as unknown as { object_refs: string[] };
    return b.objects.find((o) => o.id === od.object_refs[0]) as StixObject;
  });
}

export function objectById(set: Bundle[], id: unknown): StixObject | undefined {
  for (const b of set) for (const o of b.objects) if (o.id === id) return o;
  return undefined;
}

/** One generated set's first root object. */
export function firstRoot(pattern: string, seed = 1): StixObject {
  const [set] = generateEvents(pattern, { seed });
  return roots(set as Bundle[])[0] as StixObject;
}

export function times(set: Bundle[]): string[] {
  return set.map((b) => (b.objects[0] as unknown as { first_observed: string }).first_observed);
}

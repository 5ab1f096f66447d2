/**
 * A syntactic shortcut for the satisfiability check: comparison expressions that are evidently
 * satisfiable, without planning objects or solving values. Loading a thousand rules or a million
 * indicators must not run the solver on `[ipv4-addr:value = '198.51.100.7']`; the shapes here
 * are the ones feeds and most rules are made of. "Evident" promises that the full analysis would
 * not call the expression unsatisfiable (a property test holds the two together); anything else
 * answers false and goes to the solver.
 */
import {
  andFactors,
  comparisonLeaves,
  isComparisonJunction,
  type ComparisonExpression,
  type ComparisonLeaf,
  type PathStep,
} from '../pattern/ast.js';
import { neverMatches } from './regex.js';

const SAFE = 1e15;

/** Plain properties only: no lists, binary, `_refs`, no `type` or `id`, and no test on a reference itself. */
function plainPath(steps: PathStep[]): string[] | undefined {
  const names: string[] = [];
  for (const s of steps) {
    if (s.kind !== 'key' || s.name === 'type' || s.name === 'id' || /_(refs|hex|bin)$/.test(s.name)) return undefined;
    names.push(s.name);
  }
  const last = names[names.length - 1];
  return last === undefined || last.endsWith('_ref') ? undefined : names;
}

const scalar = (type: string): boolean => type === 'string' || type === 'int' || type === 'float' || type === 'bool';

/** Does this comparison, alone, hold on some object of its type? */
function evidentLeaf(leaf: ComparisonLeaf): boolean {
  if (!plainPath(leaf.path.steps)) return false;
  if (leaf.kind === 'exists') return true;
  if (leaf.kind === 'fieldref') return false; // relates two properties: left to the solver
  if (leaf.kind === 'in') return leaf.negated || (leaf.values.length > 0 && leaf.values.every((v) => scalar(v.type)));
  const { operator, value, negated } = leaf;
  switch (operator) {
    case '=':
    case '!=':
      return scalar(value.type);
    case '<':
    case '<=':
    case '>':
    case '>=':
      // With or without NOT, some number is on the right side of a finite bound.
      return (value.type === 'int' || value.type === 'float') && Math.abs(value.value) < SAFE;
    case 'LIKE':
    case 'ISSUBSET':
    case 'ISSUPERSET':
      // NOT holds on any value of another type. The constant of ISSUBSET / ISSUPERSET is
      // checked at compile time, so a bad block never reaches here.
      return negated || value.type === 'string';
    case 'MATCHES':
      return negated || (value.type === 'string' && neverMatches(value.value.normalize('NFC')) === undefined);
  }
}

/** One path a prefix of the other (or equal): the two comparisons constrain the same value. */
function related(a: string[], b: string[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * True when the comparison expression evidently holds on some root object: an OR with an
 * evident side; or an AND whose operands are evident, on one root type, and independent
 * (comparisons on unrelated paths; an OR operand shares no top-level property with the rest),
 * so that objects satisfying each operand merge into one that satisfies all.
 */
export function evidentlySatisfiable(expr: ComparisonExpression): boolean {
  if (!isComparisonJunction(expr)) return evidentLeaf(expr);
  if (expr.kind === 'or') return evidentlySatisfiable(expr.left) || evidentlySatisfiable(expr.right);
  const factors = andFactors(expr);
  const leaves = comparisonLeaves(expr);
  const type = leaves[0]?.path.objectType;
  if (leaves.some((l) => l.path.objectType !== type)) return false;
  const shapes = factors.map((f) => ({
    leaf: !isComparisonJunction(f),
    paths: comparisonLeaves(f).map((l) => plainPath(l.path.steps) ?? []),
    tops: new Set(comparisonLeaves(f).map((l) => (l.path.steps[0] as { name?: string }).name)),
  }));
  for (let i = 0; i < factors.length; i++) {
    if (!evidentlySatisfiable(factors[i] as ComparisonExpression)) return false;
    const a = shapes[i] as (typeof shapes)[number];
    for (let j = i + 1; j < factors.length; j++) {
      const b = shapes[j] as (typeof shapes)[number];
      if (a.leaf && b.leaf) {
        if (related(a.paths[0] as string[], b.paths[0] as string[])) return false;
      } else if ([...a.tops].some((t) => b.tops.has(t))) return false;
    }
  }
  return true;
}

/**
 * Helpers over comparison leaves: disjunctive normal form of a comparison expression, a
 * value oracle per leaf (the engine's own comparison code, so that generated values are
 * checked with exactly the semantics the matcher uses), and short descriptions for messages.
 */
import type { Diagnostic } from '../errors.js';
import { isComparisonJunction, type ComparisonExpression, type ComparisonLeaf } from '../pattern/ast.js';
import { compileComparison } from '../pattern/evaluate.js';
import type { PreparedObservation } from '../pattern/observation.js';
import { printFieldReference, printLiteral, printPath } from '../pattern/print.js';

/** The conjuncts of a comparison expression in DNF, lazily, left to right. */
export function* conjuncts(expr: ComparisonExpression): Generator<ComparisonLeaf[]> {
  if (!isComparisonJunction(expr)) {
    yield [expr];
    return;
  }
  if (expr.kind === 'or') {
    yield* conjuncts(expr.left);
    yield* conjuncts(expr.right);
    return;
  }
  for (const l of conjuncts(expr.left)) for (const r of conjuncts(expr.right)) yield l.concat(r);
}

/** Up to `limit` conjuncts; `complete` tells whether that was all of them. */
export function takeConjuncts(
  expr: ComparisonExpression,
  limit: number,
): { list: ComparisonLeaf[][]; complete: boolean } {
  const list: ComparisonLeaf[][] = [];
  for (const c of conjuncts(expr)) {
    if (list.length >= limit) return { list, complete: false };
    list.push(c);
  }
  return { list, complete: true };
}

/** A leaf that tests one value against constants (a field reference relates two values, and is never one). */
export type ValueLeaf = Exclude<ComparisonLeaf, { kind: 'exists' | 'fieldref' }>;

const oracles = new WeakMap<ComparisonLeaf, (value: unknown) => boolean>();
const NO_OBSERVATION = { resolve: () => undefined } as unknown as PreparedObservation;

/** Does a data value (as the walker hands it over: string, number, boolean, bytes, object) pass the leaf's test? */
export function accepts(leaf: ValueLeaf, value: unknown): boolean {
  let oracle = oracles.get(leaf);
  if (!oracle) {
    const diagnostics: Diagnostic[] = [];
    const probe = {
      ...leaf,
      path: { objectType: leaf.path.objectType, steps: [{ kind: 'key' as const, name: 'v' }] },
    } as ValueLeaf;
    const predicate = compileComparison(probe, diagnostics);
    oracle = (v: unknown): boolean => {
      try {
        return predicate({ v }, NO_OBSERVATION);
      } catch {
        return false; // a malformed timestamp in the data raises: never a solution
      }
    };
    oracles.set(leaf, oracle);
  }
  return oracle(value);
}

/** `NOT = 'a'`, `IN (1, 2)`, `EXISTS`: the operator and constant of a leaf, without its path. */
export function describeTest(leaf: ComparisonLeaf): string {
  const not = leaf.negated ? 'NOT ' : '';
  if (leaf.kind === 'exists') return `${not}EXISTS`;
  if (leaf.kind === 'in') return `${not}IN (${leaf.values.map(printLiteral).join(', ')})`;
  if (leaf.kind === 'fieldref') return printFieldReference(leaf).slice(printPath(leaf.path).length + 1);
  return `${not}${leaf.operator} ${printLiteral(leaf.value)}`;
}

/** The whole comparison as pattern text. */
export function describeLeaf(leaf: ComparisonLeaf): string {
  if (leaf.kind === 'exists') return `${leaf.negated ? 'NOT ' : ''}EXISTS ${printPath(leaf.path)}`;
  if (leaf.kind === 'in') return `${printPath(leaf.path)} ${describeTest(leaf)}`;
  if (leaf.kind === 'fieldref') return printFieldReference(leaf);
  return `${printPath(leaf.path)} ${describeTest(leaf)}`;
}

/** The leaf with its NOT flipped: the comparison made false (the property stays present). */
export function flipLeaf<T extends ComparisonLeaf>(leaf: T): T {
  return { ...leaf, negated: !leaf.negated };
}

export function byPosition(a: ComparisonLeaf, b: ComparisonLeaf): number {
  return (a.span?.offset ?? 0) - (b.span?.offset ?? 0);
}

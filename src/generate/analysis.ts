/**
 * Per-pattern analysis shared by the generator and the unsatisfiability check: one solver per
 * bracketed observation expression, and which observations make the whole pattern fail.
 */
import { formatDiagnostics, StixflowError, type Diagnostic } from '../errors.js';
import type { ObservationExpression } from '../pattern/ast.js';
import { compilePattern, type CompiledPattern } from '../pattern/compile.js';
import { ObservationSolver, type Failure } from './solver.js';

export class GenerationError extends StixflowError {}

export interface PatternAnalysis {
  pattern: CompiledPattern;
  solvers: ObservationSolver[];
  /** Observation expression node → leaf index. */
  leafIndex: Map<ObservationExpression, number>;
}

const cache = new WeakMap<CompiledPattern, PatternAnalysis>();

export function toCompiled(pattern: CompiledPattern | string): CompiledPattern {
  return typeof pattern === 'string' ? compilePattern(pattern) : pattern;
}

export function analyse(pattern: CompiledPattern): PatternAnalysis {
  let analysis = cache.get(pattern);
  if (!analysis) {
    const solvers = pattern.observations.map((o) => new ObservationSolver(o.expression));
    const leafIndex = new Map<ObservationExpression, number>(pattern.observations.map((o, i) => [o.expression as ObservationExpression, i]));
    analysis = { pattern, solvers, leafIndex };
    cache.set(pattern, analysis);
  }
  return analysis;
}

export function failureDiagnostic(failure: Failure, fallback: ObservationExpression, code: string): Diagnostic {
  const span = failure.leaf?.span ?? ('span' in fallback ? fallback.span : undefined);
  const d: Diagnostic = { severity: 'error', code, message: failure.message };
  if (span) Object.assign(d, { line: span.line, column: span.column, offset: span.offset, length: span.length });
  return d;
}

/** Can the sub-expression be generated (every observation it needs is solvable)? */
export function generable(node: ObservationExpression, a: PatternAnalysis): boolean {
  switch (node.kind) {
    case 'observation':
      return (a.solvers[a.leafIndex.get(node) as number] as ObservationSolver).status.kind === 'sat';
    case 'or':
      return generable(node.left, a) || generable(node.right, a);
    case 'and':
    case 'followedBy':
      return generable(node.left, a) && generable(node.right, a);
    case 'qualified':
      return generable(node.expression, a);
  }
}

/** The observations that make the sub-expression fail. */
function blame(node: ObservationExpression, a: PatternAnalysis, out: Set<number>): void {
  if (generable(node, a)) return;
  if (node.kind === 'observation') out.add(a.leafIndex.get(node) as number);
  else if (node.kind === 'qualified') blame(node.expression, a, out);
  else {
    blame(node.left, a, out);
    blame(node.right, a, out);
  }
}

function dedupe(ds: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return ds.filter((d) => {
    const key = `${d.offset}|${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function observationDiagnostics(a: PatternAnalysis, index: number, unsatOnly: boolean): Diagnostic[] {
  const solver = a.solvers[index] as ObservationSolver;
  const status = solver.status;
  if (status.kind === 'sat' || (unsatOnly && status.kind !== 'unsat')) return [];
  const code = status.kind === 'unsat' ? 'unsatisfiable' : 'unsupported-generation';
  return dedupe(status.failures.map((f) => failureDiagnostic(f, solver.expression, code)));
}

/** Throws a GenerationError when the pattern as a whole cannot be generated. */
export function assertGenerable(a: PatternAnalysis): void {
  const root = a.pattern.ast.root;
  if (generable(root, a)) return;
  const culprits = new Set<number>();
  blame(root, a, culprits);
  const indices = [...culprits].sort((x, y) => x - y);
  const unsat = indices.every((i) => (a.solvers[i] as ObservationSolver).status.kind === 'unsat');
  const diagnostics = dedupe(indices.flatMap((i) => observationDiagnostics(a, i, false)));
  const code = unsat ? 'unsatisfiable' : 'unsupported-generation';
  const head = unsat ? 'the pattern can never match' : 'the generator cannot produce events for this pattern';
  throw new GenerationError(code, `${head}:\n${formatDiagnostics(diagnostics)}`, diagnostics);
}

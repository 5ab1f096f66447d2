/**
 * Per-pattern analysis shared by the generator and the unsatisfiability check: one solver per
 * bracketed observation expression, and which observations make the whole pattern fail.
 */
import { formatDiagnostics, StixflowError, type Diagnostic } from '../errors.js';
import type { ObservationExpression } from '../pattern/ast.js';
import { compilePattern, type CompiledPattern } from '../pattern/compile.js';
import { ObservationSolver, type Failure, type ObservationLeaf, type ObservationStatus } from './solver.js';

export class GenerationError extends StixflowError {}

export interface PatternAnalysis {
  pattern: CompiledPattern;
  solvers: ObservationSolver[];
  /** Observation expression node → leaf index. */
  leafIndex: Map<ObservationExpression, number>;
}

const cache = new WeakMap<CompiledPattern, PatternAnalysis>();
const solvers = new WeakMap<ObservationLeaf, ObservationSolver>();

/** The solver of one observation expression, built once per expression node. */
function solverFor(expression: ObservationLeaf): ObservationSolver {
  let solver = solvers.get(expression);
  if (!solver) {
    solver = new ObservationSolver(expression);
    solvers.set(expression, solver);
  }
  return solver;
}

export function toCompiled(pattern: CompiledPattern | string): CompiledPattern {
  return typeof pattern === 'string' ? compilePattern(pattern) : pattern;
}

export function analyse(pattern: CompiledPattern): PatternAnalysis {
  let analysis = cache.get(pattern);
  if (!analysis) {
    const leafIndex = new Map<ObservationExpression, number>(
      pattern.observations.map((o, i) => [o.expression as ObservationExpression, i]),
    );
    analysis = { pattern, solvers: pattern.observations.map((o) => solverFor(o.expression)), leafIndex };
    cache.set(pattern, analysis);
  }
  return analysis;
}

function failureDiagnostic(failure: Failure, fallback: ObservationExpression, code: string): Diagnostic {
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

function observationDiagnostics(a: PatternAnalysis, index: number, unsatOnly: boolean): Diagnostic[] {
  return solverDiagnostics(a.solvers[index] as ObservationSolver, unsatOnly);
}

function solverDiagnostics(solver: ObservationSolver, unsatOnly: boolean): Diagnostic[] {
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

const SAT: ObservationStatus = { kind: 'sat' };

/**
 * The satisfiability verdict of a whole pattern. When the pattern can never match: one error
 * (code `unsatisfiable`) per observation expression that makes it fail. When it can, but an
 * observation expression inside an observation-level OR never matches: one warning (code
 * `observation-never-matches`) for each, since that branch is dead weight. An observation the
 * generator cannot fill may still match: only a proven `unsat` counts against. Qualifiers never
 * empty a satisfiable expression here (START ≥ STOP is already a compile error). Observations
 * `evident` says are satisfiable are not solved at all.
 */
export function satisfiability(
  pattern: CompiledPattern,
  evident: (index: number) => boolean = () => false,
): Diagnostic[] {
  const leafIndex = new Map<ObservationExpression, number>(
    pattern.observations.map((o, i) => [o.expression as ObservationExpression, i]),
  );
  const statuses = pattern.observations.map((o, i) => (evident(i) ? SAT : solverFor(o.expression).status));
  const unsat = (node: ObservationExpression): boolean =>
    (statuses[leafIndex.get(node) as number] as ObservationStatus).kind === 'unsat';
  const possible = (node: ObservationExpression): boolean => {
    switch (node.kind) {
      case 'observation':
        return !unsat(node);
      case 'or':
        return possible(node.left) || possible(node.right);
      case 'and':
      case 'followedBy':
        return possible(node.left) && possible(node.right);
      case 'qualified':
        return possible(node.expression);
    }
  };
  const culprits = new Set<number>();
  const blameImpossible = (node: ObservationExpression): void => {
    if (possible(node)) return;
    if (node.kind === 'observation') culprits.add(leafIndex.get(node) as number);
    else if (node.kind === 'qualified') blameImpossible(node.expression);
    else {
      blameImpossible(node.left);
      blameImpossible(node.right);
    }
  };
  const diagnosticsOf = (i: number): Diagnostic[] =>
    solverDiagnostics(solverFor((pattern.observations[i] as { expression: ObservationLeaf }).expression), true);
  const root = pattern.ast.root;
  if (!possible(root)) {
    blameImpossible(root);
    return dedupe([...culprits].sort((x, y) => x - y).flatMap(diagnosticsOf));
  }
  const single = statuses.length === 1;
  return dedupe(
    statuses.flatMap((status, i) =>
      status.kind !== 'unsat'
        ? []
        : diagnosticsOf(i).map((d) => ({
            ...d,
            severity: 'warning' as const,
            code: 'observation-never-matches',
            message: `${single ? 'the observation expression' : `observation expression ${i + 1}`} can never match (the pattern still can, through OR): ${d.message}`,
          })),
    ),
  );
}

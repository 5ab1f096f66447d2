/**
 * Static detection of observation expressions that can never match: every alternative (DNF
 * conjunct) of the comparison expression has an empty solution space — contradictory values
 * on one path, an empty IN list, EXISTS against NOT EXISTS, comparisons on different root types
 * joined by AND, a value that would also have to be an object. The same solver drives the
 * event generator, so what is reported here is exactly what the generator refuses.
 */
import type { Diagnostic } from '../errors.js';
import type { CompiledPattern } from '../pattern/compile.js';
import { typeCheckPattern } from '../pattern/type-check.js';
import { satisfiability, toCompiled } from './analysis.js';
import { evidentlySatisfiable } from './evident.js';

/**
 * Diagnostics (code `unsatisfiable`, severity error, positioned on the offending comparison)
 * when the pattern as a whole can never match: one for each observation expression that makes
 * it fail. An observation expression that never matches inside an observation-level OR does
 * not make the pattern unsatisfiable and is not reported here (see satisfiabilityDiagnostics).
 * An empty list means the pattern was not proven unsatisfiable. Throws PatternError when the
 * text does not compile.
 */
export function findUnsatisfiable(pattern: CompiledPattern | string): Diagnostic[] {
  return satisfiabilityDiagnostics(pattern).filter((d) => d.severity === 'error');
}

/**
 * Everything the analysis proves: the errors of findUnsatisfiable, or, for a pattern that can
 * match, a warning (code `observation-never-matches`) for each observation expression that
 * never matches and is only kept alive by an observation-level OR. Patterns whose every
 * observation expression is evidently satisfiable (the shapes rules and indicator feeds are
 * mostly made of) are answered without running the solver.
 */
export function satisfiabilityDiagnostics(pattern: CompiledPattern | string): Diagnostic[] {
  const compiled = toCompiled(pattern);
  // Comparisons the STIX data model says can never hold (a string constant for an integer
  // property, a reference compared whole) come first: they are the commonest silent never-match.
  const typed = typeCheckPattern(compiled.ast);
  const evident = compiled.observations.map((o) => evidentlySatisfiable(o.expression.comparison));
  if (evident.every(Boolean)) return typed;
  // Where the solver proves a comparison never holds, its explanation (code `unsatisfiable`)
  // stands and the type checker's for the same comparison is dropped.
  const proven = satisfiability(compiled, (i) => evident[i] === true);
  const explained = new Set(proven.filter((d) => d.severity === 'error').map((d) => d.offset));
  return [...typed.filter((d) => d.severity !== 'error' || !explained.has(d.offset)), ...proven];
}

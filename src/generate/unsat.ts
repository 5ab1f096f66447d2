/**
 * Static detection of observation expressions that can never match: every alternative (DNF
 * conjunct) of the comparison expression has an empty solution space — contradictory values
 * on one path, an empty IN list, EXISTS against NOT EXISTS, comparisons on different root types
 * joined by AND, a value that would also have to be an object. The same solver drives the
 * event generator, so what is reported here is exactly what the generator refuses.
 */
import type { Diagnostic } from '../errors.js';
import type { CompiledPattern } from '../pattern/compile.js';
import { analyse, observationDiagnostics, toCompiled } from './analysis.js';

/**
 * Diagnostics (code `unsatisfiable`, severity error, positioned on the offending comparison)
 * for each observation expression of the pattern that can never match. An empty list means
 * none was proven unsatisfiable. Throws PatternError when the text does not compile.
 */
export function findUnsatisfiable(pattern: CompiledPattern | string): Diagnostic[] {
  const a = analyse(toCompiled(pattern));
  return a.solvers.flatMap((_, i) => observationDiagnostics(a, i, true));
}

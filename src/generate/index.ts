/** Rule-testing toolkit: event generation, near misses, unsatisfiable-pattern detection. */
export { generateEvents } from './generate.js';
export type { GenerateOptions, GeneratedSet, NearMiss, NearMissKind } from './generate.js';
export { findUnsatisfiable, satisfiabilityDiagnostics } from './unsat.js';
export { GenerationError } from './analysis.js';
export { parseRegex, sampleRegex } from './regex.js';
export { Prng } from './prng.js';

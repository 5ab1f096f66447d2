/**
 * Pattern text → compiled pattern: parse, validate, compile each observation expression into a
 * per-type predicate over root objects, and the observation operators into a binding tree.
 * Compile once, evaluate many: nothing here runs per event.
 */
import { PatternError, type Diagnostic } from '../errors.js';
import {
  comparisonLeaves,
  observationLeaves,
  type ComparisonLeaf,
  type ObservationExpression,
  type PatternAst,
} from './ast.js';
import { enumerateBindings, type Binding, type BindingNode } from './bindings.js';
import { compileComparison, compileForRootType, type ObjectPredicate } from './evaluate.js';
import { prepareObservations, type PreparedObservation } from './observation.js';
import { parsePattern, type StixVersion } from './parse.js';
import { validatePattern } from './validate.js';
import { parseObjectPath } from './object-path.js';
import { printPath } from './print.js';

export interface CompileOptions {
  stixVersion?: StixVersion;
  /** Upper bound on the binding combinations one batch match may try (default 1,000,000). */
  matchBudget?: number;
  /**
   * Case-insensitive string comparisons (default: the specification's case-sensitive ones):
   * `true` for every comparison, or the object paths (as printed: `process:name`,
   * `file:hashes.'SHA-256'`) whose comparisons fold case, or a choice per comparison, given
   * the comparison and its index among the pattern's comparisons, left to right (a compiled
   * Sigma rule folds all but its `|cased` and regex comparisons).
   */
  caseInsensitive?: boolean | readonly string[] | ((leaf: ComparisonLeaf, index: number) => boolean);
  /**
   * The pattern's tree, when it was built rather than written: a compiled Sigma rule with a field reference
   * (`fieldref`), which no STIX text can say. `text` is then only its printed form, never parsed.
   */
  ast?: PatternAst;
}

/** One bracketed observation expression, compiled. */
export class CompiledObservation {
  /** Root object types this observation can match, each with its predicate. */
  readonly rootTypes: readonly string[];
  private readonly predicates: readonly ObjectPredicate[];

  constructor(
    readonly index: number,
    readonly expression: Extract<ObservationExpression, { kind: 'observation' }>,
    byType: Map<string, ObjectPredicate>,
  ) {
    this.rootTypes = [...byType.keys()];
    this.predicates = [...byType.values()];
  }

  /** Does some root object of this observed-data satisfy the observation expression? */
  test(observation: PreparedObservation): boolean {
    const types = this.rootTypes;
    for (let t = 0; t < types.length; t++) {
      const roots = observation.objectsOfType(types[t] as string);
      if (roots === undefined) continue;
      const predicate = this.predicates[t] as ObjectPredicate;
      for (let i = 0; i < roots.length; i++) {
        if (predicate((roots[i] as { object: unknown }).object, observation)) return true;
      }
    }
    return false;
  }

  /** The keys (ids in 2.1) of the root objects that satisfy it. */
  matchingObjects(observation: PreparedObservation): string[] {
    const keys: string[] = [];
    this.rootTypes.forEach((type, t) => {
      for (const root of observation.objectsOfType(type) ?? []) {
        if ((this.predicates[t] as ObjectPredicate)(root.object, observation)) keys.push(root.key);
      }
    });
    return keys;
  }
}

export interface BoundObservation {
  /** Index of the bracketed observation expression in the pattern, left to right. */
  observation: number;
  /** Index of the observed-data in the (flattened) input. */
  observedDataIndex: number;
  observedDataId: string | undefined;
  /** Keys (2.1: ids) of the objects that satisfied the observation expression. */
  objects: string[];
}

export interface MatchResult {
  matched: boolean;
  /** The first binding found (reference order), when matched. */
  binding?: BoundObservation[];
  /** Ids of the distinct observed-data of that binding, in input order. */
  observedDataIds?: (string | undefined)[];
  /**
   * LIKE / MATCHES comparisons that saw a value cut to its first MAX_SEARCHED_LENGTH
   * characters (present only when some did): a match beyond that was not looked for.
   */
  valuesCut?: number;
}

export class CompiledPattern {
  readonly observations: readonly CompiledObservation[];
  readonly tree: BindingNode;

  constructor(
    readonly text: string,
    readonly ast: PatternAst,
    readonly stixVersion: StixVersion,
    readonly warnings: readonly Diagnostic[],
    observations: CompiledObservation[],
    private readonly matchBudget: number,
    /** The comparisons that fold case (see CompileOptions.caseInsensitive); an index must too. */
    readonly caseInsensitiveLeaves: ReadonlySet<ComparisonLeaf> = new Set(),
  ) {
    this.observations = observations;
    this.tree = toBindingNode(ast.root, new Map(observationLeaves(ast.root).map((leaf, i) => [leaf, i])));
  }

  /** True when the pattern has a single observation expression and no qualifier. */
  get isSingleObservation(): boolean {
    return this.tree.kind === 'leaf';
  }

  /**
   * Batch match: does this list of observed data satisfy the pattern? Accepts STIX 2.0
   * observed-data with embedded objects, 2.1 bundles, 2.1 observed-data with object_refs plus
   * their SCOs, or an array of any of these. Throws InputError for unusable data and
   * MatchError for errors during evaluation (a malformed timestamp in the data, for one).
   */
  match(observedData: unknown): MatchResult {
    return this.matchPrepared(prepareObservations(observedData));
  }

  matchPrepared(observations: PreparedObservation[]): MatchResult {
    const leafMatches = this.observations.map((leaf) => {
      const hits: number[] = [];
      for (const o of observations) if (leaf.test(o)) hits.push(o.index);
      return hits;
    });
    const first = enumerateBindings(this.tree, {
      observations,
      leafMatches,
      budget: { remaining: this.matchBudget },
    }).next();
    let valuesCut = 0;
    for (const o of observations) valuesCut += o.valuesCut ?? 0;
    const cut = valuesCut > 0 ? { valuesCut } : {};
    if (first.done) return { matched: false, ...cut };
    return { matched: true, ...this.describe(first.value, observations), ...cut };
  }

  private describe(
    binding: Binding,
    observations: PreparedObservation[],
  ): Pick<MatchResult, 'binding' | 'observedDataIds'> {
    const bound = binding.leaves.map((leaf, i) => {
      const o = observations[binding.observations[i] as number] as PreparedObservation;
      return {
        observation: leaf,
        observedDataIndex: o.index,
        observedDataId: o.id,
        objects: (this.observations[leaf] as CompiledObservation).matchingObjects(o),
      };
    });
    const distinct = [...new Set(binding.observations)].sort((a, b) => a - b);
    return { binding: bound, observedDataIds: distinct.map((i) => (observations[i] as PreparedObservation).id) };
  }
}

function toBindingNode(expr: ObservationExpression, leafIndex: Map<ObservationExpression, number>): BindingNode {
  switch (expr.kind) {
    case 'observation':
      return { kind: 'leaf', leaf: leafIndex.get(expr) as number };
    case 'and':
    case 'or':
    case 'followedBy':
      return {
        kind: expr.kind,
        left: toBindingNode(expr.left, leafIndex),
        right: toBindingNode(expr.right, leafIndex),
      };
    case 'qualified': {
      const inner = toBindingNode(expr.expression, leafIndex);
      const q = expr.qualifier;
      if (q.kind === 'within') return { kind: 'within', micros: q.seconds * 1_000_000, expression: inner };
      if (q.kind === 'repeats') return { kind: 'repeats', times: q.times, expression: inner };
      return { kind: 'startStop', start: q.start.value, stop: q.stop.value, expression: inner };
    }
  }
}

export interface CheckResult {
  /** Present when the pattern compiled (it may still carry warnings). */
  pattern?: CompiledPattern;
  diagnostics: Diagnostic[];
}

/**
 * Compiles a pattern and collects every diagnostic instead of throwing: errors (the pattern
 * did not compile) and warnings (it compiled, but something is likely wrong).
 */
export function checkPattern(text: string, options: CompileOptions = {}): CheckResult {
  const stixVersion = options.stixVersion ?? '2.1';
  const parsed = options.ast ? { ast: options.ast, diagnostics: [] } : parsePattern(text, { stixVersion });
  if (!parsed.ast) return { diagnostics: parsed.diagnostics };
  const ast = parsed.ast;
  const diagnostics = validatePattern(ast);
  const compiledLeaves = new Map<ComparisonLeaf, ObjectPredicate>();
  const folds = caseInsensitivity(options.caseInsensitive);
  const caseInsensitiveLeaves = new Set<ComparisonLeaf>();
  let leafIndex = 0;
  const observations = observationLeaves(ast.root).map((leaf, index) => {
    const comparisons = comparisonLeaves(leaf.comparison);
    for (const comparison of comparisons) {
      const fold = folds(comparison, leafIndex++);
      if (fold) caseInsensitiveLeaves.add(comparison);
      compiledLeaves.set(comparison, compileComparison(comparison, diagnostics, fold));
    }
    const byType = new Map<string, ObjectPredicate>();
    for (const type of new Set(comparisons.map((c) => c.path.objectType))) {
      const predicate = compileForRootType(leaf.comparison, type, compiledLeaves);
      if (predicate) byType.set(type, predicate);
    }
    return new CompiledObservation(index, leaf, byType);
  });
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  const pattern = new CompiledPattern(
    text,
    ast,
    stixVersion,
    diagnostics,
    observations,
    options.matchBudget ?? 1_000_000,
    caseInsensitiveLeaves,
  );
  return { pattern, diagnostics };
}

/** Which comparisons fold case, from CompileOptions.caseInsensitive. */
function caseInsensitivity(
  option: CompileOptions['caseInsensitive'],
): (leaf: ComparisonLeaf, index: number) => boolean {
  if (option === undefined || option === false) return () => false;
  if (option === true) return (leaf) => leaf.kind !== 'exists';
  if (typeof option === 'function') return (leaf, index) => leaf.kind !== 'exists' && option(leaf, index);
  // Paths as printed, so that `file:hashes.'MD5'` and `file:hashes.MD5` name one path.
  const paths = new Set(
    option.map((text) => {
      const path = parseObjectPath(text);
      return typeof path === 'string' ? text : printPath(path);
    }),
  );
  return (leaf) => leaf.kind !== 'exists' && paths.has(printPath(leaf.path));
}

/** Compiles a pattern; throws PatternError carrying every error diagnostic when it does not compile. */
export function compilePattern(text: string, options: CompileOptions = {}): CompiledPattern {
  const { pattern, diagnostics } = checkPattern(text, options);
  if (!pattern) throw new PatternError(diagnostics.filter((d) => d.severity === 'error'));
  return pattern;
}

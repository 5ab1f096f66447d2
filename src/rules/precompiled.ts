/**
 * The precompiled form of a rules directory (`stixflow rules compile`, and `cdk synth` into each
 * function bundle): what loading the directory gives — rules with their patterns parsed,
 * validated and type-checked, Sigma rules translated, lists, macros and shared exceptions
 * applied, the load diagnostics — written as one JSON file beside the rules. A fresh process
 * then reads one file instead of parsing YAML and compiling thousands of patterns, and builds
 * each observation expression's evaluator only when the rule index first offers it an event.
 *
 * The file records a SHA-256 over every rule file's name and text (and the load options and
 * this format's version): when the rules changed since, it is stale, and the directory is
 * loaded from its files as if it had none, with a `rules-compiled-stale` warning.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Diagnostic } from '../errors.js';
import {
  comparisonLeaves,
  isComparisonJunction,
  observationLeaves,
  type ComparisonExpression,
  type ComparisonLeaf,
  type ComparisonOperator,
  type FieldRelation,
  type Literal,
  type ObjectPath,
  type ObservationExpression,
  type PatternAst,
  type Qualifier,
  type Span,
} from '../pattern/ast.js';
import { CompiledObservation, CompiledPattern } from '../pattern/compile.js';
import { compileComparison, compileForRootType, type ObjectPredicate } from '../pattern/evaluate.js';
import type { PreparedObservation } from '../pattern/observation.js';
import { ruleDiagnostic } from './diagnostics.js';
import { IndicatorSet } from './indicators.js';
import type { LoadOptions, LoadResult } from './load.js';
import type { Rule } from './model.js';
import type { RuleSource } from './read.js';
import { ContentPath } from './templates.js';

/** The file name, beside the rule files (no .json/.yaml ending: the rule reader leaves it alone). */
export const COMPILED_RULES_FILE = 'rules.stixflow-compiled';

/** Bump whenever the compiled form, or what loading puts into a rule, changes shape. */
const FORMAT_VERSION = 2;
const FORMAT = 'stixflow-rules-compiled';

interface CompiledFile {
  format: typeof FORMAT;
  version: number;
  /** SHA-256 of the sources and options it was compiled from (see sourcesHash). */
  hash: string;
  /** The object paths the patterns' comparisons name by index. */
  paths: Omit<ObjectPath, 'span'>[];
  rules: unknown[];
  /** Rule files that hold indicators: read again on load (the indicator set is built from them). */
  indicatorFiles: string[];
  indicatorSources: LoadResult['indicatorSources'];
  exceptions: LoadResult['exceptions'];
  diagnostics: Diagnostic[];
}

/**
 * The options that change what loading gives, as text; undefined when one cannot be written
 * down (a taxonomy or placeholders given as objects): then no precompiled form applies.
 * `now` only decides which shared exceptions are reported expired, and is left out: filters
 * carry their expiry and the matcher checks it against the clock.
 */
function optionsKey(options: LoadOptions): string | undefined {
  if (options.sigmaTaxonomy !== undefined || options.sigmaPlaceholders !== undefined) return undefined;
  return JSON.stringify({ allowUnsatisfiable: options.allowUnsatisfiable === true });
}

/** SHA-256 over this format's version, the options, and each source's name (relative to `dir`) and text. */
export function sourcesHash(dir: string, sources: readonly RuleSource[], options: LoadOptions = {}): string {
  const hash = createHash('sha256');
  hash.update(`${FORMAT}\u0000${FORMAT_VERSION}\u0000${optionsKey(options) ?? ''}\u0000`);
  for (const source of sources) {
    hash.update(relative(dir, source.file));
    hash.update('\u0000');
    hash.update(source.text);
    hash.update('\u0000');
  }
  return hash.digest('base64url');
}

// ------------------------------------------------------------------------------- encoding

const PATTERN_TAG = '$stixflow-pattern';
const CONTENT_PATH_TAG = '$stixflow-content-path';
const BYTES_TAG = '$stixflow-bytes';

interface EncodedPattern {
  /** Absent when it is the rule's patternText (most patterns: stored once). */
  text?: string;
  ast: unknown;
  stixVersion: CompiledPattern['stixVersion'];
  warnings: readonly Diagnostic[];
  matchBudget: number;
  /** Root types of each observation expression, left to right. */
  rootTypes: string[][];
  /** Indices (left to right, across the pattern) of the comparisons that fold case. */
  folded: number[];
}

/**
 * Object paths, each stored once (without its span) and named by its index: the thousands of
 * comparisons of a large rule set read a few dozen paths.
 */
class PathTable {
  readonly paths: Omit<ObjectPath, 'span'>[] = [];
  private readonly byKey = new Map<string, number>();

  indexOf(path: ObjectPath): number {
    const entry = { objectType: path.objectType, steps: path.steps };
    const key = JSON.stringify(entry);
    let index = this.byKey.get(key);
    if (index === undefined) {
      index = this.paths.push(entry) - 1;
      this.byKey.set(key, index);
    }
    return index;
  }
}

type EncodedSpan = [offset: number, length: number, line: number, column: number] | 0;

const encodeSpan = (span: Span | undefined): EncodedSpan =>
  span ? [span.offset, span.length, span.line, span.column] : 0;
const decodeSpan = (span: EncodedSpan): { span?: Span } =>
  span === 0 ? {} : { span: { offset: span[0], length: span[1], line: span[2], column: span[3] } };

/** A string literal is its bare string; the others are as the AST has them (bytes tagged). */
const encodeLiteral = (literal: Literal): unknown =>
  literal.type === 'string' ? literal.value : encodeValue(literal, 'literal', undefined);
const decodeLiteral = (value: unknown): Literal =>
  typeof value === 'string' ? { type: 'string', value } : (decodeValue(value, undefined) as Literal);

/**
 * A comparison expression as arrays: `['&' | '|', left, right]`, `[operator, path, negated,
 * literal, span]`, `['IN', path, negated, literals, span]`, `['EXISTS', path, negated, span]`,
 * `['FIELD', path, negated, relation, other path, span]` (a Sigma field reference),
 * where `path` is [index in the table, span]. A tenth of the size of the object form.
 */
function encodeComparison(expr: ComparisonExpression, table: PathTable): unknown {
  if (isComparisonJunction(expr))
    return [expr.kind === 'and' ? '&' : '|', encodeComparison(expr.left, table), encodeComparison(expr.right, table)];
  const path = [table.indexOf(expr.path), encodeSpan(expr.path.span)];
  const negated = expr.negated ? 1 : 0;
  if (expr.kind === 'exists') return ['EXISTS', path, negated, encodeSpan(expr.span)];
  if (expr.kind === 'in') return ['IN', path, negated, expr.values.map(encodeLiteral), encodeSpan(expr.span)];
  if (expr.kind === 'fieldref')
    return [
      'FIELD',
      path,
      negated,
      expr.relation,
      [table.indexOf(expr.other), encodeSpan(expr.other.span)],
      encodeSpan(expr.span),
    ];
  return [expr.operator, path, negated, encodeLiteral(expr.value), encodeSpan(expr.span)];
}

function decodeComparison(encoded: unknown[], paths: readonly Omit<ObjectPath, 'span'>[]): ComparisonExpression {
  const head = encoded[0] as string;
  if (head === '&' || head === '|')
    return {
      kind: head === '&' ? 'and' : 'or',
      left: decodeComparison(encoded[1] as unknown[], paths),
      right: decodeComparison(encoded[2] as unknown[], paths),
    };
  const [index, pathSpan] = encoded[1] as [number, EncodedSpan];
  const shared = paths[index] as Omit<ObjectPath, 'span'>;
  const path: ObjectPath = { objectType: shared.objectType, steps: shared.steps, ...decodeSpan(pathSpan) };
  const negated = encoded[2] === 1;
  if (head === 'EXISTS') return { kind: 'exists', path, negated, ...decodeSpan(encoded[3] as EncodedSpan) };
  if (head === 'FIELD') {
    const [otherIndex, otherSpan] = encoded[4] as [number, EncodedSpan];
    const other = paths[otherIndex] as Omit<ObjectPath, 'span'>;
    return {
      kind: 'fieldref',
      path,
      negated,
      relation: encoded[3] as FieldRelation,
      other: { objectType: other.objectType, steps: other.steps, ...decodeSpan(otherSpan) },
      ...decodeSpan(encoded[5] as EncodedSpan),
    };
  }
  if (head === 'IN')
    return {
      kind: 'in',
      path,
      negated,
      values: (encoded[3] as unknown[]).map(decodeLiteral),
      ...decodeSpan(encoded[4] as EncodedSpan),
    };
  return {
    kind: 'comparison',
    path,
    operator: head as Exclude<ComparisonOperator, 'IN'>,
    negated,
    value: decodeLiteral(encoded[3]),
    ...decodeSpan(encoded[4] as EncodedSpan),
  };
}

/** An observation expression: its nodes as objects (few), each comparison expression as arrays. */
function encodeObservationExpression(expr: ObservationExpression, table: PathTable): unknown {
  switch (expr.kind) {
    case 'observation':
      return { kind: expr.kind, comparison: encodeComparison(expr.comparison, table), span: encodeSpan(expr.span) };
    case 'qualified':
      return {
        kind: expr.kind,
        qualifier: encodeValue(expr.qualifier, 'qualifier', undefined),
        expression: encodeObservationExpression(expr.expression, table),
      };
    default:
      return {
        kind: expr.kind,
        left: encodeObservationExpression(expr.left, table),
        right: encodeObservationExpression(expr.right, table),
      };
  }
}

function decodeObservationExpression(
  encoded: Record<string, unknown>,
  paths: readonly Omit<ObjectPath, 'span'>[],
): ObservationExpression {
  const kind = encoded.kind as ObservationExpression['kind'];
  if (kind === 'observation')
    return {
      kind,
      comparison: decodeComparison(encoded.comparison as unknown[], paths),
      ...decodeSpan(encoded.span as EncodedSpan),
    };
  if (kind === 'qualified')
    return {
      kind,
      qualifier: decodeValue(encoded.qualifier, undefined) as Qualifier,
      expression: decodeObservationExpression(encoded.expression as Record<string, unknown>, paths),
    };
  return {
    kind,
    left: decodeObservationExpression(encoded.left as Record<string, unknown>, paths),
    right: decodeObservationExpression(encoded.right as Record<string, unknown>, paths),
  };
}

function encodePattern(pattern: CompiledPattern, table: PathTable): EncodedPattern {
  const folded: number[] = [];
  let index = 0;
  for (const leaf of observationLeaves(pattern.ast.root))
    for (const comparison of comparisonLeaves(leaf.comparison)) {
      if (pattern.caseInsensitiveLeaves.has(comparison)) folded.push(index);
      index++;
    }
  return {
    text: pattern.text,
    ast: encodeObservationExpression(pattern.ast.root, table),
    stixVersion: pattern.stixVersion,
    warnings: pattern.warnings,
    matchBudget: (pattern as unknown as { matchBudget: number }).matchBudget,
    rootTypes: pattern.observations.map((o) => [...o.rootTypes]),
    folded,
  };
}

/**
 * A loaded value as JSON: plain data as it is, compiled patterns and content paths by what
 * rebuilds them, bytes in base64. Anything else (a function, a Map) is a bug in what the
 * loader produces, reported with where it was found.
 */
function encodeValue(value: unknown, at: string, table: PathTable | undefined): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint')
      throw new Error(`cannot write ${at} (a ${typeof value}) in the precompiled rules`);
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => encodeValue(v, `${at}[${i}]`, table));
  if (value instanceof CompiledPattern) {
    if (table === undefined) throw new Error(`cannot write ${at} (a pattern) without a path table`);
    return { [PATTERN_TAG]: encodePattern(value, table) };
  }
  if (value instanceof ContentPath) return { [CONTENT_PATH_TAG]: { text: value.text, path: value.path } };
  if (value instanceof Uint8Array) return { [BYTES_TAG]: Buffer.from(value).toString('base64') };
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null)
    throw new Error(`cannot write ${at} (a ${(value as object).constructor.name}) in the precompiled rules`);
  const out: Record<string, unknown> = {};
  // Own enumerable properties, getters read (a rule's source line is one).
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = encodeValue(v, `${at}.${key}`, table);
  return out;
}

// ------------------------------------------------------------------------------- decoding

/**
 * An observation expression of a precompiled pattern: its root types are known, its
 * predicates are compiled on the first test (most rules of a large set never see a candidate).
 */
class LazyObservation extends CompiledObservation {
  private compiled: CompiledObservation | undefined;
  override readonly rootTypes: readonly string[];

  constructor(
    index: number,
    expression: CompiledObservation['expression'],
    rootTypes: readonly string[],
    private readonly folded: ReadonlySet<ComparisonLeaf>,
  ) {
    super(index, expression, new Map());
    this.rootTypes = rootTypes;
  }

  private build(): CompiledObservation {
    if (this.compiled === undefined) {
      // The diagnostics were the loader's, and are in the pattern's warnings already.
      const diagnostics: Diagnostic[] = [];
      const leaves = new Map<ComparisonLeaf, ObjectPredicate>();
      for (const comparison of comparisonLeaves(this.expression.comparison))
        leaves.set(comparison, compileComparison(comparison, diagnostics, this.folded.has(comparison)));
      const byType = new Map<string, ObjectPredicate>();
      for (const type of this.rootTypes) {
        const predicate = compileForRootType(this.expression.comparison, type, leaves);
        if (predicate) byType.set(type, predicate);
      }
      this.compiled = new CompiledObservation(this.index, this.expression, byType);
    }
    return this.compiled;
  }

  override test(observation: PreparedObservation): boolean {
    return this.build().test(observation);
  }

  override matchingObjects(observation: PreparedObservation): string[] {
    return this.build().matchingObjects(observation);
  }
}

function decodePattern(
  encoded: EncodedPattern,
  paths: readonly Omit<ObjectPath, 'span'>[],
  ruleText: string | undefined,
): CompiledPattern {
  const ast: PatternAst = { root: decodeObservationExpression(encoded.ast as Record<string, unknown>, paths) };
  const foldedIndices = new Set(encoded.folded);
  const folded = new Set<ComparisonLeaf>();
  let index = 0;
  const leaves = observationLeaves(ast.root);
  for (const leaf of leaves)
    for (const comparison of comparisonLeaves(leaf.comparison)) if (foldedIndices.has(index++)) folded.add(comparison);
  const observations = leaves.map(
    (leaf, i) => new LazyObservation(i, leaf, encoded.rootTypes[i] ?? [], folded) as CompiledObservation,
  );
  return new CompiledPattern(
    encoded.text ?? (ruleText as string),
    ast,
    encoded.stixVersion,
    encoded.warnings,
    observations,
    encoded.matchBudget,
    folded,
  );
}

/** `paths`: the file's path table (undefined where no pattern can be: literals, qualifiers). */
function decodeValue(value: unknown, paths: readonly Omit<ObjectPath, 'span'>[] | undefined): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = decodeValue(value[i], paths);
    return value;
  }
  const record = value as Record<string, unknown>;
  if (PATTERN_TAG in record) {
    if (paths === undefined) throw new Error('a precompiled pattern where none can be');
    // A rule's own pattern has its text in the rule (patternText); a filter's has its own.
    return decodePattern(record[PATTERN_TAG] as EncodedPattern, paths, undefined);
  }
  if (CONTENT_PATH_TAG in record) {
    const { text, path } = record[CONTENT_PATH_TAG] as { text: string; path: ObjectPath };
    return new ContentPath(text, path);
  }
  if (BYTES_TAG in record) return new Uint8Array(Buffer.from(record[BYTES_TAG] as string, 'base64'));
  for (const key of Object.keys(record)) record[key] = decodeValue(record[key], paths);
  return record;
}

// ------------------------------------------------------------------------------- the file

/** The precompiled form of what loading `dir` gave. */
export function encodeCompiledRules(
  dir: string,
  sources: readonly RuleSource[],
  loaded: LoadResult,
  options: LoadOptions = {},
): string {
  // File names relative to the directory: the form is read where it is shipped (a bundle).
  const inDir = <T extends { file?: string }>(x: T): T =>
    x.file === undefined ? x : { ...x, file: relative(dir, x.file) };
  const table = new PathTable();
  const rules = loaded.rules.map((rule, i) => {
    const encoded = encodeValue(rule, `rules[${i}] (${rule.id})`, table) as {
      source?: { file?: string };
      pattern: { [PATTERN_TAG]: EncodedPattern };
    };
    if (encoded.source) encoded.source = inDir(encoded.source);
    if (encoded.pattern[PATTERN_TAG].text === rule.patternText) delete encoded.pattern[PATTERN_TAG].text;
    return encoded;
  });
  const file: CompiledFile = {
    format: FORMAT,
    version: FORMAT_VERSION,
    hash: sourcesHash(dir, sources, options),
    paths: table.paths,
    rules,
    indicatorFiles: loaded.indicatorSources.map((s) => relative(dir, s.file)),
    indicatorSources: loaded.indicatorSources.map(inDir),
    exceptions: loaded.exceptions.map(inDir),
    diagnostics: loaded.diagnostics.map(inDir),
  };
  return JSON.stringify(file);
}

export type CompiledRulesRead =
  { kind: 'none' } | { kind: 'current'; result: LoadResult } | { kind: 'stale'; diagnostic: Diagnostic };

/**
 * The load result of directory `dir` from its precompiled form, when it has one and it is
 * current for `sources` (the directory's rule files, as read) and `options`. `loadIndicators`
 * loads the indicator files again (the loader, passed in to keep this module below it).
 */
export function readCompiledRules(
  dir: string,
  sources: readonly RuleSource[],
  options: LoadOptions,
  loadIndicators: (sources: RuleSource[]) => IndicatorSet,
): CompiledRulesRead {
  const path = join(dir, COMPILED_RULES_FILE);
  if (optionsKey(options) === undefined || !existsSync(path)) return { kind: 'none' };
  const stale = (why: string): CompiledRulesRead => ({
    kind: 'stale',
    diagnostic: ruleDiagnostic(
      'rules-compiled-stale',
      { file: path },
      `${why}: the rules were compiled from their files instead (run \`stixflow rules compile ${dir}\` again)`,
    ),
  });
  let file: CompiledFile;
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as CompiledFile;
  } catch (error) {
    return stale(`the precompiled rules cannot be read (${error instanceof Error ? error.message : String(error)})`);
  }
  if (file.format !== FORMAT || file.version !== FORMAT_VERSION)
    return stale(`the precompiled rules are of another format (${String(file.format)} ${String(file.version)})`);
  if (file.hash !== sourcesHash(dir, sources, options))
    return stale('the rule files (or the load options) changed since the rules were precompiled');
  const indicatorFiles = new Set(file.indicatorFiles);
  const indicators =
    indicatorFiles.size > 0
      ? loadIndicators(sources.filter((s) => indicatorFiles.has(relative(dir, s.file))))
      : new IndicatorSet();
  // File names as the rule reader gives them (the directory joined with the name).
  const inPlace = <T extends { file?: string }>(x: T): T =>
    x.file === undefined ? x : { ...x, file: join(dir, x.file) };
  const rules = file.rules.map((r) => {
    const record = r as { patternText: string; pattern: Record<string, unknown> };
    const own = record.pattern[PATTERN_TAG] as EncodedPattern;
    const pattern = decodePattern(own, file.paths, record.patternText);
    record.pattern = {};
    const rule = decodeValue(record, file.paths) as Rule;
    rule.pattern = pattern;
    if (rule.source) rule.source = inPlace(rule.source);
    return rule;
  });
  return {
    kind: 'current',
    result: {
      rules,
      indicators,
      indicatorSources: file.indicatorSources.map(inPlace),
      exceptions: file.exceptions.map(inPlace),
      diagnostics: file.diagnostics.map(inPlace),
    },
  };
}

/** Is `path` a directory (where a precompiled form can be written)? */
export function isRulesDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

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
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Diagnostic } from '../errors.js';
import {
  comparisonLeaves,
  observationLeaves,
  type ComparisonLeaf,
  type ObjectPath,
  type PatternAst,
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
const FORMAT_VERSION = 1;
const FORMAT = 'stixflow-rules-compiled';

interface CompiledFile {
  format: typeof FORMAT;
  version: number;
  /** SHA-256 of the sources and options it was compiled from (see sourcesHash). */
  hash: string;
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
  text: string;
  ast: PatternAst;
  stixVersion: CompiledPattern['stixVersion'];
  warnings: readonly Diagnostic[];
  matchBudget: number;
  /** Root types of each observation expression, left to right. */
  rootTypes: string[][];
  /** Indices (left to right, across the pattern) of the comparisons that fold case. */
  folded: number[];
}

function encodePattern(pattern: CompiledPattern): EncodedPattern {
  const folded: number[] = [];
  let index = 0;
  for (const leaf of observationLeaves(pattern.ast.root))
    for (const comparison of comparisonLeaves(leaf.comparison)) {
      if (pattern.caseInsensitiveLeaves.has(comparison)) folded.push(index);
      index++;
    }
  return {
    text: pattern.text,
    ast: encodeValue(pattern.ast, 'pattern') as PatternAst,
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
function encodeValue(value: unknown, at: string): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint')
      throw new Error(`cannot write ${at} (a ${typeof value}) in the precompiled rules`);
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => encodeValue(v, `${at}[${i}]`));
  if (value instanceof CompiledPattern) return { [PATTERN_TAG]: encodePattern(value) };
  if (value instanceof ContentPath) return { [CONTENT_PATH_TAG]: { text: value.text, path: value.path } };
  if (value instanceof Uint8Array) return { [BYTES_TAG]: Buffer.from(value).toString('base64') };
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null)
    throw new Error(`cannot write ${at} (a ${(value as object).constructor.name}) in the precompiled rules`);
  const out: Record<string, unknown> = {};
  // Own enumerable properties, getters read (a rule's source line is one).
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = encodeValue(v, `${at}.${key}`);
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

function decodePattern(encoded: EncodedPattern): CompiledPattern {
  const ast = decodeValue(encoded.ast) as PatternAst;
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
    encoded.text,
    ast,
    encoded.stixVersion,
    encoded.warnings,
    observations,
    encoded.matchBudget,
    folded,
  );
}

function decodeValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = decodeValue(value[i]);
    return value;
  }
  const record = value as Record<string, unknown>;
  if (PATTERN_TAG in record) return decodePattern(record[PATTERN_TAG] as EncodedPattern);
  if (CONTENT_PATH_TAG in record) {
    const { text, path } = record[CONTENT_PATH_TAG] as { text: string; path: ObjectPath };
    return new ContentPath(text, path);
  }
  if (BYTES_TAG in record) return new Uint8Array(Buffer.from(record[BYTES_TAG] as string, 'base64'));
  for (const key of Object.keys(record)) record[key] = decodeValue(record[key]);
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
  const file: CompiledFile = {
    format: FORMAT,
    version: FORMAT_VERSION,
    hash: sourcesHash(dir, sources, options),
    rules: loaded.rules.map((rule, i) => {
      const encoded = encodeValue(rule, `rules[${i}] (${rule.id})`) as { source?: { file?: string } };
      if (encoded.source) encoded.source = inDir(encoded.source);
      return encoded;
    }),
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
    const rule = decodeValue(r) as Rule;
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

/**
 * Stage 3 of rule loading, compile: a candidate → a compiled rule, or an entry of the indicator
 * set. A rule is checked against the JSON Schema, then its pattern, group_by paths, filters,
 * validity and durations are compiled; an indicator that is one observation expression is
 * parsed once, judged (can it ever match?) and handed on for the indicator set's value index.
 * Every problem is a diagnostic at its place in the file; a candidate with an error compiles to
 * nothing.
 */
import type { ErrorObject } from 'ajv/dist/2020.js';
import type { Diagnostic } from '../errors.js';
import type { ObjectPath } from '../pattern/ast.js';
import { checkPattern, type CompiledPattern } from '../pattern/compile.js';
import { parseObjectPath } from '../pattern/object-path.js';
import { parsePattern } from '../pattern/parse.js';
import { evidentlySatisfiable } from '../generate/evident.js';
import { satisfiabilityDiagnostics } from '../generate/unsat.js';
import { BlockLibrary, hasReferences, type Expansion } from './blocks.js';
import type { RuleCandidate } from './collect.js';
import { ruleDiagnostic } from './diagnostics.js';
import { Duration } from './duration.js';
import { indicatorObservation, type IndicatorObservation, type IndicatorRecord } from './indicators.js';
import { isSingleObservation, streamingLimitError } from './limits.js';
import type { Rule, Severity } from './model.js';
import type { Position, ValuePath } from './read.js';
import { compileSigmaRule } from './sigma/compile.js';
import { builtinSigmaTaxonomy } from './sigma/taxonomy.js';
import type { SigmaTaxonomy } from './sigma/taxonomy-types.js';
import { compileAlertContent } from './templates.js';
import type { SigmaPlaceholders } from './sigma/detection.js';
import type { SigmaFilters } from './sigma/filter.js';
import type { SigmaPipelines } from './sigma/pipeline.js';
import { AGGREGATION_FIELDS, aggregationKindOf, compileAggregation } from './aggregation.js';
import { validateRuleDocument } from './rule-validators.js';

export interface CompileOptions {
  /**
   * Keep rules whose pattern can never match (reported as a warning instead of an error).
   * By default such a rule is invalid and skipped, in every shell alike.
   */
  allowUnsatisfiable?: boolean;
  /** Where Sigma rules' fields are (default: the built-in taxonomy of the built-in mappings). */
  sigmaTaxonomy?: SigmaTaxonomy;
  /** Values of Sigma `|expand` placeholders (`%name%`), by name; a placeholder without values is a diagnostic. */
  sigmaPlaceholders?: SigmaPlaceholders;
  /** Set by the loader: the load's Sigma filters and per-directory pipelines (./sigma/filter.ts, pipeline.ts). */
  sigmaFilters?: SigmaFilters;
  sigmaPipelines?: SigmaPipelines;
}

/** What a candidate compiles to: a rule, or an indicator for the indicator set. */
export type CompiledCandidate =
  { kind: 'rule'; rule: Rule } | { kind: 'indicator'; record: IndicatorRecord; observation: IndicatorObservation };

/** Compiles a candidate, appending what it finds to `diagnostics`; undefined when it has an error. */
export function compileCandidate(
  candidate: RuleCandidate,
  diagnostics: Diagnostic[],
  options: CompileOptions = {},
  blocks: BlockLibrary = NO_BLOCKS,
): CompiledCandidate | undefined {
  // Compiled by load.ts once every Sigma rule of the load is known (./sigma/correlation.ts).
  if (
    candidate.kind === 'sigma-correlation' ||
    candidate.kind === 'sigma-filter' ||
    candidate.kind === 'sigma-pipeline'
  )
    return undefined;
  if (candidate.kind === 'sigma') {
    const rule = compileSigmaRule(candidate, diagnostics, {
      taxonomy: options.sigmaTaxonomy ?? builtinSigmaTaxonomy,
      ...(options.allowUnsatisfiable ? { allowUnsatisfiable: true } : {}),
      ...(options.sigmaPlaceholders ? { placeholders: options.sigmaPlaceholders } : {}),
      ...(options.sigmaFilters ? { filters: options.sigmaFilters } : {}),
      ...(options.sigmaPipelines ? { pipelines: options.sigmaPipelines } : {}),
    });
    return rule ? { kind: 'rule', rule } : undefined;
  }
  if (candidate.kind === 'indicator') {
    const indicator = compileIndicator(candidate, diagnostics, options);
    if (indicator !== 'rule') return indicator;
  }
  const rule = compileRule(candidate, diagnostics, options, blocks);
  return rule ? { kind: 'rule', rule } : undefined;
}

// ---------------------------------------------------------------- rules

/** The fields that hold a duration, as JSON pointers (the schema's oneOf of seconds or `10m`). */
const DURATION_FIELDS = new Set([
  '/suppress',
  '/rate_limit/period',
  '/rate_limit/throttle_for',
  ...['/window', '/hop', '/history', '/learning', '/bucket'],
]);
const RULE_DURATION = { bareSeconds: false, fractions: false } as const;

/** The keys of a rule's `tests:` entry (what `stixflow test` reads). */
const TEST_KEYS = new Set(['name', 'description', 'events', 'expect', 'alerts', 'tenant']);

function pointerToPath(pointer: string): (string | number)[] {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

function parseTime(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Seconds of a duration field the schema has accepted (a whole number of seconds, or `<n><unit>`). */
function durationSeconds(value: unknown): number {
  const duration = Duration.parse(value as string | number, RULE_DURATION);
  if (Duration.isError(duration)) throw new Error(`unreachable: the schema accepted the duration ${String(value)}`);
  return duration.seconds;
}

/** Why a duration field's value is not one, in Duration's words. */
function durationProblem(value: unknown): string {
  if (typeof value !== 'string' && typeof value !== 'number')
    return 'must be a whole number of seconds or a duration such as 30s, 10m, 2h, 1d';
  const duration = Duration.parse(value, RULE_DURATION);
  if (Duration.isError(duration)) return duration.message;
  return `must be at least 1 second, got ${String(value)}`;
}

function valueAt(value: unknown, path: (string | number)[]): unknown {
  let at = value;
  for (const step of path) at = (at as Record<string | number, unknown> | undefined)?.[step];
  return at;
}

/** The schema's errors as diagnostics: each at the field, an unknown field at its key, a bad duration once. */
function schemaDiagnostics(
  candidate: RuleCandidate,
  errors: ErrorObject[],
  where: (path: ValuePath) => Diagnostic,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const durationsReported = new Set<string>();
  for (const error of errors) {
    // `if` only says that its `then`/`else` failed, whose own error follows.
    if (error.keyword === 'if') continue;
    const path = pointerToPath(error.instancePath);
    const field = error.instancePath || '(rule)';
    if (DURATION_FIELDS.has(error.instancePath)) {
      // The oneOf of seconds or `10m` fails three ways at once; Duration says why in one.
      if (durationsReported.has(error.instancePath)) continue;
      durationsReported.add(error.instancePath);
      out.push({ ...where(path), message: `${field}: ${durationProblem(valueAt(candidate.value, path))}` });
      continue;
    }
    const unknown =
      error.keyword === 'additionalProperties'
        ? (error.params as { additionalProperty?: string }).additionalProperty
        : undefined;
    const keyAt = unknown !== undefined ? candidate.atKey(path, unknown) : undefined;
    const detail =
      error.keyword === 'additionalProperties'
        ? `unknown field '${String(unknown)}'`
        : error.keyword === 'enum'
          ? `${error.message}: ${(error.params as { allowedValues?: unknown[] }).allowedValues?.join(', ')}`
          : error.message;
    out.push({ ...where(path), message: `${field}: ${detail ?? 'invalid'}`, ...(keyAt ?? {}) });
  }
  return out;
}

/**
 * The one verdict on patterns that can never match, for every shell that loads rules: an error
 * (the rule is skipped), or a warning when the caller keeps such rules. An observation
 * expression kept alive only by an observation-level OR is a warning either way.
 */
function unsatisfiability(pattern: CompiledPattern | string, options: CompileOptions): Diagnostic[] {
  return satisfiabilityDiagnostics(pattern).map((d) =>
    d.severity === 'error' && options.allowUnsatisfiable
      ? { ...d, severity: 'warning', message: `${d.message} (kept: unsatisfiable rules allowed)` }
      : d,
  );
}

// ---------------------------------------------------------------- lists and macros (#14.2)

const NO_BLOCKS = new BlockLibrary([]);

/**
 * A pattern field of a rule (its pattern, a filter's) with its `$references` expanded, or the
 * text as it is when it has none; undefined when expansion failed (reported at the field).
 */
function expandField(
  blocks: BlockLibrary,
  candidate: RuleCandidate,
  path: ValuePath,
  text: string,
  id: string | undefined,
  diagnostics: Diagnostic[],
  prefix: string,
): { text: string; expansion?: Expansion } | undefined {
  if (!hasReferences(text)) return { text };
  const { expansion, diagnostics: found } = blocks.expand(text, (offset, length) => ({
    file: candidate.file,
    ...(candidate.locate(path, offset) ?? candidate.at(path)),
    length,
    ...(id ? { ruleId: id } : {}),
  }));
  diagnostics.push(...found.map((d) => ({ ...d, message: `${prefix}${d.message}` })));
  return expansion ? { text: expansion.text, expansion } : undefined;
}

// ---------------------------------------------------------------- rules

/** A rule from its candidate, or undefined (with the reasons in `diagnostics`). */
export function compileRule(
  candidate: RuleCandidate,
  diagnostics: Diagnostic[],
  options: CompileOptions = {},
  blocks: BlockLibrary = NO_BLOCKS,
): Rule | undefined {
  const v = candidate.value;
  const id = typeof v.id === 'string' ? v.id : undefined;
  const where = (path: ValuePath): Diagnostic =>
    ruleDiagnostic('rule-schema', { file: candidate.file, ...candidate.at(path), ...(id ? { ruleId: id } : {}) });
  const at = (code: Parameters<typeof ruleDiagnostic>[0], path: ValuePath, message: string): Diagnostic =>
    ruleDiagnostic(code, { file: candidate.file, ...candidate.at(path), ...(id ? { ruleId: id } : {}) }, message);
  const before = diagnostics.length;

  if (!validateRuleDocument(v)) {
    diagnostics.push(...schemaDiagnostics(candidate, validateRuleDocument.errors ?? [], where));
    return undefined;
  }
  const stixVersion = v.stix_version === '2.0' ? '2.0' : '2.1';
  const caseSensitive = v.case_sensitive as boolean | { except: string[] } | undefined;
  const caseInsensitive =
    caseSensitive === undefined || caseSensitive === true
      ? false
      : caseSensitive === false
        ? true
        : caseSensitive.except;
  if (typeof caseSensitive === 'object')
    caseSensitive.except.forEach((text, i) => {
      const path = parseObjectPath(text);
      if (typeof path === 'string')
        diagnostics.push(
          at(
            'bad-case-path',
            ['case_sensitive', 'except', i],
            `case_sensitive except '${text}' is not an object path: ${path}`,
          ),
        );
    });
  const patternOptions = { stixVersion, caseInsensitive } as const;
  // The schema leaves a test entry open (events may be in any format); a key `stixflow test`
  // does not read (`expected:` for `expect:`) would silently change the test: warn at it.
  ((v.tests as Record<string, unknown>[] | undefined) ?? []).forEach((test, i) => {
    for (const key of Object.keys(test)) {
      if (TEST_KEYS.has(key)) continue;
      diagnostics.push({
        ...at(
          'unknown-test-key',
          ['tests', i],
          `tests[${i}]: unknown key '${key}' is ignored (a test has ${[...TEST_KEYS].join(', ')})`,
        ),
        ...(candidate.atKey(['tests', i], key) ?? {}),
      });
    }
  });

  // An aggregation rule's events are those its `select` pattern picks: compiled as a pattern.
  const aggregationKind = aggregationKindOf(v);
  const patternField = aggregationKind ? 'select' : 'pattern';
  if (!aggregationKind)
    for (const field of AGGREGATION_FIELDS)
      if (v[field] !== undefined)
        diagnostics.push(
          at(
            'aggregation-field',
            [field],
            `'${field}' belongs to aggregation rules (kind: threshold, distinct_count, new_terms), not to a pattern rule`,
          ),
        );
  // The pattern: map its diagnostics into the file. For a scalar on one line the column maps
  // exactly (plus one for the opening quote); otherwise we point at the field. Lists and macros
  // are expanded first; a diagnostic about the expanded text is mapped back to the text as
  // written (or to the `$reference` it came from).
  const writtenPattern = v[patternField] as string;
  const expandedPattern = expandField(
    blocks,
    candidate,
    [patternField],
    writtenPattern,
    id,
    diagnostics,
    `${patternField}: `,
  );
  const uses = { lists: new Set<string>(), macros: new Set<string>() };
  const used = (expansion: Expansion | undefined): void => {
    for (const name of expansion?.lists ?? []) uses.lists.add(name);
    for (const name of expansion?.macros ?? []) uses.macros.add(name);
  };
  used(expandedPattern?.expansion);
  const patternText = expandedPattern?.text ?? writtenPattern;
  const checked = expandedPattern ? checkPattern(patternText, patternOptions) : { diagnostics: [], pattern: undefined };
  const inPattern = (path: ValuePath, d: Diagnostic, fallback: Position): Position =>
    (d.offset !== undefined ? candidate.locate(path, d.offset) : undefined) ?? fallback;
  const patternDiagnostic = (found: Diagnostic): Diagnostic => {
    const d = expandedPattern?.expansion?.mapDiagnostic(found) ?? found;
    return {
      ...d,
      file: candidate.file,
      ...inPattern([patternField], d, candidate.at([patternField])),
      ...(id ? { ruleId: id } : {}),
      message: `${patternField}: ${d.message}`,
    };
  };
  diagnostics.push(...checked.diagnostics.map(patternDiagnostic));
  if (checked.pattern && !checked.diagnostics.some((d) => d.severity === 'error'))
    diagnostics.push(...unsatisfiability(checked.pattern, options).map(patternDiagnostic));
  const limit = checked.pattern
    ? streamingLimitError(checked.pattern.tree, checked.pattern.observations.length)
    : undefined;
  if (limit) diagnostics.push(at('too-many-observations', [patternField], `${patternField}: ${limit}`));
  if (aggregationKind && checked.pattern && !isSingleObservation(checked.pattern.tree))
    diagnostics.push(
      at(
        'aggregation-select',
        ['select'],
        'select: an aggregation rule selects events one at a time: one observation expression (OR of observation expressions is fine; no AND, FOLLOWEDBY, REPEATS or WITHIN between them)',
      ),
    );
  const aggregation = aggregationKind ? compileAggregation(candidate, aggregationKind, diagnostics) : undefined;

  const groupByText =
    v.group_by === undefined ? [] : Array.isArray(v.group_by) ? (v.group_by as string[]) : [v.group_by as string];
  const groupBy: ObjectPath[] = [];
  groupByText.forEach((text, i) => {
    const path = parseObjectPath(text);
    if (typeof path === 'string')
      diagnostics.push(
        at(
          'bad-group-by',
          ['group_by', ...(Array.isArray(v.group_by) ? [i] : [])],
          `group_by '${text}' is not an object path (type:property…): ${path}`,
        ),
      );
    else groupBy.push(path);
  });

  const filters: Rule['filters'] = [];
  ((v.filters as unknown[] | undefined) ?? []).forEach((entry, i) => {
    const spec =
      typeof entry === 'string'
        ? { pattern: entry }
        : (entry as { pattern: string; reason?: string; expires?: string });
    // A filter mutes what its rule matches: it compares as the rule does.
    const filterPath = typeof entry === 'string' ? ['filters', i] : ['filters', i, 'pattern'];
    const expandedFilter = expandField(blocks, candidate, filterPath, spec.pattern, id, diagnostics, `filter ${i}: `);
    used(expandedFilter?.expansion);
    const filterCheck = expandedFilter
      ? checkPattern(expandedFilter.text, patternOptions)
      : { diagnostics: [], pattern: undefined };
    const expires = spec.expires === undefined ? undefined : parseTime(spec.expires);
    if (spec.expires !== undefined && expires === undefined)
      diagnostics.push(
        at(
          'bad-filter-expiry',
          ['filters', i, 'expires'],
          `filter expires '${spec.expires}' is not an ISO 8601 date or date-time`,
        ),
      );
    for (const found of filterCheck.diagnostics) {
      const d = expandedFilter?.expansion?.mapDiagnostic(found) ?? found;
      diagnostics.push({
        ...d,
        file: candidate.file,
        ...(id ? { ruleId: id } : {}),
        ...inPattern(filterPath, d, candidate.at(filterPath)),
        message: `filter ${i}: ${d.message}`,
      });
    }
    if (filterCheck.pattern)
      filters.push({
        text: expandedFilter?.text ?? spec.pattern,
        pattern: filterCheck.pattern,
        ...(spec.reason ? { reason: spec.reason } : {}),
        ...(expires !== undefined ? { expires } : {}),
      });
  });

  // Alert content (#14.4): title and description templates, context paths, severity overrides.
  // A STIX indicator's description is free text (braces and all), never a template.
  const alertContent = compileAlertContent(
    candidate.kind === 'indicator' ? {} : v,
    {
      at: (path, d) => ({
        ...d,
        file: candidate.file,
        ...inPattern(path, d, candidate.at(path)),
        ...(id ? { ruleId: id } : {}),
      }),
      check: (text) => checkPattern(text, patternOptions),
    },
    diagnostics,
  );

  const validFrom = parseTime(v.valid_from);
  const validUntil = parseTime(v.valid_until);
  if (v.valid_from !== undefined && validFrom === undefined)
    diagnostics.push(at('bad-validity', ['valid_from'], `valid_from '${String(v.valid_from)}' is not a timestamp`));
  if (v.valid_until !== undefined && validUntil === undefined)
    diagnostics.push(at('bad-validity', ['valid_until'], `valid_until '${String(v.valid_until)}' is not a timestamp`));

  if (diagnostics.slice(before).some((d) => d.severity === 'error') || !checked.pattern) return undefined;
  const rateLimit = v.rate_limit as
    { max_alerts: number; period?: number | string; throttle_for?: number | string } | undefined;
  const scope = v.scope as { tenants?: string[]; hosts?: string[] } | undefined;
  return {
    id: v.id as string,
    name: v.name as string,
    description: (v.description as string | undefined) ?? '',
    severity: v.severity as Severity,
    ...(typeof v.category === 'string' ? { category: v.category } : {}),
    ...(typeof v.type === 'string' ? { type: v.type } : {}),
    tags: (v.tags as string[] | undefined) ?? [],
    // OUTPUTS (#19)
    ...(Array.isArray(v.outputs) ? { outputs: v.outputs as string[] } : {}),
    enabled: v.enabled !== false,
    patternText,
    pattern: checked.pattern,
    ...(patternText !== writtenPattern ? { writtenPattern } : {}),
    ...(uses.lists.size + uses.macros.size > 0
      ? { uses: { lists: [...uses.lists].sort(), macros: [...uses.macros].sort() } }
      : {}),
    patternOptions,
    groupBy,
    groupByText,
    filters,
    ...(v.suppress !== undefined ? { suppressSeconds: durationSeconds(v.suppress) } : {}),
    ...(rateLimit
      ? {
          rateLimit: {
            maxAlerts: rateLimit.max_alerts,
            periodSeconds: durationSeconds(rateLimit.period ?? 60),
            throttleSeconds: durationSeconds(rateLimit.throttle_for ?? 600),
          },
        }
      : {}),
    ...(scope
      ? {
          scope: {
            ...(scope.tenants ? { tenants: scope.tenants } : {}),
            ...(scope.hosts ? { hosts: scope.hosts } : {}),
          },
        }
      : {}),
    ...(validFrom !== undefined ? { validFrom } : {}),
    ...(validUntil !== undefined ? { validUntil } : {}),
    tests: (v.tests as Record<string, unknown>[] | undefined) ?? [],
    ...alertContent,
    source: lazySource(candidate),
    ...(aggregation ? { aggregation } : {}),
    ...(typeof v.risk === 'number' && aggregation?.kind !== 'risk' ? { risk: v.risk } : {}),
  };
}

/** Where a rule came from; the line is resolved only when something reads it. */
function lazySource(candidate: RuleCandidate): NonNullable<Rule['source']> {
  const position = candidate.positionLater();
  return {
    file: candidate.file,
    get line() {
      return position().line;
    },
  };
}

// ---------------------------------------------------------------- indicators

/**
 * An indicator for the indicator set, when its pattern is one observation expression: parsed
 * once (feed shapes such as `[ipv4-addr:value = '…']` by the parser's fast path), judged by the
 * same satisfiability verdict as rules, and validated. 'rule' when it must load as an ordinary
 * rule instead (several observation expressions, qualifiers, a comparison on any root type, or
 * bad validity timestamps, which the rule path reports); undefined when it has an error.
 */
export function compileIndicator(
  candidate: RuleCandidate,
  diagnostics: Diagnostic[],
  options: CompileOptions = {},
): CompiledCandidate | 'rule' | undefined {
  const v = candidate.value;
  if (typeof v.pattern !== 'string' || typeof v.id !== 'string') return 'rule';
  const validFrom = parseTime(v.valid_from);
  const validUntil = parseTime(v.valid_until);
  if (
    (v.valid_from !== undefined && validFrom === undefined) ||
    (v.valid_until !== undefined && validUntil === undefined)
  )
    return 'rule';
  const stixVersion = v.stix_version === '2.0' ? '2.0' : '2.1';
  const id = v.id;
  const report = (found: Diagnostic[]): void => {
    for (const d of found)
      diagnostics.push({
        ...d,
        file: candidate.file,
        ...candidate.position,
        ruleId: id,
        message: `indicator pattern: ${d.message}`,
      });
  };
  const parsed = parsePattern(v.pattern, { stixVersion });
  if (!parsed.ast) {
    report(parsed.diagnostics);
    return undefined;
  }
  if (parsed.ast.root.kind !== 'observation') return 'rule';
  // Feed shapes are evidently satisfiable; anything else is compiled and analysed (a pattern
  // that does not compile is left to validation below).
  if (!evidentlySatisfiable(parsed.ast.root.comparison)) {
    const checked = checkPattern(v.pattern, { stixVersion });
    if (checked.pattern) {
      const verdict = unsatisfiability(checked.pattern, options);
      report(verdict);
      if (verdict.some((d) => d.severity === 'error')) return undefined;
    }
  }
  const observation = indicatorObservation(parsed.ast);
  if (observation === 'rule') return 'rule';
  if (Array.isArray(observation)) {
    report(observation);
    return undefined;
  }
  const record: IndicatorRecord = {
    id,
    name: v.name as string,
    description: (v.description as string | undefined) ?? '',
    severity: v.severity as Severity,
    tags: (v.tags as string[] | undefined) ?? [],
    patternText: v.pattern,
    stixVersion,
  };
  if (validFrom !== undefined) record.validFrom = validFrom;
  if (validUntil !== undefined) record.validUntil = validUntil;
  return {
    kind: 'indicator',
    record,
    observation,
  };
}

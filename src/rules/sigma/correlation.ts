/**
 * Sigma v2 correlation rules (a document with `correlation:` {type, rules, group-by, timespan,
 * condition, aliases, generate}) → ordinary stixflow rules, compiled once every Sigma rule of the
 * load has compiled, onto the kinds the engine already runs:
 *
 * - `event_count` → a threshold aggregation whose select is the referenced rules' observation
 *   expressions ORed in one observation (every Sigma rule is rooted at x-oca-event);
 * - `value_count` → distinct_count over `condition.field`;
 * - `temporal` → `([r1] AND [r2] …) WITHIN n SECONDS`, `temporal_ordered` → `FOLLOWEDBY`;
 *   each with the group-by paths as group_by.
 *
 * The referenced rules' comparisons keep their case folding (copied comparison by comparison).
 * With `generate: false` (Sigma's default) a referenced rule raises no alert of its own: it is
 * loaded disabled (`enabled: false`, `sigma.correlatedBy` says why), unless some correlation that
 * names it says `generate: true`.
 */
import { isRecord } from '../../util/records.js';
import { strings, text } from './yaml-values.js';
import type { Diagnostic } from '../../errors.js';
import { comparisonLeaves, observationLeaves } from '../../pattern/ast.js';
import { checkPattern, type CompiledPattern } from '../../pattern/compile.js';
import { parseObjectPath } from '../../pattern/object-path.js';
import type { ObjectPath } from '../../pattern/ast.js';
import type { RuleCandidate } from '../collect.js';
import { ruleDiagnostic, type RuleLoadCode } from '../diagnostics.js';
import { Duration } from '../duration.js';
import { streamingLimitError } from '../limits.js';
import { SEVERITIES, type Rule, type Severity } from '../model.js';
import type { ValuePath } from '../read.js';
import {
  DEFAULT_EXACT_UP_TO,
  MAX_HOPS_PER_WINDOW,
  type Aggregation,
  type AggregationCondition,
} from '../aggregation.js';
import type { SigmaTaxonomy } from './taxonomy-types.js';

export const CORRELATION_TYPES = ['event_count', 'value_count', 'temporal', 'temporal_ordered'] as const;
export type CorrelationType = (typeof CORRELATION_TYPES)[number];

/** A document with a `correlation:` mapping (and no detection) is a Sigma correlation rule. */
export function isSigmaCorrelation(value: unknown): value is Record<string, unknown> {
  return isRecord(value) && isRecord(value.correlation) && !('detection' in value);
}

/** A Sigma rule of the load that compiled, with the `name` it may be referenced by. */
export interface SigmaBaseRule {
  rule: Rule;
  name?: string;
}

export interface CorrelationOptions {
  taxonomy: SigmaTaxonomy;
}

const CONDITION_BOUNDS = ['gt', 'gte', 'lt', 'lte', 'eq'] as const;
const RULE_DURATION = { bareSeconds: false, fractions: false } as const;
/**
 * Hops per window, as a rule file's default hop (half the window): each hopping window whose
 * condition holds alerts once, so more hops would be more alerts for the same burst.
 */
const CORRELATION_HOPS = Math.min(2, MAX_HOPS_PER_WINDOW);

/**
 * Compiles the correlations of a load against its Sigma rules. `sigmaCandidates` are every Sigma
 * rule candidate of the load (also those that did not compile), so that a reference to a rule
 * that failed is told apart from a name nothing defines. Returns the correlation rules; referenced
 * rules' `enabled` is set as `generate` says.
 */
export function compileSigmaCorrelations(
  correlations: readonly RuleCandidate[],
  bases: readonly SigmaBaseRule[],
  sigmaCandidates: readonly RuleCandidate[],
  diagnostics: Diagnostic[],
  options: CorrelationOptions,
): Rule[] {
  const byReference = new Map<string, Rule>();
  for (const { rule, name } of bases) {
    byReference.set(rule.id, rule);
    if (name) byReference.set(name, rule);
  }
  const written = new Set<string>();
  for (const c of sigmaCandidates) {
    if (c.id) written.add(c.id);
    if (typeof c.value.name === 'string') written.add(c.value.name);
  }
  const correlationNames = new Set<string>();
  for (const c of correlations) {
    if (c.id) correlationNames.add(c.id);
    if (typeof c.value.name === 'string') correlationNames.add(c.value.name);
  }

  const out: Rule[] = [];
  const generating = new Set<Rule>();
  const silenced = new Map<Rule, string[]>();
  for (const candidate of correlations) {
    const compiled = compileCorrelation(candidate, byReference, written, correlationNames, diagnostics, options);
    if (!compiled) continue;
    out.push(compiled.rule);
    for (const base of compiled.bases) {
      if (compiled.generate) generating.add(base);
      silenced.set(base, [...(silenced.get(base) ?? []), compiled.rule.id]);
    }
  }
  for (const [base, by] of silenced) {
    if (base.sigma) base.sigma.correlatedBy = by;
    if (!generating.has(base)) base.enabled = false;
  }
  return out;
}

function compileCorrelation(
  candidate: RuleCandidate,
  byReference: ReadonlyMap<string, Rule>,
  written: ReadonlySet<string>,
  correlationNames: ReadonlySet<string>,
  diagnostics: Diagnostic[],
  options: CorrelationOptions,
): { rule: Rule; bases: Rule[]; generate: boolean } | undefined {
  const v = candidate.value;
  const c = v.correlation as Record<string, unknown>;
  const id = typeof v.id === 'string' && v.id ? v.id : undefined;
  const before = diagnostics.length;
  const report = (code: RuleLoadCode, path: ValuePath, message: string): void => {
    diagnostics.push(
      ruleDiagnostic(code, { file: candidate.file, ...candidate.at(path), ...(id ? { ruleId: id } : {}) }, message),
    );
  };
  const shape = (path: ValuePath, message: string): undefined => {
    report('sigma-correlation-shape', path, message);
    return undefined;
  };
  if (!id) return shape(['id'], 'a Sigma correlation needs an `id` (alert ids and state are keyed by it)');
  if (typeof v.title !== 'string' || !v.title)
    return shape(['title'], 'a Sigma correlation needs a `title` (a string)');
  const type = c.type;
  if (!(CORRELATION_TYPES as readonly unknown[]).includes(type))
    return shape(
      ['correlation', 'type'],
      `\`correlation.type\` is one of ${CORRELATION_TYPES.join(', ')}, not ${JSON.stringify(type)}`,
    );
  const correlationType = type as CorrelationType;
  const level = v.level === undefined ? undefined : typeof v.level === 'string' ? v.level.toLowerCase() : '';
  if (level !== undefined && !(SEVERITIES as readonly string[]).includes(level))
    return shape(['level'], `\`level\` is one of ${SEVERITIES.join(', ')}, not ${JSON.stringify(v.level)}`);

  const references = typeof c.rules === 'string' ? [c.rules] : Array.isArray(c.rules) ? c.rules : undefined;
  if (!references || references.length === 0 || references.some((r) => typeof r !== 'string'))
    return shape(['correlation', 'rules'], '`correlation.rules` names the Sigma rules it correlates (ids or names)');
  const minimum = correlationType.startsWith('temporal') ? 2 : 1;
  if (references.length < minimum)
    return shape(['correlation', 'rules'], `a ${correlationType} correlation names at least ${minimum} rules`);

  const timespan = c.timespan === undefined ? undefined : Duration.parse(c.timespan as string | number, RULE_DURATION);
  if (timespan === undefined || Duration.isError(timespan))
    return shape(
      ['correlation', 'timespan'],
      `\`correlation.timespan\` is a duration such as 30s, 5m, 1h, 1d${timespan && Duration.isError(timespan) ? ` (${timespan.message})` : ''}`,
    );
  const seconds = timespan.seconds;

  const bases: Rule[] = [];
  (references as string[]).forEach((reference, i) => {
    const rule = byReference.get(reference);
    if (rule) {
      bases.push(rule);
      return;
    }
    const why = correlationNames.has(reference)
      ? 'a correlation rule; a correlation of correlations is not supported'
      : written.has(reference)
        ? 'a Sigma rule that did not load (see its diagnostics)'
        : 'no Sigma rule of the load (by id or name)';
    report(
      'sigma-correlation-rule',
      ['correlation', 'rules', ...(Array.isArray(c.rules) ? [i] : [])],
      `\`${reference}\` is ${why}`,
    );
  });
  if (new Set(bases).size !== bases.length)
    report('sigma-correlation-shape', ['correlation', 'rules'], '`correlation.rules` names one rule twice');

  // group-by and the value_count field, resolved per referenced rule (aliases say a field per rule).
  const aliases = isRecord(c.aliases) ? c.aliases : {};
  const resolve = (name: string, path: ValuePath): { text: string; path: ObjectPath } | undefined => {
    const alias = aliases[name];
    const paths = new Set<string>();
    (references as string[]).forEach((reference) => {
      const rule = byReference.get(reference);
      if (!rule?.sigma) return;
      const field = isRecord(alias) && typeof alias[reference] === 'string' ? alias[reference] : name;
      const binding = options.taxonomy.field(rule.sigma.logsource, field);
      if (!binding) {
        report('sigma-unknown-field', path, `field '${field}' has no path in the logsource of ${reference}`);
        return;
      }
      for (const p of binding.paths) paths.add(p);
    });
    if (paths.size === 0) return undefined;
    if (paths.size > 1) {
      report(
        'sigma-correlation-unsupported',
        path,
        `'${name}' is found at different paths (${[...paths].join(', ')}) in the correlated rules' events${isRecord(alias) ? ' (through `aliases`)' : ''}; a group key reads one path per rule`,
      );
      return undefined;
    }
    const text = [...paths][0] as string;
    const parsed = parseObjectPath(text);
    return typeof parsed === 'string' ? undefined : { text, path: parsed };
  };
  const groupNames = c['group-by'] === undefined ? [] : Array.isArray(c['group-by']) ? c['group-by'] : [c['group-by']];
  if (groupNames.some((g) => typeof g !== 'string'))
    return shape(['correlation', 'group-by'], '`correlation.group-by` is a list of field names');
  const groupBy = (groupNames as string[]).map((name, i) => resolve(name, ['correlation', 'group-by', i]));

  let aggregation: Aggregation | undefined;
  if (correlationType === 'event_count' || correlationType === 'value_count') {
    const condition = readCondition(c.condition, correlationType, report);
    const hops = largestDivisorUpTo(seconds, CORRELATION_HOPS);
    const windowed = { windowSeconds: seconds, hopSeconds: seconds / hops, condition: condition ?? {} };
    if (correlationType === 'event_count') aggregation = { kind: 'threshold', ...windowed, measure: { of: 'count' } };
    else {
      const field = isRecord(c.condition) ? c.condition.field : undefined;
      const distinct = typeof field === 'string' ? resolve(field, ['correlation', 'condition', 'field']) : undefined;
      if (typeof field !== 'string')
        report(
          'sigma-correlation-shape',
          ['correlation', 'condition'],
          'a value_count correlation names the counted field in `condition.field`',
        );
      if (distinct)
        aggregation = { kind: 'distinct_count', ...windowed, paths: [distinct], exactUpTo: DEFAULT_EXACT_UP_TO };
    }
  }
  if (diagnostics.slice(before).some((d) => d.severity === 'error') || bases.length === 0) return undefined;

  // The correlation is built from its rules' pattern texts; a field reference has none that parses.
  const referencing = bases.find((base) =>
    observationLeaves(base.pattern.ast.root).some((o) =>
      comparisonLeaves(o.comparison).some((l) => l.kind === 'fieldref'),
    ),
  );
  if (referencing)
    return void report(
      'sigma-correlation-unsupported',
      ['correlation', 'rules'],
      `the rule ${referencing.id} compares two fields (fieldref), which a correlation cannot combine yet`,
    );
  const bodies = bases.map((base) => base.patternText.slice(1, -1));
  const patternText =
    correlationType === 'event_count' || correlationType === 'value_count'
      ? bodies.length === 1
        ? `[${bodies[0]}]`
        : `[${bodies.map((b) => `(${b})`).join(' OR ')}]`
      : `(${bodies.map((b) => `[${b}]`).join(correlationType === 'temporal' ? ' AND ' : ' FOLLOWEDBY ')}) WITHIN ${seconds} SECONDS`;
  const folds = bases.flatMap((base) => foldsOf(base.pattern));
  const checked = checkPattern(patternText, { caseInsensitive: (_leaf, index) => folds[index] === true });
  for (const d of checked.diagnostics)
    if (d.severity === 'error')
      report('sigma-correlation-unsupported', ['correlation'], `compiled pattern: ${d.message}`);
  if (!checked.pattern || checked.diagnostics.some((d) => d.severity === 'error')) return undefined;
  const limit = streamingLimitError(checked.pattern.tree, checked.pattern.observations.length);
  if (limit) return void report('sigma-correlation-unsupported', ['correlation', 'rules'], limit);

  let offset = 0;
  const caseSensitive: number[] = [];
  for (const base of bases) {
    for (const i of base.sigma?.caseSensitiveComparisons ?? []) caseSensitive.push(offset + i);
    offset += foldsOf(base.pattern).length;
  }
  const tags = Array.isArray(v.tags) ? v.tags.filter((t): t is string => typeof t === 'string') : [];
  const position = candidate.positionLater();
  const first = bases[0] as Rule;
  const resolvedGroupBy = groupBy.filter((g): g is { text: string; path: ObjectPath } => g !== undefined);
  const rule: Rule = {
    id,
    name: v.title,
    description: typeof v.description === 'string' ? v.description.trim() : '',
    severity: (level ?? 'medium') as Severity,
    tags,
    enabled: true,
    patternText,
    pattern: checked.pattern,
    groupBy: resolvedGroupBy.map((g) => g.path),
    groupByText: resolvedGroupBy.map((g) => g.text),
    filters: [],
    tests: [],
    source: {
      file: candidate.file,
      get line() {
        return position().line;
      },
    },
    sigma: {
      ...(level !== undefined ? { level } : {}),
      ...(typeof v.status === 'string' ? { status: v.status } : {}),
      ...(typeof v.author === 'string' ? { author: v.author } : {}),
      ...(text(v.date) !== undefined ? { date: text(v.date) as string } : {}),
      ...(text(v.modified) !== undefined ? { modified: text(v.modified) as string } : {}),
      references: strings(v.references),
      falsePositives: strings(v.falsepositives),
      attack: tags.filter((tag) => tag.toLowerCase().startsWith('attack.')),
      logsource: first.sigma?.logsource ?? {},
      unmappedFields: [...new Set(bases.flatMap((b) => b.sigma?.unmappedFields ?? []))],
      caseSensitiveComparisons: caseSensitive,
      correlation: { type: correlationType, rules: bases.map((b) => b.id), timespanSeconds: seconds },
    },
    ...(aggregation ? { aggregation } : {}),
  };
  return { rule, bases, generate: c.generate === true };
}

/** Whether each comparison of a compiled pattern folds case, in the order the compiler numbers them. */
function foldsOf(pattern: CompiledPattern): boolean[] {
  return observationLeaves(pattern.ast.root).flatMap((leaf) =>
    comparisonLeaves(leaf.comparison).map((comparison) => pattern.caseInsensitiveLeaves.has(comparison)),
  );
}

/** The largest divisor of n that is at most `max` (hops must divide the window). */
function largestDivisorUpTo(n: number, max: number): number {
  for (let k = Math.min(n, max); k > 1; k--) if (n % k === 0) return k;
  return 1;
}

function readCondition(
  value: unknown,
  type: CorrelationType,
  report: (code: RuleLoadCode, path: ValuePath, message: string) => void,
): AggregationCondition | undefined {
  if (!isRecord(value)) {
    report(
      'sigma-correlation-shape',
      ['correlation', 'condition'],
      `a ${type} correlation needs a \`condition\` (gt, gte, lt, lte, eq)`,
    );
    return undefined;
  }
  const condition: AggregationCondition = {};
  for (const [key, bound] of Object.entries(value)) {
    if (key === 'field' && type === 'value_count') continue;
    if (!(CONDITION_BOUNDS as readonly string[]).includes(key) || typeof bound !== 'number') {
      report(
        key === 'neq' ? 'sigma-correlation-unsupported' : 'sigma-correlation-shape',
        ['correlation', 'condition', key],
        key === 'neq'
          ? '`neq` has no form in the aggregation conditions (gt, gte, lt, lte, eq)'
          : `\`${key}\` is not a condition bound (gt, gte, lt, lte, eq with a number)`,
      );
      continue;
    }
    condition[key as (typeof CONDITION_BOUNDS)[number]] = bound;
  }
  if (Object.keys(condition).length === 0 && !Object.keys(value).some((k) => k !== 'field'))
    report(
      'sigma-correlation-shape',
      ['correlation', 'condition'],
      'the condition names no bound (gt, gte, lt, lte, eq)',
    );
  return condition;
}

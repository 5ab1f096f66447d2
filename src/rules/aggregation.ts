/**
 * The aggregation rule kinds of a rule file (issue #16): `threshold`, `distinct_count`,
 * `new_terms`, `outliers` and `risk`. Such a rule selects its events with `select:` (one STIX observation expression,
 * compiled like any pattern), partitions them by `group_by`, and says what to aggregate and when
 * to alert. This module is the model of those fields and their compile stage; the run-time side
 * is src/engine/aggregation-kind.ts. docs/rule-kinds.md explains each kind with a timeline.
 */
import type { Diagnostic } from '../errors.js';
import type { ObjectPath } from '../pattern/ast.js';
import { parseObjectPath } from '../pattern/object-path.js';
import type { RuleCandidate } from './collect.js';
import { ruleDiagnostic, type RuleLoadCode } from './diagnostics.js';
import { Duration } from './duration.js';
import type { ValuePath } from './read.js';

/** The kinds a rule's `kind:` names; `pattern` (the default) is a STIX pattern rule. */
export const AGGREGATION_KINDS = ['threshold', 'distinct_count', 'new_terms', 'outliers', 'risk'] as const;
export type AggregationKindName = (typeof AGGREGATION_KINDS)[number];
export const RULE_KINDS = ['pattern', ...AGGREGATION_KINDS] as const;

/**
 * When an aggregate alerts: every bound given must hold (`{ gte: 5, lt: 10 }` is a range). A bare
 * number n in the rule file means `{ gte: n }`.
 */
export interface AggregationCondition {
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
  eq?: number;
}

/** Whether the condition only has lower bounds: it can then be decided as soon as it holds. */
export function isLowerBoundOnly(condition: AggregationCondition): boolean {
  return condition.lt === undefined && condition.lte === undefined && condition.eq === undefined;
}

export function conditionHolds(condition: AggregationCondition, value: number): boolean {
  return (
    (condition.gt === undefined || value > condition.gt) &&
    (condition.gte === undefined || value >= condition.gte) &&
    (condition.lt === undefined || value < condition.lt) &&
    (condition.lte === undefined || value <= condition.lte) &&
    (condition.eq === undefined || value === condition.eq)
  );
}

/** The condition as text, for alerts and messages: `>= 10`, `> 5 and < 9`. */
export function describeCondition(condition: AggregationCondition): string {
  const parts: string[] = [];
  if (condition.gt !== undefined) parts.push(`> ${condition.gt}`);
  if (condition.gte !== undefined) parts.push(`>= ${condition.gte}`);
  if (condition.lt !== undefined) parts.push(`< ${condition.lt}`);
  if (condition.lte !== undefined) parts.push(`<= ${condition.lte}`);
  if (condition.eq !== undefined) parts.push(`= ${condition.eq}`);
  return parts.join(' and ');
}

/** A path as written and parsed. */
export interface AggregationPath {
  text: string;
  path: ObjectPath;
}

/** Windowed kinds: hopping windows of `windowSeconds`, one starting every `hopSeconds`. */
interface Windowed {
  windowSeconds: number;
  hopSeconds: number;
  condition: AggregationCondition;
}

export interface ThresholdAggregation extends Windowed {
  kind: 'threshold';
  /** What is compared with the condition: the number of events, or the sum or maximum of a numeric path. */
  measure: { of: 'count' } | { of: 'sum' | 'max'; path: AggregationPath };
}

export interface DistinctCountAggregation extends Windowed {
  kind: 'distinct_count';
  /** The value counted: one path, or a combination of up to three. */
  paths: AggregationPath[];
  /** Distinct values kept exactly per window slot; past it, a HyperLogLog sketch. */
  exactUpTo: number;
}

export interface NewTermsAggregation {
  kind: 'new_terms';
  /** The term: one path, or a combination of up to three. */
  paths: AggregationPath[];
  /** A term is new when the group has not seen it within this many seconds before. */
  historySeconds: number;
  /** Nothing alerts until the group is this old (event time since its first event). */
  learningSeconds: number;
  /** Nothing alerts until the group has seen this many selected events. */
  minGroupEvents: number;
}

export interface OutliersAggregation {
  kind: 'outliers';
  /** The per-bucket value: the number of events, or the sum of a numeric path. */
  measure: { of: 'count' } | { of: 'sum'; path: AggregationPath };
  bucketSeconds: number;
  /** The baseline: the group's buckets within this long before the bucket judged. */
  historySeconds: number;
  /** A bucket alerts above median + deviations × the baseline's scaled median absolute deviation. */
  deviations: number;
  /** Baseline buckets (since the group's first event) needed before anything alerts. */
  minBuckets: number;
}

/**
 * risk: the rules whose alerts carry a `risk` contribute it to the entity (`group_by`, read on the
 * alert's objects); a window alerts when the risk of the distinct rules that fired within it
 * meets the condition. Its events are alerts (src/engine/risk-input.ts), selected by `select`.
 */
export interface RiskAggregation extends Windowed {
  kind: 'risk';
}

export type Aggregation =
  ThresholdAggregation | DistinctCountAggregation | NewTermsAggregation | OutliersAggregation | RiskAggregation;

/** The highest `risk` a rule may carry. */
export const MAX_RULE_RISK = 10_000;

/** Buckets a baseline may hold at most (history / bucket). */
export const MAX_BASELINE_BUCKETS = 1000;
export const DEFAULT_DEVIATIONS = 5;

/** The fields each kind reads (beyond those every rule has); any other of them is an error. */
const KIND_FIELDS: Record<AggregationKindName, { required: string[]; optional: string[] }> = {
  threshold: { required: ['window', 'condition'], optional: ['hop', 'sum', 'max'] },
  distinct_count: { required: ['window', 'condition', 'distinct'], optional: ['hop', 'exact_up_to'] },
  new_terms: { required: ['terms', 'history'], optional: ['learning', 'min_group_events'] },
  outliers: { required: ['bucket', 'history'], optional: ['sum', 'deviation', 'min_buckets'] },
  risk: { required: ['window', 'condition'], optional: ['hop'] },
};
export const AGGREGATION_FIELDS = [
  'select',
  ...new Set(Object.values(KIND_FIELDS).flatMap((f) => [...f.required, ...f.optional])),
];

/** Hopping windows per window at most: the state of a group holds about this many slots. */
export const MAX_HOPS_PER_WINDOW = 60;
export const DEFAULT_EXACT_UP_TO = 100;
export const MAX_EXACT_UP_TO = 1000;
export const MAX_TERM_PATHS = 3;

const RULE_DURATION = { bareSeconds: false, fractions: false } as const;

/** Whether a rule file's entry declares an aggregation kind. */
export function aggregationKindOf(value: Record<string, unknown>): AggregationKindName | undefined {
  return (AGGREGATION_KINDS as readonly unknown[]).includes(value.kind)
    ? (value.kind as AggregationKindName)
    : undefined;
}

/**
 * The aggregation of a rule whose schema check passed, or undefined with the reasons in
 * `diagnostics` (each at its field). `kind` is the rule's declared aggregation kind.
 */
export function compileAggregation(
  candidate: RuleCandidate,
  kind: AggregationKindName,
  diagnostics: Diagnostic[],
): Aggregation | undefined {
  const v = candidate.value;
  const id = typeof v.id === 'string' ? v.id : undefined;
  const before = diagnostics.length;
  const report = (code: RuleLoadCode, path: ValuePath, message: string): void => {
    diagnostics.push(
      ruleDiagnostic(code, { file: candidate.file, ...candidate.at(path), ...(id ? { ruleId: id } : {}) }, message),
    );
  };
  const fields = KIND_FIELDS[kind];
  for (const field of fields.required)
    if (v[field] === undefined) report('aggregation-field', [], `a ${kind} rule needs '${field}'`);
  for (const field of AGGREGATION_FIELDS)
    if (field !== 'select' && v[field] !== undefined && ![...fields.required, ...fields.optional].includes(field))
      report('aggregation-field', [field], `'${field}' has no meaning for a ${kind} rule`);
  if (v.pattern !== undefined)
    report('aggregation-field', ['pattern'], `a ${kind} rule selects its events with 'select', not 'pattern'`);
  if (kind === 'risk' && v.group_by === undefined)
    report(
      'aggregation-field',
      [],
      "a risk rule needs 'group_by': the entity (a path on the alerts' objects) whose risk it sums",
    );
  if (kind === 'risk' && v.risk !== undefined)
    report('aggregation-field', ['risk'], 'a risk rule cannot carry a risk: its alerts do not feed risk rules');
  if (kind === 'threshold' && v.sum !== undefined && v.max !== undefined)
    report('aggregation-field', ['max'], "a threshold rule aggregates one of 'sum' or 'max', not both");

  const seconds = (field: string): number | undefined => {
    const value = v[field];
    if (value === undefined) return undefined;
    const duration = Duration.parse(value as string | number, RULE_DURATION);
    // The schema only lets valid durations through.
    return Duration.isError(duration) ? undefined : duration.seconds;
  };
  const paths = (field: string): AggregationPath[] => {
    const value = v[field];
    if (value === undefined) return [];
    const texts = Array.isArray(value) ? (value as string[]) : [value as string];
    const out: AggregationPath[] = [];
    texts.forEach((text, i) => {
      const path = parseObjectPath(text);
      if (typeof path === 'string')
        report(
          'bad-aggregation-path',
          [field, ...(Array.isArray(value) ? [i] : [])],
          `${field} '${text}' is not an object path (type:property…): ${path}`,
        );
      else out.push({ text, path });
    });
    return out;
  };

  const condition = readCondition(v.condition);
  if (v.condition !== undefined) {
    const problem = conditionProblem(condition);
    if (problem) report('aggregation-condition', ['condition'], `condition ${problem}`);
  }
  const windowSeconds = seconds('window') ?? 0;
  const hopSeconds = seconds('hop') ?? Math.max(1, Math.ceil(windowSeconds / 2));
  if ((kind === 'threshold' || kind === 'distinct_count' || kind === 'risk') && windowSeconds > 0) {
    if (hopSeconds > windowSeconds)
      report('aggregation-condition', ['hop'], `hop (${hopSeconds} s) is longer than the window (${windowSeconds} s)`);
    else if (windowSeconds % hopSeconds !== 0)
      report(
        'aggregation-condition',
        ['hop'],
        `the window (${windowSeconds} s) must be a whole number of hops (${hopSeconds} s)`,
      );
    else if (windowSeconds / hopSeconds > MAX_HOPS_PER_WINDOW)
      report(
        'aggregation-condition',
        ['hop'],
        `a window holds at most ${MAX_HOPS_PER_WINDOW} hops; ${windowSeconds} s / ${hopSeconds} s is ${windowSeconds / hopSeconds}`,
      );
  }
  let aggregation: Aggregation | undefined;
  if (kind === 'threshold') {
    const sum = paths('sum');
    const max = paths('max');
    const measure: ThresholdAggregation['measure'] =
      sum[0] !== undefined
        ? { of: 'sum', path: sum[0] }
        : max[0] !== undefined
          ? { of: 'max', path: max[0] }
          : { of: 'count' };
    aggregation = { kind, windowSeconds, hopSeconds, condition, measure };
  } else if (kind === 'risk') {
    aggregation = { kind, windowSeconds, hopSeconds, condition };
  } else if (kind === 'distinct_count') {
    aggregation = {
      kind,
      windowSeconds,
      hopSeconds,
      condition,
      paths: paths('distinct'),
      exactUpTo: (v.exact_up_to as number | undefined) ?? DEFAULT_EXACT_UP_TO,
    };
  } else if (kind === 'outliers') {
    const bucketSeconds = seconds('bucket') ?? 0;
    const historySeconds = seconds('history') ?? 0;
    const sum = paths('sum');
    if (bucketSeconds > 0 && historySeconds > 0) {
      if (historySeconds % bucketSeconds !== 0 || historySeconds / bucketSeconds < 2)
        report(
          'aggregation-condition',
          ['history'],
          `the history (${historySeconds} s) must be a whole number of buckets (${bucketSeconds} s), at least two`,
        );
      else if (historySeconds / bucketSeconds > MAX_BASELINE_BUCKETS)
        report(
          'aggregation-condition',
          ['bucket'],
          `a baseline holds at most ${MAX_BASELINE_BUCKETS} buckets; ${historySeconds} s / ${bucketSeconds} s is ${historySeconds / bucketSeconds}`,
        );
    }
    const minBuckets =
      (v.min_buckets as number | undefined) ?? Math.max(2, Math.floor(historySeconds / bucketSeconds / 2));
    if (bucketSeconds > 0 && minBuckets > historySeconds / bucketSeconds)
      report('aggregation-condition', ['min_buckets'], `min_buckets (${minBuckets}) is more than the history holds`);
    aggregation = {
      kind,
      measure: sum[0] !== undefined ? { of: 'sum', path: sum[0] } : { of: 'count' },
      bucketSeconds,
      historySeconds,
      deviations: (v.deviation as number | undefined) ?? DEFAULT_DEVIATIONS,
      minBuckets,
    };
  } else {
    const historySeconds = seconds('history') ?? 0;
    const learningSeconds = seconds('learning') ?? 0;
    if (learningSeconds >= historySeconds && historySeconds > 0)
      report(
        'aggregation-condition',
        ['learning'],
        `learning (${learningSeconds} s) must be shorter than the history (${historySeconds} s): the group learns its terms within the history it compares with`,
      );
    aggregation = {
      kind,
      paths: paths('terms'),
      historySeconds,
      learningSeconds,
      minGroupEvents: (v.min_group_events as number | undefined) ?? 0,
    };
  }
  return diagnostics.slice(before).some((d) => d.severity === 'error') ? undefined : aggregation;
}

function readCondition(value: unknown): AggregationCondition {
  if (typeof value === 'number') return { gte: value };
  if (typeof value !== 'object' || value === null) return {};
  const condition: AggregationCondition = {};
  for (const bound of ['gt', 'gte', 'lt', 'lte', 'eq'] as const) {
    const n = (value as Record<string, unknown>)[bound];
    if (typeof n === 'number') condition[bound] = n;
  }
  return condition;
}

/** Why a condition can never hold (or says nothing), or undefined. */
function conditionProblem(condition: AggregationCondition): string | undefined {
  const { gt, gte, lt, lte, eq } = condition;
  if ([gt, gte, lt, lte, eq].every((b) => b === undefined)) return 'names no bound (gt, gte, lt, lte or eq)';
  const low = Math.max(gt ?? -Infinity, gte ?? -Infinity);
  const high = Math.min(lt ?? Infinity, lte ?? Infinity);
  const lowOpen = gt !== undefined && gt >= (gte ?? -Infinity);
  const highOpen = lt !== undefined && lt <= (lte ?? Infinity);
  const empty = low > high || (low === high && (lowOpen || highOpen));
  if (empty || (eq !== undefined && !conditionHolds({ ...condition, eq: undefined }, eq)))
    return `${describeCondition(condition)} can never hold`;
  return undefined;
}

/**
 * The aggregation rule kinds (issue #16): threshold, distinct_count and new_terms, behind the
 * engine's rule-kind interface. A rule's `select` is one observation expression, matched through
 * a pattern rule index of its own; each selected event goes to its group's state
 * (src/engine/aggregation-state.ts), which `aggregate` below updates, purely, by event time.
 *
 * Windowed kinds use hopping windows: a window of W starts at every multiple of the hop h (W a
 * whole number of hops), so each event is in W/h windows, and each window alerts at most once,
 * under an id made of the rule, group and window start. A condition with only lower bounds (gt,
 * gte) can only become true as events arrive: a window alerts on the event that makes it hold.
 * A condition with an upper bound (lt, lte, eq, a range) is decided when the window closes,
 * once the group's watermark is past its end by the lateness. Either way, what alerts depends
 * only on the set of events that arrived on time, not on their order or on redeliveries.
 *
 * new_terms alerts on an event whose term the group has not seen within the history window
 * before it, once the group is past its learning period and has seen min_group_events events.
 * The alert's id is made of the term and the history period (event time / history) in which its
 * appearance started, so a shuffle of events within the lateness gives the same ids unless it
 * straddles the start of a period (docs/rule-kinds.md).
 */
import type { Diagnostic } from '../errors.js';
import type { ObjectPath } from '../pattern/ast.js';
import { compilePath } from '../pattern/evaluate.js';
import { formatStixTimestamp } from '../pattern/literals.js';
import type { PreparedObservation } from '../pattern/observation.js';
import {
  conditionHolds,
  describeCondition,
  isLowerBoundOnly,
  type Aggregation,
  type AggregationKindName,
  type AggregationPath,
  type DistinctCountAggregation,
  type NewTermsAggregation,
  type OutliersAggregation,
  type RiskAggregation,
  type ThresholdAggregation,
} from '../rules/aggregation.js';
import type { Rule } from '../rules/model.js';
import type { StateKey } from '../state/types.js';
import type { Alert, AlertAggregate } from './alert.js';
import { buildAlert, eventIdOf, singleEvent } from './alert-builder.js';
import { DistinctSketch, SKETCH_RELATIVE_ERROR } from './aggregation-sketch.js';
import {
  aggregationStateCodec,
  emptyAggregationState,
  type AggregationState,
  type KnownTerm,
  type RiskContributor,
  type WindowSlot,
} from './aggregation-state.js';
import { contributionOf } from './risk-input.js';
import type { Explanation } from './explain.js';
import { compileGroupKey } from './grouping.js';
import { CompiledPatternRules, excludedBy, fingerprint, type PatternRule } from './pattern-kind.js';
import type {
  Clock,
  CompiledKind,
  CompiledRule,
  Correlated,
  Correlation,
  Hit,
  KindOptions,
  LateEvent,
  RuleKind,
  StateFit,
} from './rule-kind.js';
import type { Current } from './state-repository.js';

/** Event ids kept per slot for the alert, and distinct values or terms an alert shows. */
const IDS_PER_SLOT = 5;
/** Alert ids a risk alert lists per contributing rule. */
const ALERTS_PER_CONTRIBUTOR = 5;
const MAX_ALERT_IDS = 50;
const SAMPLE_VALUES = 10;
/** Terms kept per group (least recently seen evicted first); a value's text is bounded too. */
export const MAX_TERMS_PER_GROUP = 600;
const MAX_VALUE_CHARS = 64;

/** A compiled aggregation rule: what the matcher, the coordinator and `explain` need of it. */
export interface AggregationRule extends CompiledRule<AggregationState> {
  readonly kind: AggregationKindName;
  readonly aggregation: Aggregation;
  readonly correlation: Correlation<AggregationState>;
  explain(tenant: string, groupKey: string, stored: Current<AggregationState> | undefined): Explanation;
}

type Scalar = string | number | boolean;
type ValueReader = (observation: PreparedObservation) => Scalar | undefined;

/** The first scalar value of a path in an event (the value grouping would take). */
function compileValueReader(path: ObjectPath): ValueReader {
  const walk = compilePath(path.steps);
  return (observation) => {
    let found: Scalar | undefined;
    for (const root of observation.objectsOfType(path.objectType) ?? []) {
      walk(root.object, observation, (v) => {
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
          found = v;
          return true;
        }
        return false;
      });
      if (found !== undefined) break;
    }
    return found;
  };
}

/**
 * The canonical text of a value (one path) or a combination (several): JSON, so that 1 and "1"
 * differ; past MAX_VALUE_CHARS a readable prefix and a SHA-256, so the state stays bounded.
 * Undefined when a path has no value: such an event has no value to count.
 */
function compileTermReader(paths: readonly AggregationPath[]): (o: PreparedObservation) => string | undefined {
  const readers = paths.map((p) => compileValueReader(p.path));
  return (observation) => {
    const values: Scalar[] = [];
    for (const read of readers) {
      const value = read(observation);
      if (value === undefined) return undefined;
      values.push(value);
    }
    const text = JSON.stringify(values.length === 1 ? values[0] : values);
    if (text.length <= MAX_VALUE_CHARS) return text;
    const code = text.charCodeAt(31);
    const end = code >= 0xd800 && code <= 0xdbff ? 31 : 32;
    return `${text.slice(0, end)}…${fingerprint(text)}`;
  };
}

/** A stored value's text as an alert shows it: the value (or combination) itself, or the bounded text. */
function displayValue(text: string, paths: readonly AggregationPath[]): unknown {
  try {
    const value = JSON.parse(text) as unknown;
    if (paths.length === 1) return value;
    return Object.fromEntries(paths.map((p, i) => [p.text, (value as unknown[])[i]]));
  } catch {
    return text;
  }
}

/** One group's arrivals, with what the window or term logic does with each taken hit. */
interface Pass {
  rule: AggregationRule;
  state: AggregationState;
  key: StateKey;
  clock: Clock;
  alerts: Alert[];
  /** The latest hit taken (event time), which completes what closing windows decide. */
  lastTaken?: Hit;
}

/** What a windowed kind compares with its condition over a window of slots. */
interface WindowValue {
  value: number;
  events: number;
  first: number;
  last: number;
  ids: string[];
  distinct?: { count: number; estimated: boolean; sample: unknown[] };
  contributors?: RiskContributor[];
}

/** What each kind does with a taken hit, after the batch, and for `explain`. */
interface KindLogic {
  take(pass: Pass, hit: Hit, terms: Map<string, KnownTerm>): void;
  /** Decides what closed and drops what no on-time event can reach; returns what was evicted. */
  settle(pass: Pass): number;
  describe(state: AggregationState): Record<string, unknown>;
}

class WindowedLogic implements KindLogic {
  readonly window: number;
  readonly hop: number;
  readonly hops: number;
  readonly eager: boolean;
  private readonly readNumber: ValueReader | undefined;
  private readonly readTerm: ((o: PreparedObservation) => string | undefined) | undefined;

  constructor(
    readonly aggregation: ThresholdAggregation | DistinctCountAggregation | RiskAggregation,
    readonly lateness: number,
  ) {
    this.window = aggregation.windowSeconds * 1e6;
    this.hop = aggregation.hopSeconds * 1e6;
    this.hops = Math.round(this.window / this.hop);
    this.eager = isLowerBoundOnly(aggregation.condition);
    this.readNumber =
      aggregation.kind === 'threshold' && aggregation.measure.of !== 'count'
        ? compileValueReader(aggregation.measure.path.path)
        : undefined;
    this.readTerm = aggregation.kind === 'distinct_count' ? compileTermReader(aggregation.paths) : undefined;
  }

  take(pass: Pass, hit: Hit): void {
    const o = hit.input.observation;
    const t = o.firstObserved;
    const start = Math.floor(t / this.hop) * this.hop;
    const slots = pass.state.slots;
    let at = slots.findIndex((s) => s.start >= start);
    if (at === -1) at = slots.length;
    let slot = slots[at];
    if (slot === undefined || slot.start !== start) {
      slot = { start, count: 0, sum: 0, max: null, first: t, last: o.lastObserved, ids: [] };
      if (this.readTerm) slot.values = [];
      slots.splice(at, 0, slot);
    }
    slot.count += o.numberObserved;
    slot.first = Math.min(slot.first, t);
    slot.last = Math.max(slot.last, o.lastObserved);
    if (slot.ids.length < IDS_PER_SLOT) slot.ids.push(eventIdOf(hit.input));
    if (this.readNumber) {
      const n = this.readNumber(o);
      if (typeof n === 'number' && Number.isFinite(n)) {
        slot.sum += n;
        slot.max = slot.max === null ? n : Math.max(slot.max, n);
      }
    }
    if (this.readTerm) this.addDistinct(slot, this.readTerm(o));
    if (this.aggregation.kind === 'risk') addContribution(slot, hit);
    if (!this.eager) return;
    const decided = new Set(pass.state.decided);
    for (let s = start - (this.hops - 1) * this.hop; s <= start; s += this.hop) {
      if (decided.has(s)) continue;
      const value = this.valueOf(pass.state, s);
      if (!conditionHolds(this.aggregation.condition, value.value)) continue;
      pass.state.decided.push(s);
      this.raise(pass, s, value, hit);
    }
  }

  private addDistinct(slot: WindowSlot, term: string | undefined): void {
    if (term === undefined) return;
    const values = slot.values as string[];
    if (slot.sketch) {
      slot.sketch.add(term);
      if (values.length < SAMPLE_VALUES && !values.includes(term)) values.push(term);
      return;
    }
    if (values.includes(term)) return;
    values.push(term);
    if (values.length > (this.aggregation as DistinctCountAggregation).exactUpTo) {
      // Past the bound the slot keeps a sketch of every value and the first few as a sample.
      const sketch = new DistinctSketch();
      for (const v of values) sketch.add(v);
      slot.sketch = sketch;
      slot.values = values.slice(0, SAMPLE_VALUES);
    }
  }

  /** The window starting at `start`, aggregated over its slots. */
  valueOf(state: AggregationState, start: number): WindowValue {
    const end = start + this.window;
    let events = 0;
    let sum = 0;
    let max: number | null = null;
    let first = Infinity;
    let last = -Infinity;
    const ids: string[] = [];
    const exact = new Set<string>();
    let sketch: DistinctSketch | undefined;
    const inWindow = state.slots.filter((s) => s.start >= start && s.start < end);
    for (const s of inWindow) {
      events += s.count;
      sum += s.sum;
      if (s.max !== null) max = max === null ? s.max : Math.max(max, s.max);
      first = Math.min(first, s.first);
      last = Math.max(last, s.last);
      for (const id of s.ids) if (ids.length < MAX_ALERT_IDS) ids.push(id);
      if (s.sketch) (sketch ??= new DistinctSketch()).merge(s.sketch);
    }
    for (const s of inWindow) for (const v of s.values ?? []) exact.add(v);
    const aggregation = this.aggregation;
    if (aggregation.kind === 'risk') {
      // Each rule counts once in a window, however often it fired: its highest risk.
      const merged: RiskContributor[] = [];
      for (const s of inWindow) for (const c of s.contributors ?? []) mergeContributor(merged, c);
      const contributors = merged.sort((a, b) => b.risk - a.risk || (a.ruleId < b.ruleId ? -1 : 1));
      return { value: contributors.reduce((total, c) => total + c.risk, 0), events, first, last, ids, contributors };
    }
    if (aggregation.kind === 'distinct_count') {
      if (sketch) for (const v of exact) sketch.add(v);
      const count = sketch ? Math.max(sketch.estimate(), exact.size) : exact.size;
      return {
        value: count,
        events,
        first,
        last,
        ids,
        distinct: {
          count,
          estimated: sketch !== undefined,
          sample: [...exact].slice(0, SAMPLE_VALUES).map((v) => displayValue(v, aggregation.paths)),
        },
      };
    }
    const value = aggregation.measure.of === 'count' ? events : aggregation.measure.of === 'sum' ? sum : (max ?? 0);
    return { value, events, first, last, ids };
  }

  private raise(pass: Pass, start: number, value: WindowValue, hit: Hit | undefined): void {
    const aggregation = this.aggregation;
    const windowKey = `${aggregation.kind} window ${formatStixTimestamp(start)}`;
    const detail: AlertAggregate = {
      kind: aggregation.kind,
      ...(aggregation.kind === 'threshold'
        ? {
            measure: aggregation.measure.of,
            ...(aggregation.measure.of !== 'count' ? { path: aggregation.measure.path.text } : {}),
          }
        : aggregation.kind === 'risk'
          ? { measure: 'risk of the distinct rules that fired' }
          : { paths: aggregation.paths.map((p) => p.text) }),
      value: value.value,
      condition: describeCondition(aggregation.condition),
      events: value.events,
      window: {
        start: formatStixTimestamp(start),
        end: formatStixTimestamp(start + this.window),
        seconds: aggregation.windowSeconds,
        hopSeconds: aggregation.hopSeconds,
      },
      ...(value.distinct
        ? {
            distinct: {
              count: value.distinct.count,
              estimated: value.distinct.estimated,
              ...(value.distinct.estimated ? { relativeError: SKETCH_RELATIVE_ERROR } : {}),
              sample: value.distinct.sample,
            },
          }
        : {}),
      ...(value.contributors
        ? {
            contributors: value.contributors.map((c) => ({
              ruleId: c.ruleId,
              ruleName: c.ruleName,
              risk: c.risk,
              alerts: c.alerts,
            })),
          }
        : {}),
      decided: hit ? 'when the condition first held' : 'when the window closed',
    };
    pass.alerts.push(
      aggregationAlert(pass, windowKey, detail, hit ?? (pass.lastTaken as Hit), hit !== undefined, {
        first: value.first,
        last: value.last,
        ids: value.ids,
      }),
    );
  }

  /** After the batch: decide closed windows (upper-bound conditions), then drop what no open window needs. */
  settle(pass: Pass): number {
    const state = pass.state;
    const horizon = state.watermark - this.lateness;
    if (!this.eager && Number.isFinite(horizon) && pass.lastTaken !== undefined) {
      // Windows ending at or before the horizon can no longer take an on-time event.
      const lastClosed = Math.floor((horizon - this.window) / this.hop) * this.hop;
      const starts = new Set<number>();
      for (const slot of state.slots)
        for (let s = slot.start - (this.hops - 1) * this.hop; s <= slot.start; s += this.hop)
          if (s >= state.closedBefore && s <= lastClosed) starts.add(s);
      for (const s of [...starts].sort((a, b) => a - b)) {
        const value = this.valueOf(state, s);
        if (value.events > 0 && conditionHolds(this.aggregation.condition, value.value))
          this.raise(pass, s, value, undefined);
      }
      state.closedBefore = Math.max(state.closedBefore, lastClosed + this.hop);
    }
    if (Number.isFinite(horizon)) {
      state.slots = state.slots.filter((s) => s.start + this.window > horizon);
      state.decided = state.decided.filter((s) => s + this.window > horizon);
    }
    return 0;
  }

  describe(state: AggregationState): Record<string, unknown> {
    const newest = state.slots.at(-1);
    const open = newest
      ? Array.from({ length: this.hops }, (_, i) => newest.start - (this.hops - 1 - i) * this.hop)
      : [];
    return {
      kind: this.aggregation.kind,
      condition: describeCondition(this.aggregation.condition),
      decidedWhen: this.eager ? 'the condition first holds' : 'the window closes',
      slots: state.slots.map((s) => ({
        start: formatStixTimestamp(s.start),
        events: s.count,
        ...(this.aggregation.kind === 'threshold' && this.aggregation.measure.of !== 'count'
          ? { sum: s.sum, max: s.max }
          : {}),
        ...(s.values ? { distinct: s.sketch ? s.sketch.estimate() : s.values.length, sketched: !!s.sketch } : {}),
        ...(s.contributors ? { contributors: s.contributors.map((c) => ({ ruleId: c.ruleId, risk: c.risk })) } : {}),
      })),
      windows: open.map((s) => ({
        start: formatStixTimestamp(s),
        value: this.valueOf(state, s).value,
        alerted: state.decided.includes(s),
      })),
    };
  }
}

class NewTermsLogic implements KindLogic {
  readonly history: number;
  readonly learning: number;
  private readonly readTerm: (o: PreparedObservation) => string | undefined;

  constructor(
    readonly aggregation: NewTermsAggregation,
    readonly lateness: number,
  ) {
    this.history = aggregation.historySeconds * 1e6;
    this.learning = aggregation.learningSeconds * 1e6;
    this.readTerm = compileTermReader(aggregation.paths);
  }

  take(pass: Pass, hit: Hit, terms: Map<string, KnownTerm>): void {
    const state = pass.state;
    const o = hit.input.observation;
    const t = o.firstObserved;
    state.since = Math.min(state.since, t);
    const eventsBefore = state.events;
    state.events++;
    const term = this.readTerm(o);
    if (term === undefined) return;
    const known = terms.get(term);
    if (known !== undefined && t <= known.last + this.history) {
      // Seen within the history (a late event may start the appearance earlier): not new.
      known.first = Math.min(known.first, t);
      known.last = Math.max(known.last, t);
      return;
    }
    const lastSeenBefore = known?.last;
    if (known !== undefined) {
      known.first = t;
      known.last = t;
    } else {
      const entry: KnownTerm = { term, first: t, last: t };
      terms.set(term, entry);
      state.terms.push(entry);
    }
    const learned = t >= state.since + this.learning && eventsBefore >= this.aggregation.minGroupEvents;
    if (!learned) return;
    const period = Math.floor(t / this.history);
    const detail: AlertAggregate = {
      kind: 'new_terms',
      paths: this.aggregation.paths.map((p) => p.text),
      term: displayValue(term, this.aggregation.paths),
      firstSeen: formatStixTimestamp(t),
      ...(lastSeenBefore !== undefined ? { lastSeenBefore: formatStixTimestamp(lastSeenBefore) } : {}),
      history: {
        seconds: this.aggregation.historySeconds,
        groupSince: formatStixTimestamp(state.since),
        groupEvents: eventsBefore,
        knownTerms: state.terms.length - 1,
        recentTerms: state.terms
          .filter((k) => k.term !== term)
          .sort((a, b) => b.last - a.last)
          .slice(0, SAMPLE_VALUES)
          .map((k) => displayValue(k.term, this.aggregation.paths)),
      },
    };
    pass.alerts.push(aggregationAlert(pass, `new term ${term} ${period}`, detail, hit, true, undefined));
  }

  /** Forgets terms no on-time event can find within the history, and bounds the rest. */
  settle(pass: Pass): number {
    const state = pass.state;
    const horizon = state.watermark - this.lateness;
    if (Number.isFinite(horizon)) state.terms = state.terms.filter((k) => k.last + this.history >= horizon);
    if (state.terms.length <= MAX_TERMS_PER_GROUP) return 0;
    state.terms.sort((a, b) => b.last - a.last);
    const drop = state.terms.length - MAX_TERMS_PER_GROUP;
    state.terms.length = MAX_TERMS_PER_GROUP;
    state.evicted += drop;
    return drop;
  }

  describe(state: AggregationState): Record<string, unknown> {
    return {
      kind: 'new_terms',
      groupSince: Number.isFinite(state.since) ? formatStixTimestamp(state.since) : undefined,
      groupEvents: state.events,
      learnedAfter: Number.isFinite(state.since) ? formatStixTimestamp(state.since + this.learning) : undefined,
      minGroupEvents: this.aggregation.minGroupEvents,
      knownTerms: state.terms.length,
      terms: [...state.terms]
        .sort((a, b) => b.last - a.last)
        .slice(0, 50)
        .map((k) => ({
          term: displayValue(k.term, this.aggregation.paths),
          firstSeen: formatStixTimestamp(k.first),
          lastSeen: formatStixTimestamp(k.last),
        })),
    };
  }
}

/**
 * outliers: one slot per bucket; a bucket is judged once it closes (the group's watermark past
 * its end by the lateness) against the group's buckets within the history before it, empty
 * buckets counting as zero from the group's first bucket on. It alerts above median + k × the
 * scaled median absolute deviation (1.4826 × MAD, the standard deviation of normal data; when the
 * MAD is 0, 1.2533 × the mean absolute deviation), once the baseline has min_buckets buckets.
 */
class OutliersLogic implements KindLogic {
  readonly bucket: number;
  readonly history: number;
  private readonly readNumber: ValueReader | undefined;

  constructor(
    readonly aggregation: OutliersAggregation,
    readonly lateness: number,
  ) {
    this.bucket = aggregation.bucketSeconds * 1e6;
    this.history = aggregation.historySeconds * 1e6;
    this.readNumber = aggregation.measure.of === 'sum' ? compileValueReader(aggregation.measure.path.path) : undefined;
  }

  take(pass: Pass, hit: Hit): void {
    const o = hit.input.observation;
    const t = o.firstObserved;
    const start = Math.floor(t / this.bucket) * this.bucket;
    const state = pass.state;
    state.since = Math.min(state.since, start);
    state.events++;
    let at = state.slots.findIndex((s) => s.start >= start);
    if (at === -1) at = state.slots.length;
    let slot = state.slots[at];
    if (slot === undefined || slot.start !== start) {
      slot = { start, count: 0, sum: 0, max: null, first: t, last: o.lastObserved, ids: [] };
      state.slots.splice(at, 0, slot);
    }
    slot.count += o.numberObserved;
    slot.first = Math.min(slot.first, t);
    slot.last = Math.max(slot.last, o.lastObserved);
    if (slot.ids.length < IDS_PER_SLOT) slot.ids.push(eventIdOf(hit.input));
    if (this.readNumber) {
      const n = this.readNumber(o);
      if (typeof n === 'number' && Number.isFinite(n)) slot.sum += n;
    }
  }

  private valueOf(slot: WindowSlot): number {
    return this.aggregation.measure.of === 'count' ? slot.count : slot.sum;
  }

  /** The baseline of the bucket starting at `start`: the group's buckets before it within the history. */
  baseline(state: AggregationState, start: number): { buckets: number; median: number; scale: number } {
    const from = Math.max(state.since, start - this.history);
    const buckets = Math.max(0, Math.round((start - from) / this.bucket));
    const values = new Array<number>(buckets).fill(0);
    for (const slot of state.slots)
      if (slot.start >= from && slot.start < start)
        values[Math.round((slot.start - from) / this.bucket)] = this.valueOf(slot);
    const median = medianOf(values);
    const mad = medianOf(values.map((v) => Math.abs(v - median)));
    const meanAbsolute = values.reduce((a, v) => a + Math.abs(v - median), 0) / Math.max(1, values.length);
    return { buckets, median, scale: mad > 0 ? 1.4826 * mad : 1.2533 * meanAbsolute };
  }

  settle(pass: Pass): number {
    const state = pass.state;
    const horizon = state.watermark - this.lateness;
    if (!Number.isFinite(horizon) || pass.lastTaken === undefined) return 0;
    for (const slot of state.slots) {
      if (slot.start < state.closedBefore || slot.start + this.bucket > horizon) continue;
      const { buckets, median, scale } = this.baseline(state, slot.start);
      const value = this.valueOf(slot);
      const threshold = median + this.aggregation.deviations * scale;
      if (buckets < this.aggregation.minBuckets || value <= threshold) continue;
      const detail: AlertAggregate = {
        kind: 'outliers',
        measure: this.aggregation.measure.of,
        ...(this.aggregation.measure.of === 'sum' ? { path: this.aggregation.measure.path.text } : {}),
        value,
        events: slot.count,
        bucket: {
          start: formatStixTimestamp(slot.start),
          end: formatStixTimestamp(slot.start + this.bucket),
          seconds: this.aggregation.bucketSeconds,
        },
        baseline: {
          buckets,
          historySeconds: this.aggregation.historySeconds,
          median,
          scale,
          threshold,
          deviations: this.aggregation.deviations,
        },
        deviation: scale > 0 ? (value - median) / scale : null,
      };
      pass.alerts.push(
        aggregationAlert(pass, `outliers bucket ${formatStixTimestamp(slot.start)}`, detail, pass.lastTaken, false, {
          first: slot.first,
          last: slot.last,
          ids: slot.ids,
        }),
      );
    }
    // Buckets ending at or before the horizon are judged; keep those a later baseline needs.
    state.closedBefore = Math.max(state.closedBefore, Math.floor(horizon / this.bucket) * this.bucket);
    state.slots = state.slots.filter((s) => s.start >= horizon - this.history - this.bucket);
    return 0;
  }

  describe(state: AggregationState): Record<string, unknown> {
    const newest = state.slots.at(-1);
    return {
      kind: 'outliers',
      groupSince: Number.isFinite(state.since) ? formatStixTimestamp(state.since) : undefined,
      buckets: state.slots.map((s) => ({
        start: formatStixTimestamp(s.start),
        value: this.valueOf(s),
        events: s.count,
      })),
      ...(newest ? { baselineOfNewest: this.baseline(state, newest.start) } : {}),
      judgedBefore: Number.isFinite(state.closedBefore) ? formatStixTimestamp(state.closedBefore) : undefined,
    };
  }
}

/** Adds the alert a risk rule's hit stands for to its slot: its rule once, a few of its alert ids. */
function addContribution(slot: WindowSlot, hit: Hit): void {
  const contribution = contributionOf(hit.input);
  if (contribution === undefined) return;
  mergeContributor((slot.contributors ??= []), {
    ruleId: contribution.ruleId,
    ruleName: contribution.ruleName,
    risk: contribution.risk,
    alerts: [contribution.alertId],
  });
}

/** Adds a contributor to a list in which each rule appears once: with its highest risk and a few of its alert ids. */
function mergeContributor(contributors: RiskContributor[], added: RiskContributor): void {
  const seen = contributors.find((c) => c.ruleId === added.ruleId);
  if (seen === undefined) {
    contributors.push({ ...added, alerts: added.alerts.slice(0, ALERTS_PER_CONTRIBUTOR) });
    return;
  }
  seen.risk = Math.max(seen.risk, added.risk);
  for (const alert of added.alerts)
    if (seen.alerts.length < ALERTS_PER_CONTRIBUTOR && !seen.alerts.includes(alert)) seen.alerts.push(alert);
}

function medianOf(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The alert of a window or a new term. Its id is made of the rule, group and `instance` (the
 * window start, or the term and its history period) only: the same whatever event completed it.
 * `completes`: the hit made the condition hold, and the alert carries its objects; otherwise
 * (a window decided on closing) the hit only moved the watermark and the alert carries none.
 */
function aggregationAlert(
  pass: Pass,
  instance: string,
  aggregate: AlertAggregate,
  hit: Hit,
  completes: boolean,
  span: { first: number; last: number; ids: string[] } | undefined,
): Alert {
  const { rule, key, clock } = pass;
  const completing = hit.input;
  const base = buildAlert(rule.rule, key.tenant, key.group, [singleEvent(completing)], completing, clock, [instance]);
  const ids = span ? [...new Set([...(completes ? [eventIdOf(completing)] : []), ...span.ids])] : base.observedDataIds;
  const alert: Alert = {
    ...base,
    ...(span ? { firstObserved: formatStixTimestamp(span.first), lastObserved: formatStixTimestamp(span.last) } : {}),
    observedDataIds: ids.sort(),
    aggregate,
  };
  if (!completes) {
    alert.objects = [];
    alert.sourceEventIds = [];
    delete alert.objectsOmitted;
  }
  return alert;
}

function compileAggregationRule(compiled: PatternRule, options: KindOptions): AggregationRule {
  const rule = compiled.rule;
  const aggregation = rule.aggregation as Aggregation;
  const lateness = options.latenessMicros;
  const logic: KindLogic =
    aggregation.kind === 'new_terms'
      ? new NewTermsLogic(aggregation, lateness)
      : aggregation.kind === 'outliers'
        ? new OutliersLogic(aggregation, lateness)
        : new WindowedLogic(aggregation, lateness);
  // Another definition (window, paths, condition, select, group_by) makes the aggregates meaningless.
  const definition = fingerprint(
    // Parsed paths are left out: their texts say the same.
    JSON.stringify([aggregation, rule.patternText, rule.groupByText], (_, v: unknown) =>
      typeof v === 'object' && v !== null && 'steps' in v ? undefined : v,
    ),
  );
  const keepSeconds = Math.ceil(
    ((aggregation.kind === 'new_terms'
      ? aggregation.historySeconds
      : aggregation.kind === 'outliers'
        ? aggregation.historySeconds + aggregation.bucketSeconds
        : aggregation.windowSeconds) *
      1e6 +
      lateness) /
      1e6,
  );
  // The correlation calls back into the rule it belongs to.
  // eslint-disable-next-line prefer-const
  let self: AggregationRule;
  const correlation: Correlation<AggregationState> = {
    codec: aggregationStateCodec,
    correlate: (state, hits, clock, key) => aggregate(self, logic, definition, options, state, hits, clock, key),
    expiresAt: (state, clock) =>
      Math.floor(clock() / 1000) + (state.outbox.length > 0 ? Math.max(keepSeconds, 86_400) : keepSeconds),
    outbox: (state) => state.outbox,
    acknowledge: (state, ids) => {
      const before = state.outbox.length;
      state.outbox = state.outbox.filter((a) => !ids.has(a.id));
      return state.outbox.length !== before;
    },
    fit: fitAggregationState,
  };
  self = {
    rule,
    kind: aggregation.kind,
    aggregation,
    groupKey: compileGroupKey(rule.groupBy),
    excluded: (input, tenant, nowMs) => excludedBy(rule, input, tenant, nowMs),
    correlation,
    explain: (tenant, groupKey, stored) => {
      const state = stored?.state ?? emptyAggregationState();
      const fresh = state.definition !== definition;
      return {
        ruleId: rule.id,
        tenant,
        groupKey,
        stateful: true,
        observations: rule.pattern.observations.map((_, index) => ({
          index,
          text: rule.patternText,
          satisfiedBy: [],
        })),
        partialMatches: [],
        pendingObservations: [],
        evicted: state.evicted,
        aggregate:
          fresh && stored
            ? {
                kind: aggregation.kind,
                note: 'the stored state is of an earlier definition of the rule: the next event starts afresh',
              }
            : logic.describe(state),
        ...(stored ? { stateExpiresAt: new Date(stored.expiresAt * 1000).toISOString() } : {}),
      };
    },
  };
  return self;
}

/**
 * Applies a group's hits to its state (in place), in event-time order (ties: arrival order):
 * duplicates (an id taken while a redelivery is on time), future and late events are not taken;
 * each taken event updates its slot or term and may raise alerts; then closed windows are
 * decided and what no on-time event can reach is dropped.
 */
function aggregate(
  rule: AggregationRule,
  logic: KindLogic,
  definition: string,
  options: KindOptions,
  state: AggregationState,
  hits: Hit[],
  clock: Clock,
  key: StateKey,
): Correlated<AggregationState> {
  let evicted = 0;
  if (state.definition !== definition) {
    // A rule edit: the aggregates were of another definition; the ids, watermark and outbox stay.
    evicted = state.slots.length + state.terms.length;
    state.evicted += evicted;
    Object.assign(state, {
      slots: [],
      decided: [],
      terms: [],
      closedBefore: -Infinity,
      since: Infinity,
      events: 0,
      definition,
    });
  }
  const pass: Pass = { rule, state, key, clock, alerts: [] };
  const diagnostics: Diagnostic[] = [];
  const taken: Hit[] = [];
  const late: LateEvent[] = [];
  let duplicates = 0;
  const recent = new Set(state.recent.map(([id]) => id));
  const terms = new Map(state.terms.map((k) => [k.term, k]));
  const latestAllowed = clock() * 1000 + options.clockSkewMicros;
  const ordered = [...hits].sort(
    (a, b) => a.input.observation.firstObserved - b.input.observation.firstObserved || a.eventIndex - b.eventIndex,
  );
  for (const hit of ordered) {
    const o = hit.input.observation;
    const id = eventIdOf(hit.input);
    if (recent.has(id)) {
      duplicates++;
      continue;
    }
    if (o.lastObserved > latestAllowed) {
      diagnostics.push({
        severity: 'warning',
        code: 'future-event',
        message: `event time ${formatStixTimestamp(o.lastObserved)} is more than ${options.clockSkewMicros / 1e6} s ahead of the clock (${new Date(clock()).toISOString()}): not aggregated, and the group's watermark is not moved`,
        eventIndex: hit.eventIndex,
        ruleId: key.ruleId,
      });
      continue;
    }
    if (Number.isFinite(state.watermark) && o.firstObserved < state.watermark - options.latenessMicros) {
      late.push({
        eventIndex: hit.eventIndex,
        ruleId: key.ruleId,
        groupKey: key.group,
        observedDataId: id,
        lagSeconds: (state.watermark - o.firstObserved) / 1e6,
      });
      continue;
    }
    taken.push(hit);
    pass.lastTaken = hit;
    recent.add(id);
    state.recent.push([id, o.firstObserved]);
    state.watermark = Math.max(state.watermark, o.firstObserved);
    logic.take(pass, hit, terms);
  }
  evicted += logic.settle(pass);
  // A redelivery of an event older than this would be late: its id need not be remembered.
  const horizon = state.watermark - options.latenessMicros;
  state.recent = state.recent.filter(([, first]) => first >= horizon);
  state.outbox.push(...pass.alerts);
  return {
    state,
    alerts: pass.alerts,
    late,
    evicted,
    duplicates,
    diagnostics,
    taken,
    changed: taken.length > 0 || evicted > 0 || pass.alerts.length > 0,
  };
}

/**
 * A state too large for its item sheds, without losing a committed alert: the oldest slot or
 * the least recently seen term first (counted as evicted), then half the remembered ids, then
 * the objects of the stored copies of pending alerts.
 */
function fitAggregationState(state: AggregationState): StateFit {
  let evicted = 0;
  let forgotten = 0;
  let stripped = false;
  return {
    get evicted() {
      return evicted;
    },
    shrink(): boolean {
      if (state.slots.length > 1 || state.terms.length > 1) {
        if (state.slots.length > 1) state.slots.shift();
        else {
          state.terms.sort((a, b) => b.last - a.last);
          state.terms.pop();
        }
        evicted++;
        state.evicted++;
        return true;
      }
      if (state.recent.length > 0) {
        const drop = Math.ceil(state.recent.length / 2);
        state.recent.sort((a, b) => a[1] - b[1]);
        state.recent.splice(0, drop);
        forgotten += drop;
        return true;
      }
      if (!stripped && state.outbox.some((a) => a.objects.length > 0)) {
        state.outbox = state.outbox.map((a) =>
          a.objects.length > 0 ? { ...a, objects: [], objectsOmitted: (a.objectsOmitted ?? 0) + a.objects.length } : a,
        );
        stripped = true;
        return true;
      }
      return false;
    },
    describe(): string[] {
      return [
        evicted > 0 ? `${evicted} window slot(s) or term(s) evicted, oldest first` : '',
        forgotten > 0 ? `${forgotten} taken event id(s) forgotten` : '',
        stripped ? 'the stored copies of its pending alerts keep no objects' : '',
      ].filter(Boolean);
    },
  };
}

/** Enabled aggregation rules, matched through a pattern rule index over their `select` expressions. */
export class CompiledAggregationRules implements CompiledKind {
  readonly rules: AggregationRule[];
  private readonly selects: CompiledPatternRules;
  private readonly byRule = new Map<Rule, AggregationRule>();

  constructor(rules: readonly Rule[], options: KindOptions) {
    this.selects = new CompiledPatternRules(
      rules.filter((r) => r.aggregation !== undefined),
      options,
    );
    this.rules = this.selects.rules.map((compiled) => compileAggregationRule(compiled, options));
    for (const r of this.rules) this.byRule.set(r.rule, r);
  }

  match(
    observation: PreparedObservation,
    hit: (rule: CompiledRule, observations: number) => void,
    fail: (ruleId: string, error: unknown) => void,
  ): void {
    // Without aggregation rules (most rule sets) an event needs no closure made for it.
    if (this.selects.rules.length === 0) return;
    this.selects.match(
      observation,
      (selected, mask) => {
        const select = selected as PatternRule;
        // START/STOP in `select` still bounds which events it takes.
        if (select.matchesAlone?.({ observation }, mask) === false) return;
        hit(this.byRule.get(select.rule) as AggregationRule, mask);
      },
      fail,
    );
  }
}

export const aggregationRuleKind: RuleKind<readonly Rule[]> = {
  name: 'aggregation',
  compile: (rules, options) => new CompiledAggregationRules(rules, options),
};

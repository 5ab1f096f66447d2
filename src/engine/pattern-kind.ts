/**
 * The STIX pattern rule kind: rules compiled to observation expressions, found through the
 * rule index, stateless when every binding has a single observation and otherwise correlated
 * per group (src/engine/correlator.ts) in a state stored as `groupStateCodec` says.
 */
import { createHash } from 'node:crypto';
import { StixflowError } from '../errors.js';
import { enumerateBindings, type BindingNode } from '../pattern/bindings.js';
import type { PreparedObservation } from '../pattern/observation.js';
import { printObservationExpression, printPattern } from '../pattern/print.js';
import { isSingleObservation, MAX_CORRELATED_OBSERVATIONS, streamingLimitError } from '../rules/limits.js';
import type { Rule } from '../rules/model.js';
import { correlate, fitGroupState, type CorrelatedRule } from './correlator.js';
import { groupStateCodec, type GroupState } from './group-state.js';
import { compileGroupKey, type GroupKeyFunction } from './grouping.js';
import { RuleIndex } from '../rules/rule-index.js';
import type { CompiledKind, CompiledRule, EventInput, KindOptions, RuleKind } from './rule-kind.js';

/** A compiled pattern rule: what the matcher, the correlator and `explain` need of it. */
export interface PatternRule extends CompiledRule<GroupState>, CorrelatedRule {
  readonly kind: 'stix-pattern';
  readonly stateless: boolean;
  /** The pattern has a START/STOP qualifier somewhere. */
  readonly bounded: boolean;
  readonly unboundedTtl: number;
}

/**
 * A collision-safe fingerprint of a text: 132 bits of SHA-256, in base64url (22 characters).
 * States written before fingerprints were strings hold 30-bit numbers: never equal to one.
 */
export function fingerprint(text: string): string {
  // Hashed as JSON text, which escapes lone surrogates, so that no two texts hash the same bytes.
  return createHash('sha256').update(JSON.stringify(text)).digest('base64url').slice(0, 22);
}

function hasStartStop(node: BindingNode): boolean {
  switch (node.kind) {
    case 'leaf':
      return false;
    case 'startStop':
      return true;
    case 'and':
    case 'or':
    case 'followedBy':
      return hasStartStop(node.left) || hasStartStop(node.right);
    default:
      return hasStartStop(node.expression);
  }
}

function horizonOf(node: BindingNode): number {
  switch (node.kind) {
    case 'leaf':
      return 0;
    case 'within':
      return Math.min(node.micros, horizonOf(node.expression));
    case 'startStop':
      return Math.min(node.stop - node.start, horizonOf(node.expression));
    case 'or':
      return Math.max(horizonOf(node.left), horizonOf(node.right));
    default:
      return Infinity;
  }
}

/** The host an event is about: a host-like property of any of its objects (x_host_id, hostname, host.name). */
function hostOf(o: PreparedObservation): string | undefined {
  for (const root of o.roots) {
    const object = root.object as Record<string, unknown>;
    for (const key of ['x_host_id', 'x_host_name', 'hostname', 'x_hostname']) {
      const value = object[key];
      if (typeof value === 'string') return value;
    }
  }
  const observed = o.observedData as Record<string, unknown>;
  return typeof observed.x_host === 'string' ? observed.x_host : undefined;
}

/**
 * Why a rule does not take an event: out of its tenant/host scope, outside an indicator's
 * validity (by event time), or muted by one of its filters (counted as filtered).
 */
export function excludedBy(
  rule: Rule,
  input: EventInput,
  tenant: string,
  nowMs: number,
): 'filtered' | 'out-of-scope' | undefined {
  const o = input.observation;
  if (rule.scope?.tenants && !rule.scope.tenants.includes(tenant)) return 'out-of-scope';
  if (rule.scope?.hosts) {
    const hosts = rule.scope.hosts;
    const host = hostOf(o);
    if (host === undefined || !hosts.includes(host)) return 'out-of-scope';
  }
  const eventMs = o.lastObserved / 1000;
  if (rule.validFrom !== undefined && eventMs < rule.validFrom) return 'out-of-scope';
  if (rule.validUntil !== undefined && eventMs >= rule.validUntil) return 'out-of-scope';
  for (const filter of rule.filters) {
    if (filter.expires !== undefined && nowMs >= filter.expires) continue;
    if (filter.pattern.observations.some((leaf) => leaf.test(o))) return 'filtered';
  }
  return undefined;
}

/** Bit of observation expression `leaf` in a mask; expressions past the last bit share it. */
function leafBit(leaf: number): number {
  return 1 << Math.min(leaf, MAX_CORRELATED_OBSERVATIONS - 1);
}

/** A rule whose evaluation threw on the current event: reported once, not evaluated again. */
const FAILED = -1;

function compileRule(rule: Rule, options: KindOptions): PatternRule {
  return new CompiledPatternRule(rule, options);
}

/**
 * A compiled pattern rule. A class, for the lazy fingerprints: an object literal with getters
 * is created in dictionary mode, and the matcher reads the compiled rule at every hit (3,000
 * rules as dictionaries made those reads hash lookups).
 */
class CompiledPatternRule implements PatternRule {
  readonly kind = 'stix-pattern';
  readonly stateless: boolean;
  readonly tree: PatternRule['tree'];
  readonly horizon: number;
  readonly bounded: boolean;
  readonly lateness: number;
  readonly maxPartials: number;
  readonly maxAlertsPerEvent: number;
  readonly clockSkew: number;
  readonly unboundedTtl: number;
  readonly groupKey: GroupKeyFunction;
  readonly excluded: PatternRule['excluded'];
  // Both are set on every compiled rule, one of them undefined, so that stateless and stateful
  // rules share one object shape: the matcher reads them for every hit, and a second shape made
  // those reads polymorphic (a 3,000-rule set of both kinds ran slower than either kind alone).
  readonly matchesAlone: PatternRule['matchesAlone'];
  readonly correlation: PatternRule['correlation'];
  private printedPatternKey: string | undefined = undefined;
  private printedObservationsKey: string | undefined = undefined;

  constructor(
    readonly rule: Rule,
    options: KindOptions,
  ) {
    const tree = rule.pattern.tree;
    const stateless = isSingleObservation(tree);
    this.stateless = stateless;
    this.tree = tree;
    this.horizon = horizonOf(tree);
    this.bounded = hasStartStop(tree);
    this.lateness = options.latenessMicros;
    this.maxPartials = options.maxPartialsPerGroup;
    this.maxAlertsPerEvent = options.maxAlertsPerEvent;
    this.clockSkew = options.clockSkewMicros;
    this.unboundedTtl = options.unboundedTtlSeconds;
    this.groupKey = compileGroupKey(rule.groupBy);
    this.excluded = (input, tenant, nowMs) => excludedBy(rule, input, tenant, nowMs);
    this.matchesAlone = stateless ? (input, mask) => matchesAlone(this, input, mask) : undefined;
    this.correlation = stateless
      ? undefined
      : {
          codec: groupStateCodec,
          correlate: (state, hits, clock, key) => correlate(this, state, hits, clock, key),
          expiresAt: (state, clock) => expiresAt(this, state, clock()),
          outbox: (state) => state.outbox,
          acknowledge: (state, ids) => {
            const before = state.outbox.length;
            state.outbox = state.outbox.filter((a) => !ids.has(a.id));
            return state.outbox.length !== before;
          },
          fit: fitGroupState,
        };
  }

  // Printed and hashed when a correlation first needs them: most rules of a large set are
  // stateless, and printing thousands of patterns is most of a cold start's compile.
  get patternKey(): string {
    return (this.printedPatternKey ??= fingerprint(printPattern(this.rule.pattern.ast)));
  }

  get observationsKey(): string {
    return (this.printedObservationsKey ??= fingerprint(
      this.rule.pattern.observations.map((o) => printObservationExpression(o.expression)).join('\u0000'),
    ));
  }
}

/**
 * A single-observation rule on one event. `mask` holds the observation expressions the event
 * satisfies (already evaluated); qualifiers still apply to the single observation (START/STOP
 * bounds; WITHIN always holds).
 */
function matchesAlone(compiled: PatternRule, input: EventInput, mask: number): boolean {
  // Without START/STOP, one satisfied observation expression is a match (WITHIN always
  // holds for a single observation): no search to run.
  if (!compiled.bounded) return true;
  const observations = compiled.rule.pattern.observations;
  // Past the last bit, expressions share it: test those again to know which hold.
  const holds = (leaf: number): boolean =>
    leaf < MAX_CORRELATED_OBSERVATIONS - 1
      ? (mask & (1 << leaf)) !== 0
      : (observations[leaf] as { test(o: PreparedObservation): boolean }).test(input.observation);
  const leafMatches = observations.map((_, leaf) => (holds(leaf) ? [0] : []));
  return !enumerateBindings(compiled.tree, {
    observations: [input.observation],
    leafMatches,
    budget: { remaining: 10_000 },
  }).next().done;
}

/** Epoch seconds until which a group's state is kept: its window after the last change, a day while alerts are pending. */
function expiresAt(compiled: PatternRule, state: GroupState, nowMs: number): number {
  const nowSeconds = Math.floor(nowMs / 1000);
  const windowSeconds = Number.isFinite(compiled.horizon)
    ? Math.ceil((compiled.horizon + compiled.lateness) / 1e6)
    : compiled.unboundedTtl;
  // Pending alerts keep the item for at least a day, so a stuck delivery is not forgotten.
  return nowSeconds + (state.outbox.length > 0 ? Math.max(windowSeconds, 86_400) : windowSeconds);
}

/** What an entry of the rule index stands for. */
interface IndexEntry {
  /** The rule's position. */
  rule: number;
  /** The observation expression's position in its pattern. */
  leaf: number;
  observation: { test(o: PreparedObservation): boolean };
}

/** Enabled pattern rules, compiled, with the rule index over their observation expressions. */
export class CompiledPatternRules implements CompiledKind {
  readonly rules: PatternRule[];
  readonly index = new RuleIndex();
  /**
   * Index entry id → (rule position, observation expression position, that expression): the
   * expression itself is kept so that a candidate is tested without walking rule → pattern →
   * observations for every candidate of every event.
   */
  private readonly entries: IndexEntry[] = [];
  /**
   * Scratch of one `match`: the observation expressions each rule holds, and the rules with
   * some (the first `hitCount` of `hits`). Counted rather than emptied: an array cut to length
   * 0 drops its backing store, and every event allocated a new one.
   */
  private readonly masks: Int32Array;
  private readonly hits: Int32Array;
  private hitCount = 0;
  /** The event and failure callback of the current `match`, read by `visitCandidate`. */
  private current: PreparedObservation | undefined;
  private currentFail: (ruleId: string, error: unknown) => void = () => undefined;

  constructor(rules: readonly Rule[], options: KindOptions) {
    for (const rule of rules) {
      const limit = streamingLimitError(rule.pattern.tree, rule.pattern.observations.length);
      // The rule loader reports this with the rule's position; a rule built in code must not
      // reach the engine with it either, as its state would mix up its expressions.
      if (limit) throw new StixflowError('too-many-observations', `rule ${rule.id}: ${limit}`);
    }
    this.rules = rules.filter((rule) => rule.enabled).map((rule) => compileRule(rule, options));
    this.rules.forEach((compiled, r) => {
      compiled.rule.pattern.observations.forEach((observation, leaf) => {
        this.index.add(
          this.entries.length,
          observation.expression.comparison,
          observation.rootTypes,
          compiled.rule.pattern.caseInsensitiveLeaves,
        );
        this.entries.push({ rule: r, leaf, observation });
      });
    });
    this.masks = new Int32Array(this.rules.length);
    this.hits = new Int32Array(this.rules.length);
  }

  /**
   * Tests one candidate of the current event; made once, so that matching an event creates no
   * closure (the index calls it for every candidate).
   */
  private readonly visitCandidate = (id: number): void => {
    const entry = this.entries[id] as IndexEntry;
    const r = entry.rule;
    const masks = this.masks;
    if (masks[r] === FAILED) return;
    try {
      if (entry.observation.test(this.current as PreparedObservation)) {
        if (masks[r] === 0) this.hits[this.hitCount++] = r;
        masks[r] = (masks[r] as number) | leafBit(entry.leaf);
      }
    } catch (error) {
      if (masks[r] === 0) this.hits[this.hitCount++] = r;
      masks[r] = FAILED;
      this.currentFail((this.rules[r] as PatternRule).rule.id, error);
    }
  };

  match(
    observation: PreparedObservation,
    hit: (rule: CompiledRule, observations: number) => void,
    fail: (ruleId: string, error: unknown) => void,
  ): void {
    const { masks, hits, rules } = this;
    // A kind with no rules (the engine's aggregation kind, with none configured) has nothing
    // to find: walking the event's types through an empty index cost every event.
    if (this.entries.length === 0) return;
    this.hitCount = 0;
    this.current = observation;
    this.currentFail = fail;
    try {
      // Only the observation expressions the index selects are evaluated.
      this.index.candidates(observation, this.visitCandidate);
      // In rule order, not in the order the index offered them: which condition a rule is
      // filed under is the index's choice, and must not reorder an event's alerts.
      const count = this.hitCount;
      // An event hits a handful of rules: sorted in place, as a sorted view would be an
      // allocation; many (a rule set that all matches) by the typed array's own sort.
      if (count > 32) hits.subarray(0, count).sort();
      else
        for (let i = 1; i < count; i++) {
          const r = hits[i] as number;
          let j = i - 1;
          for (; j >= 0 && (hits[j] as number) > r; j--) hits[j + 1] = hits[j] as number;
          hits[j + 1] = r;
        }
      for (let h = 0; h < count; h++) {
        const r = hits[h] as number;
        const mask = masks[r] as number;
        masks[r] = 0;
        if (mask !== FAILED) hit(rules[r] as PatternRule, mask);
      }
    } finally {
      // Nothing an interrupted event left behind may leak into the next.
      for (let h = 0; h < this.hitCount; h++) masks[hits[h] as number] = 0;
      this.hitCount = 0;
      this.current = undefined;
    }
  }
}

export const patternRuleKind: RuleKind<readonly Rule[]> = {
  name: 'stix-pattern',
  compile: (rules, options) => new CompiledPatternRules(rules, options),
};

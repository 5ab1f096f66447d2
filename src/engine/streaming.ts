/**
 * The streaming correlation engine. Each event (one observed-data with its SCOs) is evaluated
 * once against every rule's compiled observation expressions. Rules whose every binding has a
 * single observation alert at once, with no state. Multi-observation rules keep, per
 * (tenant, rule, group), the observed-data that satisfy one of their observation expressions
 * and were not used by an alert yet; when an event arrives, the batch binding search runs over
 * that small set, so a rule raises its first alert exactly when the events seen so far first
 * satisfy the pattern under the batch semantics, and the events of a match are not reused.
 *
 * State lives behind the StateStore interface: one read for all keys a batch touches, one
 * conditional write per touched key, re-read and re-apply on a version conflict. Alerts are
 * committed in the state item's outbox together with the state change, then sent, then
 * cleared, so that a crash between commit and send loses nothing and a redelivery sends the
 * same alert ids again (deduplicated downstream).
 */
import type { Diagnostic } from '../errors.js';
import { StixflowError } from '../errors.js';
import { enumerateBindings, type BindingNode } from '../pattern/bindings.js';
import { formatStixTimestamp } from '../pattern/literals.js';
import type { PreparedObservation } from '../pattern/observation.js';
import type { Rule } from '../rules/model.js';
import type { IndicatorSet } from '../rules/indicators.js';
import { printObservationExpression, printPattern } from '../pattern/print.js';
import { RuleIndex, stringKey } from './rule-index.js';
import type { StateKey, StateStore } from '../state/types.js';
import { stateKeyId } from '../state/types.js';
import { alertId, type Alert } from './alert.js';
import { emptyGroupState, parseGroupState, serialiseGroupState, type BufferedEvent, type GroupState } from './group-state.js';
import { compileGroupKey, type GroupKeyFunction } from './grouping.js';

export interface StreamingEngineOptions {
  rules: Rule[];
  /** Indicator feeds: single-observation indicators indexed by value, compiled on a hit. */
  indicators?: IndicatorSet;
  store: StateStore;
  /** How late (event time behind the group's newest event) an event may arrive and still correlate. */
  latenessSeconds?: number;
  /** Cap on partial matches kept per (rule, group); the oldest are evicted and counted. */
  maxPartialsPerGroup?: number;
  /** State TTL for rules with no WITHIN bound (seconds of wall-clock time). */
  unboundedTtlSeconds?: number;
  /** Wall clock, epoch milliseconds (injectable for tests). */
  now?: () => number;
  /** Conditional-write retries per key before the batch reports a failure. */
  maxConflictRetries?: number;
}

export interface EventInput {
  observation: PreparedObservation;
  /** Objects of the event, for alert documents (the SCOs). */
  objects?: Record<string, unknown>[];
  sourceEventId?: string;
  tenant?: string;
}

export interface LateEvent {
  eventIndex: number;
  ruleId: string;
  groupKey: string;
  observedDataId: string | undefined;
  lagSeconds: number;
}

export interface RuleEvent {
  eventIndex: number;
  ruleId: string;
}

export interface BatchResult {
  alerts: Alert[];
  /** (event, rule) pairs muted by a rule filter, for the filtered counters. */
  filtered: RuleEvent[];
  /** (event, rule) pairs where the event satisfied an observation expression of the rule. */
  matched: RuleEvent[];
  /** Correlation state items the batch touched. */
  touched: StateKey[];
  /**
   * Ids of alerts among `alerts` that an earlier batch committed and this one sends again
   * (their delivery was not acknowledged): the gate lets them through as they are.
   */
  redelivered: string[];
  late: LateEvent[];
  errors: Diagnostic[];
  /** Counts for metrics. */
  /** `valuesCut`: LIKE / MATCHES comparisons that saw a value cut to its first MAX_SEARCHED_LENGTH characters. */
  stats: { events: number; stateReads: number; stateWrites: number; conflicts: number; evicted: number; duplicates: number; valuesCut: number };
}

interface CompiledRule {
  rule: Rule;
  stateless: boolean;
  groupKey: GroupKeyFunction;
  /** Longest event-time span a binding can have (µs), Infinity when unbounded. */
  horizon: number;
  tree: BindingNode;
  /** The pattern has a START/STOP qualifier somewhere. */
  bounded: boolean;
  /** Fingerprints of the pattern and of its observation expressions, kept in its states. */
  patternKey: number;
  observationsKey: number;
}

/** A rule whose evaluation threw on the current event: reported once, not evaluated again. */
const FAILED = -1;

/**
 * Which observation expressions an event satisfies is kept as bits of one 31-bit number (also
 * in the stored state), so a correlation rule may have at most this many. A single-observation
 * rule may have more (`[a] OR [b] OR …`): its expressions past the last bit share that bit,
 * which only says "some expression holds".
 */
export const MAX_CORRELATED_OBSERVATIONS = 31;

function leafBit(leaf: number): number {
  return 1 << Math.min(leaf, MAX_CORRELATED_OBSERVATIONS - 1);
}

/**
 * Why the streaming engine cannot run a pattern, if it cannot: a correlation pattern (AND,
 * FOLLOWEDBY, REPEATS) with more observation expressions than its state can tell apart.
 */
export function streamingLimitError(tree: BindingNode, observations: number): string | undefined {
  if (isSingleObservation(tree) || observations <= MAX_CORRELATED_OBSERVATIONS) return undefined;
  return `a correlation pattern (AND, FOLLOWEDBY, REPEATS) may have at most ${MAX_CORRELATED_OBSERVATIONS} observation expressions; this one has ${observations}`;
}

function isSingleObservation(node: BindingNode): boolean {
  if (node.kind === 'leaf') return true;
  if (node.kind === 'or') return isSingleObservation(node.left) && isSingleObservation(node.right);
  if (node.kind === 'within' || node.kind === 'startStop') return isSingleObservation(node.expression);
  return false;
}

/** An event as the one observation of a single-observation match. */
function singleEvent(input: EventInput, eventIndex: number): BufferedEvent {
  const o = input.observation;
  return { id: o.id ?? `index-${eventIndex}`, f: o.firstObserved, l: o.lastObserved, n: 1, m: 1, a: 0, ...(input.sourceEventId ? { s: input.sourceEventId } : {}) };
}

/** Could a binding exist with only the observation expressions in `present` (a bit mask)? */
function canComplete(node: BindingNode, present: number): boolean {
  switch (node.kind) {
    case 'leaf':
      return (present & (1 << node.leaf)) !== 0;
    case 'or':
      return canComplete(node.left, present) || canComplete(node.right, present);
    case 'and':
    case 'followedBy':
      return canComplete(node.left, present) && canComplete(node.right, present);
    default:
      return canComplete(node.expression, present);
  }
}

/**
 * Brings a stored state in line with the rule as it is now. After an edit of the rule's
 * observation expressions, the masks of its buffered events mean other expressions: they are
 * dropped (counted as evicted). After any other edit (a qualifier, say), or for a state from
 * before fingerprints, the buffered events may now bind among themselves: the next search is a
 * full one.
 */
function reconcile(compiled: CompiledRule, state: GroupState): void {
  if (state.patternKey === compiled.patternKey) return;
  if (state.events.length > 0) {
    if (state.observationsKey !== undefined && state.observationsKey !== compiled.observationsKey) {
      state.evicted += state.events.length;
      state.events = [];
    } else state.unsettled = true;
  }
  state.patternKey = compiled.patternKey;
  state.observationsKey = compiled.observationsKey;
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

interface Touch {
  input: EventInput;
  eventIndex: number;
  mask: number;
  groupKey: string;
}

export class StreamingEngine {
  private readonly rules: CompiledRule[];
  private readonly store: StateStore;
  private readonly lateness: number;
  private readonly maxPartials: number;
  private readonly unboundedTtl: number;
  private readonly now: () => number;
  private readonly maxRetries: number;
  private readonly index = new RuleIndex();
  /** Index entry id → (rule position, observation expression position). */
  private readonly entries: { rule: number; leaf: number }[] = [];
  private readonly indicators: IndicatorSet | undefined;
  private readonly ruleById = new Map<string, CompiledRule>();

  constructor(options: StreamingEngineOptions) {
    this.indicators = options.indicators;
    this.store = options.store;
    this.lateness = (options.latenessSeconds ?? 300) * 1_000_000;
    this.maxPartials = options.maxPartialsPerGroup ?? 100;
    this.unboundedTtl = options.unboundedTtlSeconds ?? 24 * 3600;
    this.now = options.now ?? Date.now;
    this.maxRetries = options.maxConflictRetries ?? 10;
    for (const rule of options.rules) {
      const limit = streamingLimitError(rule.pattern.tree, rule.pattern.observations.length);
      // The rule loader reports this with the rule's position; a rule built in code must not
      // reach the engine with it either, as its state would mix up its expressions.
      if (limit) throw new StixflowError('too-many-observations', `rule ${rule.id}: ${limit}`);
    }
    this.rules = options.rules
      .filter((rule) => rule.enabled)
      .map((rule) => ({
        rule,
        stateless: isSingleObservation(rule.pattern.tree),
        groupKey: compileGroupKey(rule.groupBy),
        horizon: horizonOf(rule.pattern.tree),
        tree: rule.pattern.tree,
        bounded: hasStartStop(rule.pattern.tree),
        patternKey: stringKey(printPattern(rule.pattern.ast)),
        observationsKey: stringKey(rule.pattern.observations.map((o) => printObservationExpression(o.expression)).join('\u0000')),
      }));
    for (const compiled of this.rules) this.ruleById.set(compiled.rule.id, compiled);
    this.rules.forEach((compiled, r) => {
      compiled.rule.pattern.observations.forEach((observation, leaf) => {
        this.index.add(this.entries.length, observation.expression.comparison, observation.rootTypes);
        this.entries.push({ rule: r, leaf });
      });
    });
  }

  /** Parsed group states as last written by this engine, by state key id and version. */
  private readonly parsedStates = new Map<string, { version: number; state: GroupState }>();

  private rememberState(id: string, version: number, state: GroupState): void {
    if (this.parsedStates.size >= 20_000) {
      const oldest = this.parsedStates.keys().next().value;
      if (oldest !== undefined) this.parsedStates.delete(oldest);
    }
    this.parsedStates.set(id, { version, state });
  }

  /** Index statistics, for benchmarks and health output. */
  get indexStats(): RuleIndex['stats'] {
    return this.index.stats;
  }

  /** Rules that keep correlation state. */
  get statefulRuleIds(): string[] {
    return this.rules.filter((r) => !r.stateless).map((r) => r.rule.id);
  }

  /**
   * Processes a batch of events: stateless rules alert at once; stateful rules read each
   * touched state item once, apply the batch's events in event-time order, and write each item
   * once (conditionally). Events that touch no stateful rule cause no store call.
   */
  async processBatch(inputs: EventInput[], defaultTenant = 'default'): Promise<BatchResult> {
    const alerts: Alert[] = [];
    const errors: Diagnostic[] = [];
    const late: LateEvent[] = [];
    const stats = { events: inputs.length, stateReads: 0, stateWrites: 0, conflicts: 0, evicted: 0, duplicates: 0, valuesCut: 0 };
    const touches = new Map<string, { key: StateKey; rule: CompiledRule; items: Touch[] }>();
    const filtered: RuleEvent[] = [];
    const matched: RuleEvent[] = [];
    const redelivered: string[] = [];

    // Scratch reused for every event of the batch: which rules the event satisfies (bit mask
    // per rule, and the rules with a mask, in the order the index found them). Made per batch,
    // so that nothing an interrupted batch left behind can leak into the next.
    const masks = new Int32Array(this.rules.length);
    const hit: number[] = [];
    let input = inputs[0] as EventInput;
    let eventIndex = 0;
    // Only the observation expressions the index selects are evaluated.
    const visit = (id: number): void => {
      const entry = this.entries[id] as { rule: number; leaf: number };
      const r = entry.rule;
      if (masks[r] === FAILED) return;
      const compiled = this.rules[r] as CompiledRule;
      try {
        if ((compiled.rule.pattern.observations[entry.leaf] as { test(o: PreparedObservation): boolean }).test(input.observation)) {
          if (masks[r] === 0) hit.push(r);
          masks[r] = (masks[r] as number) | leafBit(entry.leaf);
        }
      } catch (error) {
        if (masks[r] === 0) hit.push(r);
        masks[r] = FAILED;
        errors.push(evaluationDiagnostic(error, eventIndex, compiled.rule.id));
      }
    };
    for (eventIndex = 0; eventIndex < inputs.length; eventIndex++) {
      input = inputs[eventIndex] as EventInput;
      const tenant = input.tenant ?? defaultTenant;
      hit.length = 0;
      this.index.candidates(input.observation, visit);
      if (this.indicators) {
        try {
          this.indicators.match(input.observation, (rule) => {
            if (rule.scope?.tenants && !rule.scope.tenants.includes(tenant)) return;
            matched.push({ eventIndex, ruleId: rule.id });
            alerts.push(this.buildAlert(rule, tenant, '', [singleEvent(input, eventIndex)], input));
          });
        } catch (error) {
          errors.push(evaluationDiagnostic(error, eventIndex, 'indicators'));
        }
      }
      for (let h = 0; h < hit.length; h++) {
        const r = hit[h] as number;
        const mask = masks[r] as number;
        masks[r] = 0;
        if (mask === FAILED) continue;
        const compiled = this.rules[r] as CompiledRule;
        try {
          const skip = this.excluded(compiled.rule, input, tenant);
          if (skip) {
            if (skip === 'filtered') filtered.push({ eventIndex, ruleId: compiled.rule.id });
            continue;
          }
          const groupKey = compiled.groupKey(input.observation);
          matched.push({ eventIndex, ruleId: compiled.rule.id });
          if (compiled.stateless) {
            const single = this.statelessMatch(compiled, input, tenant, groupKey, mask, eventIndex);
            if (single) alerts.push(single);
            continue;
          }
          const key: StateKey = { tenant, ruleId: compiled.rule.id, group: groupKey };
          const id = stateKeyId(key);
          let entry = touches.get(id);
          if (!entry) touches.set(id, (entry = { key, rule: compiled, items: [] }));
          entry.items.push({ input, eventIndex, mask, groupKey });
        } catch (error) {
          // A filter or group key that cannot be evaluated on this event (bad data): reported
          // with the event and rule; the other rules and events go on.
          errors.push(evaluationDiagnostic(error, eventIndex, compiled.rule.id));
        }
      }
    }

    if (touches.size > 0) {
      const pending = [...touches.values()];
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > this.maxRetries) {
          for (const entry of pending) {
            errors.push({ severity: 'error', code: 'state-conflict', message: `state of rule ${entry.key.ruleId} group ${entry.key.group} kept changing under concurrent writers; the events will be retried`, ruleId: entry.key.ruleId, eventIndex: entry.items[0]?.eventIndex });
          }
          break;
        }
        const current = await this.store.getMany(pending.map((p) => p.key));
        stats.stateReads++;
        const retry: typeof pending = [];
        await Promise.all(
          pending.map(async (entry) => {
            const id = stateKeyId(entry.key);
            const stored = current.get(id);
            // The state this engine wrote last, if the store still holds exactly that version,
            // saves parsing it again; it leaves the cache while it is being changed.
            const cached = this.parsedStates.get(id);
            this.parsedStates.delete(id);
            const state = stored ? (cached !== undefined && cached.version === stored.version ? cached.state : parseGroupState(stored.value)) : emptyGroupState();
            // Alerts still in the outbox were committed by an earlier batch: sent again now.
            const earlier = state.outbox.map((a) => a.id);
            reconcile(entry.rule, state);
            const applied = this.apply(entry.rule, entry.key, state, entry.items);
            errors.push(...applied.errors);
            if (!applied.changed) {
              alerts.push(...state.outbox);
              redelivered.push(...earlier);
              late.push(...applied.late);
              stats.duplicates += applied.duplicates;
              return;
            }
            const outcome = await this.store.put({ key: entry.key, value: serialiseGroupState(state), expiresAt: this.expiryFor(entry.rule, state) }, stored ? stored.version : null);
            stats.stateWrites++;
            if (outcome.ok) {
              this.rememberState(id, outcome.version, state);
              alerts.push(...state.outbox);
              redelivered.push(...earlier);
              late.push(...applied.late);
              stats.evicted += applied.evicted;
              stats.duplicates += applied.duplicates;
            } else if (outcome.reason === 'conflict') {
              stats.conflicts++;
              retry.push(entry);
            } else {
              errors.push({ severity: 'error', code: 'state-too-large', message: `state of rule ${entry.key.ruleId} group ${entry.key.group} exceeds the item size limit; lower maxPartialsPerGroup`, ruleId: entry.key.ruleId });
            }
          }),
        );
        pending.splice(0, pending.length, ...retry);
      }
    }
    for (const i of inputs) stats.valuesCut += i.observation.valuesCut ?? 0;
    return { alerts, late, errors, stats, filtered, matched, touched: [...touches.values()].map((t) => t.key), redelivered };
  }

  /**
   * Why a rule does not take an event: out of its tenant/host scope, outside an indicator's
   * validity (by event time), or muted by one of its filters (counted as filtered).
   */
  private excluded(rule: Rule, input: EventInput, tenant: string): 'filtered' | 'out-of-scope' | undefined {
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
    const nowMs = this.now();
    for (const filter of rule.filters) {
      if (filter.expires !== undefined && nowMs >= filter.expires) continue;
      if (filter.pattern.observations.some((leaf) => leaf.test(o))) return 'filtered';
    }
    return undefined;
  }

  /**
   * Clears delivered alerts from the outboxes. Call after the alerts were sent; a failure here
   * only means they are sent again (same ids) the next time the group is touched.
   */
  async acknowledge(alerts: Alert[]): Promise<void> {
    const byKey = new Map<string, { key: StateKey; ids: Set<string> }>();
    for (const alert of alerts) {
      const key: StateKey = { tenant: alert.tenant, ruleId: alert.ruleId, group: alert.groupKey };
      if (this.ruleById.get(alert.ruleId)?.stateless !== false) continue;
      const id = stateKeyId(key);
      const entry = byKey.get(id) ?? { key, ids: new Set<string>() };
      entry.ids.add(alert.id);
      byKey.set(id, entry);
    }
    // A state this engine wrote last (usually in the batch that raised the alerts) is cleared
    // without reading it again: the write is conditional on that version, and only if another
    // writer got there first does the key go through the read below.
    for (const [id, entry] of [...byKey]) {
      const cached = this.parsedStates.get(id);
      if (cached === undefined) continue;
      this.parsedStates.delete(id);
      if (await this.clearOutbox(id, entry, cached.state, cached.version)) byKey.delete(id);
    }
    for (let attempt = 0; attempt < this.maxRetries && byKey.size > 0; attempt++) {
      const current = await this.store.getMany([...byKey.values()].map((e) => e.key));
      for (const [id, entry] of [...byKey]) {
        const stored = current.get(id);
        if (!stored) {
          byKey.delete(id);
          continue;
        }
        if (await this.clearOutbox(id, entry, parseGroupState(stored.value), stored.version)) byKey.delete(id);
      }
    }
  }

  /** Removes acknowledged alerts from a state at a known version; false when another writer changed it first. */
  private async clearOutbox(id: string, entry: { key: StateKey; ids: Set<string> }, state: GroupState, version: number): Promise<boolean> {
    const before = state.outbox.length;
    state.outbox = state.outbox.filter((a) => !entry.ids.has(a.id));
    if (state.outbox.length === before) {
      this.rememberState(id, version, state);
      return true;
    }
    const rule = this.ruleById.get(entry.key.ruleId) as CompiledRule;
    const outcome = await this.store.put({ key: entry.key, value: serialiseGroupState(state), expiresAt: this.expiryFor(rule, state) }, version);
    if (outcome.ok) this.rememberState(id, outcome.version, state);
    return outcome.ok || outcome.reason === 'too-large';
  }


  /** The state held for one rule and group: what is satisfied, what is pending, when it expires. */
  async explain(tenant: string, ruleId: string, groupKey: string): Promise<Explanation> {
    const compiled = this.ruleById.get(ruleId);
    if (!compiled) throw new StixflowError('unknown-rule', `no enabled rule with id ${ruleId}`);
    const observations = compiled.rule.pattern.observations.map((o, i) => ({ index: i, text: patternSlice(compiled.rule.patternText, o.expression.span) }));
    if (compiled.stateless) {
      return { ruleId, tenant, groupKey, stateful: false, observations: observations.map((o) => ({ ...o, satisfiedBy: [] })), partialMatches: [], pendingObservations: [], evicted: 0 };
    }
    const stored = (await this.store.getMany([{ tenant, ruleId, group: groupKey }])).get(stateKeyId({ tenant, ruleId, group: groupKey }));
    const state = stored ? parseGroupState(stored.value) : emptyGroupState();
    reconcile(compiled, state); // as the next event would see it, after an edit of the rule
    const partialMatches = state.events.map((e) => ({
      observedDataId: e.id,
      sourceEventId: e.s,
      firstObserved: formatStixTimestamp(e.f),
      lastObserved: formatStixTimestamp(e.l),
      instancesLeft: e.n,
      satisfies: observations.filter((o) => (e.m & (1 << o.index)) !== 0).map((o) => o.index),
      expires: Number.isFinite(compiled.horizon) ? `${formatStixTimestamp(e.l + compiled.horizon + this.lateness)} (event time: no later event can be within the rule's window)` : `on wall-clock TTL, ${this.unboundedTtl} s after the group's last change`,
    }));
    const withEvents = observations.map((o) => ({ ...o, satisfiedBy: partialMatches.filter((p) => p.satisfies.includes(o.index)).map((p) => p.observedDataId) }));
    return {
      ruleId,
      tenant,
      groupKey,
      stateful: true,
      observations: withEvents,
      partialMatches,
      pendingObservations: withEvents.filter((o) => o.satisfiedBy.length === 0).map((o) => o.index),
      evicted: state.evicted,
      ...(stored ? { stateExpiresAt: new Date(stored.expiresAt * 1000).toISOString() } : {}),
    };
  }

  /**
   * A single-observation rule on one event. `mask` holds the observation expressions the event
   * satisfies (already evaluated by the caller); qualifiers still apply to the single
   * observation (START/STOP bounds; WITHIN always holds).
   */
  private statelessMatch(compiled: CompiledRule, input: EventInput, tenant: string, groupKey: string, mask: number, eventIndex: number): Alert | undefined {
    // Without START/STOP, one satisfied observation expression is a match (WITHIN always
    // holds for a single observation): no search to run.
    if (compiled.bounded) {
      const observations = compiled.rule.pattern.observations;
      // Past the last bit, expressions share it: test those again to know which hold.
      const holds = (leaf: number): boolean => (leaf < MAX_CORRELATED_OBSERVATIONS - 1 ? (mask & (1 << leaf)) !== 0 : (observations[leaf] as { test(o: PreparedObservation): boolean }).test(input.observation));
      const leafMatches = observations.map((_, leaf) => (holds(leaf) ? [0] : []));
      const match = enumerateBindings(compiled.tree, { observations: [input.observation], leafMatches, budget: { remaining: 10_000 } }).next();
      if (match.done) return undefined;
    }
    return this.buildAlert(compiled.rule, tenant, groupKey, [singleEvent(input, eventIndex)], input);
  }

  /** Applies a key's events to its state; returns whether the state changed. */
  private apply(compiled: CompiledRule, key: StateKey, state: GroupState, touches: Touch[]): { changed: boolean; late: LateEvent[]; evicted: number; duplicates: number; errors: Diagnostic[] } {
    const errors: Diagnostic[] = [];
    let changed = false;
    let evicted = 0;
    let duplicates = 0;
    const late: LateEvent[] = [];
    const used = new Map(state.used);
    // Within a batch, apply in event-time order (ties: arrival order).
    const ordered = [...touches].sort((a, b) => a.input.observation.firstObserved - b.input.observation.firstObserved || a.eventIndex - b.eventIndex);
    for (const touch of ordered) {
      const o = touch.input.observation;
      const id = o.id ?? `index-${touch.eventIndex}`;
      if (used.has(id) || state.events.some((e) => e.id === id)) {
        duplicates++;
        continue;
      }
      // Lateness is judged on first_observed: an on-time event then starts no earlier than
      // watermark − lateness, which is what makes pruning by the rule's horizon sound even for
      // observed-data that span a long interval.
      if (Number.isFinite(state.watermark) && o.firstObserved < state.watermark - this.lateness) {
        late.push({ eventIndex: touch.eventIndex, ruleId: key.ruleId, groupKey: key.group, observedDataId: o.id, lagSeconds: (state.watermark - o.firstObserved) / 1e6 });
        continue;
      }
      changed = true;
      state.watermark = Math.max(state.watermark, o.firstObserved);
      const arrived: BufferedEvent = { id, f: o.firstObserved, l: o.lastObserved, n: o.numberObserved, m: touch.mask, a: state.arrivals++, ...(touch.input.sourceEventId ? { s: touch.input.sourceEventId } : {}) };
      state.events.push(arrived);
      // Find every match the new event completes; each consumes the instances it used. The
      // buffered events had no binding among themselves (each search ran to the end), and
      // using instances up never creates one, so every binding now uses the new event.
      for (;;) {
        const required = state.unsettled ? undefined : state.events.indexOf(arrived);
        if (required === -1) break;
        let binding: number[] | undefined;
        try {
          binding = this.search(compiled, state.events, required);
        } catch (error) {
          // A search too expensive to finish is this rule's problem, reported with the event;
          // the rest of the batch and the other rules go on.
          errors.push(evaluationDiagnostic(error, touch.eventIndex, key.ruleId));
          state.unsettled = true;
          break;
        }
        if (!binding) {
          delete state.unsettled;
          break;
        }
        const usedEvents = binding.map((i) => state.events[i] as BufferedEvent);
        const distinct = [...new Set(usedEvents)];
        // Instances still unused before this match tell repeated matches over the same
        // observed-data apart (number_observed > 1), so each gets its own alert id.
        const instanceKey = distinct.map((e) => (e.n === 1 ? e.id : `${e.id}@${e.n}`));
        state.outbox.push(this.buildAlert(compiled.rule, key.tenant, key.group, distinct, touch.input, instanceKey));
        for (const e of usedEvents) e.n--;
        for (const e of distinct) if (e.n === 0) used.set(e.id, e.f);
        state.events = state.events.filter((e) => e.n > 0);
      }
      // Drop partial matches that can no longer be within the rule's window of a timely event.
      if (Number.isFinite(compiled.horizon)) {
        const oldest = state.watermark - this.lateness - compiled.horizon;
        state.events = state.events.filter((e) => e.l >= oldest);
      }
      if (state.events.length > this.maxPartials) {
        state.events.sort((a, b) => a.l - b.l || a.a - b.a);
        const drop = state.events.length - this.maxPartials;
        state.events.splice(0, drop);
        state.evicted += drop;
        evicted += drop;
      }
    }
    // A redelivery of a used event older than this would be late: no need to remember it.
    const horizon = state.watermark - this.lateness;
    state.used = [...used].filter(([, first]) => first >= horizon);
    return { changed, late, evicted, duplicates, errors };
  }

  /**
   * The batch binding search over the buffered events; returns indices of the events used.
   * `required`: only bindings that use that event (the one just arrived) are looked for.
   */
  private search(compiled: CompiledRule, events: BufferedEvent[], required: number | undefined): number[] | undefined {
    // Most events wait for a partner: when the buffered events do not even cover the
    // observation expressions a binding needs, there is nothing to search.
    let present = 0;
    for (const e of events) present |= e.m;
    if (!canComplete(compiled.tree, present)) return undefined;
    const observations = events.map((e, index) => ({ index, firstObserved: e.f, lastObserved: e.l, numberObserved: e.n }) as PreparedObservation);
    const leafMatches: number[][] = compiled.rule.pattern.observations.map(() => []);
    events.forEach((e, i) => {
      for (let leaf = 0; leaf < leafMatches.length; leaf++) if ((e.m & (1 << leaf)) !== 0) (leafMatches[leaf] as number[]).push(i);
    });
    const first = enumerateBindings(compiled.tree, { observations, leafMatches, budget: { remaining: 100_000 }, ...(required === undefined ? {} : { required }) }).next();
    return first.done ? undefined : first.value.observations;
  }

  private expiryFor(compiled: CompiledRule, state: GroupState): number {
    const nowSeconds = Math.floor(this.now() / 1000);
    const windowSeconds = Number.isFinite(compiled.horizon) ? Math.ceil((compiled.horizon + this.lateness) / 1e6) : this.unboundedTtl;
    // Pending alerts keep the item for at least a day, so a stuck delivery is not forgotten.
    return nowSeconds + (state.outbox.length > 0 ? Math.max(windowSeconds, 86_400) : windowSeconds);
  }

  private buildAlert(rule: Rule, tenant: string, groupKey: string, events: BufferedEvent[], completing: EventInput, instanceKey?: string[]): Alert {
    const ids = events.map((e) => e.id);
    const first = Math.min(...events.map((e) => e.f));
    const last = Math.max(...events.map((e) => e.l));
    const objects = completing.objects ?? completing.observation.roots.map((r) => r.object);
    return {
      id: alertId(tenant, rule.id, groupKey, instanceKey ?? ids),
      ruleId: rule.id,
      ruleName: rule.name,
      severity: rule.severity,
      description: rule.description,
      ...(rule.category ? { category: rule.category } : {}),
      tags: rule.tags,
      tenant,
      groupKey,
      firstObserved: formatStixTimestamp(first),
      lastObserved: formatStixTimestamp(last),
      observedDataIds: [...ids].sort(),
      sourceEventIds: events.flatMap((e) => (e.s ? [e.s] : [])),
      objects: objects as Alert['objects'],
      created: new Date(this.now()).toISOString(),
    };
  }
}

export interface Explanation {
  ruleId: string;
  tenant: string;
  groupKey: string;
  stateful: boolean;
  observations: { index: number; text: string; satisfiedBy: string[] }[];
  partialMatches: { observedDataId: string; sourceEventId?: string; firstObserved: string; lastObserved: string; instancesLeft: number; satisfies: number[]; expires: string }[];
  pendingObservations: number[];
  evicted: number;
  stateExpiresAt?: string;
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

function patternSlice(text: string, span: { offset: number; length: number } | undefined): string {
  return span ? text.slice(span.offset, span.offset + span.length) : '';
}

function evaluationDiagnostic(error: unknown, eventIndex: number, ruleId: string): Diagnostic {
  if (error instanceof StixflowError) return { severity: 'error', code: error.code, message: error.message, eventIndex, ruleId };
  return { severity: 'error', code: 'evaluation-failed', message: error instanceof Error ? error.message : String(error), eventIndex, ruleId };
}

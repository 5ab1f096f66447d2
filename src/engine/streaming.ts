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
import { createHash } from 'node:crypto';
import type { Diagnostic } from '../errors.js';
import { StixflowError } from '../errors.js';
import { enumerateBindings, type BindingNode } from '../pattern/bindings.js';
import { formatStixTimestamp } from '../pattern/literals.js';
import type { PreparedObservation } from '../pattern/observation.js';
import type { Rule } from '../rules/model.js';
import type { IndicatorSet } from '../rules/indicators.js';
import { printObservationExpression, printPattern } from '../pattern/print.js';
import { RuleIndex } from '../rules/rule-index.js';
import { isSingleObservation, MAX_CORRELATED_OBSERVATIONS, streamingLimitError } from '../rules/limits.js';
import type { PutOutcome, StateItem, StateKey, StateStore } from '../state/types.js';
import { stateKeyId } from '../state/types.js';
import {
  alertId,
  boundedIdentifier,
  boundedObjects,
  boundedRuleText,
  contentObservedDataId,
  type Alert,
} from './alert.js';
import {
  emptyGroupState,
  parseGroupState,
  serialiseGroupState,
  type BufferedEvent,
  type GroupState,
} from './group-state.js';
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
  /**
   * Alerts one event may raise for one correlation rule (number_observed can make it complete
   * many matches at once); further matches are counted on the last of them (additionalMatches).
   */
  maxAlertsPerEvent?: number;
  /**
   * How far (seconds) an event's time may be ahead of the wall clock (`now`) and still
   * correlate; an event further in the future is reported (`future-event`) and not applied,
   * so that it cannot move its group's watermark. Infinity turns the check off.
   */
  maxClockSkewSeconds?: number;
}

export const ENGINE_DEFAULTS = {
  latenessSeconds: 300,
  maxPartialsPerGroup: 100,
  unboundedTtlSeconds: 24 * 3600,
  maxConflictRetries: 10,
  maxAlertsPerEvent: 10,
  maxClockSkewSeconds: 300,
} as const;

type NumericOption = keyof typeof ENGINE_DEFAULTS;

/** What each numeric option must be: an integer or any finite number, its least value, and whether Infinity is allowed. */
const OPTION_RULES: Record<NumericOption, { integer: boolean; min: number; infinite?: boolean }> = {
  latenessSeconds: { integer: false, min: 0 },
  maxPartialsPerGroup: { integer: true, min: 1 },
  unboundedTtlSeconds: { integer: true, min: 1 },
  maxConflictRetries: { integer: true, min: 0 },
  maxAlertsPerEvent: { integer: true, min: 1 },
  maxClockSkewSeconds: { integer: false, min: 0, infinite: true },
};

/**
 * The numeric options with their defaults; throws one StixflowError (`invalid-engine-option`)
 * naming every bad option and why, so a misconfiguration fails at start, not on some event.
 */
export function resolveEngineOptions(options: Partial<Record<NumericOption, unknown>>): Record<NumericOption, number> {
  const problems: string[] = [];
  const resolved = { ...ENGINE_DEFAULTS } as Record<NumericOption, number>;
  for (const name of Object.keys(OPTION_RULES) as NumericOption[]) {
    const value = options[name];
    if (value === undefined) continue;
    const rule = OPTION_RULES[name];
    let why: string | undefined;
    if (typeof value !== 'number') why = `must be a number, got ${typeof value}`;
    else if (Number.isNaN(value)) why = 'must be a number, got NaN';
    else if (value === Infinity && rule.infinite) why = undefined;
    else if (!Number.isFinite(value)) why = `must be finite, got ${value}`;
    else if (rule.integer && !Number.isInteger(value)) why = `must be a whole number, got ${value}`;
    else if (value < rule.min) why = `must be at least ${rule.min}, got ${value}`;
    if (why) problems.push(`${name} ${why}`);
    else resolved[name] = value as number;
  }
  if (problems.length > 0)
    throw new StixflowError(
      'invalid-engine-option',
      `invalid engine option${problems.length > 1 ? 's' : ''}: ${problems.join('; ')}`,
    );
  return resolved;
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
  observedDataId: string;
  lagSeconds: number;
}

export interface RuleEvent {
  eventIndex: number;
  ruleId: string;
  /** The event's observed-data id (or its content-derived id, when it has none). */
  observedDataId: string;
  /**
   * A single-observation rule (or indicator): the engine keeps no state for it, so it cannot
   * tell a redelivered event from a new one; a stateful rule's entries are listed only for
   * events it took for the first time (a duplicate is not listed again).
   */
  stateless: boolean;
}

export interface BatchResult {
  alerts: Alert[];
  /** (event, rule) pairs muted by a rule filter, for the filtered counters. */
  filtered: RuleEvent[];
  /**
   * (event, rule) pairs where the event satisfied an observation expression of the rule. For
   * a stateful rule, only events it took (not duplicates, late or future events, and only
   * once their state change was committed), so redelivery never counts a match twice.
   */
  matched: RuleEvent[];
  /** Correlation state items the batch touched. */
  touched: StateKey[];
  /**
   * Ids of alerts among `alerts` that an earlier batch committed and this one sends again
   * (their delivery was not acknowledged): the gate lets them through as they are.
   */
  redelivered: string[];
  /**
   * Ids of correlation alerts among `alerts` sent without being committed (their state could
   * not be stored even with no partial match left): no outbox remembers them, so the caller
   * deduplicates them as it does stateless alerts (the alert ledger).
   */
  uncommitted: string[];
  late: LateEvent[];
  errors: Diagnostic[];
  /** Counts for metrics. */
  /** `valuesCut`: LIKE / MATCHES comparisons that saw a value cut to its first MAX_SEARCHED_LENGTH characters. */
  stats: {
    events: number;
    stateReads: number;
    stateWrites: number;
    conflicts: number;
    evicted: number;
    duplicates: number;
    valuesCut: number;
  };
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
  patternKey: string;
  observationsKey: string;
}

/**
 * A collision-safe fingerprint of a text: 132 bits of SHA-256, in base64url (22 characters).
 * States written before fingerprints were strings hold 30-bit numbers: never equal to one.
 */
export function fingerprint(text: string): string {
  // Hashed as JSON text, which escapes lone surrogates, so that no two texts hash the same bytes.
  return createHash('sha256').update(JSON.stringify(text)).digest('base64url').slice(0, 22);
}

/** A rule whose evaluation threw on the current event: reported once, not evaluated again. */
const FAILED = -1;

function leafBit(leaf: number): number {
  return 1 << Math.min(leaf, MAX_CORRELATED_OBSERVATIONS - 1);
}

const contentIds = new WeakMap<PreparedObservation, string>();

/**
 * The id under which an event is kept and alerted: its observed-data id, or for an
 * observed-data without one an id derived from its content (never from its position in the
 * batch), bounded in length either way.
 */
export function eventIdOf(input: EventInput): string {
  const o = input.observation;
  if (o.id !== undefined) return boundedIdentifier(o.id);
  let id = contentIds.get(o);
  if (id === undefined) {
    id = contentObservedDataId(o.observedData, input.objects ?? o.roots.map((r) => r.object));
    contentIds.set(o, id);
  }
  return id;
}

/** An event as the one observation of a single-observation match. */
function singleEvent(input: EventInput): BufferedEvent {
  const o = input.observation;
  return {
    id: eventIdOf(input),
    f: o.firstObserved,
    l: o.lastObserved,
    n: 1,
    m: 1,
    a: 0,
    ...(input.sourceEventId ? { s: boundedIdentifier(input.sourceEventId) } : {}),
  };
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
 * full one. Returns the number of partial matches evicted: the caller writes the state back
 * (and counts them) even when no event of the batch changes it.
 */
function reconcile(compiled: CompiledRule, state: GroupState): number {
  if (state.patternKey === compiled.patternKey) return 0;
  let evicted = 0;
  if (state.events.length > 0) {
    if (state.observationsKey !== undefined && state.observationsKey !== compiled.observationsKey) {
      evicted = state.events.length;
      state.evicted += evicted;
      state.events = [];
    } else state.unsettled = true;
  }
  state.patternKey = compiled.patternKey;
  state.observationsKey = compiled.observationsKey;
  return evicted;
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

/** The events of one batch for one state item. */
interface Entry {
  key: StateKey;
  rule: CompiledRule;
  items: Touch[];
}

/** What applying a key's events yields; published only once the state change is committed. */
interface Applied {
  changed: boolean;
  late: LateEvent[];
  evicted: number;
  duplicates: number;
  /** Search failures and future events, each with its event and rule. */
  diagnostics: Diagnostic[];
  /** Events the state took (not duplicates, late or future events). */
  taken: Touch[];
}

/** The parts of a BatchResult the state updates add to. */
type BatchOutput = Pick<
  BatchResult,
  'alerts' | 'redelivered' | 'uncommitted' | 'late' | 'errors' | 'matched' | 'stats'
>;

/** A group key as diagnostics quote it: long keys are cut, the message need not carry them whole. */
function quoteGroup(group: string): string {
  return group.length > 120 ? `${group.slice(0, 120)}…` : group;
}

export class StreamingEngine {
  private readonly rules: CompiledRule[];
  private readonly store: StateStore;
  private readonly lateness: number;
  private readonly maxPartials: number;
  private readonly unboundedTtl: number;
  private readonly now: () => number;
  private readonly maxRetries: number;
  private readonly maxAlertsPerEvent: number;
  /** Allowed clock skew into the future, microseconds (Infinity: no check). */
  private readonly clockSkew: number;
  private readonly index = new RuleIndex();
  /** Index entry id → (rule position, observation expression position). */
  private readonly entries: { rule: number; leaf: number }[] = [];
  private readonly indicators: IndicatorSet | undefined;
  private readonly ruleById = new Map<string, CompiledRule>();
  /** Bounded copies, made once per rule and per completing event, however many alerts share them. */
  private readonly ruleTexts = new WeakMap<Rule, ReturnType<typeof boundedRuleText>>();
  private readonly eventObjects = new WeakMap<EventInput, ReturnType<typeof boundedObjects>>();

  constructor(options: StreamingEngineOptions) {
    const resolved = resolveEngineOptions(options);
    this.indicators = options.indicators;
    this.store = options.store;
    this.lateness = resolved.latenessSeconds * 1_000_000;
    this.maxPartials = resolved.maxPartialsPerGroup;
    this.unboundedTtl = resolved.unboundedTtlSeconds;
    this.now = options.now ?? Date.now;
    this.maxRetries = resolved.maxConflictRetries;
    this.maxAlertsPerEvent = resolved.maxAlertsPerEvent;
    this.clockSkew = resolved.maxClockSkewSeconds * 1_000_000;
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
        patternKey: fingerprint(printPattern(rule.pattern.ast)),
        observationsKey: fingerprint(
          rule.pattern.observations.map((o) => printObservationExpression(o.expression)).join('\u0000'),
        ),
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
   * once (conditionally). Events that touch no stateful rule cause no store call. A state item
   * that cannot be read or written fails only its own events, reported with their index.
   */
  async processBatch(inputs: EventInput[], defaultTenant = 'default'): Promise<BatchResult> {
    const alerts: Alert[] = [];
    const errors: Diagnostic[] = [];
    const late: LateEvent[] = [];
    const stats = {
      events: inputs.length,
      stateReads: 0,
      stateWrites: 0,
      conflicts: 0,
      evicted: 0,
      duplicates: 0,
      valuesCut: 0,
    };
    const touches = new Map<string, Entry>();
    const filtered: RuleEvent[] = [];
    const matched: RuleEvent[] = [];
    const redelivered: string[] = [];
    const uncommitted: string[] = [];

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
        if (
          (compiled.rule.pattern.observations[entry.leaf] as { test(o: PreparedObservation): boolean }).test(
            input.observation,
          )
        ) {
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
            matched.push({ eventIndex, ruleId: rule.id, observedDataId: eventIdOf(input), stateless: true });
            alerts.push(this.buildAlert(rule, tenant, '', [singleEvent(input)], input));
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
            if (skip === 'filtered')
              filtered.push({
                eventIndex,
                ruleId: compiled.rule.id,
                observedDataId: eventIdOf(input),
                stateless: compiled.stateless,
              });
            continue;
          }
          const groupKey = compiled.groupKey(input.observation);
          if (compiled.stateless) {
            matched.push({ eventIndex, ruleId: compiled.rule.id, observedDataId: eventIdOf(input), stateless: true });
            const single = this.statelessMatch(compiled, input, tenant, groupKey, mask);
            if (single) alerts.push(single);
            continue;
          }
          // A stateful rule's match is listed once its state took the event (see update).
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
      const out: BatchOutput = { alerts, redelivered, uncommitted, late, errors, matched, stats };
      let pending = [...touches.values()];
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > this.maxRetries) {
          for (const entry of pending) {
            errors.push({
              severity: 'error',
              code: 'state-conflict',
              message: `state of rule ${entry.key.ruleId} group ${quoteGroup(entry.key.group)} kept changing under concurrent writers; the events will be retried`,
              ruleId: entry.key.ruleId,
              eventIndex: entry.items[0]?.eventIndex,
            });
          }
          break;
        }
        const { items: current, failures } = await this.readStates(pending.map((p) => p.key));
        stats.stateReads++;
        const retry: Entry[] = [];
        await Promise.all(
          pending.map(async (entry) => {
            const id = stateKeyId(entry.key);
            const failure = failures.get(id);
            if (failure !== undefined) {
              errors.push(...keyFailure(entry, 'read', failure));
              return;
            }
            try {
              if (!(await this.update(entry, current.get(id), out))) retry.push(entry);
            } catch (error) {
              errors.push(...keyFailure(entry, 'updated', error));
            }
          }),
        );
        pending = retry;
      }
    }
    for (const i of inputs) stats.valuesCut += i.observation.valuesCut ?? 0;
    return {
      alerts,
      late,
      errors,
      stats,
      filtered,
      matched,
      touched: [...touches.values()].map((t) => t.key),
      redelivered,
      uncommitted,
    };
  }

  /**
   * Reads state items; when the store fails the read, reads each key on its own, so that one
   * key it cannot read (or a store failing for one partition) fails only that key's events.
   */
  private async readStates(
    keys: StateKey[],
  ): Promise<{ items: Map<string, StateItem>; failures: Map<string, unknown> }> {
    try {
      return { items: await this.store.getMany(keys), failures: new Map() };
    } catch (error) {
      const failures = new Map<string, unknown>();
      if (keys.length === 1) {
        failures.set(stateKeyId(keys[0] as StateKey), error);
        return { items: new Map(), failures };
      }
      const items = new Map<string, StateItem>();
      await Promise.all(
        keys.map(async (key) => {
          try {
            for (const [id, item] of await this.store.getMany([key])) items.set(id, item);
          } catch (keyError) {
            failures.set(stateKeyId(key), keyError);
          }
        }),
      );
      return { items, failures };
    }
  }

  /**
   * Applies one key's events to its state and writes it conditionally. Returns false on a
   * version conflict (nothing published: the caller reads again and retries); otherwise
   * publishes the alerts, late events, diagnostics and matches, which are then final.
   */
  private async update(entry: Entry, stored: StateItem | undefined, out: BatchOutput): Promise<boolean> {
    const id = stateKeyId(entry.key);
    // The state this engine wrote last, if the store still holds exactly that version, saves
    // parsing it again; it leaves the cache while it is being changed.
    const cached = this.parsedStates.get(id);
    this.parsedStates.delete(id);
    const state = stored
      ? cached !== undefined && cached.version === stored.version
        ? cached.state
        : parseGroupState(stored.value)
      : emptyGroupState();
    // Alerts still in the outbox were committed by an earlier batch: sent again now.
    const earlier = state.outbox.map((a) => a.id);
    const reconciled = reconcile(entry.rule, state);
    const applied = this.apply(entry.rule, entry.key, state, entry.items);
    if (!applied.changed && reconciled === 0) {
      this.publish(out, entry, state.outbox, earlier, applied, 0);
      return true;
    }
    const expected = stored ? stored.version : null;
    // The alerts as raised: if the state must shed their objects to fit, they still go out whole now.
    const outbox = state.outbox;
    let outcome = await this.put(entry, state, expected);
    let evicted = reconciled + applied.evicted;
    if (!outcome.ok && outcome.reason === 'too-large') {
      const fitted = await this.fitState(entry, state, expected);
      outcome = fitted.outcome;
      if (fitted.diagnostic) applied.diagnostics.push(fitted.diagnostic);
      if (outcome.ok) evicted += fitted.evicted;
    }
    if (outcome.ok) {
      out.stats.stateWrites++;
      this.rememberState(id, outcome.version, state);
      this.publish(out, entry, outbox, earlier, applied, evicted);
      return true;
    }
    if (outcome.reason === 'conflict') {
      out.stats.stateWrites++;
      out.stats.conflicts++;
      return false;
    }
    // Not even the alerts alone fit the item: they go out now, uncommitted (the state is not
    // written, so a redelivery of the events computes them again, with the same ids).
    out.errors.push({
      severity: 'error',
      code: 'state-too-large',
      message: `state of rule ${entry.key.ruleId} group ${quoteGroup(entry.key.group)} does not fit the item size limit even with no partial match left: its ${outbox.length} alert(s) are sent without being committed, and the events are not correlated`,
      ruleId: entry.key.ruleId,
      eventIndex: entry.items[0]?.eventIndex,
    });
    // Late events, diagnostics and matches are reported as for a committed state; the new
    // alerts are marked so that the alert ledger keeps a redelivery from raising them again.
    this.publish(out, entry, outbox, earlier, applied, 0);
    const before = new Set(earlier);
    for (const alert of outbox) if (!before.has(alert.id)) out.uncommitted.push(alert.id);
    return true;
  }

  private put(entry: Entry, state: GroupState, expected: number | null): Promise<PutOutcome> {
    return this.store.put(
      { key: entry.key, value: serialiseGroupState(state), expiresAt: this.expiryFor(entry.rule, state) },
      expected,
    );
  }

  /**
   * A state too large for its item is made to fit without losing an alert: partial matches
   * are evicted, oldest first, until it fits; then the memory of used ids is shortened; then
   * the stored copies of the pending alerts drop their objects (the alerts sent now keep them).
   * Refused (too-large) writes are checked locally by the stores, so the trials cost no call.
   */
  private async fitState(
    entry: Entry,
    state: GroupState,
    expected: number | null,
  ): Promise<{ outcome: PutOutcome; evicted: number; diagnostic?: Diagnostic }> {
    let outcome: PutOutcome = { ok: false, reason: 'too-large' };
    let evicted = 0;
    let forgotten = 0;
    let stripped = false;
    const fits = (): boolean => outcome.ok || outcome.reason !== 'too-large';
    state.events.sort((a, b) => a.l - b.l || a.a - b.a);
    while (!fits() && state.events.length > 0) {
      state.events.shift();
      evicted++;
      state.evicted++;
      outcome = await this.put(entry, state, expected);
    }
    // Without the used ids, a late redelivery of a used event may be buffered again.
    while (!fits() && state.used.length > 0) {
      const drop = Math.ceil(state.used.length / 2);
      state.used.sort((a, b) => a[1] - b[1]);
      state.used.splice(0, drop);
      forgotten += drop;
      outcome = await this.put(entry, state, expected);
    }
    if (!fits() && state.outbox.some((a) => a.objects.length > 0)) {
      state.outbox = state.outbox.map((a) =>
        a.objects.length > 0 ? { ...a, objects: [], objectsOmitted: (a.objectsOmitted ?? 0) + a.objects.length } : a,
      );
      stripped = true;
      outcome = await this.put(entry, state, expected);
    }
    if (!outcome.ok) return { outcome, evicted };
    const what = [
      evicted > 0 ? `${evicted} partial match(es) evicted, oldest first` : '',
      forgotten > 0 ? `${forgotten} used id(s) forgotten` : '',
      stripped ? 'the stored copies of its pending alerts keep no objects' : '',
    ].filter(Boolean);
    return {
      outcome,
      evicted,
      diagnostic: {
        severity: 'warning',
        code: 'state-evicted',
        message: `state of rule ${entry.key.ruleId} group ${quoteGroup(entry.key.group)} exceeded the item size limit; to commit the alerts of this batch, ${what.join('; ')}`,
        ruleId: entry.key.ruleId,
        eventIndex: entry.items[0]?.eventIndex,
      },
    };
  }

  private publish(
    out: BatchOutput,
    entry: Entry,
    alerts: Alert[],
    earlier: string[],
    applied: Applied,
    evicted: number,
  ): void {
    out.alerts.push(...alerts);
    out.redelivered.push(...earlier);
    out.late.push(...applied.late);
    out.errors.push(...applied.diagnostics);
    out.stats.evicted += evicted;
    out.stats.duplicates += applied.duplicates;
    for (const touch of applied.taken)
      out.matched.push({
        eventIndex: touch.eventIndex,
        ruleId: entry.key.ruleId,
        observedDataId: eventIdOf(touch.input),
        stateless: false,
      });
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
    // A key whose outbox cannot be cleared now (the store fails for it) is left: its alerts
    // are sent again, with the same ids, the next time its group is touched.
    const clear = async (
      id: string,
      entry: { key: StateKey; ids: Set<string> },
      state: GroupState,
      version: number,
    ): Promise<void> => {
      try {
        if (await this.clearOutbox(id, entry, state, version)) byKey.delete(id);
      } catch {
        byKey.delete(id);
      }
    };
    // A state this engine wrote last (usually in the batch that raised the alerts) is cleared
    // without reading it again: the write is conditional on that version, and only if another
    // writer got there first does the key go through the read below.
    for (const [id, entry] of [...byKey]) {
      const cached = this.parsedStates.get(id);
      if (cached === undefined) continue;
      this.parsedStates.delete(id);
      await clear(id, entry, cached.state, cached.version);
    }
    for (let attempt = 0; attempt < this.maxRetries && byKey.size > 0; attempt++) {
      const { items: current, failures } = await this.readStates([...byKey.values()].map((e) => e.key));
      for (const [id, entry] of [...byKey]) {
        const stored = current.get(id);
        if (!stored || failures.has(id)) {
          byKey.delete(id);
          continue;
        }
        let state: GroupState;
        try {
          state = parseGroupState(stored.value);
        } catch {
          byKey.delete(id);
          continue;
        }
        await clear(id, entry, state, stored.version);
      }
    }
  }

  /** Removes acknowledged alerts from a state at a known version; false when another writer changed it first. */
  private async clearOutbox(
    id: string,
    entry: { key: StateKey; ids: Set<string> },
    state: GroupState,
    version: number,
  ): Promise<boolean> {
    const before = state.outbox.length;
    state.outbox = state.outbox.filter((a) => !entry.ids.has(a.id));
    if (state.outbox.length === before) {
      this.rememberState(id, version, state);
      return true;
    }
    const rule = this.ruleById.get(entry.key.ruleId) as CompiledRule;
    const outcome = await this.store.put(
      { key: entry.key, value: serialiseGroupState(state), expiresAt: this.expiryFor(rule, state) },
      version,
    );
    if (outcome.ok) this.rememberState(id, outcome.version, state);
    return outcome.ok || outcome.reason === 'too-large';
  }

  /** The state held for one rule and group: what is satisfied, what is pending, when it expires. */
  async explain(tenant: string, ruleId: string, groupKey: string): Promise<Explanation> {
    const compiled = this.ruleById.get(ruleId);
    if (!compiled) throw new StixflowError('unknown-rule', `no enabled rule with id ${ruleId}`);
    const observations = compiled.rule.pattern.observations.map((o, i) => ({
      index: i,
      text: patternSlice(compiled.rule.patternText, o.expression.span),
    }));
    if (compiled.stateless) {
      return {
        ruleId,
        tenant,
        groupKey,
        stateful: false,
        observations: observations.map((o) => ({ ...o, satisfiedBy: [] })),
        partialMatches: [],
        pendingObservations: [],
        evicted: 0,
      };
    }
    const stored = (await this.store.getMany([{ tenant, ruleId, group: groupKey }])).get(
      stateKeyId({ tenant, ruleId, group: groupKey }),
    );
    const state = stored ? parseGroupState(stored.value) : emptyGroupState();
    reconcile(compiled, state); // as the next event would see it, after an edit of the rule
    const partialMatches = state.events.map((e) => ({
      observedDataId: e.id,
      sourceEventId: e.s,
      firstObserved: formatStixTimestamp(e.f),
      lastObserved: formatStixTimestamp(e.l),
      instancesLeft: e.n,
      satisfies: observations.filter((o) => (e.m & (1 << o.index)) !== 0).map((o) => o.index),
      expires: Number.isFinite(compiled.horizon)
        ? `${formatStixTimestamp(e.l + compiled.horizon + this.lateness)} (event time: no later event can be within the rule's window)`
        : `on wall-clock TTL, ${this.unboundedTtl} s after the group's last change`,
    }));
    const withEvents = observations.map((o) => ({
      ...o,
      satisfiedBy: partialMatches.filter((p) => p.satisfies.includes(o.index)).map((p) => p.observedDataId),
    }));
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
  private statelessMatch(
    compiled: CompiledRule,
    input: EventInput,
    tenant: string,
    groupKey: string,
    mask: number,
  ): Alert | undefined {
    // Without START/STOP, one satisfied observation expression is a match (WITHIN always
    // holds for a single observation): no search to run.
    if (compiled.bounded) {
      const observations = compiled.rule.pattern.observations;
      // Past the last bit, expressions share it: test those again to know which hold.
      const holds = (leaf: number): boolean =>
        leaf < MAX_CORRELATED_OBSERVATIONS - 1
          ? (mask & (1 << leaf)) !== 0
          : (observations[leaf] as { test(o: PreparedObservation): boolean }).test(input.observation);
      const leafMatches = observations.map((_, leaf) => (holds(leaf) ? [0] : []));
      const match = enumerateBindings(compiled.tree, {
        observations: [input.observation],
        leafMatches,
        budget: { remaining: 10_000 },
      }).next();
      if (match.done) return undefined;
    }
    return this.buildAlert(compiled.rule, tenant, groupKey, [singleEvent(input)], input);
  }

  /** Applies a key's events to its state; returns whether the state changed, and what to report. */
  private apply(compiled: CompiledRule, key: StateKey, state: GroupState, touches: Touch[]): Applied {
    const diagnostics: Diagnostic[] = [];
    const taken: Touch[] = [];
    let evicted = 0;
    let duplicates = 0;
    const late: LateEvent[] = [];
    const used = new Map(state.used);
    // Events dated beyond the allowed skew into the future are not applied: one such event
    // would move the watermark so far that every real event after it is late.
    const latestAllowed = this.now() * 1000 + this.clockSkew;
    // Within a batch, apply in event-time order (ties: arrival order).
    const ordered = [...touches].sort(
      (a, b) => a.input.observation.firstObserved - b.input.observation.firstObserved || a.eventIndex - b.eventIndex,
    );
    for (const touch of ordered) {
      const o = touch.input.observation;
      const id = eventIdOf(touch.input);
      if (used.has(id) || state.events.some((e) => e.id === id)) {
        duplicates++;
        continue;
      }
      if (o.lastObserved > latestAllowed) {
        diagnostics.push({
          severity: 'warning',
          code: 'future-event',
          message: `event time ${formatStixTimestamp(o.lastObserved)} is more than ${this.clockSkew / 1e6} s ahead of the clock (${new Date(this.now()).toISOString()}): not correlated, and the group's watermark is not moved`,
          eventIndex: touch.eventIndex,
          ruleId: key.ruleId,
        });
        continue;
      }
      // Lateness is judged on first_observed: an on-time event then starts no earlier than
      // watermark − lateness, which is what makes pruning by the rule's horizon sound even for
      // observed-data that span a long interval.
      if (Number.isFinite(state.watermark) && o.firstObserved < state.watermark - this.lateness) {
        late.push({
          eventIndex: touch.eventIndex,
          ruleId: key.ruleId,
          groupKey: key.group,
          observedDataId: id,
          lagSeconds: (state.watermark - o.firstObserved) / 1e6,
        });
        continue;
      }
      taken.push(touch);
      state.watermark = Math.max(state.watermark, o.firstObserved);
      const arrived: BufferedEvent = {
        id,
        f: o.firstObserved,
        l: o.lastObserved,
        n: o.numberObserved,
        m: touch.mask,
        a: state.arrivals++,
        ...(touch.input.sourceEventId ? { s: boundedIdentifier(touch.input.sourceEventId) } : {}),
      };
      state.events.push(arrived);
      // Find every match the new event completes; each consumes the instances it used. The
      // buffered events had no binding among themselves (each search ran to the end), and
      // using instances up never creates one, so every binding now uses the new event.
      let raised = 0;
      let further = 0;
      let last: Alert | undefined;
      for (;;) {
        const required = state.unsettled ? undefined : state.events.indexOf(arrived);
        if (required === -1) break;
        let binding: number[] | undefined;
        try {
          binding = this.search(compiled, state.events, required);
        } catch (error) {
          // A search too expensive to finish is this rule's problem, reported with the event;
          // the rest of the batch and the other rules go on.
          diagnostics.push(evaluationDiagnostic(error, touch.eventIndex, key.ruleId));
          state.unsettled = true;
          break;
        }
        if (!binding) {
          delete state.unsettled;
          break;
        }
        const uses = new Map<BufferedEvent, number>();
        for (const i of binding) {
          const e = state.events[i] as BufferedEvent;
          uses.set(e, (uses.get(e) ?? 0) + 1);
        }
        // The same binding is found again for as long as its events have the instances: fewer
        // instances never make an earlier binding of the search possible. So its repeats are
        // counted at once (number_observed can be 999,999,999), never searched one by one.
        let repeats = Infinity;
        for (const [e, count] of uses) repeats = Math.min(repeats, Math.floor(e.n / count));
        const distinct = [...uses.keys()];
        const alerting = Math.min(repeats, this.maxAlertsPerEvent - raised);
        for (let r = 0; r < alerting; r++) {
          // Instances still unused before this match tell repeated matches over the same
          // observed-data apart (number_observed > 1), so each gets its own alert id.
          const instanceKey = distinct.map((e) => {
            const left = e.n - r * (uses.get(e) as number);
            return left === 1 ? e.id : `${e.id}@${left}`;
          });
          last = this.buildAlert(compiled.rule, key.tenant, key.group, distinct, touch.input, instanceKey);
          state.outbox.push(last);
        }
        raised += alerting;
        further += repeats - alerting;
        for (const [e, count] of uses) e.n -= repeats * count;
        for (const e of distinct) if (e.n === 0) used.set(e.id, e.f);
        state.events = state.events.filter((e) => e.n > 0);
      }
      // Matches past the cap are counted on the last alert this event raised, which is
      // committed with the state: a redelivery sends it again as it is, never recounts.
      if (last && further > 0) last.additionalMatches = further;
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
    return { changed: taken.length > 0, late, evicted, duplicates, diagnostics, taken };
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
    const observations = events.map(
      (e, index) => ({ index, firstObserved: e.f, lastObserved: e.l, numberObserved: e.n }) as PreparedObservation,
    );
    const leafMatches: number[][] = compiled.rule.pattern.observations.map(() => []);
    events.forEach((e, i) => {
      for (let leaf = 0; leaf < leafMatches.length; leaf++)
        if ((e.m & (1 << leaf)) !== 0) (leafMatches[leaf] as number[]).push(i);
    });
    const first = enumerateBindings(compiled.tree, {
      observations,
      leafMatches,
      budget: { remaining: 100_000 },
      ...(required === undefined ? {} : { required }),
    }).next();
    return first.done ? undefined : first.value.observations;
  }

  private expiryFor(compiled: CompiledRule, state: GroupState): number {
    const nowSeconds = Math.floor(this.now() / 1000);
    const windowSeconds = Number.isFinite(compiled.horizon)
      ? Math.ceil((compiled.horizon + this.lateness) / 1e6)
      : this.unboundedTtl;
    // Pending alerts keep the item for at least a day, so a stuck delivery is not forgotten.
    return nowSeconds + (state.outbox.length > 0 ? Math.max(windowSeconds, 86_400) : windowSeconds);
  }

  private buildAlert(
    rule: Rule,
    tenant: string,
    groupKey: string,
    events: BufferedEvent[],
    completing: EventInput,
    instanceKey?: string[],
  ): Alert {
    const ids = events.map((e) => e.id);
    let first = Infinity;
    let last = -Infinity;
    for (const e of events) {
      first = Math.min(first, e.f);
      last = Math.max(last, e.l);
    }
    let text = this.ruleTexts.get(rule);
    if (text === undefined) this.ruleTexts.set(rule, (text = boundedRuleText(rule)));
    // Alerts (and the outbox that holds them) carry bounded copies of the event's objects.
    let objects = this.eventObjects.get(completing);
    if (objects === undefined)
      this.eventObjects.set(
        completing,
        (objects = boundedObjects(
          (completing.objects ?? completing.observation.roots.map((r) => r.object)) as Record<string, unknown>[],
        )),
      );
    return {
      id: alertId(tenant, rule.id, groupKey, instanceKey ?? ids),
      ruleId: rule.id,
      ruleName: text.name,
      severity: rule.severity,
      description: text.description,
      ...(text.category ? { category: text.category } : {}),
      ...(rule.type ? { ruleType: rule.type } : {}),
      tags: text.tags,
      tenant,
      groupKey,
      firstObserved: formatStixTimestamp(first),
      lastObserved: formatStixTimestamp(last),
      observedDataIds: [...ids].sort(),
      sourceEventIds: events.flatMap((e) => (e.s ? [e.s] : [])),
      objects: objects.objects,
      ...(objects.omitted > 0 ? { objectsOmitted: objects.omitted } : {}),
      created: new Date(this.now()).toISOString(),
    };
  }
}

/** One diagnostic per event of a state item that could not be read or written. */
function keyFailure(entry: Entry, what: 'read' | 'updated', error: unknown): Diagnostic[] {
  const code = error instanceof StixflowError ? error.code : 'state-failed';
  const reason = error instanceof Error ? error.message : String(error);
  return entry.items.map((touch) => ({
    severity: 'error' as const,
    code,
    message: `state of rule ${entry.key.ruleId} group ${quoteGroup(entry.key.group)} could not be ${what}: ${reason}`,
    eventIndex: touch.eventIndex,
    ruleId: entry.key.ruleId,
  }));
}

export interface Explanation {
  ruleId: string;
  tenant: string;
  groupKey: string;
  stateful: boolean;
  observations: { index: number; text: string; satisfiedBy: string[] }[];
  partialMatches: {
    observedDataId: string;
    sourceEventId?: string;
    firstObserved: string;
    lastObserved: string;
    instancesLeft: number;
    satisfies: number[];
    expires: string;
  }[];
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
  if (error instanceof StixflowError)
    return { severity: 'error', code: error.code, message: error.message, eventIndex, ruleId };
  return {
    severity: 'error',
    code: 'evaluation-failed',
    message: error instanceof Error ? error.message : String(error),
    eventIndex,
    ruleId,
  };
}

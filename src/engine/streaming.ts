/**
 * The streaming correlation engine: a short coordinator of
 *   matcher (src/engine/matcher.ts): events → rule hits, stateless alerts; no I/O;
 *   correlator (the rule kind's `correlate`, src/engine/correlator.ts for patterns): a group's
 *     state and hits → next state, alerts, late events; no I/O;
 *   state repository (src/engine/state-repository.ts): one read for all groups a batch
 *     touches, one conditional write per group, computed again on a version conflict.
 * Alerts are committed in the state's outbox together with the state change, then sent, then
 * cleared (`acknowledge`), so that a crash between commit and send loses nothing and a
 * redelivery sends the same alert ids again (deduplicated downstream). Results of a group are
 * published only once its state change is committed.
 */
import type { Diagnostic } from '../errors.js';
import { StixflowError } from '../errors.js';
import { StateCorruptError, StateStoreError } from '../state/errors.js';
import type { StateKey } from '../state/types.js';
import { stateKeyId } from '../state/types.js';
import { GROUP_ITEM_RULE_ID } from '../state/table-schema.js';
import type { Alert } from './alert.js';
import { eventIdOf } from './alert-builder.js';
import { explainGroup, type Explanation } from './explain.js';
import { CompiledIndicators } from './indicator-kind.js';
import { matchBatch, type GroupHits, type RuleEvent } from './matcher.js';
import { resolveEngineOptions, type StreamingEngineOptions } from './options.js';
import { CompiledPatternRules, type PatternRule } from './pattern-kind.js';
import { CompiledAggregationRules, type AggregationRule } from './aggregation-kind.js';
import type { AggregationState } from './aggregation-state.js';
import type { RuleIndex } from '../rules/rule-index.js';
import type {
  Clock,
  CompiledKind,
  Correlated,
  Correlation,
  EventInput,
  KindOptions,
  LateEvent,
  StateCodec,
  StateFit,
} from './rule-kind.js';
import { riskInputOf } from './risk-input.js';
import { StateRepository, type Current, type Step } from './state-repository.js';
import type { GroupState } from './group-state.js';
import {
  emptyGroupItem,
  groupItemCodec,
  groupItemExpiry,
  groupItemKey,
  hasPendingAlerts,
  markPendingAlerts,
  ruleExpiry,
  ruleState,
  setRuleState,
  type FingerprintsOf,
  type GroupItem,
  type RuleFingerprints,
} from './group-item.js';

export { ENGINE_DEFAULTS, resolveEngineOptions, type StreamingEngineOptions } from './options.js';
export { fingerprint } from './pattern-kind.js';
export { eventIdOf } from './alert-builder.js';
export type { EventInput, LateEvent } from './rule-kind.js';
export type { RuleEvent } from './matcher.js';
export type { Explanation } from './explain.js';

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
  /** Partial matches evicted per group, as committed (for the per-rule counters). */
  evictions: { tenant: string; ruleId: string; evicted: number }[];
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

/** A group key as diagnostics quote it: long keys are cut, the message need not carry them whole. */
function quoteGroup(group: string): string {
  return group.length > 120 ? `${group.slice(0, 120)}…` : group;
}

/** One rule's part of a group item's attempt. */
interface RuleStep {
  group: GroupHits;
  correlation: Correlation<unknown>;
  state: unknown;
  correlated: Correlated<unknown>;
  outbox: Alert[];
  earlier: string[];
  /** Made only when the item outgrows its size limit. */
  fit?: StateFit;
}

/** How a group item's attempt ended: per rule in the order given, or why its state could not be decoded. */
interface ItemSettled {
  rules: (Settled | { failed: unknown })[];
}

/** Entries of one group item (tenant, group), in the order first given. */
interface ItemOf<T> {
  key: StateKey;
  members: T[];
}

/** Groups entries by the group item of their (tenant, group). */
function itemsOf<T>(entries: readonly T[], keyOf: (entry: T) => StateKey): ItemOf<T>[] {
  const byId = new Map<string, ItemOf<T>>();
  for (const entry of entries) {
    const { tenant, group } = keyOf(entry);
    const key = groupItemKey(tenant, group);
    const id = stateKeyId(key);
    let item = byId.get(id);
    if (item === undefined) byId.set(id, (item = { key, members: [] }));
    item.members.push(entry);
  }
  return [...byId.values()];
}

/** How a group's attempt ended, for publishing once it is final. */
interface Settled {
  outcome: 'unchanged' | 'written' | 'too-large';
  correlated: Correlated<unknown>;
  /** The state's outbox as correlated (alerts committed earlier and now), before any fitting. */
  outbox: Alert[];
  earlier: string[];
  /** Partial matches shed to fit the item, and the warning that says so. */
  fitEvicted: number;
  fitWarning?: Diagnostic;
}

export class StreamingEngine {
  private readonly patterns: CompiledPatternRules;
  /** Every rule kind's matcher, indicators first (their alerts come first, as they always have). */
  private readonly kinds: CompiledKind[];
  private readonly repository: StateRepository;
  private readonly now: Clock;
  private readonly aggregations: CompiledAggregationRules;
  private readonly risks: CompiledAggregationRules;
  private readonly ruleById = new Map<string, PatternRule | AggregationRule>();
  private readonly itemCodec: StateCodec<GroupItem>;
  /** Pattern rules' fingerprints, which group items store as digests. */
  private readonly fingerprintsOf: FingerprintsOf;

  constructor(options: StreamingEngineOptions) {
    const resolved = resolveEngineOptions(options);
    this.now = options.now ?? Date.now;
    this.repository = new StateRepository(options.store, { maxConflictRetries: resolved.maxConflictRetries });
    const kindOptions: KindOptions = {
      latenessMicros: resolved.latenessSeconds * 1_000_000,
      maxPartialsPerGroup: resolved.maxPartialsPerGroup,
      unboundedTtlSeconds: resolved.unboundedTtlSeconds,
      maxAlertsPerEvent: resolved.maxAlertsPerEvent,
      clockSkewMicros: resolved.maxClockSkewSeconds * 1_000_000,
    };
    this.patterns = new CompiledPatternRules(
      options.rules.filter((r) => r.aggregation === undefined),
      kindOptions,
    );
    // Risk rules take the alerts of the other rules, in a second stage of each batch.
    const isRisk = (r: { aggregation?: { kind: string } }): boolean => r.aggregation?.kind === 'risk';
    this.aggregations = new CompiledAggregationRules(
      options.rules.filter((r) => !isRisk(r)),
      kindOptions,
    );
    this.risks = new CompiledAggregationRules(options.rules.filter(isRisk), kindOptions);
    this.kinds = [
      ...(options.indicators ? [new CompiledIndicators(options.indicators)] : []),
      this.patterns,
      this.aggregations,
    ];
    for (const compiled of [...this.patterns.rules, ...this.aggregations.rules, ...this.risks.rules])
      this.ruleById.set(compiled.rule.id, compiled);
    // Asked for only by rules that keep state, and each rule prints and hashes its pattern on
    // first use: computing them all here cost a SigmaHQ-sized rule set a tenth of its cold start.
    const patternRules = new Map(this.patterns.rules.map((r) => [r.rule.id, r]));
    const fingerprints = new Map<string, RuleFingerprints>();
    this.fingerprintsOf = (ruleId) => {
      let known = fingerprints.get(ruleId);
      if (known === undefined) {
        const compiled = patternRules.get(ruleId);
        if (compiled === undefined) return undefined;
        known = { patternKey: compiled.patternKey, observationsKey: compiled.observationsKey };
        fingerprints.set(ruleId, known);
      }
      return known;
    };
    this.itemCodec = groupItemCodec(this.now, this.fingerprintsOf);
  }

  /** Index statistics, for benchmarks and health output. */
  get indexStats(): RuleIndex['stats'] {
    return this.patterns.index.stats;
  }

  /** Rules that keep correlation state. */
  get statefulRuleIds(): string[] {
    return [
      ...this.patterns.rules.filter((r) => !r.stateless).map((r) => r.rule.id),
      ...this.aggregations.rules.map((r) => r.rule.id),
      ...this.risks.rules.map((r) => r.rule.id),
    ];
  }

  /**
   * Processes a batch of events: stateless rules alert at once; stateful rules read each
   * touched state item once, apply the batch's events in event-time order, and write each item
   * once (conditionally). Events that touch no stateful rule cause no store call. A state item
   * that cannot be read or written fails only its own events, reported with their index.
   */
  async processBatch(inputs: EventInput[], defaultTenant = 'default'): Promise<BatchResult> {
    const matched = matchBatch(this.kinds, inputs, defaultTenant, this.now);
    const result: BatchResult = {
      alerts: matched.alerts,
      late: [],
      errors: matched.errors,
      stats: {
        events: inputs.length,
        stateReads: 0,
        stateWrites: 0,
        conflicts: 0,
        evicted: 0,
        duplicates: 0,
        valuesCut: 0,
      },
      filtered: matched.filtered,
      matched: matched.matched,
      touched: matched.groups.map((g) => g.key),
      redelivered: [],
      uncommitted: [],
      evictions: [],
    };
    if (matched.groups.length > 0) await this.correlateGroups(matched.groups, result);
    if (this.risks.rules.length > 0) await this.scoreRisk(inputs, result, defaultTenant);
    for (const i of inputs) result.stats.valuesCut += i.observation.valuesCut ?? 0;
    return result;
  }

  /**
   * The risk stage: the batch's alerts (raised now or sent again) of rules that carry a `risk`
   * go, as events, to the risk rules, through the same matcher and state repository. Their
   * diagnostics and counters name the batch event that completed the alert where it is in the
   * batch (an alert sent again from an outbox may complete none: the first event then).
   */
  private async scoreRisk(inputs: EventInput[], out: BatchResult, defaultTenant: string): Promise<void> {
    const feeding: { alert: Alert; risk: number }[] = [];
    for (const alert of out.alerts) {
      const risk = this.ruleById.get(alert.ruleId)?.rule.risk;
      if (risk !== undefined && risk > 0) feeding.push({ alert, risk });
    }
    if (feeding.length === 0) return;
    const indexOfEvent = new Map<string, number>();
    inputs.forEach((input, i) => indexOfEvent.set(eventIdOf(input), i));
    const origin = feeding.map(({ alert }) => {
      for (let i = alert.observedDataIds.length - 1; i >= 0; i--) {
        const index = indexOfEvent.get(alert.observedDataIds[i] as string);
        if (index !== undefined) return index;
      }
      return 0;
    });
    const riskInputs = feeding.map(({ alert, risk }) => riskInputOf(alert, risk));
    const matched = matchBatch([this.risks], riskInputs, defaultTenant, this.now);
    const inBatch = <T extends { eventIndex?: number }>(item: T): T =>
      item.eventIndex === undefined ? item : { ...item, eventIndex: origin[item.eventIndex] ?? 0 };
    for (const group of matched.groups) group.hits = group.hits.map(inBatch);
    out.alerts.push(...matched.alerts);
    out.errors.push(...matched.errors.map(inBatch));
    out.filtered.push(...matched.filtered.map(inBatch));
    out.matched.push(...matched.matched.map(inBatch));
    out.touched.push(...matched.groups.map((g) => g.key));
    if (matched.groups.length > 0) await this.correlateGroups(matched.groups, out);
  }

  /**
   * Correlates each touched group's hits against its stored state and publishes what was
   * committed. The groups of one (tenant, group) share one item: one conditional write for all
   * of its rules, against the version this engine last wrote or read (read again only when
   * it has none, or when the write finds a newer one).
   */
  private async correlateGroups(groups: GroupHits[], out: BatchResult): Promise<void> {
    const items = itemsOf(groups, (g) => g.key);
    const report = await this.repository.update<GroupItem, ItemSettled>(
      items.map((item) => ({ key: item.key, codec: this.itemCodec })),
      (index, current) => this.stepItem((items[index] as ItemOf<GroupHits>).members, current?.state),
      { cache: true, startFromCache: true },
    );
    out.stats.stateReads += report.reads;
    out.stats.stateWrites += report.writes;
    out.stats.conflicts += report.conflicts;
    report.outcomes.forEach((outcome, index) => {
      const members = (items[index] as ItemOf<GroupHits>).members;
      if (outcome.status === 'done')
        members.forEach((group, i) => {
          const settled = outcome.result.rules[i] as Settled | { failed: unknown };
          if ('failed' in settled) out.errors.push(...keyFailure(group, 'read', settled.failed));
          else this.publish(out, group, settled);
        });
      else
        for (const group of members)
          if (outcome.status === 'conflict')
            out.errors.push({
              severity: 'error',
              code: 'state-conflict',
              message: `state of rule ${group.key.ruleId} group ${quoteGroup(group.key.group)} kept changing under concurrent writers; the events will be retried`,
              ruleId: group.key.ruleId,
              eventIndex: group.hits[0]?.eventIndex,
              retryable: true,
            });
          else out.errors.push(...keyFailure(group, outcome.during === 'read' ? 'read' : 'updated', outcome.error));
    });
  }

  /**
   * One attempt at a group item: correlate each rule's hits on its state, and say what to write
   * (nothing when no rule's state changed). A rule whose stored state cannot be decoded fails
   * only its own events; its text stays in the item as it is.
   */
  private stepItem(members: GroupHits[], stored: GroupItem | undefined): Step<GroupItem, ItemSettled> {
    const item = stored ?? emptyGroupItem();
    const nowSeconds = Math.floor(this.now() / 1000);
    const rules: (RuleStep | { failed: unknown })[] = [];
    let changed = false;
    for (const group of members) {
      const correlation = group.rule.correlation as Correlation<unknown>;
      let state: unknown;
      try {
        state =
          ruleState(item, group.key.ruleId, correlation.codec, nowSeconds, this.fingerprintsOf) ??
          correlation.codec.empty();
      } catch (error) {
        rules.push({ failed: error });
        continue;
      }
      // Alerts still in the outbox were committed by an earlier batch: sent again now.
      const earlier = correlation.outbox(state).map((a) => a.id);
      const correlated = correlation.correlate(state, group.hits, this.now, group.key);
      // The alerts as raised: if the state must shed their objects to fit, they still go out whole now.
      const outbox = correlation.outbox(state);
      if (correlated.changed) {
        changed = true;
        setRuleState(item, group.key.ruleId, state, correlation.codec, correlation.expiresAt(state, this.now));
        markPendingAlerts(item, group.key.ruleId, outbox.length > 0);
      }
      rules.push({ group, correlation, state, correlated, outbox, earlier });
    }
    const settleAll = (outcome: 'written' | 'too-large' | 'unchanged'): ItemSettled => ({
      rules: rules.map((rule) =>
        'failed' in rule ? rule : this.settleRule(rule, rule.correlated.changed ? outcome : 'unchanged'),
      ),
    });
    if (!changed) {
      const resends = rules.some((rule) => !('failed' in rule) && rule.earlier.length > 0);
      return { write: false, result: settleAll('unchanged'), cache: true, ...(resends ? { confirm: true } : {}) };
    }
    // Shedding (made only when the item outgrows its size limit) goes round the rules that changed.
    let shedding: RuleStep[] | undefined;
    return {
      write: true,
      state: item,
      expiresAt: groupItemExpiry(item),
      // Marks the item in the outbox index while any of its rules holds alerts not yet acknowledged.
      pending: hasPendingAlerts(item),
      shrink: () => {
        shedding ??= rules.filter((r): r is RuleStep => !('failed' in r) && r.correlated.changed);
        while (shedding.length > 0) {
          const rule = shedding.shift() as RuleStep;
          rule.fit ??= rule.correlation.fit(rule.state);
          if (rule.fit.shrink()) {
            shedding.push(rule);
            setRuleState(
              item,
              rule.group.key.ruleId,
              rule.state,
              rule.correlation.codec,
              ruleExpiry(item, rule.group.key.ruleId) ?? 0,
            );
            return true;
          }
        }
        return false;
      },
      settle: (outcome) => settleAll(outcome),
    };
  }

  /** How one rule's attempt ended, once its item's write is decided. */
  private settleRule(rule: RuleStep, outcome: Settled['outcome']): Settled {
    const { group, correlated, outbox, earlier, fit } = rule;
    const shed = outcome === 'written' ? (fit?.describe() ?? []) : [];
    return {
      outcome,
      correlated,
      outbox,
      earlier,
      fitEvicted: outcome === 'written' ? (fit?.evicted ?? 0) : 0,
      ...(shed.length > 0
        ? {
            fitWarning: {
              severity: 'warning' as const,
              code: 'state-evicted',
              message: `state of rule ${group.key.ruleId} group ${quoteGroup(group.key.group)} exceeded the item size limit; to commit the alerts of this batch, ${shed.join('; ')}`,
              ruleId: group.key.ruleId,
              eventIndex: group.hits[0]?.eventIndex,
            },
          }
        : {}),
    };
  }

  private publish(out: BatchResult, group: GroupHits, settled: Settled): void {
    const { correlated, outbox, earlier } = settled;
    let evicted = 0;
    if (settled.outcome === 'written') {
      evicted = correlated.evicted + settled.fitEvicted;
      if (settled.fitWarning) correlated.diagnostics.push(settled.fitWarning);
    }
    if (settled.outcome === 'too-large')
      // Not even the alerts alone fit the item: they go out now, uncommitted (the state is not
      // written, so a redelivery of the events computes them again, with the same ids).
      out.errors.push({
        severity: 'error',
        code: 'state-too-large',
        message: `state of rule ${group.key.ruleId} group ${quoteGroup(group.key.group)} does not fit the item size limit even with no partial match left: its ${outbox.length} alert(s) are sent without being committed, and the events are not correlated`,
        ruleId: group.key.ruleId,
        eventIndex: group.hits[0]?.eventIndex,
      });
    out.alerts.push(...outbox);
    out.redelivered.push(...earlier);
    out.late.push(...correlated.late);
    out.errors.push(...correlated.diagnostics);
    out.stats.evicted += evicted;
    out.stats.duplicates += correlated.duplicates;
    if (evicted > 0) out.evictions.push({ tenant: group.key.tenant, ruleId: group.key.ruleId, evicted });
    for (const hit of correlated.taken)
      out.matched.push({
        eventIndex: hit.eventIndex,
        ruleId: group.key.ruleId,
        observedDataId: eventIdOf(hit.input),
        stateless: false,
      });
    if (settled.outcome === 'too-large') {
      // Late events, diagnostics and matches are reported as for a committed state; the new
      // alerts are marked so that the alert ledger keeps a redelivery from raising them again.
      const before = new Set(earlier);
      for (const alert of outbox) if (!before.has(alert.id)) out.uncommitted.push(alert.id);
    }
  }

  /**
   * Clears delivered alerts from the outboxes. Call after the alerts were sent; a failure here
   * only means they are sent again (same ids) the next time the group is touched.
   */
  async acknowledge(alerts: Alert[]): Promise<void> {
    const correlated = alerts.filter((alert) => this.ruleById.get(alert.ruleId)?.correlation !== undefined);
    if (correlated.length === 0) return;
    const items = itemsOf(correlated, (a) => ({ tenant: a.tenant, ruleId: a.ruleId, group: a.groupKey }));
    const entries = items.map((item) => {
      const ids = new Map<string, Set<string>>();
      for (const alert of item.members) {
        const set = ids.get(alert.ruleId) ?? new Set<string>();
        set.add(alert.id);
        ids.set(alert.ruleId, set);
      }
      return { key: item.key, codec: this.itemCodec, ids: new Set(item.members.map((a) => a.id)), byRule: ids };
    });
    // An item this engine wrote last (usually in the batch that raised the alerts) is cleared
    // without reading it again: the write is conditional on that version, and only if another
    // writer got there first is the item read. One write per item, however many of its rules alerted.
    await this.repository.acknowledge<GroupItem>(
      entries,
      (index, item) => {
        const nowSeconds = Math.floor(this.now() / 1000);
        let cleared = false;
        for (const [ruleId, ids] of (entries[index] as (typeof entries)[number]).byRule) {
          const correlation = this.ruleById.get(ruleId)?.correlation as Correlation<unknown>;
          let state: unknown;
          try {
            state = ruleState(item, ruleId, correlation.codec, nowSeconds, this.fingerprintsOf);
          } catch {
            continue; // undecodable: its alerts are sent again when it is next touched, and fail there
          }
          if (state === undefined || !correlation.acknowledge(state, ids)) continue;
          setRuleState(item, ruleId, state, correlation.codec, correlation.expiresAt(state, this.now));
          markPendingAlerts(item, ruleId, correlation.outbox(state).length > 0);
          cleared = true;
        }
        return cleared;
      },
      (_index, current) => groupItemExpiry(current.state),
      { startFromCache: true, cache: true },
      (_index, item) => hasPendingAlerts(item),
    );
  }

  /**
   * The alerts committed in these correlation items' outboxes and not yet acknowledged, for the
   * outbox sweeper (src/pipeline/outbox-sweep.ts). An item of a rule this engine does not run
   * (removed since) cannot be decoded: its key is returned in `unknown`.
   */
  async outboxes(keys: readonly StateKey[]): Promise<{ alerts: Alert[]; unknown: StateKey[] }> {
    const unknown: StateKey[] = [];
    const nowSeconds = Math.floor(this.now() / 1000);
    const reads = keys.map(async (key): Promise<Alert[]> => {
      // A group item's key (as the outbox index holds it): every rule of it with pending alerts;
      // a rule's key: that rule's, read from its group's item.
      const one = key.ruleId === GROUP_ITEM_RULE_ID ? undefined : key.ruleId;
      if (one !== undefined && this.ruleById.get(one)?.correlation === undefined) {
        unknown.push(key);
        return [];
      }
      const current = await this.repository.read(this.itemCodec, groupItemKey(key.tenant, key.group));
      if (current === undefined) return [];
      const alerts: Alert[] = [];
      for (const ruleId of one === undefined ? current.state.pending : [one]) {
        const correlation = this.ruleById.get(ruleId)?.correlation as Correlation<unknown> | undefined;
        let state: unknown;
        try {
          state = correlation && ruleState(current.state, ruleId, correlation.codec, nowSeconds, this.fingerprintsOf);
        } catch {
          state = undefined; // undecodable: reported below with the rules this engine does not run
        }
        if (correlation === undefined || state === undefined) {
          unknown.push({ ...key, ruleId });
          continue;
        }
        alerts.push(...correlation.outbox(state));
      }
      return alerts;
    });
    return { alerts: (await Promise.all(reads)).flat(), unknown };
  }

  /** The state held for one rule and group: what is satisfied, what is pending, when it expires. */
  async explain(tenant: string, ruleId: string, groupKey: string): Promise<Explanation> {
    const compiled = this.ruleById.get(ruleId);
    if (!compiled) throw new StixflowError('unknown-rule', `no enabled rule with id ${ruleId}`);
    const correlation = compiled.correlation;
    let stored: Current<unknown> | undefined;
    if (correlation) {
      const item = await this.repository.read(this.itemCodec, groupItemKey(tenant, groupKey));
      const state =
        item &&
        ruleState<unknown>(
          item.state,
          ruleId,
          correlation.codec as StateCodec<unknown>,
          Math.floor(this.now() / 1000),
          this.fingerprintsOf,
        );
      if (item && state !== undefined)
        stored = { state, version: item.version, expiresAt: ruleExpiry(item.state, ruleId) ?? item.expiresAt };
    }
    if (compiled.kind !== 'stix-pattern')
      return compiled.explain(tenant, groupKey, stored as Current<AggregationState> | undefined);
    return explainGroup(compiled, tenant, groupKey, stored as Current<GroupState> | undefined);
  }
}

/**
 * One diagnostic per event of a state item that could not be read or written. A store that
 * failed (throttled, unreachable) may not fail a retry: retryable. An item that cannot be
 * decoded, a key the store refuses, or anything else fails the retry the same way: not.
 */
function keyFailure(group: GroupHits, what: 'read' | 'updated', error: unknown): Diagnostic[] {
  const code = error instanceof StixflowError ? error.code : 'state-failed';
  const reason = error instanceof Error ? error.message : String(error);
  const retryable = error instanceof StateStoreError && !(error instanceof StateCorruptError);
  return group.hits.map((hit) => ({
    severity: 'error' as const,
    code,
    message: `state of rule ${group.key.ruleId} group ${quoteGroup(group.key.group)} could not be ${what}: ${reason}`,
    eventIndex: hit.eventIndex,
    ruleId: group.key.ruleId,
    ...(retryable ? { retryable: true } : {}),
  }));
}

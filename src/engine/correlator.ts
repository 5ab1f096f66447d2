/**
 * The correlator of STIX pattern rules: a pure function from a group's state, the hits of one
 * batch and the clock to the next state and what it raised. No I/O: the coordinator reads the
 * state before and commits it after (src/engine/state-repository.ts), and only then publishes
 * what this returned.
 *
 * A group keeps the observed-data that satisfy one of the rule's observation expressions and
 * were not used by an alert yet; when an event arrives, the batch binding search runs over
 * that small set, so a rule raises its first alert exactly when the events seen so far first
 * satisfy the pattern under the batch semantics, and the events of a match are not reused.
 */
import type { Diagnostic } from '../errors.js';
import { enumerateBindings, type BindingNode } from '../pattern/bindings.js';
import { formatStixTimestamp } from '../pattern/literals.js';
import type { PreparedObservation } from '../pattern/observation.js';
import type { Rule } from '../rules/model.js';
import type { StateKey } from '../state/types.js';
import type { Alert } from './alert.js';
import { buildAlert, eventIdOf, evaluationDiagnostic } from './alert-builder.js';
import type { BufferedEvent, GroupState } from './group-state.js';
import type { Clock, Correlated, Hit, LateEvent, StateFit } from './rule-kind.js';
import { boundedIdentifier } from './alert.js';

/** What the correlator needs of a compiled pattern rule and of the engine's options. */
export interface CorrelatedRule {
  readonly rule: Rule;
  readonly tree: BindingNode;
  /** Longest event-time span a binding can have (µs), Infinity when unbounded. */
  readonly horizon: number;
  /** Fingerprints of the pattern and of its observation expressions, kept in its states. */
  readonly patternKey: string;
  readonly observationsKey: string;
  /** How late (µs behind the group's watermark) an event may still correlate. */
  readonly lateness: number;
  readonly maxPartials: number;
  readonly maxAlertsPerEvent: number;
  /** Allowed clock skew into the future, µs (Infinity: no check). */
  readonly clockSkew: number;
}

/**
 * Applies a group's hits to its state (in place): reconciles it with the rule as it is now,
 * then takes the hits in event-time order (ties: arrival order), rejecting duplicates, late
 * and future events, and raising every match each new event completes.
 */
export function correlate(
  rule: CorrelatedRule,
  state: GroupState,
  hits: Hit[],
  clock: Clock,
  group: StateKey = { tenant: 'default', ruleId: rule.rule.id, group: '' },
): Correlated<GroupState> {
  const reconciled = reconcile(rule, state);
  const diagnostics: Diagnostic[] = [];
  const taken: Hit[] = [];
  const alerts: Alert[] = [];
  let evicted = reconciled;
  let duplicates = 0;
  const late: LateEvent[] = [];
  // The used ids as a map only once one is looked up or added (most calls take one or two hits).
  let used: Map<string, number> | undefined;
  const usedIds = (): Map<string, number> => (used ??= new Map(state.used));
  // Events dated beyond the allowed skew into the future are not applied: one such event
  // would move the watermark so far that every real event after it is late.
  const latestAllowed = clock() * 1000 + rule.clockSkew;
  const ordered =
    hits.length === 1
      ? hits
      : [...hits].sort(
          (a, b) =>
            a.input.observation.firstObserved - b.input.observation.firstObserved || a.eventIndex - b.eventIndex,
        );
  for (const hit of ordered) {
    const o = hit.input.observation;
    const id = eventIdOf(hit.input);
    const isUsed = used !== undefined ? used.has(id) : state.used.length > 0 && usedIds().has(id);
    if (isUsed || state.events.some((e) => e.id === id)) {
      duplicates++;
      continue;
    }
    if (o.lastObserved > latestAllowed) {
      diagnostics.push({
        severity: 'warning',
        code: 'future-event',
        message: `event time ${formatStixTimestamp(o.lastObserved)} is more than ${rule.clockSkew / 1e6} s ahead of the clock (${new Date(clock()).toISOString()}): not correlated, and the group's watermark is not moved`,
        eventIndex: hit.eventIndex,
        ruleId: group.ruleId,
      });
      continue;
    }
    // Lateness is judged on first_observed: an on-time event then starts no earlier than
    // watermark − lateness, which is what makes pruning by the rule's horizon sound even for
    // observed-data that span a long interval.
    if (Number.isFinite(state.watermark) && o.firstObserved < state.watermark - rule.lateness) {
      late.push({
        eventIndex: hit.eventIndex,
        ruleId: group.ruleId,
        groupKey: group.group,
        observedDataId: id,
        lagSeconds: (state.watermark - o.firstObserved) / 1e6,
      });
      continue;
    }
    taken.push(hit);
    state.watermark = Math.max(state.watermark, o.firstObserved);
    const arrived: BufferedEvent = {
      id,
      firstObserved: o.firstObserved,
      lastObserved: o.lastObserved,
      instancesLeft: o.numberObserved,
      observations: hit.observations,
      arrival: state.arrivals++,
    };
    if (hit.input.sourceEventId) arrived.sourceEventId = boundedIdentifier(hit.input.sourceEventId);
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
        binding = search(rule, state.events, required);
      } catch (error) {
        // A search too expensive to finish is this rule's problem, reported with the event;
        // the rest of the batch and the other rules go on.
        diagnostics.push(evaluationDiagnostic(error, hit.eventIndex, group.ruleId));
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
      for (const [e, count] of uses) repeats = Math.min(repeats, Math.floor(e.instancesLeft / count));
      const distinct = [...uses.keys()];
      const alerting = Math.min(repeats, rule.maxAlertsPerEvent - raised);
      for (let r = 0; r < alerting; r++) {
        // Instances still unused before this match tell repeated matches over the same
        // observed-data apart (number_observed > 1), so each gets its own alert id.
        const instanceKey = distinct.map((e) => {
          const left = e.instancesLeft - r * (uses.get(e) as number);
          return left === 1 ? e.id : `${e.id}@${left}`;
        });
        last = buildAlert(rule.rule, group.tenant, group.group, distinct, hit.input, clock, instanceKey);
        state.outbox.push(last);
        alerts.push(last);
      }
      raised += alerting;
      further += repeats - alerting;
      for (const [e, count] of uses) e.instancesLeft -= repeats * count;
      for (const e of distinct) if (e.instancesLeft === 0) usedIds().set(e.id, e.firstObserved);
      state.events = state.events.filter((e) => e.instancesLeft > 0);
    }
    // Matches past the cap are counted on the last alert this event raised, which is
    // committed with the state: a redelivery sends it again as it is, never recounts.
    if (last && further > 0) last.additionalMatches = further;
    // Drop partial matches that can no longer be within the rule's window of a timely event.
    if (Number.isFinite(rule.horizon)) {
      const oldest = state.watermark - rule.lateness - rule.horizon;
      if (state.events.some((e) => e.lastObserved < oldest))
        state.events = state.events.filter((e) => e.lastObserved >= oldest);
    }
    if (state.events.length > rule.maxPartials) {
      state.events.sort(oldestFirst);
      const drop = state.events.length - rule.maxPartials;
      state.events.splice(0, drop);
      state.evicted += drop;
      evicted += drop;
    }
  }
  // A redelivery of a used event older than this would be late: no need to remember it.
  const horizon = state.watermark - rule.lateness;
  if (used !== undefined) state.used = [...used].filter(([, first]) => first >= horizon);
  else if (state.used.some(([, first]) => first < horizon))
    state.used = state.used.filter(([, first]) => first >= horizon);
  return {
    state,
    alerts,
    late,
    evicted,
    duplicates,
    diagnostics,
    taken,
    changed: taken.length > 0 || reconciled > 0,
  };
}

function oldestFirst(a: BufferedEvent, b: BufferedEvent): number {
  return a.lastObserved - b.lastObserved || a.arrival - b.arrival;
}

/**
 * Brings a stored state in line with the rule as it is now. After an edit of the rule's
 * observation expressions, the masks of its buffered events mean other expressions: they are
 * dropped (counted as evicted). After any other edit (a qualifier, say), or for a state from
 * before fingerprints, the buffered events may now bind among themselves: the next search is a
 * full one. Returns the number of partial matches evicted: the caller writes the state back
 * (and counts them) even when no event of the batch changes it.
 */
export function reconcile(rule: Pick<CorrelatedRule, 'patternKey' | 'observationsKey'>, state: GroupState): number {
  if (state.patternKey === rule.patternKey) return 0;
  let evicted = 0;
  if (state.events.length > 0) {
    if (state.observationsKey !== undefined && state.observationsKey !== rule.observationsKey) {
      evicted = state.events.length;
      state.evicted += evicted;
      state.events = [];
    } else state.unsettled = true;
  }
  state.patternKey = rule.patternKey;
  state.observationsKey = rule.observationsKey;
  return evicted;
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
 * The batch binding search over the buffered events; returns indices of the events used.
 * `required`: only bindings that use that event (the one just arrived) are looked for.
 */
function search(rule: CorrelatedRule, events: BufferedEvent[], required: number | undefined): number[] | undefined {
  // Most events wait for a partner: when the buffered events do not even cover the
  // observation expressions a binding needs, there is nothing to search.
  let present = 0;
  for (const e of events) present |= e.observations;
  if (!canComplete(rule.tree, present)) return undefined;
  const observations = events.map(
    (e, index) =>
      ({
        index,
        firstObserved: e.firstObserved,
        lastObserved: e.lastObserved,
        numberObserved: e.instancesLeft,
      }) as PreparedObservation,
  );
  const leafMatches: number[][] = rule.rule.pattern.observations.map(() => []);
  events.forEach((e, i) => {
    for (let leaf = 0; leaf < leafMatches.length; leaf++)
      if ((e.observations & (1 << leaf)) !== 0) (leafMatches[leaf] as number[]).push(i);
  });
  const first = enumerateBindings(rule.tree, {
    observations,
    leafMatches,
    budget: { remaining: 100_000 },
    ...(required === undefined ? {} : { required }),
  }).next();
  return first.done ? undefined : first.value.observations;
}

/**
 * A state too large for its item is made to fit without losing an alert: partial matches are
 * evicted, oldest first; then the memory of used ids is shortened (halved per step); then the
 * stored copies of the pending alerts drop their objects (the alerts sent now keep them).
 */
export function fitGroupState(state: GroupState): StateFit {
  let evicted = 0;
  let forgotten = 0;
  let stripped = false;
  let sorted = false;
  return {
    get evicted() {
      return evicted;
    },
    shrink(): boolean {
      if (!sorted) {
        state.events.sort(oldestFirst);
        sorted = true;
      }
      if (state.events.length > 0) {
        state.events.shift();
        evicted++;
        state.evicted++;
        return true;
      }
      // Without the used ids, a late redelivery of a used event may be buffered again.
      if (state.used.length > 0) {
        const drop = Math.ceil(state.used.length / 2);
        state.used.sort((a, b) => a[1] - b[1]);
        state.used.splice(0, drop);
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
        evicted > 0 ? `${evicted} partial match(es) evicted, oldest first` : '',
        forgotten > 0 ? `${forgotten} used id(s) forgotten` : '',
        stripped ? 'the stored copies of its pending alerts keep no objects' : '',
      ].filter(Boolean);
    },
  };
}

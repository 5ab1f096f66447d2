/**
 * `explain`: the state held for one pattern rule and group, as a person reads it: which
 * observation expressions are satisfied and by which events, what is still pending, and when
 * each partial match and the state itself expire.
 */
import { formatStixTimestamp } from '../pattern/literals.js';
import { reconcile } from './correlator.js';
import { emptyGroupState, type GroupState } from './group-state.js';
import type { PatternRule } from './pattern-kind.js';
import type { Current } from './state-repository.js';

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
  /** Aggregation rules: the group's slots and windows, or its known terms (src/engine/aggregation-kind.ts). */
  aggregate?: Record<string, unknown>;
}

function patternSlice(text: string, span: { offset: number; length: number } | undefined): string {
  return span ? text.slice(span.offset, span.offset + span.length) : '';
}

/** `stored`: the group's state as read (undefined: none); unused for a stateless rule. */
export function explainGroup(
  compiled: PatternRule,
  tenant: string,
  groupKey: string,
  stored: Current<GroupState> | undefined,
): Explanation {
  const ruleId = compiled.rule.id;
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
  const state = stored ? stored.state : emptyGroupState();
  reconcile(compiled, state); // as the next event would see it, after an edit of the rule
  const partialMatches = state.events.map((e) => ({
    observedDataId: e.id,
    sourceEventId: e.sourceEventId,
    firstObserved: formatStixTimestamp(e.firstObserved),
    lastObserved: formatStixTimestamp(e.lastObserved),
    instancesLeft: e.instancesLeft,
    satisfies: observations.filter((o) => (e.observations & (1 << o.index)) !== 0).map((o) => o.index),
    expires: Number.isFinite(compiled.horizon)
      ? `${formatStixTimestamp(e.lastObserved + compiled.horizon + compiled.lateness)} (event time: no later event can be within the rule's window)`
      : `on wall-clock TTL, ${compiled.unboundedTtl} s after the group's last change`,
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

/**
 * The matcher: a batch of events → the rule hits, with no I/O. For each event it asks every
 * rule kind which of its rules the event satisfies (index candidates, evaluation), drops those
 * out of the rule's scope or validity and counts those its filters mute; a stateless rule's
 * hit becomes its alert at once, a stateful rule's hit joins its group's hits for the
 * correlator.
 */
import type { Diagnostic } from '../errors.js';
import type { StateKey } from '../state/types.js';
import { stateKeyId } from '../state/types.js';
import type { Alert } from './alert.js';
import { buildAlert, evaluationDiagnostic, eventIdOf, singleEvent } from './alert-builder.js';
import type { Clock, CompiledKind, CompiledRule, EventInput, Hit } from './rule-kind.js';
import { stateKeyOf } from './state-repository.js';

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

/** The hits of one batch for one group of a stateful rule. */
export interface GroupHits {
  key: StateKey;
  rule: CompiledRule;
  hits: Hit[];
}

export interface MatchedBatch {
  /** Alerts of stateless rules. */
  alerts: Alert[];
  /** (event, rule) pairs muted by a rule filter. */
  filtered: RuleEvent[];
  /** (event, rule) pairs of stateless rules the event matched. */
  matched: RuleEvent[];
  /** Hits of stateful rules, by group, in the order first hit. */
  groups: GroupHits[];
  errors: Diagnostic[];
}

export function matchBatch(
  kinds: readonly CompiledKind[],
  inputs: readonly EventInput[],
  defaultTenant: string,
  clock: Clock,
): MatchedBatch {
  const out: MatchedBatch = { alerts: [], filtered: [], matched: [], groups: [], errors: [] };
  const groups = new Map<string, GroupHits>();
  let input = inputs[0] as EventInput;
  let eventIndex = 0;
  let tenant = defaultTenant;
  const fail = (ruleId: string, error: unknown): void => {
    out.errors.push(evaluationDiagnostic(error, eventIndex, ruleId));
  };
  const hit = (compiled: CompiledRule, observations: number): void => {
    try {
      const skip = compiled.excluded(input, tenant, clock());
      if (skip) {
        if (skip === 'filtered')
          out.filtered.push({
            eventIndex,
            ruleId: compiled.rule.id,
            observedDataId: eventIdOf(input),
            stateless: compiled.correlation === undefined,
          });
        return;
      }
      const groupKey = compiled.groupKey(input.observation);
      if (compiled.correlation === undefined) {
        out.matched.push({ eventIndex, ruleId: compiled.rule.id, observedDataId: eventIdOf(input), stateless: true });
        if (compiled.matchesAlone?.(input, observations) !== false)
          out.alerts.push(buildAlert(compiled.rule, tenant, groupKey, [singleEvent(input)], input, clock));
        return;
      }
      // A stateful rule's match is listed once its state took the event (the coordinator).
      const key = stateKeyOf('correlation', tenant, compiled.rule.id, groupKey);
      const id = stateKeyId(key);
      let group = groups.get(id);
      if (!group) {
        groups.set(id, (group = { key, rule: compiled, hits: [] }));
        out.groups.push(group);
      }
      group.hits.push({ input, eventIndex, observations });
    } catch (error) {
      // A filter or group key that cannot be evaluated on this event (bad data): reported
      // with the event and rule; the other rules and events go on.
      fail(compiled.rule.id, error);
    }
  };
  for (eventIndex = 0; eventIndex < inputs.length; eventIndex++) {
    input = inputs[eventIndex] as EventInput;
    tenant = input.tenant ?? defaultTenant;
    for (const kind of kinds) kind.match(input.observation, hit, fail);
  }
  return out;
}

/**
 * Risk rules (#16.5) take alerts, not events: each alert of a rule that carries a `risk` becomes
 * one engine event, so that a risk rule selects, groups, filters and scopes it with the same
 * pattern machinery as any other aggregation rule. The event is an observed-data at the alert's
 * last observed time holding the alert's own objects (the completing event's SCOs, so
 * `group_by: x-oca-asset:hostname` reads the host the alert is about) and one object describing
 * the alert:
 *
 *   { type: 'x-stixflow-alert', alert_id, rule_id, rule_name, severity, risk, tags, group_key }
 *
 * Its ids are derived from the alert id only, so a redelivered alert is the same event and a risk
 * rule takes it once (the aggregation state remembers taken ids while a redelivery is on time).
 */
import { prepareObservedData } from '../pattern/observation.js';
import type { StixObject } from '../stix/types.js';
import type { Alert } from './alert.js';
import { deterministicUuid } from './alert.js';
import type { EventInput } from './rule-kind.js';

export const ALERT_OBJECT_TYPE = 'x-stixflow-alert';

/** What a risk rule reads of the alert-object of its event. */
export interface RiskContribution {
  alertId: string;
  ruleId: string;
  ruleName: string;
  risk: number;
}

/** The engine event standing for `alert`, of a rule whose alerts add `risk`. */
export function riskInputOf(alert: Alert, risk: number): EventInput {
  const alertObject: StixObject = {
    type: ALERT_OBJECT_TYPE,
    id: `${ALERT_OBJECT_TYPE}--${deterministicUuid(['stixflow-risk-alert', alert.id])}`,
    alert_id: alert.id,
    rule_id: alert.ruleId,
    rule_name: alert.ruleName,
    severity: alert.severity,
    risk,
    tags: alert.tags,
    group_key: alert.groupKey,
  } as StixObject;
  const objects = [alertObject, ...(alert.objects as StixObject[])];
  const byId = new Map<string, StixObject>();
  for (const object of objects) if (typeof object.id === 'string') byId.set(object.id, object);
  const observedData = {
    type: 'observed-data',
    spec_version: '2.1',
    id: `observed-data--${deterministicUuid(['stixflow-risk-input', alert.id])}`,
    first_observed: alert.lastObserved,
    last_observed: alert.lastObserved,
    number_observed: 1,
    object_refs: [...byId.keys()],
  };
  return {
    observation: prepareObservedData(observedData, 0, (id) => byId.get(id)),
    objects: [...byId.values()] as Record<string, unknown>[],
    sourceEventId: alert.id,
    tenant: alert.tenant,
  };
}

/** The contribution an engine event made by `riskInputOf` carries, or undefined for any other event. */
export function contributionOf(input: EventInput): RiskContribution | undefined {
  const object = input.observation.objectsOfType(ALERT_OBJECT_TYPE)?.[0]?.object as Record<string, unknown> | undefined;
  if (object === undefined) return undefined;
  const { alert_id: alertId, rule_id: ruleId, rule_name: ruleName, risk } = object;
  if (typeof alertId !== 'string' || typeof ruleId !== 'string' || typeof risk !== 'number' || !(risk > 0))
    return undefined;
  return { alertId, ruleId, ruleName: typeof ruleName === 'string' ? ruleName : ruleId, risk };
}

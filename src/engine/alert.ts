/** The alert document and its deterministic id. */
import { createHash } from 'node:crypto';
import type { Severity } from '../rules/model.js';
import type { StixObject } from '../stix/types.js';

export interface Alert {
  /** Deterministic: the same rule, tenant, group and matched events always give the same id. */
  id: string;
  ruleId: string;
  ruleName: string;
  severity: Severity;
  description: string;
  category?: string;
  /** The rule's `type` (what it is about, e.g. process, network), when the rule declares one. */
  ruleType?: string;
  tags: string[];
  tenant: string;
  groupKey: string;
  firstObserved: string;
  lastObserved: string;
  observedDataIds: string[];
  sourceEventIds: string[];
  /** The objects of the completing event that satisfied the pattern. */
  objects: StixObject[];
  created: string;
}

/** STIX 2.1 sighting of the rule's indicator, for STIX consumers of the alert. */
export interface AlertSighting {
  type: 'sighting';
  spec_version: '2.1';
  id: string;
  created: string;
  modified: string;
  first_seen: string;
  last_seen: string;
  count: number;
  sighting_of_ref: string;
  observed_data_refs: string[];
  description: string;
  x_stixflow_alert_id: string;
}

/** The alert as published on the alert queue (schemas/alert.schema.json). */
export interface AlertDocument extends Alert {
  schema: 'stixflow.alert/1';
  sighting: AlertSighting;
}

/** The indicator id that stands for a rule (rules loaded from indicators keep their own id). */
export function indicatorIdOf(ruleId: string): string {
  return ruleId.startsWith('indicator--') ? ruleId : `indicator--${deterministicUuid(['stixflow-rule', ruleId])}`;
}

export function toAlertDocument(alert: Alert): AlertDocument {
  return {
    schema: 'stixflow.alert/1',
    ...alert,
    sighting: {
      type: 'sighting',
      spec_version: '2.1',
      id: `sighting--${deterministicUuid(['stixflow-sighting', alert.id])}`,
      created: alert.created,
      modified: alert.created,
      first_seen: alert.firstObserved,
      last_seen: alert.lastObserved,
      count: Math.max(1, alert.observedDataIds.length),
      sighting_of_ref: indicatorIdOf(alert.ruleId),
      observed_data_refs: alert.observedDataIds.filter((id) => id.startsWith('observed-data--')),
      description: alert.ruleName,
      x_stixflow_alert_id: alert.id,
    },
  };
}

/** A name-based UUID (version 5 layout) over SHA-1 of the parts, as STIX ids use. */
export function deterministicUuid(parts: string[]): string {
  const hash = createHash('sha1').update(JSON.stringify(parts)).digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export function alertId(tenant: string, ruleId: string, groupKey: string, observedDataIds: string[]): string {
  return `alert--${deterministicUuid(['stixflow-alert', tenant, ruleId, groupKey, ...[...observedDataIds].sort()])}`;
}

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

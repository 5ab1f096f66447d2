/** The alert document, its deterministic id, and the bounded copies of event data it carries. */
import { createHash } from 'node:crypto';
import type { Severity } from '../rules/model.js';
import type { StixObject } from '../stix/types.js';
import { unnamespacedUuid } from '../util/uuid.js';

export interface Alert {
  /**
   * Deterministic: the same rule, tenant, group and matched events always give the same id. The
   * content (title, description, context, severity) never goes into it: it is derived from the
   * same events, so a redelivery still finds the alert it raised.
   */
  id: string;
  ruleId: string;
  ruleName: string;
  /** The severity the alert has: the rule's, or the first of its severity_overrides that held. */
  severity: Severity;
  /**
   * The rule's title template filled from the completing event. Absent on alerts that do not
   * have one of their own (rules without `title:`, throttle notices, alerts committed before
   * titles existed): the document then carries the rule's name (toAlertDocument).
   */
  title?: string;
  /** The rule's description, its placeholders filled from the completing event. */
  description: string;
  /** The rule's `context:` names with their values in the completing event (null: none there). */
  context?: Record<string, unknown>;
  /** Present when a severity override set `severity`: its condition and the rule's own severity. */
  severityOverride?: { when: string; ruleSeverity: Severity };
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
  /**
   * The objects of the completing event that satisfied the pattern, as bounded copies (see
   * ALERT_LIMITS): long strings cut with a marker that gives their length, long lists cut.
   */
  objects: StixObject[];
  /** Objects of the completing event left out of `objects` (count or size limit). */
  objectsOmitted?: number;
  /**
   * Further matches the completing event made for this rule past the per-event alert cap
   * (`maxAlertsPerEvent`): counted here, on the last alert raised for that event, not raised.
   */
  additionalMatches?: number;
  /** What an aggregation rule aggregated (count, sum, distinct values, the new term and its history). */
  aggregate?: AlertAggregate;
  created: string;
}

/**
 * The aggregate an aggregation rule's alert carries (docs/rule-kinds.md): the kind, and what
 * that kind measured, as src/engine/aggregation-kind.ts writes it.
 */
export interface AlertAggregate {
  kind: 'threshold' | 'distinct_count' | 'new_terms' | 'outliers' | 'risk';
  [detail: string]: unknown;
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

/**
 * The version of the alert document format: the `schema` field of every document, and the
 * version in the $id of schemas/alert.schema.json (a test keeps the two equal). Version 2 added
 * `title`, `context` and `severityOverride`.
 */
export const ALERT_DOCUMENT_SCHEMA = 'stixflow.alert/2';

/** The alert as published on the alert queue (schemas/alert.schema.json). */
export interface AlertDocument extends Alert {
  schema: typeof ALERT_DOCUMENT_SCHEMA;
  title: string;
  sighting: AlertSighting;
}

/** The indicator id that stands for a rule (rules loaded from indicators keep their own id). */
export function indicatorIdOf(ruleId: string): string {
  return ruleId.startsWith('indicator--') ? ruleId : `indicator--${deterministicUuid(['stixflow-rule', ruleId])}`;
}

export function toAlertDocument(alert: Alert): AlertDocument {
  return {
    schema: ALERT_DOCUMENT_SCHEMA,
    ...alert,
    title: alert.title ?? alert.ruleName,
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

/** Characters SQS refuses in a message body although JSON.stringify leaves them as they are. */
const OUTSIDE_SQS_CHARACTERS = /[\uFFFE\uFFFF]/g;

/**
 * The alert document as a message body. SQS accepts only #x9, #xA, #xD, #x20–#xD7FF,
 * #xE000–#xFFFD and #x10000–#x10FFFF; JSON.stringify already escapes control characters and lone
 * surrogates, and the two noncharacters U+FFFE and U+FFFF are escaped here, so an event that
 * carries them (an attacker's command line, say) cannot make its alert undeliverable. The JSON
 * value is unchanged.
 */
export function serialiseAlertDocument(alert: Alert): string {
  return JSON.stringify(toAlertDocument(alert)).replace(
    OUTSIDE_SQS_CHARACTERS,
    (c) => `\\u${c.charCodeAt(0).toString(16)}`,
  );
}

/** A name-based UUID (version 5 layout) over SHA-1 of the parts, as STIX ids use. */
export function deterministicUuid(parts: string[]): string {
  return unnamespacedUuid(JSON.stringify(parts));
}

export function alertId(tenant: string, ruleId: string, groupKey: string, observedDataIds: string[]): string {
  return alertIdOfSorted(tenant, ruleId, groupKey, [...observedDataIds].sort());
}

/** alertId of ids already sorted (the alert builder sorts them once for the id and the document). */
export function alertIdOfSorted(
  tenant: string,
  ruleId: string,
  groupKey: string,
  sortedIds: readonly string[],
): string {
  return `alert--${deterministicUuid(['stixflow-alert', tenant, ruleId, groupKey, ...sortedIds])}`;
}

/**
 * Limits of the copies of event data an alert carries (and the state's outbox stores), so that
 * an alert document always fits an SQS message (256 KiB) and a few alerts fit a state item
 * (64 KiB) whatever the event holds. Documented in docs/streaming.md ("Alerts and errors").
 */
export const ALERT_LIMITS = {
  /** Strings longer than this (UTF-16 code units) are cut, with TRUNCATION_MARKER and their length. */
  maxStringChars: 2048,
  /** Arrays keep this many items, then one marker string saying how many were left out. */
  maxArrayItems: 100,
  /** Objects nested deeper than this are replaced by a marker string. */
  maxDepth: 12,
  /** At most this many objects of the completing event; the rest are counted in objectsOmitted. */
  maxObjects: 50,
  /** UTF-8 bytes of all copied objects together; past it, objects and properties are left out (counted). */
  objectsBytes: 32 * 1024,
  /** UTF-8 bytes of the rule's free text (name, description, category, tags) in an alert. */
  ruleTextBytes: 16 * 1024,
  /** A filled title is cut at this many characters (UTF-16 code units); each value in it at a quarter of that. */
  titleChars: 512,
  /**
   * A filled description is cut at this many characters, the most a rule's description may have
   * (so a filled one weighs no more than the plain text alerts carried before); each value in it
   * at maxStringChars.
   */
  descriptionChars: 5000,
  /** UTF-8 bytes of the `context` values together; past it, values are left out (counted). */
  contextBytes: 4 * 1024,
} as const;

/** Starts the text that replaces the end of a cut string: `…[truncated by stixflow: 70000 characters]`. */
export const TRUNCATION_MARKER = '…[truncated by stixflow: ';

/** Identifiers (observed-data and source event ids) longer than this are replaced by a stand-in. */
export const MAX_IDENTIFIER_CHARS = 256;

interface Budget {
  remaining: number;
  /** Properties or items left out because the budget ran out. */
  omitted: number;
}

/**
 * The UTF-8 length of `text`, as Buffer.byteLength counts it (a lone surrogate as the three
 * bytes of U+FFFD). Counted here: an alert's copy measures every key and string of the event,
 * most of them a few ASCII characters, and a call into the runtime for each cost more than the
 * copy itself.
 */
export function utf8Bytes(text: string): number {
  const length = text.length;
  let bytes = length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < length) {
      const next = text.charCodeAt(i + 1);
      // A surrogate pair: two code units, four bytes.
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 2;
        i++;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}

/** `text` cut to at most `max` code units, never in the middle of a surrogate pair. */
function cut(text: string, max: number): string {
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return text.slice(0, end);
}

function boundedString(text: string): string {
  if (text.length <= ALERT_LIMITS.maxStringChars) return text;
  return `${cut(text, ALERT_LIMITS.maxStringChars)}${TRUNCATION_MARKER}${text.length} characters]`;
}

/**
 * A copy of a JSON-like value within the limits and the budget: the one bounding function for
 * everything event data puts into an alert. Values that are not JSON (functions, undefined)
 * are left out, as JSON.stringify would.
 */
function boundedValue(value: unknown, budget: Budget, depth: number): unknown {
  if (typeof value === 'string') {
    const copy = boundedString(value);
    budget.remaining -= utf8Bytes(copy) + 2;
    return copy;
  }
  if (value === null || typeof value === 'number' || typeof value === 'boolean') {
    budget.remaining -= 8;
    return value;
  }
  if (typeof value !== 'object') return undefined;
  if (depth >= ALERT_LIMITS.maxDepth) {
    budget.remaining -= 48;
    return `${TRUNCATION_MARKER}nested deeper than ${ALERT_LIMITS.maxDepth} levels]`;
  }
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    const kept = Math.min(value.length, ALERT_LIMITS.maxArrayItems);
    let i = 0;
    for (; i < kept && budget.remaining > 0; i++) {
      const item = boundedValue(value[i], budget, depth + 1);
      copy.push(item === undefined ? null : item);
    }
    if (i < value.length) {
      budget.omitted += value.length - i;
      copy.push(`${TRUNCATION_MARKER}${value.length - i} more items]`);
    }
    budget.remaining -= 2;
    return copy;
  }
  const copy: Record<string, unknown> = {};
  let left = 0;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  for (let k = 0; k < keys.length; k++) {
    if (budget.remaining <= 0) {
      left += keys.length - k;
      break;
    }
    const key = keys[k] as string;
    const item = record[key];
    const boundedKey = boundedString(key);
    budget.remaining -= utf8Bytes(boundedKey) + 3;
    const bounded = boundedValue(item, budget, depth + 1);
    if (bounded !== undefined) copy[boundedKey] = bounded;
  }
  if (left > 0) {
    budget.omitted += left;
    copy.x_stixflow_omitted_properties = left;
  }
  budget.remaining -= 2;
  return copy;
}

/** Filled template text within `maxChars`, cut with the truncation marker and its length. */
export function boundedText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  return `${cut(text, maxChars)}${TRUNCATION_MARKER}${text.length} characters]`;
}

/** A bounded copy of an alert's context values (ALERT_LIMITS.contextBytes). */
export function boundedContext(values: Record<string, unknown>): Record<string, unknown> {
  const budget: Budget = { remaining: ALERT_LIMITS.contextBytes, omitted: 0 };
  return boundedValue(values, budget, 0) as Record<string, unknown>;
}

/** Bounded copies of an event's objects for an alert, and how many objects were left out. */
export function boundedObjects(objects: readonly Record<string, unknown>[]): {
  objects: StixObject[];
  omitted: number;
} {
  const budget: Budget = { remaining: ALERT_LIMITS.objectsBytes, omitted: 0 };
  const copies: StixObject[] = [];
  for (const object of objects) {
    if (copies.length >= ALERT_LIMITS.maxObjects || budget.remaining <= 0) break;
    copies.push(boundedValue(object, budget, 0) as StixObject);
  }
  return { objects: copies, omitted: objects.length - copies.length };
}

/** The rule's free text as an alert carries it, within ALERT_LIMITS.ruleTextBytes. */
export function boundedRuleText(rule: { name: string; description: string; category?: string; tags: string[] }): {
  name: string;
  description: string;
  category?: string;
  tags: string[];
} {
  const budget: Budget = { remaining: ALERT_LIMITS.ruleTextBytes, omitted: 0 };
  const bounded = boundedValue(
    {
      name: rule.name,
      description: rule.description,
      ...(rule.category !== undefined ? { category: rule.category } : {}),
    },
    budget,
    0,
  ) as { name: string; description: string; category?: string };
  const tags = (boundedValue(rule.tags, budget, 0) as unknown[]).filter((t): t is string => typeof t === 'string');
  return {
    name: bounded.name ?? '',
    description: bounded.description ?? '',
    ...(bounded.category !== undefined ? { category: bounded.category } : {}),
    tags,
  };
}

/**
 * An identifier as state and alerts keep it: itself, or past MAX_IDENTIFIER_CHARS a readable
 * prefix and the SHA-256 of the whole (collision-safe, and the same for the same id).
 */
export function boundedIdentifier(id: string): string {
  if (id.length <= MAX_IDENTIFIER_CHARS) return id;
  return `${cut(id, 64)}…sha256:${createHash('sha256').update(JSON.stringify(id)).digest('base64url')}`;
}

/** JSON with object keys sorted at every level: the same content always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined || typeof v === 'function' ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.keys(value as Record<string, unknown>)
    .sort()
    .flatMap((k) => {
      const v = (value as Record<string, unknown>)[k];
      return v === undefined || typeof v === 'function' ? [] : [`${JSON.stringify(k)}:${canonicalJson(v)}`];
    });
  return `{${entries.join(',')}}`;
}

/**
 * The id of an observed-data that has none: a name-based UUID over its canonical JSON and that
 * of its objects, so the same event gets the same id (and so the same alert ids) wherever it
 * sits in its batch and whenever it comes.
 */
export function contentObservedDataId(observedData: unknown, objects: readonly unknown[]): string {
  return `observed-data--${deterministicUuid(['stixflow-observed-data', canonicalJson({ observedData, objects })])}`;
}

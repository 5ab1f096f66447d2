/**
 * Alerts from matches: the alert document of a rule's match over some events, its id, and the
 * bounded copies of the rule's text and the completing event's objects it carries.
 */
import type { Diagnostic } from '../errors.js';
import { StixflowError } from '../errors.js';
import { formatStixTimestamp } from '../pattern/literals.js';
import type { PreparedObservation } from '../pattern/observation.js';
import type { Rule } from '../rules/model.js';
import {
  matchedObjectKeys,
  readContext,
  renderTemplate,
  severityOverrideFor,
  type ContentSource,
} from '../rules/templates.js';
import {
  ALERT_LIMITS,
  alertIdOfSorted,
  boundedContext,
  boundedIdentifier,
  boundedObjects,
  boundedRuleText,
  boundedText,
  contentObservedDataId,
  type Alert,
} from './alert.js';
import type { BufferedEvent } from './group-state.js';
import type { Clock, EventInput } from './rule-kind.js';

const contentIds = new WeakMap<PreparedObservation, string>();
/** Bounded copies, made once per rule and per completing event, however many alerts share them. */
const ruleTexts = new WeakMap<Rule, ReturnType<typeof boundedRuleText>>();
const eventObjects = new WeakMap<EventInput, ReturnType<typeof boundedObjects>>();

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
export function singleEvent(input: EventInput): BufferedEvent {
  const o = input.observation;
  const event: BufferedEvent = {
    id: eventIdOf(input),
    firstObserved: o.firstObserved,
    lastObserved: o.lastObserved,
    instancesLeft: 1,
    observations: 1,
    arrival: 0,
  };
  if (input.sourceEventId) event.sourceEventId = boundedIdentifier(input.sourceEventId);
  return event;
}

/** What an alert says about its match, from the rule's content fields and the completing event. */
type AlertContentFields = Partial<Pick<Alert, 'title' | 'description' | 'context' | 'severity' | 'severityOverride'>>;

/**
 * The title, description, context and severity of an alert of `rule` completed by `completing`.
 * Empty for a rule without content fields, whose alerts say what the rule says.
 */
function alertContent(rule: Rule, completing: EventInput): AlertContentFields {
  if (!rule.title && !rule.descriptionTemplate && !rule.context && !rule.severityOverrides) return {};
  const observation = completing.observation;
  let source: ContentSource | undefined;
  const from = (): ContentSource => (source ??= { observation, matched: matchedObjectKeys(rule.pattern, observation) });
  const out: AlertContentFields = {};
  if (rule.title) {
    const text = renderTemplate(rule.title, from(), Math.floor(ALERT_LIMITS.titleChars / 4));
    out.title = boundedText(text, ALERT_LIMITS.titleChars);
  }
  if (rule.descriptionTemplate) {
    const text = renderTemplate(rule.descriptionTemplate, from(), ALERT_LIMITS.maxStringChars);
    out.description = boundedText(text, ALERT_LIMITS.descriptionChars);
  }
  if (rule.context) out.context = boundedContext(readContext(rule.context, from()));
  if (rule.severityOverrides) {
    const override = severityOverrideFor(rule.severityOverrides, observation);
    if (override) {
      out.severity = override.severity;
      out.severityOverride = { when: override.when, ruleSeverity: rule.severity };
    }
  }
  return out;
}

/**
 * The alert of a match of `rule` over `events`, completed by `completing` (whose objects it
 * carries). `instanceKey` tells repeated matches over the same observed-data apart.
 */
export function buildAlert(
  rule: Rule,
  tenant: string,
  groupKey: string,
  events: BufferedEvent[],
  completing: EventInput,
  clock: Clock,
  instanceKey?: string[],
): Alert {
  // Sorted once, for the id and the document (a fresh array: sorting it in place is safe).
  const ids = events.map((e) => e.id).sort();
  let first = Infinity;
  let last = -Infinity;
  for (const e of events) {
    first = Math.min(first, e.firstObserved);
    last = Math.max(last, e.lastObserved);
  }
  let text = ruleTexts.get(rule);
  if (text === undefined) ruleTexts.set(rule, (text = boundedRuleText(rule)));
  // Alerts (and the outbox that holds them) carry bounded copies of the event's objects.
  let objects = eventObjects.get(completing);
  if (objects === undefined)
    eventObjects.set(
      completing,
      (objects = boundedObjects(
        (completing.objects ?? completing.observation.roots.map((r) => r.object)) as Record<string, unknown>[],
      )),
    );
  const content = alertContent(rule, completing);
  // Built field by field, in the document's order: spreading optional parts into a literal
  // copied each part, and this runs for every alert.
  const alert = {
    id: alertIdOfSorted(tenant, rule.id, groupKey, instanceKey === undefined ? ids : [...instanceKey].sort()),
    ruleId: rule.id,
    ruleName: text.name,
    severity: content.severity ?? rule.severity,
  } as Alert;
  if (content.severityOverride) alert.severityOverride = content.severityOverride;
  if (content.title !== undefined) alert.title = content.title;
  alert.description = content.description ?? text.description;
  if (content.context) alert.context = content.context;
  if (text.category) alert.category = text.category;
  if (rule.type) alert.ruleType = rule.type;
  alert.tags = text.tags;
  alert.tenant = tenant;
  alert.groupKey = groupKey;
  alert.firstObserved = formatStixTimestamp(first);
  alert.lastObserved = formatStixTimestamp(last);
  alert.observedDataIds = ids;
  const sourceEventIds: string[] = [];
  for (const e of events) if (e.sourceEventId) sourceEventIds.push(e.sourceEventId);
  alert.sourceEventIds = sourceEventIds;
  alert.objects = objects.objects;
  if (objects.omitted > 0) alert.objectsOmitted = objects.omitted;
  alert.created = new Date(clock()).toISOString();
  return alert;
}

/** A rule's evaluation (or search) that threw on an event, as a diagnostic with the event and rule. */
export function evaluationDiagnostic(error: unknown, eventIndex: number, ruleId: string): Diagnostic {
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

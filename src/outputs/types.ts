/**
 * Outputs: where alerts go after the alert queue (docs/outputs.md). Each output kind is a formatter (the request
 * its receiver's published format asks for) behind one HTTP delivery path, and every output is named: rules and
 * the stack's routes refer to outputs by name. Secrets (URLs, tokens, signing keys) come from a SecretStore, never
 * from rule files, the environment or logs.
 */
import { StixflowError } from '../errors.js';

/** Alert severities, lowest first (as rules declare them; schemas/alert.schema.json). */
export const ALERT_SEVERITIES = ['informational', 'low', 'medium', 'high', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/**
 * The fields of an alert document (schemas/alert.schema.json, as read off the alert queue) that outputs use;
 * the whole document is what a webhook and the dead letters carry.
 */
export interface AlertDocument {
  id: string;
  ruleId: string;
  ruleName: string;
  /** The rule's title filled from the event (alert document version 2); the rule's name when absent. */
  title?: string;
  severity: AlertSeverity;
  description: string;
  category?: string;
  tags: string[];
  tenant: string;
  groupKey: string;
  firstObserved: string;
  lastObserved: string;
  observedDataIds: string[];
  sourceEventIds: string[];
  /** The completing event's STIX Cyber-observable Objects that satisfied the pattern (bounded copies). */
  objects?: Record<string, unknown>[];
  /** When the alert was raised. */
  created?: string;
  [field: string]: unknown;
}

export const OUTPUT_KINDS = [
  'webhook',
  'slack',
  'pagerduty',
  'thehive',
  'sns',
  'opensearch',
  's3',
  'securityhub',
] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];

/** The kinds whose settings always include a secret (a URL that is a credential, a key, a token). */
export const SECRET_KINDS: readonly OutputKind[] = ['webhook', 'slack', 'pagerduty', 'thehive'];

/**
 * One configured output: its name, its kind, the settings that are not secret (a topic ARN, a bucket, an index
 * prefix: the stack writes them) and the name of the secret holding the rest (URLs, keys, tokens, passwords).
 * The output's settings are `settings` with the secret's JSON value on top.
 */
export interface OutputConfig {
  name: string;
  kind: OutputKind;
  /** Secret (Secrets Manager name or ARN) whose value is JSON settings (see each kind). */
  secret?: string;
  settings?: Record<string, unknown>;
}

/** When the stack sends an alert to some outputs; every condition given must hold (absent: any). */
export interface OutputRoute {
  outputs: string[];
  ruleIds?: string[];
  /** The alert's severity is at least this. */
  minSeverity?: AlertDocument['severity'];
  /** The alert carries at least one of these tags. */
  tags?: string[];
  tenants?: string[];
}

/** An HTTP request as an output sends it (a POST). */
export interface OutputRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** A delivery that did not succeed: `retryable` when trying again may help (5xx, 429, network). */
export class DeliveryError extends StixflowError {
  constructor(
    readonly retryable: boolean,
    message: string,
    options?: ErrorOptions,
  ) {
    super(retryable ? 'output-unavailable' : 'output-refused', message, [], options);
  }
}

/** Where secret values come from. */
export interface SecretStore {
  get(name: string): Promise<string>;
}

/** Sends one request; resolves with the status and body, rejects on a network error. */
export interface HttpClient {
  post(request: OutputRequest): Promise<{ status: number; body: string }>;
}

/** A delivery that failed for good, as written to the outputs dead-letter queue (no secret in it). */
export interface DeadLetter {
  output: string;
  /** `unknown` for a name no output of the stack has. */
  kind: OutputKind | 'unknown';
  alertId: string;
  attempts: number;
  reason: string;
  alert: AlertDocument;
}

export interface DeadLetterSink {
  put(letter: DeadLetter): Promise<void>;
}

/**
 * What became of each alert of one attempt to deliver a batch to one output: the alerts it lists did not get
 * there (a retryable failure is tried again, the others are dead-lettered); the alerts it does not list did.
 */
export type AttemptFailures = Map<string, DeliveryError>;

/** Delivers a batch of alerts (distinct ids) to one output, in as few requests as its receiver allows. */
export interface OutputSender {
  send(alerts: readonly AlertDocument[]): Promise<AttemptFailures>;
}

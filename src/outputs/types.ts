/**
 * Outputs: where alerts go after the alert queue (docs/outputs.md). Each output kind is a formatter (the request
 * its receiver's published format asks for) behind one HTTP delivery path, and every output is named: rules and
 * the stack's routes refer to outputs by name. Secrets (URLs, tokens, signing keys) come from a SecretStore, never
 * from rule files, the environment or logs.
 */
import { StixflowError } from '../errors.js';

/** Alert severities, lowest first (as rules declare them). */
export const ALERT_SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/**
 * The fields of an alert document (schemas/alert.schema.json, as read off the alert queue) that outputs use;
 * the whole document is what a webhook and the dead letters carry.
 */
export interface AlertDocument {
  id: string;
  ruleId: string;
  ruleName: string;
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
  [field: string]: unknown;
}

export const OUTPUT_KINDS = ['webhook', 'slack', 'pagerduty'] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];

/** One configured output: its name, its kind, and the name of the secret holding where and how it delivers. */
export interface OutputConfig {
  name: string;
  kind: OutputKind;
  /** Secret (Secrets Manager name or ARN) whose value is the output's JSON settings (see each kind). */
  secret: string;
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

/** An HTTP request as an output sends it. */
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
  kind: OutputKind;
  alertId: string;
  attempts: number;
  reason: string;
  alert: AlertDocument;
}

export interface DeadLetterSink {
  put(letter: DeadLetter): Promise<void>;
}

/**
 * The outputs stage: which outputs an alert goes to (its rule's `outputs:` and the stack's routes), and delivery
 * to each, retried with backoff and dead-lettered on its own: a failing output never holds up another, and it runs
 * after the alert queue, so it never holds up detection or its state commit either.
 */
import { StixflowBaseError } from '../errors.js';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { MessageSink } from '../queue/types.js';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, type RetryPolicy } from '../queue/retry.js';
import type { AwsOptions } from './aws.js';
import { senderFor } from './senders.js';
import {
  ALERT_SEVERITIES,
  DeliveryError,
  type AlertDocument,
  OUTPUT_KINDS,
  SECRET_KINDS,
  type AttemptFailures,
  type DeadLetter,
  type DeadLetterSink,
  type HttpClient,
  type OutputConfig,
  type OutputRequest,
  type OutputRoute,
  type OutputSender,
  type SecretStore,
} from './types.js';

// ------------------------------------------------------------------------------------------------- configuration

export class OutputConfigError extends StixflowBaseError {
  constructor(problems: string[]) {
    super(`invalid outputs configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** OUTPUTS and OUTPUT_ROUTES (JSON); every problem reported at once. The kinds of SECRET_KINDS need a secret. */
export function parseOutputsConfig(
  outputsText: string | undefined,
  routesText: string | undefined,
): { outputs: OutputConfig[]; routes: OutputRoute[] } {
  const problems: string[] = [];
  const json = (name: string, text: string | undefined): unknown[] => {
    if (text === undefined || text.trim() === '') return [];
    try {
      const value: unknown = JSON.parse(text);
      if (Array.isArray(value)) return value;
    } catch {
      // reported below
    }
    problems.push(`${name} must be a JSON array`);
    return [];
  };
  const outputs: OutputConfig[] = [];
  json('OUTPUTS', outputsText).forEach((entry, i) => {
    const o = entry as Partial<OutputConfig>;
    if (typeof o?.name !== 'string' || !NAME.test(o.name))
      problems.push(`output ${i} needs a name (letters, digits, . _ -)`);
    else if (outputs.some((x) => x.name === o.name)) problems.push(`output ${i} repeats the name ${o.name}`);
    if (!OUTPUT_KINDS.includes(o?.kind as never))
      problems.push(`output ${i} kind must be one of ${OUTPUT_KINDS.join(', ')}`);
    if (
      o?.secret !== undefined
        ? typeof o.secret !== 'string' || o.secret === ''
        : SECRET_KINDS.includes(o?.kind as never)
    )
      problems.push(`output ${i} needs the name of its secret`);
    if (
      o?.settings !== undefined &&
      (typeof o.settings !== 'object' || o.settings === null || Array.isArray(o.settings))
    )
      problems.push(`output ${i} settings must be a JSON object`);
    if (problems.length === 0)
      outputs.push({
        name: o.name!,
        kind: o.kind!,
        ...(o.secret !== undefined ? { secret: o.secret } : {}),
        ...(o.settings !== undefined ? { settings: o.settings } : {}),
      });
  });
  const names = new Set(outputs.map((o) => o.name));
  const routes: OutputRoute[] = [];
  json('OUTPUT_ROUTES', routesText).forEach((entry, i) => {
    const r = entry as Partial<OutputRoute>;
    if (!Array.isArray(r?.outputs) || r.outputs.length === 0) problems.push(`route ${i} needs a list of outputs`);
    for (const name of r?.outputs ?? []) if (!names.has(name)) problems.push(`route ${i} names no output "${name}"`);
    if (r?.minSeverity !== undefined && !ALERT_SEVERITIES.includes(r.minSeverity))
      problems.push(`route ${i} minSeverity must be one of ${ALERT_SEVERITIES.join(', ')}`);
    routes.push(r as OutputRoute);
  });
  if (problems.length > 0) throw new OutputConfigError(problems);
  return { outputs, routes };
}

/** The outputs of an alert: its rule's own (`outputs:` in the rule file), then every matching route's, once each. */
export function outputsFor(
  alert: AlertDocument,
  ruleOutputs: readonly string[],
  routes: readonly OutputRoute[],
): string[] {
  const chosen = new Set(ruleOutputs);
  const rank = ALERT_SEVERITIES.indexOf(alert.severity);
  for (const route of routes) {
    if (route.ruleIds && !route.ruleIds.includes(alert.ruleId)) continue;
    if (route.minSeverity && rank < ALERT_SEVERITIES.indexOf(route.minSeverity)) continue;
    if (route.tags && !route.tags.some((t) => alert.tags.includes(t))) continue;
    if (route.tenants && !route.tenants.includes(alert.tenant)) continue;
    for (const name of route.outputs) chosen.add(name);
  }
  return [...chosen];
}

// ------------------------------------------------------------------------------------------------- clients

/** HTTP over fetch; a status of 2xx is success. */
export class FetchHttpClient implements HttpClient {
  constructor(private readonly timeoutMs = 10_000) {}

  async post(request: OutputRequest): Promise<{ status: number; body: string }> {
    const response = await fetch(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    return { status: response.status, body: await response.text() };
  }
}

/** Secrets Manager, each value cached for `ttlMs` (a rotated secret is picked up within it). */
export class SecretsManagerSecretStore implements SecretStore {
  private readonly cache = new Map<string, { value: string; at: number }>();

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly ttlMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  async get(name: string): Promise<string> {
    const hit = this.cache.get(name);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.value;
    const response = await this.client.send(new GetSecretValueCommand({ SecretId: name }));
    if (response.SecretString === undefined) throw new Error(`secret ${name} has no string value`);
    this.cache.set(name, { value: response.SecretString, at: this.now() });
    return response.SecretString;
  }
}

export class InMemorySecretStore implements SecretStore {
  constructor(private readonly values: Record<string, string>) {}

  async get(name: string): Promise<string> {
    const value = this.values[name];
    if (value === undefined) throw new Error(`no secret ${name}`);
    return value;
  }
}

/** Dead letters as messages on a queue (the outputs dead-letter queue), keyed by output and alert. */
export class QueueDeadLetterSink implements DeadLetterSink {
  constructor(private readonly sink: MessageSink) {}

  async put(letter: DeadLetter): Promise<void> {
    const id = `${letter.output}:${letter.alertId}`;
    const result = await this.sink.send([{ id, body: JSON.stringify(letter), groupId: letter.output }]);
    if (result.failed.length > 0) throw new Error(`dead letter not stored: ${result.failed[0]!.reason}`);
  }
}

export class InMemoryDeadLetterSink implements DeadLetterSink {
  readonly letters: DeadLetter[] = [];
  async put(letter: DeadLetter): Promise<void> {
    this.letters.push(letter);
  }
}

// ------------------------------------------------------------------------------------------------- delivery

export interface DeliveryOptions {
  outputs: readonly OutputConfig[];
  secrets: SecretStore;
  http: HttpClient;
  deadLetters: DeadLetterSink;
  retry?: RetryPolicy;
  now?: () => number;
  /** Where the AWS outputs' clients connect and with which credentials (the Lambda's by default). */
  aws?: AwsOptions;
}

export interface DeliveryReport {
  output: string;
  delivered: boolean;
  attempts: number;
  /** Why it was dead-lettered (status and kind of failure, never a secret or a URL). */
  reason?: string;
  /** Set when the dead letter could not be stored either: the alert must come back from its queue. */
  deadLetterError?: string;
}

/** HTTP receivers: four attempts over about ten seconds at most (full jitter from 0.5 s, doubling). */
export const OUTPUT_RETRY_POLICY: RetryPolicy = {
  ...DEFAULT_RETRY_POLICY,
  maxAttempts: 4,
  baseDelayMs: 500,
  maxDelayMs: 10_000,
};

/** The output's settings: its own, with its secret's JSON object on top. */
async function settingsOf(options: DeliveryOptions, output: OutputConfig): Promise<Record<string, unknown>> {
  if (output.secret === undefined) return { ...output.settings };
  const value: unknown = JSON.parse(await options.secrets.get(output.secret));
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`the ${output.kind} output's secret is not a JSON object`);
  return { ...output.settings, ...value };
}

/**
 * Senders by output, made once per settings (a rotated secret makes a new one): SDK clients and an index template
 * installed once serve every batch of a container.
 */
const senderCache = new WeakMap<DeliveryOptions, Map<string, { key: string; sender: OutputSender }>>();

async function senderOf(options: DeliveryOptions, output: OutputConfig): Promise<OutputSender> {
  const settings = await settingsOf(options, output);
  const key = JSON.stringify(settings);
  let cache = senderCache.get(options);
  if (!cache) senderCache.set(options, (cache = new Map()));
  const hit = cache.get(output.name);
  if (hit?.key === key) return hit.sender;
  const sender = senderFor(output.kind, settings, {
    http: options.http,
    now: options.now ?? Date.now,
    aws: options.aws ?? {},
    region: options.aws?.region ?? process.env.AWS_REGION,
  });
  cache.set(output.name, { key, sender });
  return sender;
}

/**
 * Delivers a batch of alerts to one output: each attempt sends the alerts still pending, in as few requests as the
 * receiver allows; the alerts that failed retryably are tried again with backoff, and the alerts that did not get
 * there are dead-lettered, each on its own. Reports come in the order of `alerts`.
 */
export async function deliverBatchTo(
  options: DeliveryOptions,
  output: OutputConfig,
  alerts: readonly AlertDocument[],
): Promise<DeliveryReport[]> {
  const retry = options.retry ?? OUTPUT_RETRY_POLICY;
  const attempts = new Map<string, number>();
  const outcome = new Map<string, DeliveryError | undefined>();
  let pending = [...new Map(alerts.map((a) => [a.id, a])).values()];
  let sender: OutputSender | undefined;
  try {
    sender = await senderOf(options, output);
  } catch (error) {
    const failure = new DeliveryError(
      false,
      `settings unusable: ${error instanceof Error ? error.message : 'unknown'}`,
    );
    for (const alert of pending) outcome.set(alert.id, failure);
    pending = [];
  }
  for (let attempt = 1; sender && pending.length > 0 && attempt <= retry.maxAttempts; attempt++) {
    if (attempt > 1) await retry.sleep(backoffDelayMs(attempt - 1, retry));
    let failures: AttemptFailures;
    try {
      failures = await sender.send(pending);
    } catch (error) {
      const failure =
        error instanceof DeliveryError
          ? error
          : new DeliveryError(true, `network: ${error instanceof Error ? error.name : 'error'}`);
      failures = new Map(pending.map((a) => [a.id, failure]));
    }
    const next: AlertDocument[] = [];
    for (const alert of pending) {
      attempts.set(alert.id, attempt);
      const failure = failures.get(alert.id);
      if (failure?.retryable && attempt < retry.maxAttempts) next.push(alert);
      else outcome.set(alert.id, failure);
    }
    pending = next;
  }
  return Promise.all(
    alerts.map(async (alert): Promise<DeliveryReport> => {
      const tries = attempts.get(alert.id) ?? 0;
      const failure = outcome.get(alert.id);
      if (!failure) return { output: output.name, delivered: true, attempts: tries };
      return deadLetter(options, {
        output: output.name,
        kind: output.kind,
        alertId: alert.id,
        attempts: tries,
        reason: failure.message,
        alert,
      });
    }),
  );
}

/** One alert and the names of the outputs it goes to. */
export interface AlertDelivery {
  alert: AlertDocument;
  outputs: readonly string[];
}

/**
 * Delivers a batch of alerts to their outputs: each output gets its alerts together (one PublishBatch, one
 * `_bulk`, one archive object a partition…), and every output at the same time as the others; each succeeds, or
 * is retried and dead-lettered, on its own. An unknown name is dead-lettered too (a rule naming an output the stack
 * does not have). The reports of each delivery come in the order of its outputs.
 */
export async function deliverAlerts(
  options: DeliveryOptions,
  deliveries: readonly AlertDelivery[],
): Promise<DeliveryReport[][]> {
  const byName = new Map(options.outputs.map((o) => [o.name, o]));
  const reports: DeliveryReport[][] = deliveries.map(() => []);
  const members = new Map<string, number[]>();
  deliveries.forEach((d, i) => {
    for (const name of new Set(d.outputs)) members.set(name, [...(members.get(name) ?? []), i]);
  });
  await Promise.all(
    [...members].map(async ([name, indexes]) => {
      const output = byName.get(name);
      const alerts = indexes.map((i) => deliveries[i]!.alert);
      const results = output
        ? await deliverBatchTo(options, output, alerts)
        : await Promise.all(alerts.map((alert) => unknownOutput(options, name, alert)));
      indexes.forEach((i, k) => (reports[i]![[...new Set(deliveries[i]!.outputs)].indexOf(name)] = results[k]!));
    }),
  );
  return reports;
}

function unknownOutput(options: DeliveryOptions, name: string, alert: AlertDocument): Promise<DeliveryReport> {
  const reason = `no output named ${name} is configured`;
  return deadLetter(options, { output: name, kind: 'unknown', alertId: alert.id, attempts: 0, reason, alert });
}

/** Dead-letters a delivery and reports it; a dead letter that could not be stored is in the report. */
async function deadLetter(options: DeliveryOptions, letter: DeadLetter): Promise<DeliveryReport> {
  const report: DeliveryReport = {
    output: letter.output,
    delivered: false,
    attempts: letter.attempts,
    reason: letter.reason,
  };
  try {
    await options.deadLetters.put(letter);
  } catch (error) {
    report.deadLetterError = error instanceof Error ? error.message : 'dead letter not stored';
  }
  return report;
}

/** Delivers one alert to the named outputs (deliverAlerts for one); rejects when a dead letter was not stored. */
export async function deliverAlert(
  options: DeliveryOptions,
  alert: AlertDocument,
  names: readonly string[],
): Promise<DeliveryReport[]> {
  const [reports = []] = await deliverAlerts(options, [{ alert, outputs: names }]);
  const lost = reports.find((r) => r.deadLetterError !== undefined);
  if (lost) throw new Error(`dead letter not stored: ${lost.deadLetterError}`);
  return reports;
}

/**
 * The outputs stage: which outputs an alert goes to (its rule's `outputs:` and the stack's routes), and delivery
 * to each, retried with backoff and dead-lettered on its own: a failing output never holds up another, and it runs
 * after the alert queue, so it never holds up detection or its state commit either.
 */
import { StixflowBaseError } from '../errors.js';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { MessageSink } from '../queue/types.js';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, type RetryPolicy } from '../queue/retry.js';
import { requestFor } from './formats.js';
import {
  ALERT_SEVERITIES,
  DeliveryError,
  type AlertDocument,
  OUTPUT_KINDS,
  type DeadLetter,
  type DeadLetterSink,
  type HttpClient,
  type OutputConfig,
  type OutputRequest,
  type OutputRoute,
  type SecretStore,
} from './types.js';

// ------------------------------------------------------------------------------------------------- configuration

export class OutputConfigError extends StixflowBaseError {
  constructor(problems: string[]) {
    super(`invalid outputs configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** OUTPUTS and OUTPUT_ROUTES (JSON); every problem reported at once. */
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
    if (typeof o?.secret !== 'string' || o.secret === '') problems.push(`output ${i} needs the name of its secret`);
    if (problems.length === 0) outputs.push({ name: o.name!, kind: o.kind!, secret: o.secret! });
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
}

export interface DeliveryReport {
  output: string;
  delivered: boolean;
  attempts: number;
  /** Why it was dead-lettered (status and kind of failure, never a secret or a URL). */
  reason?: string;
}

/** HTTP receivers: four attempts over about ten seconds at most (full jitter from 0.5 s, doubling). */
export const OUTPUT_RETRY_POLICY: RetryPolicy = {
  ...DEFAULT_RETRY_POLICY,
  maxAttempts: 4,
  baseDelayMs: 500,
  maxDelayMs: 10_000,
};

function classify(status: number, body: string): DeliveryError | undefined {
  if (status >= 200 && status < 300) return undefined;
  const retryable = status === 429 || status === 408 || status >= 500;
  return new DeliveryError(retryable, `HTTP ${status}${body ? ` (${body.slice(0, 100).replace(/\s+/g, ' ')})` : ''}`);
}

/** Delivers one alert to one output: retried with backoff while the failure is retryable, then dead-lettered. */
export async function deliverTo(
  options: DeliveryOptions,
  output: OutputConfig,
  alert: AlertDocument,
): Promise<DeliveryReport> {
  const retry = options.retry ?? OUTPUT_RETRY_POLICY;
  const now = options.now ?? Date.now;
  let attempts = 0;
  let last: DeliveryError | undefined;
  let request: OutputRequest | undefined;
  try {
    const settings: unknown = JSON.parse(await options.secrets.get(output.secret));
    request = requestFor(output.kind, alert, settings, now() / 1000);
  } catch (error) {
    last = new DeliveryError(false, `settings unusable: ${error instanceof Error ? error.message : 'unknown'}`);
  }
  while (request && attempts < retry.maxAttempts) {
    if (attempts > 0) await retry.sleep(backoffDelayMs(attempts, retry));
    attempts++;
    try {
      const response = await options.http.post(request);
      last = classify(response.status, response.body);
    } catch (error) {
      last = new DeliveryError(true, `network: ${error instanceof Error ? error.name : 'error'}`);
    }
    if (last === undefined) return { output: output.name, delivered: true, attempts };
    if (!last.retryable) break;
  }
  const reason = last?.message ?? 'not delivered';
  await options.deadLetters.put({ output: output.name, kind: output.kind, alertId: alert.id, attempts, reason, alert });
  return { output: output.name, delivered: false, attempts, reason };
}

/**
 * Delivers an alert to each of the named outputs at once; each output succeeds, or is retried and dead-lettered,
 * on its own. An unknown name is dead-lettered too (a rule naming an output the stack does not have).
 */
export async function deliverAlert(
  options: DeliveryOptions,
  alert: AlertDocument,
  names: readonly string[],
): Promise<DeliveryReport[]> {
  const byName = new Map(options.outputs.map((o) => [o.name, o]));
  return Promise.all(
    names.map(async (name): Promise<DeliveryReport> => {
      const output = byName.get(name);
      if (output) return deliverTo(options, output, alert);
      const reason = `no output named ${name} is configured`;
      await options.deadLetters.put({ output: name, kind: 'webhook', alertId: alert.id, attempts: 0, reason, alert });
      return { output: name, delivered: false, attempts: 0, reason };
    }),
  );
}

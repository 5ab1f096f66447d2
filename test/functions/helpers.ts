/** Shared fixtures for the handler tests: an in-memory runtime, API Gateway v2 and SQS events, captured output. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { vi } from 'vitest';
import type { AuthorizerContext, HttpApiEvent } from '../../functions/auth.js';
import { readConfig, type FunctionRole } from '../../functions/config.js';
import { InMemoryRuleOverrideStore } from '../../src/state/rule-overrides.js';
import { InMemoryRuleStore } from '../../src/state/rule-store.js';
import { HandlerRuntime, type RuntimeDeps } from '../../functions/runtime.js';
import type { MessageSink, OutgoingMessage, SendResult } from '../../src/queue/types.js';
import { InMemoryQueue } from '../../src/queue/memory-queue.js';
import { InMemoryCounterStore, InMemoryStateStore } from '../../src/state/index.js';

export const RULES_DIR = fileURLToPath(new URL('../../rules/', import.meta.url));
export const EXAMPLE_EVENTS = readFileSync(
  fileURLToPath(new URL('../../examples/events.ndjson', import.meta.url)),
  'utf8',
);
export const EXAMPLE_LINES = EXAMPLE_EVENTS.trim().split('\n');

/** A sink that records every message and can be told to refuse them. */
export class RecordingSink implements MessageSink {
  readonly queue = new InMemoryQueue();
  readonly sent: OutgoingMessage[] = [];
  failing = false;

  async send(messages: OutgoingMessage[]): Promise<SendResult> {
    if (this.failing)
      return { sent: [], failed: messages.map((m) => ({ id: m.id, reason: 'ThrottlingException: slow down' })) };
    this.sent.push(...messages);
    return this.queue.send(messages);
  }

  /** Alert documents that reached the queue (deduplicated by id, as a FIFO queue does). */
  async drain(): Promise<Record<string, unknown>[]> {
    const received = await this.queue.receive(1000, 0);
    await this.queue.ack(received);
    return received.map((m) => JSON.parse(m.body) as Record<string, unknown>);
  }
}

export interface TestRuntime {
  runtime: HandlerRuntime;
  sink: RecordingSink;
  store: InMemoryStateStore;
  counters: InMemoryCounterStore;
  overrides: InMemoryRuleOverrideStore;
}

export function testRuntime(
  env: Record<string, string> = {},
  deps: Partial<RuntimeDeps> = {},
  role: FunctionRole = 'ingest',
): TestRuntime {
  const sink = new RecordingSink();
  const store = new InMemoryStateStore();
  const counters = new InMemoryCounterStore();
  const overrides = new InMemoryRuleOverrideStore();
  const config = readConfig(
    { TABLE_NAME: 'stixflow-test', ALERT_QUEUE_URL: 'https://sqs.local/alerts.fifo', RULES_DIR, ...env },
    role,
  );
  const runtime = new HandlerRuntime(config, {
    store,
    counters,
    sink,
    overrides,
    ruleStore: new InMemoryRuleStore(),
    ...deps,
  });
  return { runtime, sink, store, counters, overrides };
}

export function context(name = 'stixflow-test'): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${name}`,
    memoryLimitInMB: '512',
    awsRequestId: 'req-1',
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 10_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export const JWT_TENANT_A: AuthorizerContext = { jwt: { claims: { sub: 'user-1', tenant: 'tenant-a' }, scopes: [] } };

export function httpEvent(
  options: {
    body?: string;
    base64?: boolean;
    authorizer?: AuthorizerContext | null;
    method?: string;
    routeKey?: string;
    path?: string;
    pathParameters?: Record<string, string>;
  } = {},
): HttpApiEvent {
  const method = options.method ?? 'POST';
  const path = options.path ?? '/events';
  const routeKey = options.routeKey ?? `${method} ${path}`;
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/x-ndjson' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example',
      domainPrefix: 'api',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'test' },
      requestId: 'r-1',
      routeKey,
      stage: '$default',
      time: '01/Jan/2026:00:00:00 +0000',
      timeEpoch: 0,
      ...(options.authorizer === null ? {} : { authorizer: options.authorizer ?? JWT_TENANT_A }),
    },
    ...(options.pathParameters ? { pathParameters: options.pathParameters } : {}),
    ...(options.body !== undefined ? { body: options.body } : {}),
    isBase64Encoded: options.base64 ?? false,
  };
}

export function sqsRecord(messageId: string, body: string, tenant?: string, receiveCount = 1): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: '0',
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: tenant === undefined ? {} : { tenant: { dataType: 'String', stringValue: tenant } },
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:stixflow-ingest',
    awsRegion: 'eu-west-1',
  };
}

export function sqsEvent(...records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

/** Captures what the handlers write to stdout and stderr (Powertools logs, EMF metrics) during `run`. */
export async function captureStdout<T>(
  run: () => Promise<T>,
): Promise<{ result: T; output: string; lines: Record<string, unknown>[] }> {
  const chunks: string[] = [];
  const record = (chunk: string | Uint8Array): boolean => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation(record),
    vi.spyOn(process.stderr, 'write').mockImplementation(record),
  ];
  try {
    const result = await run();
    const output = chunks.join('');
    const lines = output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { result, output, lines };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

/** Names of the EMF metrics in captured output, with their summed values. */
export function emfMetrics(lines: Record<string, unknown>[]): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const line of lines) {
    const aws = line._aws as { CloudWatchMetrics?: { Metrics: { Name: string }[] }[] } | undefined;
    for (const group of aws?.CloudWatchMetrics ?? []) {
      for (const { Name } of group.Metrics) {
        const value = line[Name];
        const sum = Array.isArray(value) ? (value as number[]).reduce((a, b) => a + b, 0) : Number(value);
        totals[Name] = (totals[Name] ?? 0) + sum;
      }
    }
  }
  return totals;
}

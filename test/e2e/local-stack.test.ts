import { readFileSync } from 'node:fs';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indicatorIdOf, type AlertDocument } from '../../src/engine/alert.js';
import { startLocalStack, type LocalStack } from '../../src/local/server.js';

const EVENTS = readFileSync(new URL('../../examples/events.ndjson', import.meta.url), 'utf8');
const LINES = EVENTS.trim().split('\n');
const schema = JSON.parse(readFileSync(new URL('../../schemas/alert.schema.json', import.meta.url), 'utf8')) as object;
const validateAlert = new Ajv2020({ allErrors: true, strict: true }).compile(schema);

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, quiet: true });
}, 30_000);

afterAll(async () => {
  await stack?.stop();
});

/** Each test posts as its own tenant (`Bearer local-dev:<tenant>`), so correlation state never leaks between tests. */
const auth = (tenant?: string): Record<string, string> => ({
  authorization: tenant ? `Bearer local-dev:${tenant}` : 'Bearer local-dev',
});

async function post(
  path: string,
  body: string | Buffer,
  headers: Record<string, string> = auth(),
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${stack.url}${path}`, { method: 'POST', body, headers });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function receiveAll(queueUrl: string, wanted: number, timeoutMs = 8000): Promise<Message[]> {
  const got: Message[] = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < wanted && Date.now() < deadline) {
    const { Messages = [] } = await stack.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    got.push(...Messages);
    if (Messages.length > 0) {
      await stack.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Messages.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle ?? '' })),
        }),
      );
    }
  }
  return got;
}

/** Reads exactly `count` alerts of a tenant off the alert queue, then checks nothing more arrives. */
async function alertsFor(tenant: string, count: number): Promise<AlertDocument[]> {
  const messages = await receiveAll(stack.alertQueueUrl, count);
  const extra = await receiveAll(stack.alertQueueUrl, 1, 1500);
  const alerts = [...messages, ...extra].map((m) => JSON.parse(m.Body ?? '{}') as AlertDocument);
  for (const alert of alerts) {
    validateAlert(alert);
    expect(validateAlert.errors ?? []).toEqual([]);
    expect(alert.tenant).toBe(tenant);
  }
  expect(alerts).toHaveLength(count);
  return alerts.sort((a, b) => a.ruleId.localeCompare(b.ruleId));
}

describe('local stack, end to end', () => {
  it('serves on loopback, with the queues it created', () => {
    expect(stack.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stack.alertQueueUrl).toMatch(/stixflow-alerts\.fifo$/);
    expect(stack.ingestQueueUrl).toMatch(/stixflow-ingest$/);
    expect(stack.dlqUrl).toMatch(/stixflow-ingest-dlq$/);
  });

  it("POST /events with the README's NDJSON raises the five example alerts, field by field", async () => {
    const { status, body } = await post('/events', EVENTS, auth());
    expect(status).toBe(202);
    expect(body).toMatchObject({ accepted: 5, rejected: 0, alerts: 5, rejections: [] });
    const alerts = await alertsFor('local', 5);
    expect(alerts.map((a) => [a.ruleId, a.severity])).toEqual([
      ['credential-file-read', 'high'],
      ['outbound-unusual-port', 'medium'],
      ['web-server-spawns-shell', 'high'],
      ['web-shell-then-callback', 'critical'],
      ['word-launches-powershell', 'high'],
    ]);
    expect(alerts.map((a) => a.id).sort()).toEqual([...(body.alertIds as string[])].sort());
    const sequence = alerts.find((a) => a.ruleId === 'web-shell-then-callback')!;
    expect(sequence).toMatchObject({
      schema: 'stixflow.alert/2',
      groupKey: '["web-1"]',
      sourceEventIds: ['evt-1', 'evt-4'],
      firstObserved: '2026-01-01T10:00:00Z',
      lastObserved: '2026-01-01T10:01:00Z',
      category: 'command-and-control',
    });
    expect(sequence.observedDataIds).toHaveLength(2);
    expect(sequence.sighting).toMatchObject({
      type: 'sighting',
      spec_version: '2.1',
      sighting_of_ref: indicatorIdOf('web-shell-then-callback'),
      observed_data_refs: sequence.observedDataIds,
      first_seen: '2026-01-01T10:00:00Z',
      last_seen: '2026-01-01T10:01:00Z',
      count: 2,
      x_stixflow_alert_id: sequence.id,
    });
    const credential = alerts.find((a) => a.ruleId === 'credential-file-read')!;
    expect(credential.sourceEventIds).toEqual(['evt-2']);
    expect(credential.objects.map((o) => o.type)).toContain('file');
    const word = alerts.find((a) => a.ruleId === 'word-launches-powershell')!;
    expect(word).toMatchObject({ sourceEventIds: [], groupKey: '' });
    expect(word.sighting.observed_data_refs).toEqual(word.observedDataIds);
  });

  it('POST /events takes a single JSON event and a JSON array', async () => {
    const single = await post('/events', LINES[4] as string, { ...auth('single'), 'content-type': 'application/json' });
    expect(single).toMatchObject({ status: 202, body: { accepted: 1, alerts: 1 } });
    expect((await alertsFor('single', 1))[0]?.ruleId).toBe('word-launches-powershell');
    // Content-type agnostic: an octet-stream body arrives base64-encoded, as API Gateway would pass it.
    const array = await post('/events', Buffer.from(`[${LINES.slice(0, 2).join(',')}]`), {
      ...auth('array'),
      'content-type': 'application/octet-stream',
    });
    expect(array).toMatchObject({ status: 202, body: { accepted: 2, alerts: 2 } });
    expect((await alertsFor('array', 2)).map((a) => a.ruleId)).toEqual([
      'credential-file-read',
      'web-server-spawns-shell',
    ]);
  });

  it('answers 400, 413 and 401 as the deployed API does', async () => {
    const bad = await post('/events', 'definitely not json\n{also not', auth('bad'));
    expect(bad.status).toBe(400);
    expect((bad.body.rejections as { code: string }[]).map((r) => r.code)).toEqual(['invalid-json', 'invalid-json']);
    const big = await post('/events', `${LINES[0]}\n${' '.repeat(1024 * 1024)}`, auth('big'));
    expect(big.status).toBe(413);
    expect((await post('/events', EVENTS, {})).status).toBe(401);
    expect((await post('/events', EVENTS, { authorization: 'Bearer someone-else' })).status).toBe(401);
    expect((await post('/queue', EVENTS, {})).status).toBe(401);
    // Nothing from any of these reached the alert queue.
    expect(await receiveAll(stack.alertQueueUrl, 1, 1500)).toEqual([]);
  });

  it('processes events sent to the ingest queue (directly and via POST /queue)', async () => {
    await stack.sqs.send(
      new SendMessageCommand({
        QueueUrl: stack.ingestQueueUrl,
        MessageBody: LINES.slice(0, 4).join('\n'),
        MessageAttributes: { tenant: { DataType: 'String', StringValue: 'via-sqs' } },
      }),
    );
    const alerts = await alertsFor('via-sqs', 4);
    expect(alerts.map((a) => a.ruleId)).toEqual([
      'credential-file-read',
      'outbound-unusual-port',
      'web-server-spawns-shell',
      'web-shell-then-callback',
    ]);
    const queued = await post('/queue', LINES[4] as string, auth('via-post-queue'));
    expect(queued).toMatchObject({ status: 202, body: { queued: true } });
    expect((await alertsFor('via-post-queue', 1))[0]?.ruleId).toBe('word-launches-powershell');
  });

  it('dead-letters a poison message after maxReceiveCount receives, with its reason recorded by message id', async () => {
    const queued = await post('/queue', 'this is {not json', auth('poison'));
    expect(queued.status).toBe(202);
    const messageId = queued.body.messageId as string;
    const dead = await receiveAll(stack.dlqUrl, 1, 15_000);
    expect(dead.map((m) => m.Body)).toEqual(['this is {not json']);
    expect(dead[0]?.MessageId).toBe(messageId);
    const failures = stack.failures.filter((f) => f.messageId === messageId);
    expect(failures.length).toBe(2);
    expect(failures.map((f) => f.receiveCount)).toEqual([1, 2]);
    for (const f of failures)
      expect(f).toMatchObject({ code: 'malformed', reason: 'no event in the message could be read (invalid-json x1)' });
    expect(await receiveAll(stack.alertQueueUrl, 1, 1000)).toEqual([]);
  });

  it('loses and duplicates no alert when the same SQS batch is delivered twice', async () => {
    const { handler } = await import('../../functions/ingest-sqs.js');
    const record = (id: string, body: string): SQSRecord => ({
      messageId: id,
      receiptHandle: id,
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: '0',
        SenderId: 'e2e',
        ApproximateFirstReceiveTimestamp: '0',
      },
      messageAttributes: { tenant: { dataType: 'String', stringValue: 'redelivery' } },
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:stixflow-ingest',
      awsRegion: 'us-east-1',
    });
    const batch = { Records: [record('r-1', LINES.slice(0, 2).join('\n')), record('r-2', LINES.slice(2).join('\n'))] };
    const context = { functionName: 'e2e', awsRequestId: 'e2e' } as never;
    expect((await handler(batch, context)).batchItemFailures).toEqual([]);
    expect((await handler(batch, context)).batchItemFailures).toEqual([]);
    const alerts = await alertsFor('redelivery', 5);
    expect(new Set(alerts.map((a) => a.id)).size).toBe(5);
    expect(alerts.map((a) => a.ruleId)).toEqual([
      'credential-file-read',
      'outbound-unusual-port',
      'web-server-spawns-shell',
      'web-shell-then-callback',
      'word-launches-powershell',
    ]);
  });

  it('lists rules and disables one through the rules API', async () => {
    const rules = await fetch(`${stack.url}/rules`, { headers: auth() });
    expect(rules.status).toBe(200);
    const listed = (await rules.json()) as {
      rules: { id: string; enabled: boolean; counters: { totals: { alerts: number } } }[];
    };
    expect(listed.rules).toHaveLength(5);
    expect(listed.rules.find((r) => r.id === 'web-shell-then-callback')?.counters.totals.alerts).toBe(1);
    const patched = await fetch(`${stack.url}/rules/word-launches-powershell`, {
      method: 'PATCH',
      headers: auth(),
      body: '{"enabled": false}',
    });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ id: 'word-launches-powershell', enabled: false });
    const after = (await (await fetch(`${stack.url}/rules`, { headers: auth() })).json()) as {
      rules: { id: string; enabled: boolean }[];
    };
    expect(after.rules.find((r) => r.id === 'word-launches-powershell')?.enabled).toBe(false);
    expect((await fetch(`${stack.url}/rules`)).status).toBe(401);
  });
});

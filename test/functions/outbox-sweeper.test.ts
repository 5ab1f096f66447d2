/**
 * The outbox sweeper (#18): an alert whose delivery to the alert queue failed is sent again even
 * though its input never comes back. Through the Detector and the sweeper, on dynalite (the
 * state table with its outbox index) and fauxqs (the FIFO alert queue, deduplicated by alert id).
 */
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOutboxSweeperHandler, sweeperFromEnv } from '../../functions/outbox-sweeper.js';
import { captureStdout, context, emfMetrics, testRuntime } from './helpers.js';
import {
  ensureQueue,
  startDynamo,
  startSqs,
  type RunningDynamo,
  type RunningSqs,
} from '../../src/emulators/emulators.js';
import { Detector } from '../../src/pipeline/detector.js';
import { OutboxSweeper } from '../../src/pipeline/outbox-sweep.js';
import { SqsMessageSink } from '../../src/queue/sqs-sink.js';
import type { MessageSink, OutgoingMessage, SendResult } from '../../src/queue/types.js';
import { DynamoDbStateStore } from '../../src/state/dynamodb-store.js';
import { DynamoDbPendingIndex, PENDING_SHARDS, withPendingIndex } from '../../src/state/pending-index.js';
import { createStateTableInput } from '../../src/state/table-schema.js';
import { rulesFrom, stixEvent } from '../rules/helpers.js';

let dynamo: RunningDynamo;
let sqs: RunningSqs;
let tables = 0;
beforeAll(async () => {
  [dynamo, sqs] = await Promise.all([startDynamo(), startSqs()]);
});
afterAll(async () => {
  await Promise.all([dynamo?.stop(), sqs?.stop()]);
});

const RULES_YAML = `
rules:
  - id: single
    name: Single
    severity: low
    pattern: "[process:name = 'nc']"
  - id: pair
    name: Pair
    severity: high
    pattern: "[process:name = 'a'] FOLLOWEDBY [process:name = 'b']"
    group_by: process:x_host_id
`;
const RULES = rulesFrom(RULES_YAML);

const T = (s: number): string => new Date(Date.UTC(2026, 0, 1, 10) + s * 1000).toISOString().replace('.000Z', 'Z');
const proc = (n: number, name: string, host = 'web-1'): Record<string, unknown> =>
  stixEvent({ n, time: T(n), process: { name, x_host_id: host } });

/** The SQS sink, refusing every message (retryably, as a throttled queue would) while `refusing`. */
class SwitchableSink implements MessageSink {
  refusing = false;
  constructor(private readonly inner: MessageSink) {}
  async send(messages: OutgoingMessage[]): Promise<SendResult> {
    if (this.refusing)
      return { sent: [], failed: messages.map((m) => ({ id: m.id, reason: 'ThrottlingException: Rate exceeded' })) };
    return this.inner.send(messages);
  }
}

async function receiveAll(client: SQSClient, queueUrl: string): Promise<{ id: string; dedupId?: string }[]> {
  const out: { id: string; dedupId?: string }[] = [];
  for (;;) {
    const { Messages } = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['MessageDeduplicationId'],
      }),
    );
    if (!Messages || Messages.length === 0) return out;
    for (const m of Messages)
      out.push({
        id: (JSON.parse(m.Body ?? '{}') as { id: string }).id,
        dedupId: m.Attributes?.MessageDeduplicationId,
      });
  }
}

async function setup() {
  const tableName = `sweep-${++tables}`;
  await dynamo.client.send(new CreateTableCommand(withPendingIndex(createStateTableInput(tableName))));
  const queueUrl = await ensureQueue(sqs.client, `alerts-${tables}.fifo`);
  let clock = Date.UTC(2026, 0, 1, 10, 5);
  const now = (): number => clock;
  const store = new DynamoDbStateStore({ client: dynamo.client, tableName, now });
  const queueSink = new SqsMessageSink({ client: sqs.client, queueUrl });
  const sink = new SwitchableSink(queueSink);
  const detector = new Detector({ rules: RULES, store, sink, now });
  const index = new DynamoDbPendingIndex({ client: dynamo.client, tableName });
  const sweeper = new OutboxSweeper({ rules: RULES, store, index, sink, now });
  return {
    detector,
    sweeper,
    sink,
    index,
    queueUrl,
    store,
    now,
    advance: (seconds: number) => (clock += seconds * 1000),
  };
}

async function pendingCount(index: DynamoDbPendingIndex): Promise<number> {
  let n = 0;
  for (let shard = 0; shard < PENDING_SHARDS; shard++)
    n += (await index.page(String(shard), Number.MAX_SAFE_INTEGER, 100)).entries.length;
  return n;
}

describe('outbox sweeper on dynalite + fauxqs', () => {
  it('re-sends a correlation alert and a stateless alert whose delivery failed, once, and clears their marks', async () => {
    const s = await setup();
    s.sink.refusing = true;
    const result = await s.detector.process([proc(1, 'nc'), proc(2, 'a'), proc(3, 'b')]);
    expect(result.alerts).toEqual([]);
    const undelivered = result.undelivered.map((u) => u.id).sort();
    expect(undelivered).toHaveLength(2);
    // One pending ledger entry and one correlation outbox are marked in the index.
    expect(await pendingCount(s.index)).toBe(2);

    // The queue is back, but the input is never redelivered. A sweep right away leaves the items
    // alone (their own invocation may still be delivering them)...
    s.sink.refusing = false;
    expect((await s.sweeper.sweep()).resent).toBe(0);
    // ...a sweep a few minutes later sends both, with the alert id as the FIFO deduplication id.
    s.advance(120);
    const report = await s.sweeper.sweep();
    expect(report.examined).toBe(2);
    expect(report.delivered.sort()).toEqual(undelivered);
    expect(report.failed).toEqual([]);
    const received = await receiveAll(sqs.client, s.queueUrl);
    expect(received.map((m) => m.id).sort()).toEqual(undelivered);
    for (const m of received) expect(m.dedupId).toBe(m.id);
    expect(await pendingCount(s.index)).toBe(0);

    // Cleared: another sweep sends nothing, and a late redelivery of the input raises nothing again.
    expect((await s.sweeper.sweep()).resent).toBe(0);
    const again = await s.detector.process([proc(1, 'nc'), proc(2, 'a'), proc(3, 'b')]);
    expect(again.alerts).toEqual([]);
    expect(await receiveAll(sqs.client, s.queueUrl)).toEqual([]);
  }, 60_000);

  it('keeps an alert pending while the queue still refuses it, and delivers it on a later sweep', async () => {
    const s = await setup();
    s.sink.refusing = true;
    const result = await s.detector.process([proc(1, 'a', 'db-1'), proc(2, 'b', 'db-1')]);
    expect(result.undelivered).toHaveLength(1);
    s.advance(120);
    const refused = await s.sweeper.sweep();
    expect(refused.resent).toBe(1);
    expect(refused.failed.map((f) => f.id)).toEqual(result.undelivered.map((u) => u.id));
    expect(await pendingCount(s.index)).toBe(1);

    s.sink.refusing = false;
    s.advance(300);
    expect((await s.sweeper.sweep()).delivered).toEqual(result.undelivered.map((u) => u.id));
    expect((await receiveAll(sqs.client, s.queueUrl)).map((m) => m.id)).toEqual(result.undelivered.map((u) => u.id));
    expect(await pendingCount(s.index)).toBe(0);
  }, 60_000);

  it('marks nothing when delivery succeeds, and stops before a page when told to', async () => {
    const s = await setup();
    const result = await s.detector.process([proc(1, 'nc'), proc(2, 'a'), proc(3, 'b')]);
    expect(result.alerts).toHaveLength(2);
    expect(await pendingCount(s.index)).toBe(0);
    const stopping = new OutboxSweeper({
      rules: RULES,
      store: new DynamoDbStateStore({ client: dynamo.client, tableName: `sweep-${tables}` }),
      index: s.index,
      sink: s.sink,
      shouldStop: () => true,
    });
    expect(await stopping.sweep()).toMatchObject({ examined: 0, stopped: true });
  }, 60_000);
});

describe('the outbox-sweeper function', () => {
  it('sweeps with the rules the ingest functions load and publishes what it found and re-sent', async () => {
    const s = await setup();
    s.sink.refusing = true;
    const result = await s.detector.process([proc(1, 'nc'), proc(2, 'a'), proc(3, 'b')]);
    s.sink.refusing = false;
    s.advance(600);
    const rulesDir = mkdtempSync(join(tmpdir(), 'stixflow-sweeper-rules-'));
    try {
      writeFileSync(join(rulesDir, 'rules.yaml'), RULES_YAML);
      const { runtime } = testRuntime({ RULES_DIR: rulesDir });
      const handler = createOutboxSweeperHandler(() =>
        sweeperFromEnv(runtime, {}, { store: s.store, index: s.index, sink: s.sink, now: s.now }),
      );
      const { result: report, lines } = await captureStdout(() => handler({}, context()));
      expect(report.delivered.sort()).toEqual(result.undelivered.map((u) => u.id).sort());
      expect(emfMetrics(lines)).toMatchObject({ OutboxPending: 2, OutboxResent: 2, OutboxResendFailed: 0 });
      expect(await receiveAll(sqs.client, s.queueUrl)).toHaveLength(2);
    } finally {
      rmSync(rulesDir, { recursive: true, force: true });
    }
  }, 60_000);
});

import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIngestSqsHandler, onMessageFailure, type MessageFailureReport } from '../../functions/ingest-sqs.js';
import { ensureQueue, startSqs, type RunningSqs } from '../../src/emulators/emulators.js';
import { SqsMessageSink } from '../../src/queue/sqs-sink.js';
import { SqsMessageSource } from '../../src/queue/sqs-source.js';
import type { ReceivedMessage } from '../../src/queue/types.js';
import { utcDay } from '../../src/state/counters.js';
import {
  captureStdout,
  context,
  emfMetrics,
  EXAMPLE_EVENTS,
  EXAMPLE_LINES,
  sqsEvent,
  sqsRecord,
  testRuntime,
} from './helpers.js';

function setup(env: Record<string, string> = {}) {
  const t = testRuntime({ DEFAULT_TENANT: 'queue-default', ...env });
  const handler = createIngestSqsHandler(() => t.runtime);
  const failures: MessageFailureReport[] = [];
  const unsubscribe = onMessageFailure((f) => failures.push(f));
  return { ...t, handler, failures, unsubscribe };
}

const failedIds = (response: { batchItemFailures: { itemIdentifier: string }[] }): string[] =>
  response.batchItemFailures.map((f) => f.itemIdentifier).sort();

describe('ingest-sqs handler', () => {
  it('processes NDJSON, arrays and single events, one message each, with the tenant attribute', async () => {
    const { handler, sink, unsubscribe } = setup();
    const response = await handler(
      sqsEvent(
        sqsRecord('m-ndjson', EXAMPLE_LINES.slice(0, 4).join('\n'), 'tenant-q'),
        sqsRecord('m-array', JSON.stringify([JSON.parse(EXAMPLE_LINES[4] as string)]), 'tenant-q'),
        sqsRecord('m-default', EXAMPLE_LINES[4] as string),
      ),
      context('ingest-sqs'),
    );
    unsubscribe();
    expect(response.batchItemFailures).toEqual([]);
    const alerts = await sink.drain();
    expect(
      alerts
        .filter((a) => a.tenant === 'tenant-q')
        .map((a) => a.ruleId)
        .sort(),
    ).toEqual([
      'credential-file-read',
      'outbound-unusual-port',
      'web-server-spawns-shell',
      'web-shell-then-callback',
      'word-launches-powershell',
    ]);
    expect(alerts.filter((a) => a.tenant === 'queue-default').map((a) => a.ruleId)).toEqual([
      'word-launches-powershell',
    ]);
  });

  it("runs an invocation's messages as one engine batch: the same alerts as one message at a time, fewer state calls (#18)", async () => {
    const records = EXAMPLE_LINES.map((line, i) => sqsRecord(`m-${i}`, line, 'tenant-b'));
    const together = setup();
    expect((await together.handler(sqsEvent(...records), context('ingest-sqs'))).batchItemFailures).toEqual([]);
    const apart = setup();
    for (const record of records)
      expect((await apart.handler(sqsEvent(record), context('ingest-sqs'))).batchItemFailures).toEqual([]);
    together.unsubscribe();
    apart.unsubscribe();
    const ruleIds = async (t: typeof together): Promise<string[]> =>
      (await t.sink.drain()).map((a) => String(a.ruleId)).sort();
    expect(await ruleIds(together)).toEqual(await ruleIds(apart));
    // web-1's sequence spans messages 0 and 3: one batch reads and writes its group item once.
    expect(together.store.stats.writes).toBeLessThan(apart.store.stats.writes);
    expect(together.store.stats.reads).toBeLessThanOrEqual(apart.store.stats.reads);
  });

  it('fails only the poison message, with its reason logged by message id and never its body', async () => {
    const { handler, sink, failures, unsubscribe } = setup();
    const { result, output, lines } = await captureStdout(() =>
      handler(
        sqsEvent(
          sqsRecord('m-good', EXAMPLE_LINES[4] as string),
          sqsRecord('m-poison', 'poison-payload {not json', undefined, 2),
        ),
        context('ingest-sqs'),
      ),
    );
    unsubscribe();
    expect(failedIds(result)).toEqual(['m-poison']);
    expect(failures).toEqual([
      {
        messageId: 'm-poison',
        code: 'malformed',
        reason: 'no event in the message could be read (invalid-json x1)',
        receiveCount: 2,
      },
    ]);
    const logged = lines.find((l) => l.message === 'message failed; it will be retried, then dead-lettered');
    expect(logged).toMatchObject({ messageId: 'm-poison', code: 'malformed', receiveCount: 2 });
    expect(output).not.toContain('poison-payload');
    expect((await sink.drain()).map((a) => a.ruleId)).toEqual(['word-launches-powershell']);
  });

  it('fails a message whose events are all unrecognised, but not one with some good events', async () => {
    const { handler, unsubscribe, failures } = setup();
    const response = await handler(
      sqsEvent(
        sqsRecord('m-bad', '{"foo": 1}\n{"bar": 2}'),
        sqsRecord('m-mixed', `{"foo": 1}\n${EXAMPLE_LINES[4]}`),
        sqsRecord('m-empty', '  '),
      ),
      context(),
    );
    unsubscribe();
    expect(failedIds(response)).toEqual(['m-bad', 'm-empty']);
    expect(failures.find((f) => f.messageId === 'm-bad')?.reason).toBe(
      'no event in the message could be read (unrecognised-format x2)',
    );
  });

  it('fails a message with an invalid tenant attribute', async () => {
    const { handler, unsubscribe, failures } = setup();
    const response = await handler(
      sqsEvent(sqsRecord('m-tenant', EXAMPLE_LINES[4] as string, 'bad\u0000tenant')),
      context(),
    );
    unsubscribe();
    expect(failedIds(response)).toEqual(['m-tenant']);
    expect(failures[0]?.code).toBe('invalid-tenant');
  });

  it('fails messages whose alerts were not delivered; the redelivered batch sends them once, good messages are not redone', async () => {
    const { handler, sink, unsubscribe, failures } = setup();
    const quiet = sqsRecord(
      'm-quiet',
      JSON.stringify({
        process_name: 'ls',
        parent_process_name: 'bash',
        host: 'h',
        timestamp: '2026-01-01T10:00:00Z',
        event_id: 'q-1',
      }),
    );
    const loud = sqsRecord('m-loud', EXAMPLE_EVENTS, 'tenant-q');
    sink.failing = true;
    const first = await handler(sqsEvent(quiet, loud), context());
    expect(failedIds(first)).toEqual(['m-loud']);
    expect(failures.map((f) => f.code)).toEqual(['alerts-undelivered']);
    sink.failing = false;
    // The event source mapping redelivers only the failed message.
    const second = await handler(
      sqsEvent({ ...loud, attributes: { ...loud.attributes, ApproximateReceiveCount: '2' } }),
      context(),
    );
    expect(second.batchItemFailures).toEqual([]);
    // And a duplicate delivery of the whole batch (SQS is at-least-once) adds nothing.
    const third = await handler(sqsEvent(quiet, loud), context());
    expect(third.batchItemFailures).toEqual([]);
    unsubscribe();
    const alerts = await sink.drain();
    const ids = alerts.map((a) => a.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(alerts.map((a) => a.ruleId).sort()).toEqual([
      'credential-file-read',
      'outbound-unusual-port',
      'web-server-spawns-shell',
      'web-shell-then-callback',
      'word-launches-powershell',
    ]);
  });

  it('fails a message when the state store throws, and reports it as a failure, not a crash', async () => {
    const t = testRuntime(
      {},
      {
        store: {
          getMany: () => Promise.reject(new Error('unavailable')),
          put: () => Promise.reject(new Error('unavailable')),
          delete: () => Promise.reject(new Error('unavailable')),
        } as never,
      },
    );
    const handler = createIngestSqsHandler(() => t.runtime);
    const failures: MessageFailureReport[] = [];
    const unsubscribe = onMessageFailure((f) => failures.push(f));
    const response = await handler(sqsEvent(sqsRecord('m-1', EXAMPLE_LINES[0] as string)), context());
    unsubscribe();
    expect(failedIds(response)).toEqual(['m-1']);
    expect(failures[0]).toMatchObject({ code: 'error', reason: 'processing failed: Error' });
  });
});

describe('ingest-sqs handler with the alert queue on fauxqs (#11.2)', () => {
  let sqs: RunningSqs;
  let queues = 0;
  beforeAll(async () => {
    sqs = await startSqs();
  });
  afterAll(async () => {
    await sqs?.stop();
  });

  /** A runtime sending alerts to a fresh standard queue (no FIFO deduplication to hide a duplicate). */
  async function fauxqsSetup() {
    const queueUrl = await ensureQueue(sqs.client, `alerts-exactly-once-${++queues}`);
    const sink = new SqsMessageSink({ client: sqs.client, queueUrl, retry: { sleep: async () => {} } });
    const start = Date.now();
    const t = testRuntime({ DEFAULT_TENANT: 'queue-default' }, { sink, now: () => start });
    const handler = createIngestSqsHandler(() => t.runtime);
    const source = new SqsMessageSource({ client: sqs.client, queueUrl });
    const drain = async (): Promise<ReceivedMessage[]> => {
      const all: ReceivedMessage[] = [];
      for (let batch = await source.receive(10, 0); batch.length > 0; batch = await source.receive(10, 0)) {
        all.push(...batch);
        await source.ack(batch);
      }
      return all;
    };
    const counters = async (): Promise<unknown> =>
      t.counters.read(
        'tenant-q',
        t.runtime.rules.map((r) => r.id),
        [utcDay(start)],
      );
    return { ...t, handler, drain, counters };
  }

  it('a message delivered again raises no new alert and leaves the counters as they were', async () => {
    const { handler, drain, counters } = await fauxqsSetup();
    const message = sqsRecord('m-all', EXAMPLE_EVENTS, 'tenant-q');
    expect((await handler(sqsEvent(message), context())).batchItemFailures).toEqual([]);
    const first = await drain();
    const afterFirst = await counters();
    expect(first.map((m) => (JSON.parse(m.body) as { ruleId: string }).ruleId).sort()).toEqual([
      'credential-file-read',
      'outbound-unusual-port',
      'web-server-spawns-shell',
      'web-shell-then-callback',
      'word-launches-powershell',
    ]);

    // SQS is at least once: the same message again, later, and again in one batch with itself.
    const again = { ...message, attributes: { ...message.attributes, ApproximateReceiveCount: '2' } };
    expect((await handler(sqsEvent(again), context())).batchItemFailures).toEqual([]);
    expect(
      (await handler(sqsEvent(again, { ...again, messageId: 'm-all-copy' }), context())).batchItemFailures,
    ).toEqual([]);
    expect(await drain()).toEqual([]);
    expect(await counters()).toEqual(afterFirst);
  });
  it('the source message attribute names the mapping of the events, beating detection (#13.4)', async () => {
    // Flat key-value fields beside an @timestamp: detection keeps flat away from it and ecs sees one mark only.
    const body = JSON.stringify({
      '@timestamp': '2026-01-01T10:00:00Z',
      event_type: 'process_create',
      process_name: 'bash',
      parent_process_name: 'nginx',
      host: 'web-1',
      event_id: 'src-1',
    });
    const withSource = (messageId: string, source: string): SQSRecord => {
      const record = sqsRecord(messageId, body, 'tenant-q');
      return {
        ...record,
        messageAttributes: { ...record.messageAttributes, source: { dataType: 'String', stringValue: source } },
      };
    };
    const { handler, drain } = await fauxqsSetup();
    const failures: MessageFailureReport[] = [];
    const unsubscribe = onMessageFailure((f) => failures.push(f));
    const response = await handler(
      sqsEvent(sqsRecord('m-detected', body, 'tenant-q'), withSource('m-flat', 'flat'), withSource('m-typo', 'flta')),
      context(),
    );
    unsubscribe();
    expect(failedIds(response)).toEqual(['m-detected', 'm-typo']);
    expect(failures.map((f) => [f.messageId, f.code])).toEqual([
      ['m-detected', 'malformed'],
      ['m-typo', 'unknown-source'],
    ]);
    expect(failures[1]?.reason).toMatch(/^source "flta" names no mapping \(known: stix, windows, .*\bflat\)$/);
    const alerts = (await drain()).map((m) => JSON.parse(m.body) as { ruleId: string; sourceEventIds: string[] });
    expect(alerts.map((a) => [a.ruleId, a.sourceEventIds])).toEqual([['web-server-spawns-shell', ['src-1']]]);
  });
  it('an alert the alert queue refuses as too large fails nothing: the message is not retried, the error names the alert (#11.17)', async () => {
    // A queue taking at most 1 KiB per message: no alert document fits.
    const { QueueUrl } = await sqs.client.send(
      new CreateQueueCommand({ QueueName: `alerts-tiny-${++queues}`, Attributes: { MaximumMessageSize: '1024' } }),
    );
    const sink = new SqsMessageSink({ client: sqs.client, queueUrl: QueueUrl!, retry: { sleep: async () => {} } });
    const t = testRuntime({}, { sink });
    const handler = createIngestSqsHandler(() => t.runtime);
    const failures: MessageFailureReport[] = [];
    const unsubscribe = onMessageFailure((f) => failures.push(f));
    const { result, lines } = await captureStdout(() =>
      handler(sqsEvent(sqsRecord('m-big', EXAMPLE_LINES[4] as string, 'tenant-q')), context()),
    );
    unsubscribe();
    // It used to fail as alerts-undelivered on every receive, then go to the dead-letter queue.
    expect(result.batchItemFailures).toEqual([]);
    expect(failures).toEqual([]);
    expect(emfMetrics(lines)).toMatchObject({ AlertsUndelivered: 0, PipelineErrors: 1 });
    // The pipeline's own report, as the runtime sees it.
    const again = await t.runtime.ingestText(EXAMPLE_LINES[0] as string, 'tenant-q');
    expect(again.undelivered).toEqual([]);
    expect(again.result?.errors).toEqual([
      expect.objectContaining({
        code: 'alert-undeliverable',
        ruleId: 'web-server-spawns-shell',
        message: expect.stringMatching(
          /^alert alert--\S+ of rule web-server-spawns-shell cannot be delivered and is not retried: refused by the alert queue: .*shorter than 1024 bytes/,
        ),
      }),
    ]);
  });
});

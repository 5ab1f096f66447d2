/**
 * Handlers watch the time left (#18): close to the timeout they take no new message, chunk or
 * object batch, and report the rest as failures to retry, instead of being killed mid-batch. The
 * context's clock is scripted: each call of getRemainingTimeInMillis returns the next reading.
 */
import type { Context, KinesisStreamRecord } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { Deadline, DeadlineReached, MIN_DEADLINE_MARGIN_MS } from '../../functions/deadline.js';
import { createIngestKinesisHandler } from '../../functions/ingest-kinesis.js';
import { createIngestSqsHandler } from '../../functions/ingest-sqs.js';
import { metrics } from '../../functions/runtime.js';
import { captureStdout, context, EXAMPLE_LINES, emfMetrics, sqsEvent, sqsRecord, testRuntime } from './helpers.js';

/** A context whose remaining time follows the readings given, then stays at the last. */
function scriptedContext(readings: number[]): Context {
  let call = 0;
  return { ...context(), getRemainingTimeInMillis: () => readings[Math.min(call++, readings.length - 1)] as number };
}

describe('Deadline', () => {
  it('keeps a fifth of the starting time as the margin (at least 2 s), or DEADLINE_MARGIN_MS', () => {
    expect(Deadline.of(scriptedContext([30_000]), {}).marginMs).toBe(6_000);
    expect(Deadline.of(scriptedContext([3_000]), {}).marginMs).toBe(MIN_DEADLINE_MARGIN_MS);
    expect(Deadline.of(scriptedContext([30_000]), { DEADLINE_MARGIN_MS: '9000' }).marginMs).toBe(9_000);
    const deadline = Deadline.of(scriptedContext([30_000, 7_000, 5_999]), {});
    expect(deadline.near()).toBe(false);
    expect(() => deadline.check('message m-1')).toThrow(DeadlineReached);
    expect(deadline.deferred).toBe(1);
    metrics.clearMetrics(); // counted outside a handler: not for the next test's flush
    // A direct call without a context has no deadline.
    expect(Deadline.of(undefined, {}).near()).toBe(false);
  });
});

describe('ingest-sqs near the timeout', () => {
  it('starts no engine batch once the margin is reached: its messages are batch item failures, retried whole', async () => {
    const { runtime } = testRuntime();
    const batched = vi.spyOn(runtime, 'ingestTexts');
    const alone = vi.spyOn(runtime, 'ingestText');
    const handler = createIngestSqsHandler(() => runtime);
    const event = sqsEvent(
      sqsRecord('m-1', EXAMPLE_LINES[0] as string, 'acme'),
      sqsRecord('m-2', EXAMPLE_LINES[1] as string, 'acme'),
      sqsRecord('m-3', EXAMPLE_LINES[2] as string, 'acme'),
    );
    // Start: 10 s (margin 2 s); the batch would start with 1.5 s left.
    const { result, lines } = await captureStdout(() => handler(event, scriptedContext([10_000, 1_500])));
    expect(result.batchItemFailures).toEqual([
      { itemIdentifier: 'm-1' },
      { itemIdentifier: 'm-2' },
      { itemIdentifier: 'm-3' },
    ]);
    expect(batched).not.toHaveBeenCalled();
    expect(alone).not.toHaveBeenCalled();
    // Deferred, not failed: the ingest-failure alarm does not see them.
    const published = emfMetrics(lines);
    expect(published.Deferred).toBe(3);
    expect(published.MessagesFailed ?? 0).toBe(0);

    // The retry, in a fresh invocation, runs them as one batch.
    const retry = await captureStdout(() => handler(sqsEvent(...event.Records), context()));
    expect(retry.result.batchItemFailures).toEqual([]);
    expect(batched).toHaveBeenCalledTimes(1);
  });
});

describe('ingest-kinesis near the timeout', () => {
  const record = (seq: string, stream: string, line: string): KinesisStreamRecord => ({
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: 'host-1',
      sequenceNumber: seq,
      data: Buffer.from(line).toString('base64'),
      approximateArrivalTimestamp: 0,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `shardId-000000000000:${seq}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/x',
    awsRegion: 'us-east-1',
    eventSourceARN: `arn:aws:kinesis:us-east-1:123456789012:stream/${stream}`,
  });

  it('checkpoints before the first chunk not started: it and every later record are failures', async () => {
    const { runtime } = testRuntime();
    const ingest = vi.spyOn(runtime, 'ingest');
    const handler = createIngestKinesisHandler(
      () => runtime,
      () => [],
    );
    // Each change of stream starts a chunk: three chunks.
    const records = [
      record('1', 'a', EXAMPLE_LINES[0] as string),
      record('2', 'b', EXAMPLE_LINES[1] as string),
      record('3', 'a', EXAMPLE_LINES[2] as string),
    ];
    const { result, lines } = await captureStdout(() =>
      handler({ Records: records }, scriptedContext([10_000, 8_000, 1_000])),
    );
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: '2' }, { itemIdentifier: '3' }]);
    expect(ingest).toHaveBeenCalledTimes(1);
    expect(emfMetrics(lines).Deferred).toBe(2);
  });
});

import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  type BatchResultErrorEntry,
  type DeleteMessageBatchCommandInput,
  type DeleteMessageBatchCommandOutput,
  type SendMessageBatchRequestEntry,
  type SendMessageBatchCommandInput,
  type SendMessageBatchCommandOutput,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureQueue, startSqs, type RunningSqs } from '../../src/emulators/emulators.js';
import { QueueAckError, QueueConfigError } from '../../src/queue/errors.js';
import { SqsMessageSink, fifoToken } from '../../src/queue/sqs-sink.js';
import { SqsMessageSource } from '../../src/queue/sqs-source.js';
import type { OutgoingMessage, ReceivedMessage } from '../../src/queue/types.js';

let sqs: RunningSqs;
let queueCount = 0;
beforeAll(async () => {
  sqs = await startSqs();
});
afterAll(async () => {
  await sqs?.stop();
});

const INJECTOR = 'test-send-batch-injector';
afterEach(() => {
  sqs.client.middlewareStack.remove(INJECTOR);
});

/**
 * Hooks one command on the real client: `hook` may rewrite the input that reaches fauxqs and the
 * output the code under test sees, or throw. Everything else takes the real path to the emulator.
 */
function intercept<I, O>(
  client: SQSClient,
  commandName: string,
  hook: (input: I, send: (input: I) => Promise<O>) => Promise<O>,
): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== commandName) return next(args);
      let response: unknown;
      const output = await hook(args.input as I, async (input) => {
        const result = await next({ ...args, input: input as typeof args.input });
        response = result.response;
        return result.output as O;
      });
      return { output: output as Awaited<ReturnType<typeof next>>['output'], response };
    },
    { step: 'initialize', name: INJECTOR },
  );
}

function interceptSendBatch(
  client: SQSClient,
  hook: (
    input: SendMessageBatchCommandInput,
    send: (input: SendMessageBatchCommandInput) => Promise<SendMessageBatchCommandOutput>,
  ) => Promise<SendMessageBatchCommandOutput>,
): void {
  intercept(client, 'SendMessageBatchCommand', hook);
}

/** Sends only the entries not held back (skipping the call when none are left), as a partial SQS success. */
async function sendExcept(
  input: SendMessageBatchCommandInput,
  send: (input: SendMessageBatchCommandInput) => Promise<SendMessageBatchCommandOutput>,
  held: SendMessageBatchRequestEntry[],
): Promise<SendMessageBatchCommandOutput> {
  const rest = (input.Entries ?? []).filter((e) => !held.includes(e));
  const output =
    rest.length > 0 ? await send({ ...input, Entries: rest }) : { Successful: [], Failed: [], $metadata: {} };
  output.Failed = [
    ...(output.Failed ?? []),
    ...held.map((e) => ({ Id: e.Id!, SenderFault: false, Code: 'ThrottlingException', Message: 'Rate exceeded' })),
  ];
  return output;
}

async function newQueue(fifo = false, visibilityTimeoutSeconds?: number): Promise<string> {
  const name = `alerts-${++queueCount}${fifo ? '.fifo' : ''}`;
  return ensureQueue(sqs.client, name, { fifo, visibilityTimeoutSeconds });
}

/** Receives until `count` messages arrived or a receive comes back empty. */
async function drain(source: SqsMessageSource, count: number): Promise<ReceivedMessage[]> {
  const all: ReceivedMessage[] = [];
  while (all.length < count) {
    const batch = await source.receive(10, 1);
    if (batch.length === 0) break;
    all.push(...batch);
  }
  return all;
}

async function queueDepth(queueUrl: string): Promise<number> {
  const { Attributes } = await sqs.client.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible);
}

const noSleep = { sleep: async () => {} };
const alerts = (n: number, prefix = 'alert'): OutgoingMessage[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}--${i}`,
    body: JSON.stringify({ id: `${prefix}--${i}`, n: i }),
  }));

describe('SqsMessageSink on fauxqs', () => {
  it('splits more than 10 messages into batches of at most 10 and delivers them all', async () => {
    const queueUrl = await newQueue();
    const batchSizes: number[] = [];
    interceptSendBatch(sqs.client, (input, send) => {
      batchSizes.push(input.Entries?.length ?? 0);
      return send(input);
    });
    const sink = new SqsMessageSink({ client: sqs.client, queueUrl, concurrency: 1 });
    const result = await sink.send(alerts(25));
    expect(batchSizes).toEqual([10, 10, 5]);
    expect(result.failed).toEqual([]);
    expect(result.sent.sort()).toEqual(
      alerts(25)
        .map((a) => a.id)
        .sort(),
    );
    const received = await drain(new SqsMessageSource({ client: sqs.client, queueUrl }), 25);
    expect(received.map((m) => m.body).sort()).toEqual(
      alerts(25)
        .map((a) => a.body)
        .sort(),
    );
  });

  it('splits batches so their bodies stay within 256 KiB', async () => {
    const queueUrl = await newQueue();
    const batchBytes: number[] = [];
    interceptSendBatch(sqs.client, (input, send) => {
      batchBytes.push((input.Entries ?? []).reduce((n, e) => n + Buffer.byteLength(e.MessageBody ?? ''), 0));
      return send(input);
    });
    const sink = new SqsMessageSink({ client: sqs.client, queueUrl, concurrency: 1 });
    const big = Array.from({ length: 5 }, (_, i) => ({ id: `big-${i}`, body: String(i).repeat(100 * 1024) }));
    const result = await sink.send(big);
    expect(result.sent).toHaveLength(5);
    expect(batchBytes).toEqual([200 * 1024, 200 * 1024, 100 * 1024]);
  });

  it('reports a message over the queue limit as a permanent failure, naming the alert, without sending it (#11.17)', async () => {
    const queueUrl = await newQueue();
    let calls = 0;
    interceptSendBatch(sqs.client, (input, send) => {
      calls += 1;
      return send(input);
    });
    const sink = new SqsMessageSink({ client: sqs.client, queueUrl });
    const result = await sink.send([{ id: 'alert--huge', body: 'x'.repeat(256 * 1024 + 1) }, ...alerts(1)]);
    // Permanent (it used to be a plain failure, retried with its input forever).
    expect(result.failed).toEqual([
      { id: 'alert--huge', reason: expect.stringContaining('message-too-large'), permanent: true },
    ]);
    expect(result.failed[0]!.reason).toContain(`alert alert--huge is ${256 * 1024 + 1} bytes`);
    expect(result.failed[0]!.reason).toContain(`at most ${256 * 1024} bytes`);
    expect(result.sent).toEqual(['alert--0']);
    expect(calls).toBe(1);
  });

  it('sends a message over the batch cap but within the configured queue limit in a batch of its own', async () => {
    // fauxqs queues take 1 MiB messages by default, as SQS queues may since 2025.
    const queueUrl = await newQueue();
    const batchSizes: number[] = [];
    interceptSendBatch(sqs.client, (input, send) => {
      batchSizes.push(input.Entries?.length ?? 0);
      return send(input);
    });
    const sink = new SqsMessageSink({ client: sqs.client, queueUrl, concurrency: 1, maxMessageBytes: 512 * 1024 });
    const big = { id: 'alert--big', body: 'y'.repeat(300 * 1024) };
    const result = await sink.send([...alerts(2), big, ...alerts(2, 'after')]);
    expect(result.failed).toEqual([]);
    expect(batchSizes).toEqual([2, 1, 2]);
    const received = await drain(new SqsMessageSource({ client: sqs.client, queueUrl }), 5);
    expect(received.map((m) => m.body.length).sort((a, b) => b - a)[0]).toBe(300 * 1024);
  });

  it('classifies a message the queue itself refuses as too large (its MaximumMessageSize) as permanent, without retrying it', async () => {
    const { QueueUrl } = await sqs.client.send(
      new CreateQueueCommand({ QueueName: `alerts-small-${++queueCount}`, Attributes: { MaximumMessageSize: '2048' } }),
    );
    let calls = 0;
    interceptSendBatch(sqs.client, (input, send) => {
      calls += 1;
      return send(input);
    });
    const sink = new SqsMessageSink({ client: sqs.client, queueUrl: QueueUrl!, retry: noSleep });
    const result = await sink.send([{ id: 'alert--wide', body: 'z'.repeat(3000) }, ...alerts(2)]);
    expect(result.failed).toEqual([
      {
        id: 'alert--wide',
        reason: expect.stringMatching(/refused by the alert queue: InvalidParameterValue.*shorter than 2048 bytes/),
        permanent: true,
      },
    ]);
    expect(result.sent.sort()).toEqual(['alert--0', 'alert--1']);
    expect(calls).toBe(1);
  });

  it('delivers an alert id once on a FIFO queue, however often it is sent', async () => {
    const queueUrl = await newQueue(true);
    const sink = new SqsMessageSink({ client: sqs.client, queueUrl });
    const first = await sink.send([
      { id: 'alert--dup', body: 'first' },
      { id: 'alert--dup', body: 'same id, same batch' },
      { id: 'alert--other', body: 'other' },
    ]);
    const second = await sink.send([{ id: 'alert--dup', body: 'same id, later call' }]);
    expect(first.failed).toEqual([]);
    expect(second).toEqual({ sent: ['alert--dup'], failed: [] });
    const received = await drain(new SqsMessageSource({ client: sqs.client, queueUrl }), 3);
    expect(received.map((m) => m.body).sort()).toEqual(['first', 'other']);
    const dup = received.find((m) => m.body === 'first')!;
    expect(dup.attributes.MessageDeduplicationId).toBe('alert--dup');
    expect(dup.attributes.MessageGroupId).toBe('alert--dup');
  });

  it('deduplicates FIFO ids that SQS cannot take verbatim by a stable digest, and honours groupId', async () => {
    const queueUrl = await newQueue(true);
    const sink = new SqsMessageSink({ client: sqs.client, queueUrl });
    const longId = `alert--${'é'.repeat(200)}`;
    await sink.send([{ id: longId, body: 'one', groupId: 'host-a' }]);
    await sink.send([{ id: longId, body: 'two', groupId: 'host-a' }]);
    const received = await drain(new SqsMessageSource({ client: sqs.client, queueUrl }), 2);
    expect(received.map((m) => m.body)).toEqual(['one']);
    expect(received[0]!.attributes.MessageDeduplicationId).toBe(fifoToken(longId));
    expect(fifoToken(longId)).toMatch(/^sha256-[0-9a-f]{64}$/);
    expect(received[0]!.attributes.MessageGroupId).toBe('host-a');
    // A space is not allowed in a group id, so such a group is digested too (still one stable group).
    expect(fifoToken('host a')).toBe(fifoToken('host a'));
    expect(fifoToken('host a')).toMatch(/^sha256-/);
  });

  it('retries entries SQS throttles, with backoff, until they all arrive', async () => {
    const queueUrl = await newQueue();
    const throttledOnce = new Set<string>();
    const delays: number[] = [];
    let calls = 0;
    interceptSendBatch(sqs.client, async (input, send) => {
      calls += 1;
      // Throttle every third message body the first time it is seen; let the rest through.
      const throttled = (input.Entries ?? []).filter(
        (e) => Number(JSON.parse(e.MessageBody!).n) % 3 === 0 && !throttledOnce.has(e.MessageBody!),
      );
      throttled.forEach((e) => throttledOnce.add(e.MessageBody!));
      return sendExcept(input, send, throttled);
    });
    const sink = new SqsMessageSink({
      client: sqs.client,
      queueUrl,
      concurrency: 1,
      retry: { sleep: async (ms) => void delays.push(ms), random: () => 0.5, baseDelayMs: 100 },
    });
    const result = await sink.send(alerts(20));
    expect(result.failed).toEqual([]);
    expect(result.sent).toHaveLength(20);
    expect(throttledOnce.size).toBe(7); // n = 0, 3, ..., 18
    expect(calls).toBe(4); // two batches, each retried once
    expect(delays).toEqual([50, 50]); // half of the 100 ms first-retry ceiling
    const received = await drain(new SqsMessageSource({ client: sqs.client, queueUrl }), 20);
    expect(received.map((m) => m.body).sort()).toEqual(
      alerts(20)
        .map((a) => a.body)
        .sort(),
    );
  });

  it('retries a whole call that failed with a server error', async () => {
    const queueUrl = await newQueue();
    let failures = 2;
    interceptSendBatch(sqs.client, async (input, send) => {
      if (failures-- > 0) {
        throw Object.assign(new Error('service unavailable'), {
          name: 'ServiceUnavailable',
          $fault: 'server',
          $metadata: { httpStatusCode: 503 },
        });
      }
      return send(input);
    });
    const sink = new SqsMessageSink({ client: sqs.client, queueUrl, retry: noSleep });
    expect(await sink.send(alerts(3))).toMatchObject({ failed: [] });
    expect(await drain(new SqsMessageSource({ client: sqs.client, queueUrl }), 3)).toHaveLength(3);
  });

  it('reports entries still throttled after maxAttempts as failed', async () => {
    // The sink sends batches of alerts 0-2; alert 1 is throttled on every attempt.
    const queueUrl = await newQueue();
    let calls = 0;
    interceptSendBatch(sqs.client, async (input, send) => {
      calls += 1;
      return sendExcept(
        input,
        send,
        (input.Entries ?? []).filter((e) => e.MessageBody!.includes('"n":1')),
      );
    });
    const sink = new SqsMessageSink({ client: sqs.client, queueUrl, retry: { ...noSleep, maxAttempts: 3 } });
    const result = await sink.send(alerts(3));
    expect(result.sent.sort()).toEqual(['alert--0', 'alert--2']);
    expect(result.failed).toEqual([
      { id: 'alert--1', reason: expect.stringMatching(/ThrottlingException.*after 3 attempts/) },
    ]);
    // Transient: a retry of the input may succeed.
    expect(result.failed[0]!.permanent).toBeUndefined();
    expect(calls).toBe(3);
  });

  it('reports a permanent (sender-fault) failure without retrying it', async () => {
    const queueUrl = await newQueue();
    let calls = 0;
    interceptSendBatch(sqs.client, (input, send) => {
      calls += 1;
      return send(input);
    });
    const sink = new SqsMessageSink({ client: sqs.client, queueUrl, retry: noSleep });
    // U+0000 is not allowed in an SQS message body; fauxqs refuses that entry as the sender's fault.
    const result = await sink.send([{ id: 'bad', body: 'nul \u0000 inside' }, ...alerts(2)]);
    expect(result.failed).toEqual([
      { id: 'bad', reason: expect.stringContaining('InvalidMessageContents'), permanent: true },
    ]);
    expect(result.sent.sort()).toEqual(['alert--0', 'alert--1']);
    expect(calls).toBe(1);
  });

  it('reports every message as failed when the queue does not exist', async () => {
    const queueUrl = (await newQueue()).replace(/alerts-\d+$/, 'missing-queue');
    const sink = new SqsMessageSink({ client: sqs.client, queueUrl, retry: noSleep });
    const result = await sink.send(alerts(2));
    expect(result.sent).toEqual([]);
    expect(result.failed.map((f) => f.id)).toEqual(['alert--0', 'alert--1']);
    expect(result.failed[0]!.reason).toMatch(/QueueDoesNotExist|NonExistentQueue/);
    // A configuration problem, fixable: not permanent, so the input is retried (then dead-lettered).
    expect(result.failed.map((f) => f.permanent)).toEqual([undefined, undefined]);
  });

  it('sends nothing for an empty list', async () => {
    let calls = 0;
    interceptSendBatch(sqs.client, (input, send) => {
      calls += 1;
      return send(input);
    });
    const sink = new SqsMessageSink({ client: sqs.client, queueUrl: await newQueue() });
    expect(await sink.send([])).toEqual({ sent: [], failed: [] });
    expect(calls).toBe(0);
  });
});

describe('SqsMessageSource on fauxqs', () => {
  it('round-trips receive and ack, and redelivers what was not acked', async () => {
    const queueUrl = await newQueue(false, 1);
    await new SqsMessageSink({ client: sqs.client, queueUrl }).send(alerts(15));
    const source = new SqsMessageSource({ client: sqs.client, queueUrl });
    const received = await source.receive(15, 1);
    expect(received).toHaveLength(15);
    expect(received[0]!.attributes.ApproximateReceiveCount).toBe('1');
    const [keep, ...done] = received;
    await source.ack(done);
    expect(await queueDepth(queueUrl)).toBe(1);
    // The unacknowledged message comes back after its 1 s visibility timeout.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const again = await source.receive(10, 2);
    expect(again.map((m) => m.body)).toEqual([keep!.body]);
    expect(again[0]!.attributes.ApproximateReceiveCount).toBe('2');
    await source.ack(again);
    expect(await queueDepth(queueUrl)).toBe(0);
    expect(await source.receive(10, 0)).toEqual([]);
  });

  it('retries transiently failed acks and reports permanent ones as QueueAckError', async () => {
    const queueUrl = await newQueue();
    await new SqsMessageSink({ client: sqs.client, queueUrl }).send(alerts(3));
    const source = new SqsMessageSource({ client: sqs.client, queueUrl, retry: noSleep });
    const received = await source.receive(3, 1);
    expect(received).toHaveLength(3);
    // fauxqs accepts every delete, so the failures are injected: the first entry fails once
    // on the service side (retried), the second is refused as the sender's fault every time.
    const [flaky, refused] = received.map((m) => m.receiptHandle);
    let flakyFailed = false;
    const deleted: string[] = [];
    intercept<DeleteMessageBatchCommandInput, DeleteMessageBatchCommandOutput>(
      sqs.client,
      'DeleteMessageBatchCommand',
      async (input, send) => {
        const failed: BatchResultErrorEntry[] = [];
        const rest = (input.Entries ?? []).filter((e) => {
          if (e.ReceiptHandle === refused)
            failed.push({ Id: e.Id!, SenderFault: true, Code: 'ReceiptHandleIsInvalid', Message: 'invalid' });
          else if (e.ReceiptHandle === flaky && !flakyFailed) {
            flakyFailed = true;
            failed.push({ Id: e.Id!, SenderFault: false, Code: 'InternalError', Message: 'try again' });
          } else return true;
          return false;
        });
        deleted.push(...rest.map((e) => e.ReceiptHandle!));
        const output =
          rest.length > 0 ? await send({ ...input, Entries: rest }) : { Successful: [], Failed: [], $metadata: {} };
        output.Failed = [...(output.Failed ?? []), ...failed];
        return output;
      },
    );
    const error = await source.ack(received).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(QueueAckError);
    expect((error as QueueAckError).failed).toEqual([
      { messageId: received[1]!.messageId, reason: expect.stringContaining('ReceiptHandleIsInvalid') },
    ]);
    expect(deleted.sort()).toEqual([received[0]!.receiptHandle, received[2]!.receiptHandle].sort());
    expect(await queueDepth(queueUrl)).toBe(1);
  });

  it('validates receive arguments', async () => {
    const source = new SqsMessageSource({ client: sqs.client, queueUrl: await newQueue() });
    await expect(source.receive(0, 0)).rejects.toThrow(QueueConfigError);
    await expect(source.receive(1, 21)).rejects.toThrow(QueueConfigError);
  });
});

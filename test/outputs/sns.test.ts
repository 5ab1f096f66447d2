/**
 * The SNS output against fauxqs (an in-process SNS and SQS emulator) on loopback: topics with SQS subscriptions,
 * standard and FIFO; a recording proxy in front of it shows each PublishBatch request as SNS receives it.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverAlerts, deliverBatchTo } from '../../src/outputs/deliver.js';
import { snsBatches, snsEntryBytes, SNS_MAX_REQUEST_BYTES } from '../../src/outputs/sns.js';
import type { AlertDocument } from '../../src/outputs/types.js';
import { alertId, sampleAlert, TEST_CREDENTIALS, testDelivery } from './fixtures.js';

const REGION = 'us-east-1';
let app: ReturnType<typeof buildApp>;
let proxy: Server;
let proxyEndpoint: string;
const publishRequests: URLSearchParams[] = [];
let sns: SNSClient;
let sqs: SQSClient;
const topics: Record<string, string> = {};
const queues: Record<string, string> = {};

beforeAll(async () => {
  app = buildApp({ logger: false, defaultRegion: REGION });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const target = new URL(address);
  // Records each request body on its way to fauxqs.
  proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const form = new URLSearchParams(body.toString('utf8'));
      if (form.get('Action') === 'PublishBatch') publishRequests.push(form);
      const forward = httpRequest(
        { host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: req.headers },
        (upstream) => {
          res.writeHead(upstream.statusCode ?? 500, upstream.headers);
          upstream.pipe(res);
        },
      );
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyEndpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const endpoint = `http://127.0.0.1:${target.port}`;
  sns = new SNSClient({ endpoint, region: REGION, credentials: TEST_CREDENTIALS });
  sqs = new SQSClient({ endpoint, region: REGION, credentials: TEST_CREDENTIALS });
  for (const [name, fifo] of [
    ['alerts', false],
    ['alerts.fifo', true],
  ] as const) {
    const topic = await sns.send(new CreateTopicCommand({ Name: name, Attributes: fifo ? { FifoTopic: 'true' } : {} }));
    const queue = await sqs.send(
      new CreateQueueCommand({ QueueName: fifo ? 'sub.fifo' : 'sub', Attributes: fifo ? { FifoQueue: 'true' } : {} }),
    );
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    await sns.send(
      new SubscribeCommand({
        TopicArn: topic.TopicArn,
        Protocol: 'sqs',
        Endpoint: Attributes!.QueueArn,
        Attributes: { RawMessageDelivery: 'true' },
      }),
    );
    topics[name] = topic.TopicArn!;
    queues[name] = queue.QueueUrl!;
  }
});

afterAll(async () => {
  sns?.destroy();
  sqs?.destroy();
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
  await app.close();
});

/** Every message on a subscription queue now, each deleted once read (a FIFO group holds the next until then). */
async function drain(queue: string): Promise<{ body: AlertDocument; attributes: Record<string, string> }[]> {
  const got: { body: AlertDocument; attributes: Record<string, string> }[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queues[queue],
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
        VisibilityTimeout: 300,
      }),
    );
    if (Messages.length === 0) return got;
    for (const m of Messages) {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queues[queue], ReceiptHandle: m.ReceiptHandle }));
      got.push({
        body: JSON.parse(m.Body!) as AlertDocument,
        attributes: Object.fromEntries(
          Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? '']),
        ),
      });
    }
  }
}

const snsOutput = (topic: string) =>
  testDelivery(
    [{ name: 'topic', kind: 'sns', settings: { topicArn: topics[topic] } }],
    {},
    {
      credentials: TEST_CREDENTIALS,
      endpoints: { sns: proxyEndpoint },
    },
  );

describe('SNS output on fauxqs', () => {
  it('publishes each alert as one message with severity, rule and tenant attributes, ten at most a request', async () => {
    const options = snsOutput('alerts');
    const alerts = Array.from({ length: 23 }, (_, i) =>
      sampleAlert({ id: alertId(300 + i), tenant: i % 2 ? 'acme' : 'globex' }),
    );
    publishRequests.length = 0;
    const reports = await deliverBatchTo(options, options.outputs[0]!, alerts);
    expect(reports.every((r) => r.delivered && r.attempts === 1)).toBe(true);
    const entryCounts = publishRequests.map(
      (form) => [...form.keys()].filter((k) => /^PublishBatchRequestEntries\.member\.\d+\.Id$/.test(k)).length,
    );
    expect(entryCounts).toEqual([10, 10, 3]);
    const got = await drain('alerts');
    expect(got.map((m) => m.body.id).sort()).toEqual(alerts.map((a) => a.id).sort());
    expect(got.find((m) => m.body.id === alertId(301))!.attributes).toEqual({
      severity: 'high',
      ruleId: 'ct-create-access-key',
      tenant: 'acme',
    });
  });

  it('splits requests at 256 KiB, message bodies and attributes counted together', async () => {
    const options = snsOutput('alerts');
    // About 60 KB each: four fit in 256 KiB, a fifth does not.
    const alerts = Array.from({ length: 9 }, (_, i) =>
      sampleAlert({ id: alertId(400 + i), description: 'd'.repeat(60_000) }),
    );
    publishRequests.length = 0;
    const reports = await deliverBatchTo(options, options.outputs[0]!, alerts);
    expect(reports.every((r) => r.delivered)).toBe(true);
    const sizes = publishRequests.map((form) => {
      let bytes = 0;
      for (const [key, value] of form)
        if (
          /^PublishBatchRequestEntries\.member\.\d+\.(Message|MessageAttributes\.entry\.\d+\.(Name|Value\.DataType|Value\.StringValue))$/.test(
            key,
          )
        )
          bytes += Buffer.byteLength(value);
      return bytes;
    });
    expect(sizes).toHaveLength(3);
    expect(sizes.every((b) => b <= SNS_MAX_REQUEST_BYTES)).toBe(true);
    expect((await drain('alerts')).length).toBe(9);
    // The splitting itself: count and size limits, and an entry no request can carry set apart.
    const entry = (bytes: number, id: string) => ({ Id: id, Message: 'm'.repeat(bytes) });
    const { batches, tooLarge } = snsBatches([
      entry(100_000, 'a'),
      entry(100_000, 'b'),
      entry(100_000, 'c'),
      entry(300_000, 'big'),
      entry(10, 'd'),
    ]);
    expect(batches.map((b) => b.map((e) => e.Id))).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    expect(tooLarge.map((e) => e.Id)).toEqual(['big']);
    expect(
      snsEntryBytes({ Id: 'x', Message: 'ab', MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } } }),
    ).toBe(2 + 1 + 6 + 1);
  });

  it('deduplicates by alert id on a FIFO topic: a redelivered batch is published once', async () => {
    const options = snsOutput('alerts.fifo');
    const alerts = [1, 2, 3].map((n) => sampleAlert({ id: alertId(500 + n), tenant: 'acme' }));
    await deliverBatchTo(options, options.outputs[0]!, alerts);
    const again = await deliverBatchTo(options, options.outputs[0]!, alerts);
    expect(again.every((r) => r.delivered)).toBe(true);
    const form = publishRequests.at(-1)!;
    expect(form.get('PublishBatchRequestEntries.member.1.MessageDeduplicationId')).toBe(alertId(501));
    expect(form.get('PublishBatchRequestEntries.member.1.MessageGroupId')).toBe('acme');
    expect((await drain('alerts.fifo')).map((m) => m.body.id).sort()).toEqual(alerts.map((a) => a.id));
  });

  it('dead-letters an alert too large for any request, and a missing topic, while the rest deliver', async () => {
    const options = snsOutput('alerts');
    const big = sampleAlert({ id: alertId(600), description: 'x'.repeat(SNS_MAX_REQUEST_BYTES) });
    const small = sampleAlert({ id: alertId(601) });
    const reports = await deliverBatchTo(options, options.outputs[0]!, [big, small]);
    expect(reports.map((r) => [r.delivered, r.reason])).toEqual([
      [false, `message over ${SNS_MAX_REQUEST_BYTES} bytes`],
      [true, undefined],
    ]);
    const missing = testDelivery(
      [{ name: 'gone', kind: 'sns', settings: { topicArn: `arn:aws:sns:${REGION}:000000000000:nope` } }],
      {},
      { credentials: TEST_CREDENTIALS, endpoints: { sns: proxyEndpoint } },
    );
    const [reportsOfSmall] = await deliverAlerts(missing, [{ alert: small, outputs: ['gone'] }]);
    const gone = reportsOfSmall![0]!;
    expect(gone).toMatchObject({ delivered: false, attempts: 1 });
    expect(gone.reason).toMatch(/NotFound/);
    await drain('alerts');
  });
});

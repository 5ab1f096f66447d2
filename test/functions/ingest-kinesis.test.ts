/** The Kinesis handler on records read from a Kinesis emulator (kinesalite, in process) on loopback. */
import { gzipSync } from 'node:zlib';
import {
  CreateStreamCommand,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import kinesalite from 'kinesalite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIngestKinesisHandler, streamNameOf } from '../../functions/ingest-kinesis.js';
import { parseRoutes } from '../../src/ingest/routes.js';
import { cloudRulesDir, cloudTrailRecord } from './channel-fixtures.js';
import { context, testRuntime } from './helpers.js';

const RULES = cloudRulesDir();
const REGION = 'us-east-1';
const ACCOUNT = '444455556666';
let server: ReturnType<typeof kinesalite>;
let client: KinesisClient;

beforeAll(async () => {
  server = kinesalite({ createStreamMs: 0 });
  await new Promise<void>((resolve, reject) => server.listen(0, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  client = new KinesisClient({
    endpoint: `http://127.0.0.1:${server.address().port}`,
    region: REGION,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    // The Kinesis client speaks HTTP/2 by default; kinesalite serves HTTP/1.1.
    requestHandler: new NodeHttpHandler(),
  });
});

afterAll(async () => {
  client?.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Puts the payloads (partition key = the entity), then reads the shard as Lambda's event source mapping does. */
async function putAndRead(stream: string, payloads: { key: string; data: Buffer }[]): Promise<KinesisStreamEvent> {
  await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
  for (let i = 0; i < 50; i++) {
    const d = await client.send(new DescribeStreamCommand({ StreamName: stream }));
    if (d.StreamDescription?.StreamStatus === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const put = await client.send(
    new PutRecordsCommand({
      StreamName: stream,
      Records: payloads.map((p) => ({ PartitionKey: p.key, Data: p.data })),
    }),
  );
  expect(put.FailedRecordCount ?? 0).toBe(0);
  const description = await client.send(new DescribeStreamCommand({ StreamName: stream }));
  const shard = description.StreamDescription!.Shards![0]!.ShardId!;
  const iterator = await client.send(
    new GetShardIteratorCommand({ StreamName: stream, ShardId: shard, ShardIteratorType: 'TRIM_HORIZON' }),
  );
  const got = await client.send(new GetRecordsCommand({ ShardIterator: iterator.ShardIterator! }));
  const arn = description.StreamDescription!.StreamARN!;
  const records: KinesisStreamRecord[] = (got.Records ?? []).map((r) => ({
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: r.PartitionKey!,
      sequenceNumber: r.SequenceNumber!,
      data: Buffer.from(r.Data!).toString('base64'),
      approximateArrivalTimestamp: (r.ApproximateArrivalTimestamp ?? new Date()).getTime() / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${shard}:${r.SequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: `arn:aws:iam::${ACCOUNT}:role/stixflow-ingest-kinesis`,
    awsRegion: REGION,
    eventSourceARN: arn,
  }));
  return { Records: records };
}

const routes = parseRoutes(
  JSON.stringify([{ prefix: 'trail-stream', source: 'aws-cloudtrail', tenant: 'acme' }]),
  () => true,
);

describe('ingest-kinesis handler', () => {
  it('runs records from the stream through the pipeline with the stream route, gzip and NDJSON records alike', async () => {
    const t = testRuntime({ RULES_DIR: RULES });
    const handler = createIngestKinesisHandler(
      () => t.runtime,
      () => routes,
    );
    const event = await putAndRead('trail-stream', [
      { key: 'ops-bot', data: Buffer.from(JSON.stringify(cloudTrailRecord(0))) },
      { key: 'ops-bot', data: gzipSync(JSON.stringify(cloudTrailRecord(10))) },
      { key: 'ops-bot', data: Buffer.from([1, 2, 3].map((i) => JSON.stringify(cloudTrailRecord(i))).join('\n')) },
      { key: 'someone', data: Buffer.from('not json at all') },
    ]);
    expect(event.Records).toHaveLength(4);
    expect(streamNameOf(event.Records[0]!.eventSourceARN)).toBe('trail-stream');
    const response = await handler(event, context('ingest-kinesis'));
    // The unreadable record is skipped, not retried: a retry cannot cure it.
    expect(response.batchItemFailures).toEqual([]);
    const alerts = await t.sink.drain();
    expect(alerts.map((a) => `${a.tenant}:${a.ruleId}`)).toEqual([
      'acme:ct-create-access-key',
      'acme:ct-create-access-key',
    ]);
  });

  it('reports the failed chunk and every later record, and the retry from the checkpoint alerts once', async () => {
    const t = testRuntime({ RULES_DIR: RULES });
    // More events than one chunk holds, so the batch runs in two chunks.
    const event = await putAndRead(
      'trail-stream-2',
      Array.from({ length: 12 }, (_, r) => ({
        key: `user-${r % 3}`,
        data: Buffer.from(
          Array.from({ length: 50 }, (_, i) => JSON.stringify(cloudTrailRecord(r * 50 + i))).join('\n'),
        ),
      })),
    );
    const routes2 = parseRoutes(JSON.stringify([{ prefix: 'trail-stream-2', source: 'aws-cloudtrail' }]), () => true);
    const handler2 = createIngestKinesisHandler(
      () => t.runtime,
      () => routes2,
    );
    t.sink.failing = true;
    const failed = await handler2(event, context());
    const sequence = event.Records.map((r) => r.kinesis.sequenceNumber);
    // The first chunk (10 records, 500 events) failed: it and everything after it come back.
    expect(failed.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(sequence);
    t.sink.failing = false;
    expect((await handler2(event, context())).batchItemFailures).toEqual([]);
    // Redelivered again (a timeout after success): nothing is raised twice.
    expect((await handler2(event, context())).batchItemFailures).toEqual([]);
    const ids = t.sink.sent.map((m) => m.id);
    expect(ids).toHaveLength(60);
    expect(new Set(ids).size).toBe(60);
  });
});

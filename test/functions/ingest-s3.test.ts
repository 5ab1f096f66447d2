import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createIngestS3Handler, onS3MessageFailure, type S3MessageFailure } from '../../functions/ingest-s3.js';
import { InMemoryObjectStore } from '../../src/ingest/object-store.js';
import { parseRoutes } from '../../src/ingest/routes.js';
import {
  cloudRulesDir,
  cloudTrailFile,
  cloudTrailRecord,
  s3Notification,
  VPC_FLOW_HEADER,
  vpcFlowLine,
} from './channel-fixtures.js';
import { context, sqsEvent, sqsRecord, testRuntime } from './helpers.js';

const RULES = cloudRulesDir();
const ROUTES = parseRoutes(
  JSON.stringify([
    { prefix: 'trail-bucket/AWSLogs/', source: 'aws-cloudtrail', tenant: 'acme' },
    { prefix: 'trail-bucket/AWSLogs/999900001111/', source: 'aws-cloudtrail', tenant: 'globex' },
    { prefix: 'flow-bucket/', source: 'aws-vpcflow', tenant: 'acme' },
  ]),
  () => true,
);

function setup(batchSize = 50) {
  const t = testRuntime({ RULES_DIR: RULES, DEFAULT_TENANT: 'fallback' });
  const objects = new InMemoryObjectStore(4096);
  const handler = createIngestS3Handler(
    () => t.runtime,
    () => ({ objects, routes: ROUTES, reader: { batchSize } }),
  );
  const failures: S3MessageFailure[] = [];
  const unsubscribe = onS3MessageFailure((f) => failures.push(f));
  return { ...t, objects, handler, failures, unsubscribe };
}

const ruleIdsOf = (alerts: Record<string, unknown>[]) => alerts.map((a) => `${a.tenant}:${a.ruleId}`).sort();

describe('ingest-s3 handler', () => {
  it('streams a gzip CloudTrail file and VPC flow text through the pipeline, with the tenant and source of the prefix', async () => {
    const { handler, objects, sink, unsubscribe } = setup(7);
    const trailKey =
      'AWSLogs/444455556666/CloudTrail/us-east-1/2024/06/02/444455556666_CloudTrail_us-east-1_20240602T1120Z_a b.json.gz';
    objects.put('trail-bucket', trailKey, gzipSync(cloudTrailFile(40)));
    objects.put('trail-bucket', 'AWSLogs/999900001111/CloudTrail/x.json', cloudTrailFile(1));
    objects.put(
      'flow-bucket',
      'AWSLogs/eni/flows.log.gz',
      gzipSync([VPC_FLOW_HEADER, ...[1, 2, 3, 4, 5].map((i) => vpcFlowLine(i))].join('\n')),
    );
    const response = await handler(
      sqsEvent(
        sqsRecord('m-trail', s3Notification([{ bucket: 'trail-bucket', key: trailKey }])),
        sqsRecord(
          'm-other',
          s3Notification([
            { bucket: 'trail-bucket', key: 'AWSLogs/999900001111/CloudTrail/x.json' },
            { bucket: 'flow-bucket', key: 'AWSLogs/eni/flows.log.gz' },
          ]),
        ),
      ),
      context('ingest-s3'),
    );
    unsubscribe();
    expect(response.batchItemFailures).toEqual([]);
    const alerts = await sink.drain();
    // 40 records, every tenth a CreateAccessKey: 4 alerts for acme; record 0 of the second file for globex; one flow to 22.
    expect(ruleIdsOf(alerts)).toEqual([
      ...Array(4).fill('acme:ct-create-access-key'),
      'acme:ssh-inbound',
      'globex:ct-create-access-key',
    ]);
    const keys = alerts
      .filter((a) => a.ruleId === 'ct-create-access-key' && a.tenant === 'acme')
      .flatMap((a) => a.sourceEventIds as string[]);
    expect(keys.map((k) => k.split('|')[0])).toEqual([0, 10, 20, 30].map((i) => cloudTrailRecord(i).eventID));
  });

  it("never raises an object's alerts twice when the notification is delivered again", async () => {
    const { handler, objects, sink } = setup(5);
    objects.put('trail-bucket', 'AWSLogs/a.json.gz', gzipSync(cloudTrailFile(30)));
    const message = sqsRecord('m-1', s3Notification([{ bucket: 'trail-bucket', key: 'AWSLogs/a.json.gz' }]));
    expect((await handler(sqsEvent(message), context())).batchItemFailures).toEqual([]);
    const first = sink.sent.map((m) => m.id);
    expect(first).toHaveLength(3);
    // S3 notifications are at-least-once, and an SQS message can come back after a timeout: same object, same events.
    expect((await handler(sqsEvent({ ...message, messageId: 'm-1-again' }), context())).batchItemFailures).toEqual([]);
    expect(sink.sent.map((m) => m.id)).toEqual(first);
  });

  it('retries only the failing object, and the retry delivers what the failed attempt could not, once', async () => {
    const { handler, objects, sink, failures, unsubscribe } = setup(5);
    objects.put('trail-bucket', 'AWSLogs/good.json', cloudTrailFile(20));
    objects.put('trail-bucket', 'AWSLogs/later.json', cloudTrailFile(20, 100));
    const good = sqsRecord('m-good', s3Notification([{ bucket: 'trail-bucket', key: 'AWSLogs/good.json' }]));
    const missing = sqsRecord('m-missing', s3Notification([{ bucket: 'trail-bucket', key: 'AWSLogs/deleted.json' }]));
    const response = await handler(sqsEvent(good, missing), context());
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm-missing' }]);
    expect(failures).toEqual([
      expect.objectContaining({
        messageId: 'm-missing',
        code: 'object-missing',
        object: 's3://trail-bucket/AWSLogs/deleted.json',
      }),
    ]);
    expect(sink.sent).toHaveLength(2);

    // The alert queue refuses: the message fails and nothing is settled; the retry delivers each alert once.
    const later = sqsRecord('m-later', s3Notification([{ bucket: 'trail-bucket', key: 'AWSLogs/later.json' }]));
    sink.failing = true;
    expect((await handler(sqsEvent(later), context())).batchItemFailures).toEqual([{ itemIdentifier: 'm-later' }]);
    expect(failures.at(-1)).toMatchObject({ code: 'alerts-undelivered' });
    sink.failing = false;
    expect((await handler(sqsEvent(later), context())).batchItemFailures).toEqual([]);
    expect((await handler(sqsEvent(later), context())).batchItemFailures).toEqual([]);
    unsubscribe();
    const ids = sink.sent.map((m) => m.id);
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(4);
  });

  it('skips the S3 test event, fails an unreadable object and a message that is no notification', async () => {
    const { handler, objects, failures, unsubscribe } = setup();
    objects.put('trail-bucket', 'AWSLogs/garbage.log', 'this is not a log\nnor is this\n');
    const response = await handler(
      sqsEvent(
        sqsRecord(
          'm-test',
          JSON.stringify({
            Service: 'Amazon S3',
            Event: 's3:TestEvent',
            Time: '2024-06-02T12:00:00.000Z',
            Bucket: 'trail-bucket',
          }),
        ),
        sqsRecord('m-garbage', s3Notification([{ bucket: 'trail-bucket', key: 'AWSLogs/garbage.log' }])),
        sqsRecord('m-bad', '{"hello": 1}'),
      ),
      context(),
    );
    unsubscribe();
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['m-garbage', 'm-bad']);
    expect(failures.map((f) => f.code)).toEqual(['malformed', 'malformed-notification']);
    // Reasons name codes and counts, never the content.
    expect(JSON.stringify(failures)).not.toContain('not a log');
  });

  it('gives an object outside every prefix the default tenant and detects its format', async () => {
    const { handler, objects, sink } = setup();
    objects.put(
      'other-bucket',
      'x.ndjson',
      [cloudTrailRecord(0), cloudTrailRecord(1)].map((r) => JSON.stringify(r)).join('\n'),
    );
    expect(
      (
        await handler(
          sqsEvent(sqsRecord('m', s3Notification([{ bucket: 'other-bucket', key: 'x.ndjson' }]))),
          context(),
        )
      ).batchItemFailures,
    ).toEqual([]);
    expect(ruleIdsOf(await sink.drain())).toEqual(['fallback:ct-create-access-key']);
  });
});

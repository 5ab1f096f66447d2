/** The S3 archive output against s3rver (an S3 emulator, pure JavaScript) on loopback, as the S3 ingest tests run it. */
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverAlerts, deliverBatchTo } from '../../src/outputs/deliver.js';
import { archiveKey } from '../../src/outputs/s3-archive.js';
import { alertId, S3RVER_CREDENTIALS, sampleAlert, startS3rver, testDelivery } from './fixtures.js';

let s3rver: Awaited<ReturnType<typeof startS3rver>>;
let endpoint: string;
let client: S3Client;

beforeAll(async () => {
  s3rver = await startS3rver('archive');
  endpoint = s3rver.endpoint;
  client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
});
afterAll(async () => {
  client?.destroy();
  await s3rver?.stop();
});

const archive = (bucket = 'archive') =>
  testDelivery(
    [{ name: 'archive', kind: 's3', settings: { bucket, prefix: 'alerts/' } }],
    {},
    { region: 'us-east-1', credentials: S3RVER_CREDENTIALS, endpoints: { s3: endpoint } },
  );

async function listKeys(): Promise<string[]> {
  const { Contents = [] } = await client.send(new ListObjectsV2Command({ Bucket: 'archive', Prefix: 'alerts/' }));
  return Contents.map((c) => c.Key!).sort();
}

async function readLines(key: string): Promise<Record<string, unknown>[]> {
  const object = await client.send(new GetObjectCommand({ Bucket: 'archive', Key: key }));
  const text = gunzipSync(Buffer.from(await object.Body!.transformToByteArray())).toString('utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('S3 archive output on s3rver', () => {
  it('writes gzip NDJSON objects partitioned dt=/rule=, one a partition, named by the alert ids', async () => {
    const options = archive();
    const alerts = [
      sampleAlert({ id: alertId(701), created: '2026-12-01T23:59:59Z' }),
      sampleAlert({ id: alertId(702), created: '2026-12-02T00:00:01Z' }),
      sampleAlert({ id: alertId(703), created: '2026-12-02T08:00:00Z' }),
      sampleAlert({ id: alertId(704), created: '2026-12-02T09:00:00Z', ruleId: 'vpc flow/odd port' }),
    ];
    const reports = await deliverBatchTo(options, options.outputs[0]!, alerts);
    expect(reports.every((r) => r.delivered && r.attempts === 1)).toBe(true);
    const keys = await listKeys();
    expect(keys).toEqual(
      [
        archiveKey('alerts/', 'dt=2026-12-01/rule=ct-create-access-key', [alertId(701)]),
        archiveKey('alerts/', 'dt=2026-12-02/rule=ct-create-access-key', [alertId(703), alertId(702)]),
        archiveKey('alerts/', 'dt=2026-12-02/rule=vpc%20flow%2Fodd%20port', [alertId(704)]),
      ].sort(),
    );
    expect(keys.every((k) => /^alerts\/dt=\d{4}-\d{2}-\d{2}\/rule=[^/]+\/[0-9a-f]{40}\.json\.gz$/.test(k))).toBe(true);
    const day2 = keys.find((k) => k.startsWith('alerts/dt=2026-12-02/rule=ct-'))!;
    expect((await readLines(day2)).map((a) => a.id)).toEqual([alertId(702), alertId(703)]);
  });

  it('overwrites instead of duplicating when the same batch comes again', async () => {
    const options = archive();
    const alerts = [
      sampleAlert({ id: alertId(801), created: '2026-11-30T10:00:00Z' }),
      sampleAlert({ id: alertId(802), created: '2026-11-30T11:00:00Z' }),
    ];
    await deliverBatchTo(options, options.outputs[0]!, alerts);
    const before = await listKeys();
    await deliverBatchTo(options, options.outputs[0]!, [...alerts].reverse());
    expect(await listKeys()).toEqual(before);
    const key = before.find((k) => k.startsWith('alerts/dt=2026-11-30/'))!;
    expect((await readLines(key)).map((a) => a.id)).toEqual([alertId(801), alertId(802)]);
  });

  it('dead-letters the alerts of a bucket that does not exist, without blocking another output', async () => {
    const options = testDelivery(
      [
        { name: 'archive', kind: 's3', settings: { bucket: 'archive', prefix: 'alerts/' } },
        { name: 'lost', kind: 's3', settings: { bucket: 'no-such-bucket' } },
      ],
      {},
      { region: 'us-east-1', credentials: S3RVER_CREDENTIALS, endpoints: { s3: endpoint } },
    );
    const alert = sampleAlert({ id: alertId(901), created: '2026-11-29T10:00:00Z' });
    const [reports] = await deliverAlerts(options, [{ alert, outputs: ['lost', 'archive'] }]);
    expect(reports!.map((r) => [r.output, r.delivered, r.attempts])).toEqual([
      ['lost', false, 1],
      ['archive', true, 1],
    ]);
    expect(reports![0]!.reason).toMatch(/NoSuchBucket/);
    expect(options.deadLetters.letters.map((l) => [l.output, l.kind, l.alertId])).toEqual([
      ['lost', 's3', alertId(901)],
    ]);
  });
});

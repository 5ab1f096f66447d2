/** The real S3 reader against an S3 emulator (s3rver, pure JavaScript) on loopback. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readObjectEvents } from '../../src/ingest/object-reader.js';
import { ObjectReadError, S3ObjectStore } from '../../src/ingest/object-store.js';

let server: S3rver;
let dir: string;
let client: S3Client;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stixflow-s3rver-'));
  server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: [{ name: 'logs' }],
  });
  const { port } = await server.run();
  client = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
});

afterAll(async () => {
  client?.destroy();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('S3ObjectStore on an S3 emulator', () => {
  it('streams a gzip CloudTrail object from GetObject into event batches', async () => {
    const records = Array.from({ length: 1200 }, (_, i) => ({
      eventVersion: '1.09',
      eventID: `e-${i}`,
      eventName: 'GetObject',
    }));
    await client.send(
      new PutObjectCommand({
        Bucket: 'logs',
        Key: 'AWSLogs/1/CloudTrail/a b.json.gz',
        Body: gzipSync(JSON.stringify({ Records: records })),
      }),
    );
    const store = new S3ObjectStore(client);
    const sizes: number[] = [];
    const ids: string[] = [];
    for await (const batch of readObjectEvents(
      await store.open({ bucket: 'logs', key: 'AWSLogs/1/CloudTrail/a b.json.gz' }),
      { batchSize: 500 },
    )) {
      sizes.push(batch.events.length);
      ids.push(...batch.events.map((e) => (e.value as { eventID: string }).eventID));
    }
    expect(sizes).toEqual([500, 500, 200]);
    expect(ids).toEqual(records.map((r) => r.eventID));
  });

  it('tells a missing object from a store that fails', async () => {
    const store = new S3ObjectStore(client);
    const missing = await store.open({ bucket: 'logs', key: 'nope.json' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ObjectReadError);
    expect(missing).toMatchObject({ missing: true, code: 'object-missing' });
    const noBucket = await store.open({ bucket: 'no-such-bucket', key: 'x' }).catch((e: unknown) => e);
    expect(noBucket).toBeInstanceOf(ObjectReadError);
    expect((noBucket as ObjectReadError).missing).toBe(false);
  });
});

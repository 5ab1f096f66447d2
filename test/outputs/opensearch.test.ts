/**
 * The OpenSearch / Elasticsearch output against a loopback cluster that parses the NDJSON `_bulk` body, keeps the
 * documents by index and _id, answers per item (409 for an _id it has), and checks basic auth or the SigV4
 * signature.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverBatchTo } from '../../src/outputs/deliver.js';
import { alertIndex, alertIndexTemplate } from '../../src/outputs/opensearch.js';
import { alertId, sampleAlert, TEST_CREDENTIALS, testDelivery } from './fixtures.js';
import { bulkReceiver, originOf, type BulkReceiver } from './receivers.js';

let basic: BulkReceiver;
let signed: BulkReceiver;
beforeAll(async () => {
  [basic, signed] = await Promise.all([
    bulkReceiver({ kind: 'basic', username: 'stixflow', password: 'pw-0123' }, 'alerts'),
    bulkReceiver(
      { kind: 'sigv4', credentials: TEST_CREDENTIALS, service: 'es', region: 'eu-west-1' },
      'stixflow-alerts',
    ),
  ]);
});
afterAll(() => Promise.all([basic.close(), signed.close()]));

/** An output to the basic-auth cluster, indexing into alerts-YYYY.MM.DD. */
const basicAuthOutput = () =>
  testDelivery(
    [
      {
        name: 'search',
        kind: 'opensearch',
        settings: { endpoint: originOf(basic), auth: 'basic', indexPrefix: 'alerts' },
        secret: 'os',
      },
    ],
    { os: JSON.stringify({ username: 'stixflow', password: 'pw-0123' }) },
  );
const day = (n: number) => `2026-12-0${n}T10:00:00.000Z`;

describe('OpenSearch output', () => {
  it('installs the index template once, then bulk-creates each alert in its daily index with _id = alert id', async () => {
    const options = basicAuthOutput();
    const alerts = [1, 2, 3].map((n) => sampleAlert({ id: alertId(10 + n), created: day(n) }));
    const reports = await deliverBatchTo(options, options.outputs[0]!, alerts);
    expect(reports.map((r) => [r.delivered, r.attempts])).toEqual([
      [true, 1],
      [true, 1],
      [true, 1],
    ]);
    await deliverBatchTo(options, options.outputs[0]!, [sampleAlert({ id: alertId(14), created: day(1) })]);
    expect(basic.received.map((r) => r.path)).toEqual(['/_index_template/alerts', '/_bulk', '/_bulk']);
    expect(basic.received.every((r) => r.problems.length === 0)).toBe(true);
    expect(basic.templates.get('alerts')).toEqual(alertIndexTemplate('alerts'));
    expect([...basic.indices.keys()].sort()).toEqual(['alerts-2026.12.01', 'alerts-2026.12.02', 'alerts-2026.12.03']);
    const doc = basic.indices.get('alerts-2026.12.01')!.get(alertId(11))!;
    expect(doc).toMatchObject({ id: alertId(11), '@timestamp': day(1), ruleId: 'ct-create-access-key' });
    expect(doc.observables).toContainEqual({ type: 'ip', value: '203.0.113.7' });
    expect(alertIndex('alerts', sampleAlert({ created: '2026-01-09T23:59:59Z' }))).toBe('alerts-2026.01.09');
  });

  it('retries only the items the cluster rejected retryably; 409 (already indexed) is success', async () => {
    const options = basicAuthOutput();
    // 11 is indexed already (409), 21 is rejected once (429), 22 is refused for good (400), 23 is new.
    const alerts = [11, 21, 22, 23].map((n) => sampleAlert({ id: alertId(n), created: day(1) }));
    basic.failItems([alertId(21)], 429);
    basic.failItems([alertId(22)], 400);
    const before = basic.received.length;
    const reports = await deliverBatchTo(options, options.outputs[0]!, alerts);
    expect(reports.map((r) => [r.delivered, r.attempts, r.reason])).toEqual([
      [true, 1, undefined],
      [true, 2, undefined],
      [false, 1, 'bulk item HTTP 400 (es_rejected_execution_exception)'],
      [true, 1, undefined],
    ]);
    // The second request carried the one retryable item only.
    const retry = basic.received.slice(before).filter((r) => r.path === '/_bulk')[1]!;
    expect(retry.body.trim().split('\n')).toHaveLength(2);
    expect(retry.body).toContain(alertId(21));
    expect(options.deadLetters.letters.map((l) => l.alertId)).toEqual([alertId(22)]);
    expect(options.slept).toEqual([50]);
  });

  it('cuts bulk requests by size, and signs each with SigV4 for Amazon OpenSearch Service', async () => {
    const options = testDelivery(
      [
        {
          name: 'aos',
          kind: 'opensearch',
          settings: { endpoint: originOf(signed), auth: 'sigv4', region: 'eu-west-1', maxRequestBytes: 64 * 1024 },
        },
      ],
      {},
      { credentials: TEST_CREDENTIALS },
    );
    const alerts = Array.from({ length: 8 }, (_, i) =>
      sampleAlert({ id: alertId(100 + i), description: `${i} ${'x'.repeat(20_000)}` }),
    );
    const reports = await deliverBatchTo(options, options.outputs[0]!, alerts);
    expect(reports.every((r) => r.delivered)).toBe(true);
    const bulks = signed.received.filter((r) => r.path === '/_bulk');
    // About 22 KB an alert: two a request under 64 KiB.
    expect(bulks.map((r) => r.body.trim().split('\n').length / 2)).toEqual([2, 2, 2, 2]);
    expect(bulks.every((r) => Buffer.byteLength(r.body) <= 64 * 1024)).toBe(true);
    expect(signed.received.map((r) => r.problems)).toEqual(signed.received.map(() => []));
    expect(String(signed.received[0]!.headers.authorization)).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDSTIXFLOWTEST\/\d{8}\/eu-west-1\/es\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
    );
    expect(signed.indices.get('stixflow-alerts-2026.12.02')?.size).toBe(8);
  });

  it('refuses a wrong password or signature as the cluster does, and dead-letters without the secret', async () => {
    const options = testDelivery(
      [
        {
          name: 'aos',
          kind: 'opensearch',
          settings: { endpoint: originOf(signed), region: 'eu-west-1', installTemplate: false },
        },
      ],
      {},
      { credentials: { ...TEST_CREDENTIALS, secretAccessKey: 'wrong-secret' } },
    );
    const [report] = await deliverBatchTo(options, options.outputs[0]!, [sampleAlert({ id: alertId(200) })]);
    expect(report).toMatchObject({ delivered: false, attempts: 1 });
    expect(signed.received.at(-1)!.problems).toContain('signature does not verify');
    expect(JSON.stringify(options.deadLetters.letters)).not.toContain('wrong-secret');
  });
});

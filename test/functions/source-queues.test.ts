/**
 * Cross-account sources (#18): a message on a source account's queue belongs to that account's
 * tenant, whatever its own `tenant` attribute says; the ingest queue still reads the attribute.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createIngestSqsHandler } from '../../functions/ingest-sqs.js';
import { parseSourceQueues, SOURCE_QUEUES_ENV, sourceQueueRoute } from '../../src/ingest/source-queues.js';
import { captureStdout, context, EXAMPLE_LINES, sqsEvent, sqsRecord, testRuntime } from './helpers.js';

const ACME_QUEUE = 'arn:aws:sqs:eu-west-1:123456789012:stixflow-source-111122223333';
const ROUTES = JSON.stringify([{ queue: ACME_QUEUE, account: '111122223333', tenant: 'acme' }]);

afterEach(() => {
  delete process.env[SOURCE_QUEUES_ENV];
});

describe('source queue routes', () => {
  it('reads the routes the construct writes and refuses bad ones, naming each problem', () => {
    expect(sourceQueueRoute(ACME_QUEUE, { [SOURCE_QUEUES_ENV]: ROUTES })).toEqual({
      queue: ACME_QUEUE,
      account: '111122223333',
      tenant: 'acme',
    });
    expect(sourceQueueRoute('arn:aws:sqs:eu-west-1:123456789012:other', { [SOURCE_QUEUES_ENV]: ROUTES })).toBe(
      undefined,
    );
    expect(parseSourceQueues(undefined).size).toBe(0);
    expect(() => parseSourceQueues('{')).toThrow(/SOURCE_QUEUES is not JSON/);
    expect(() =>
      parseSourceQueues(
        JSON.stringify([
          { queue: 'not-an-arn', account: '111122223333', tenant: 'a' },
          { queue: ACME_QUEUE, account: '12', tenant: 'a' },
          { queue: ACME_QUEUE, account: '111122223333', tenant: '' },
        ]),
      ),
    ).toThrow(/not-an-arn is not an SQS queue ARN[\s\S]*12-digit account[\s\S]*needs a tenant/);
  });
});

describe('ingest-sqs and source queues', () => {
  it("takes the tenant from the source queue, never from the message's own attribute", async () => {
    process.env[SOURCE_QUEUES_ENV] = ROUTES;
    const { runtime, sink } = testRuntime({ DEFAULT_TENANT: 'queue-default' });
    const handler = createIngestSqsHandler(() => runtime);
    const line = EXAMPLE_LINES[4] as string;
    // From the source account's queue, claiming another tenant; and from the ingest queue, with its attribute.
    const spoofed = { ...sqsRecord('m-source', line, 'victim'), eventSourceARN: ACME_QUEUE };
    const unlabelled = { ...sqsRecord('m-source-2', EXAMPLE_LINES[0] as string), eventSourceARN: ACME_QUEUE };
    const own = sqsRecord('m-ingest', line, 'tenant-q');
    const { result: response } = await captureStdout(() =>
      handler(sqsEvent(spoofed, unlabelled, own), context('ingest-sqs')),
    );
    expect(response.batchItemFailures).toEqual([]);
    const tenants = (await sink.drain()).map((a) => a.tenant);
    expect(tenants).toContain('acme');
    expect(tenants).toContain('tenant-q');
    expect(tenants).not.toContain('victim');
    expect(tenants).not.toContain('queue-default');
  });
});

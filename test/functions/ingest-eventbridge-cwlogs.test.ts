/**
 * The EventBridge and CloudWatch Logs handlers on payloads built from AWS's documented formats: a GuardDuty finding
 * and a Security Hub "Findings - Imported" event as EventBridge delivers them, and subscription filter deliveries
 * (base64 of gzip'd JSON, DATA_MESSAGE and CONTROL_MESSAGE).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { CloudWatchLogsEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createIngestCloudWatchLogsHandler } from '../../functions/ingest-cwlogs.js';
import { createIngestEventBridgeHandler, type AnyEventBridgeEvent } from '../../functions/ingest-eventbridge.js';
import { parseRoutes } from '../../src/ingest/routes.js';
import { cloudRulesDir, cloudTrailRecord, vpcFlowLine } from './channel-fixtures.js';
import { context, testRuntime } from './helpers.js';

const RULES = cloudRulesDir();
const GUARDDUTY = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/aws-guardduty/finding.json', import.meta.url)), 'utf8'),
) as AnyEventBridgeEvent;

const routes = parseRoutes(
  JSON.stringify([
    { prefix: 'aws.guardduty/', tenant: 'acme' },
    { prefix: 'aws.securityhub/Security Hub Findings - Imported', source: 'flat', tenant: 'acme-hub' },
    { prefix: '/aws/cloudtrail/', source: 'aws-cloudtrail', tenant: 'acme' },
    { prefix: '/aws/vpc/flow', source: 'aws-vpcflow', tenant: 'acme-net' },
  ]),
  () => true,
);

/** A Security Hub "Findings - Imported" event (https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-cwe-event-formats.html). */
function securityHubEvent(): AnyEventBridgeEvent {
  const finding = (id: string, port: number) => ({
    SchemaVersion: '2018-10-08',
    Id: id,
    ProductArn: 'arn:aws:securityhub:us-east-1::product/aws/guardduty',
    GeneratorId: 'arn:aws:guardduty:us-east-1:444455556666:detector/12abc',
    AwsAccountId: '444455556666',
    Types: ['TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce'],
    CreatedAt: '2024-06-03T10:00:00.000Z',
    UpdatedAt: '2024-06-03T10:05:00.000Z',
    Severity: { Label: 'HIGH', Normalized: 70 },
    Title: 'SSH brute force',
    Description: 'An instance is being probed',
    dst_port: port,
    timestamp: '2024-06-03T10:00:00.000Z',
  });
  return {
    version: '0',
    id: 'e2f3a4b5-0000-1111-2222-333344445555',
    'detail-type': 'Security Hub Findings - Imported',
    source: 'aws.securityhub',
    account: '444455556666',
    time: '2024-06-03T10:06:00Z',
    region: 'us-east-1',
    resources: ['arn:aws:securityhub:us-east-1::product/aws/guardduty/arn:aws:guardduty:finding/1'],
    detail: { findings: [finding('finding-1', 22), finding('finding-2', 443)] },
  };
}

function delivery(data: Record<string, unknown>): CloudWatchLogsEvent {
  return { awslogs: { data: gzipSync(JSON.stringify(data)).toString('base64') } };
}

/** A subscription filter DATA_MESSAGE (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html). */
function dataMessage(logGroup: string, messages: string[]): CloudWatchLogsEvent {
  return delivery({
    messageType: 'DATA_MESSAGE',
    owner: '444455556666',
    logGroup,
    logStream: '444455556666_CloudTrail_us-east-1',
    subscriptionFilters: ['stixflow'],
    logEvents: messages.map((message, i) => ({
      id: `3195310660696698337880902507980421114328961542429${i}`,
      timestamp: 1717327200000 + i,
      message,
    })),
  });
}

describe('ingest-eventbridge handler', () => {
  it('opens a GuardDuty finding event, with the tenant of its route', async () => {
    const t = testRuntime({ RULES_DIR: RULES });
    const handler = createIngestEventBridgeHandler(
      () => t.runtime,
      () => routes,
    );
    const outcome = await handler(GUARDDUTY, context('ingest-eventbridge'));
    expect(outcome).toMatchObject({ accepted: 1, tenant: 'acme', source: undefined });
    // The finding is about SSH (port 22): both rules fire.
    expect((await t.sink.drain()).map((a) => `${a.tenant}:${a.ruleId}`).sort()).toEqual([
      'acme:guardduty-ssh-brute-force',
      'acme:ssh-inbound',
    ]);
    // EventBridge retries an event it thinks failed: a second delivery raises nothing.
    await handler(GUARDDUTY, context());
    expect(t.sink.sent).toHaveLength(2);
  });

  it('reads each finding of a Security Hub event with the mapping of its route', async () => {
    const t = testRuntime({ RULES_DIR: RULES });
    const handler = createIngestEventBridgeHandler(
      () => t.runtime,
      () => routes,
    );
    const outcome = await handler(securityHubEvent(), context());
    expect(outcome).toMatchObject({ events: 2, accepted: 2, tenant: 'acme-hub', source: 'flat' });
    expect((await t.sink.drain()).map((a) => `${a.tenant}:${a.ruleId}`)).toEqual(['acme-hub:ssh-inbound']);
  });

  it('throws when the alerts cannot be delivered, so that Lambda retries the event', async () => {
    const t = testRuntime({ RULES_DIR: RULES });
    const handler = createIngestEventBridgeHandler(
      () => t.runtime,
      () => routes,
    );
    t.sink.failing = true;
    await expect(handler(GUARDDUTY, context())).rejects.toMatchObject({ code: 'alerts-undelivered' });
    t.sink.failing = false;
    await handler(GUARDDUTY, context());
    await handler(GUARDDUTY, context());
    expect(t.sink.sent).toHaveLength(2);
  });
});

describe('ingest-cwlogs handler', () => {
  it('reads CloudTrail events and VPC flow lines from subscription deliveries, with the log group route', async () => {
    const t = testRuntime({ RULES_DIR: RULES });
    const handler = createIngestCloudWatchLogsHandler(
      () => t.runtime,
      () => routes,
    );
    const trail = await handler(
      dataMessage(
        '/aws/cloudtrail/management',
        [0, 1, 2, 10].map((i) => JSON.stringify(cloudTrailRecord(i))),
      ),
      context('ingest-cwlogs'),
    );
    expect(trail).toMatchObject({ events: 4, accepted: 4, tenant: 'acme', control: false });
    const flows = await handler(
      dataMessage('/aws/vpc/flowlogs', [vpcFlowLine(5), vpcFlowLine(6), 'garbage line']),
      context(),
    );
    expect(flows).toMatchObject({ events: 3, accepted: 2, rejected: 1, tenant: 'acme-net' });
    expect((await t.sink.drain()).map((a) => `${a.tenant}:${a.ruleId}`).sort()).toEqual([
      'acme-net:ssh-inbound',
      'acme:ct-create-access-key',
      'acme:ct-create-access-key',
    ]);
  });

  it('acknowledges a CONTROL_MESSAGE, refuses a payload that is not base64 gzip JSON, and retries through a throw', async () => {
    const t = testRuntime({ RULES_DIR: RULES });
    const handler = createIngestCloudWatchLogsHandler(
      () => t.runtime,
      () => routes,
    );
    const control = await handler(
      delivery({
        messageType: 'CONTROL_MESSAGE',
        owner: 'CloudwatchLogs',
        logGroup: '',
        logStream: '',
        subscriptionFilters: [],
        logEvents: [{ id: '', timestamp: 1, message: 'CWL CONTROL MESSAGE: Checking health of destination Lambda.' }],
      }),
      context(),
    );
    expect(control).toMatchObject({ control: true, events: 0 });
    await expect(
      handler({ awslogs: { data: Buffer.from('plain').toString('base64') } }, context()),
    ).rejects.toMatchObject({
      code: 'malformed-delivery',
    });
    t.sink.failing = true;
    const message = dataMessage('/aws/cloudtrail/x', [JSON.stringify(cloudTrailRecord(20))]);
    await expect(handler(message, context())).rejects.toMatchObject({ code: 'alerts-undelivered' });
    t.sink.failing = false;
    await handler(message, context());
    await handler(message, context());
    expect(t.sink.sent).toHaveLength(1);
  });
});

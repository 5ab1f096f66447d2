/**
 * Operating the stack (#18): concurrency caps, the table's throughput cap and outbox index, alarms
 * on the failures that matter notifying an encrypted SSL-only topic, the dashboard, tags, per-route
 * throttles, the outbox sweeper on a schedule, the optional customer-managed key and VPC, cross-account
 * sources; cdk-nag's AwsSolutions and Serverless packs at 0 findings, by default and with every option.
 * Synthesised without bundling (the bundles are tested in pipeline-stack.test.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Vpc } from 'aws-cdk-lib/aws-ec2';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Stream, StreamEncryption } from 'aws-cdk-lib/aws-kinesis';
import { Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StixDetectionPipeline, type StixDetectionPipelineProps } from '../../infra/pipeline-construct.js';
import { GUARDDUTY_FINDINGS } from '../../infra/parts/channels.js';
import { DEFAULT_RESERVED_CONCURRENCY } from '../../infra/parts/operations.js';
import { PENDING_INDEX_NAME } from '../../src/state/pending-index.js';

const dir = mkdtempSync(join(tmpdir(), 'stixflow-ops-rules-'));
writeFileSync(
  join(dir, 'a.yaml'),
  `- id: good\n  name: Good\n  description: d\n  severity: low\n  pattern: "[process:name = 'x']"\n`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function synth(props: (stack: Stack) => Partial<StixDetectionPipelineProps> = () => ({})) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Ops', { env: { account: '444455556666', region: 'us-east-1' } });
  const pipeline = new StixDetectionPipeline(stack, 'P', { rulesDir: dir, ...props(stack) });
  return { app, stack, pipeline, template: Template.fromStack(stack) };
}

type Resource = { Properties: Record<string, unknown>; Type: string };
const resources = (template: Template, type: string): [string, Resource][] =>
  Object.entries(template.findResources(type) as Record<string, Resource>);
const ourFunctions = (template: Template) =>
  resources(template, 'AWS::Lambda::Function').filter(([, f]) =>
    String(f.Properties.Description ?? '').startsWith('stixflow'),
  );

/** Both packs' findings, as `rule path`. */
function nagFindings(app: App): string[] {
  return [new AwsSolutionsChecks(app), new ServerlessChecks(app)].flatMap((pack) =>
    pack
      .validateScope(app)
      .violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`),
  );
}

describe('the operated stack, by default', () => {
  let built: ReturnType<typeof synth>;
  beforeAll(() => {
    built = synth();
  }, 120_000);

  it('reserves concurrency on every function and caps the ingest queue mapping at the same', () => {
    const fns = ourFunctions(built.template);
    expect(fns.map(([, f]) => f.Properties.Description).sort()).toEqual([
      'stixflow: /rules (list, read, validate, create, replace, delete, enable/disable), /audit',
      'stixflow: POST /events → detection pipeline → alert queue',
      'stixflow: ingest queue → detection pipeline → alert queue',
      'stixflow: outbox index → alerts whose delivery failed → alert queue',
      'stixflow: the detection console page (GET /, GET /console/*)',
    ]);
    for (const [, f] of fns) expect(f.Properties.ReservedConcurrentExecutions).toEqual(expect.any(Number));
    built.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'stixflow: ingest queue → detection pipeline → alert queue',
      ReservedConcurrentExecutions: DEFAULT_RESERVED_CONCURRENCY.IngestSqs,
    });
    built.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ScalingConfig: { MaximumConcurrency: DEFAULT_RESERVED_CONCURRENCY.IngestSqs },
    });
  });

  it('gives the table its sparse outbox index and no throughput cap unless asked', () => {
    built.template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        {
          IndexName: PENDING_INDEX_NAME,
          KeySchema: [
            { AttributeName: 'pending', KeyType: 'HASH' },
            { AttributeName: 'pendingAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['pendingKey'] },
        },
      ],
      OnDemandThroughput: Match.absent(),
    });
  });

  it('runs the outbox sweeper every 5 minutes, reading only the outbox index and state items', () => {
    const sweeper = ourFunctions(built.template).find(([, f]) =>
      String(f.Properties.Description).includes('outbox index'),
    )!;
    built.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [sweeper[0], 'Arn'] } })],
    });
    const role = (sweeper[1].Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const policy = resources(built.template, 'AWS::IAM::Policy').find(([, p]) =>
      (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === role),
    )!;
    const statements = (policy[1].Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
    const bySid = Object.fromEntries(statements.filter((s) => s.Sid).map((s) => [s.Sid, s]));
    expect(bySid.OutboxIndex).toMatchObject({ Action: 'dynamodb:Query' });
    expect(JSON.stringify(bySid.OutboxIndex?.Resource)).toContain(`/index/${PENDING_INDEX_NAME}`);
    expect(bySid.OutboxItems).toMatchObject({
      Action: ['dynamodb:BatchGetItem', 'dynamodb:PutItem'],
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['S#*'] } },
    });
  });

  it('alarms on the failures that matter, each notifying the encrypted, SSL-only alarm topic', () => {
    const alarms = resources(built.template, 'AWS::CloudWatch::Alarm');
    const ids = alarms.map(([id]) => id.replace(/^P/, '').replace(/[0-9A-F]{8}$/, ''));
    for (const expected of [
      'IngestFailures',
      'AlertsUndelivered',
      'OutboxStuck',
      'PipelineErrors',
      'AlertQueueAge',
      'StateTableThrottles',
      'Api5xx',
      'IngestSqsNearTimeout',
      'IngestHttpNearTimeout',
      'OutboxSweeperErrors',
      'IngestDlqDepth',
    ])
      expect(ids).toContain(expected);
    const topic = resources(built.template, 'AWS::SNS::Topic');
    expect(topic).toHaveLength(1);
    for (const [, alarm] of alarms) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topic[0]![0] }]);
    expect(topic[0]![1].Properties.KmsMasterKeyId).toBeDefined();
    built.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    // CloudWatch may use the topic's key (the AWS-managed SNS key would not let it publish).
    built.template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: Match.arrayWith(['kms:Decrypt']),
          }),
        ]),
      },
    });
    // A duration alarm at 80% of the 30 s timeout.
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Duration',
      Statistic: 'Maximum',
      Threshold: 24_000,
    });
  });

  it('has a dashboard, tags, and per-route throttles', () => {
    built.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    built.template.hasResourceProperties('AWS::SQS::Queue', {
      Tags: Match.arrayWith([{ Key: 'application', Value: 'stixflow' }]),
    });
    built.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      RouteSettings: {
        'POST /events': { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
        'PATCH /rules/{id}': { ThrottlingRateLimit: 1, ThrottlingBurstLimit: 5 },
      },
    });
  });

  it('passes cdk-nag AwsSolutions and Serverless with nothing left unacknowledged', () => {
    expect(nagFindings(built.app)).toEqual([]);
  });
});

describe('the operated stack, with every option', () => {
  let built: ReturnType<typeof synth>;
  let keyId: string;
  beforeAll(() => {
    built = synth((stack) => {
      const key = new Key(stack, 'Cmk', { enableKeyRotation: true });
      const vpc = new Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
      // The fixtures' own findings (a deployment's VPC and secrets are its own): not the pipeline's.
      Validations.of(vpc).acknowledge({ id: 'AwsSolutions-VPC7', reason: 'test fixture VPC' });
      const hook = new Secret(stack, 'Hook');
      Validations.of(hook).acknowledge({ id: 'AwsSolutions-SMG4', reason: 'test fixture secret' });
      return {
        encryptionKey: key,
        vpc: { vpc },
        tableMaxThroughput: { maxReadRequestUnits: 4000, maxWriteRequestUnits: 2000 },
        reservedConcurrency: false,
        tags: { costCentre: 'secops' },
        routeThrottles: { 'POST /events': { rateLimit: 500, burstLimit: 1000 } },
        outboxSweep: { every: Duration.minutes(2) },
        sourceAccounts: [
          { account: '111122223333', tenant: 'acme', eventBus: true },
          { account: '222233334444', source: 'aws-cloudtrail' },
        ],
        ingest: {
          s3: {
            buckets: [
              {
                bucket: new Bucket(stack, 'Trail', {
                  encryption: BucketEncryption.S3_MANAGED,
                  enforceSSL: true,
                  serverAccessLogsPrefix: 'access/',
                }),
                prefixes: [{ prefix: 'AWSLogs/', source: 'aws-cloudtrail' }],
              },
            ],
          },
          kinesis: {
            streams: [{ stream: new Stream(stack, 'S', { encryption: StreamEncryption.MANAGED }), tenant: 'acme' }],
          },
          eventBridge: { rules: [{ id: 'GuardDuty', pattern: GUARDDUTY_FINDINGS }] },
        },
        outputs: { outputs: [{ name: 'soc', kind: 'webhook', secret: hook }] },
      };
    });
    keyId = resources(built.template, 'AWS::KMS::Key').find(([id]) => id.startsWith('Cmk'))![0];
  }, 120_000);

  it('encrypts the table, every queue, the topic, every log group and function environment with the key', () => {
    const keyArn = { 'Fn::GetAtt': [keyId, 'Arn'] };
    built.template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn },
      OnDemandThroughput: { MaxReadRequestUnits: 4000, MaxWriteRequestUnits: 2000 },
    });
    const queues = resources(built.template, 'AWS::SQS::Queue');
    expect(queues.length).toBeGreaterThan(8);
    for (const [, q] of queues) {
      expect(q.Properties.KmsMasterKeyId).toEqual(keyArn);
      expect(q.Properties.SqsManagedSseEnabled).toBeUndefined();
    }
    for (const [, g] of resources(built.template, 'AWS::Logs::LogGroup')) expect(g.Properties.KmsKeyId).toEqual(keyArn);
    for (const [, f] of ourFunctions(built.template)) expect(f.Properties.KmsKeyArn).toEqual(keyArn);
    built.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: keyArn });
    // No key of its own for the topic when the pipeline has one.
    expect(resources(built.template, 'AWS::KMS::Key')).toHaveLength(1);
  });

  it('places every function in the VPC, reserves nothing but keeps the mapping caps', () => {
    const fns = ourFunctions(built.template);
    expect(fns.length).toBe(9); // every function of the stack with every option, the console's included
    for (const [, f] of fns) {
      expect(f.Properties.VpcConfig).toMatchObject({
        SubnetIds: expect.any(Array),
        SecurityGroupIds: expect.any(Array),
      });
      expect(f.Properties.ReservedConcurrentExecutions).toBeUndefined();
    }
    const sqsMappings = resources(built.template, 'AWS::Lambda::EventSourceMapping').filter(
      ([, m]) => m.Properties.StartingPosition === undefined,
    );
    expect(sqsMappings.length).toBeGreaterThanOrEqual(5);
    for (const [, m] of sqsMappings)
      expect(m.Properties.ScalingConfig).toEqual({ MaximumConcurrency: expect.any(Number) });
  });

  it('gives each source account its own queue (only it may send) and bus, and fixes the tenant by queue', () => {
    const sourceQueue = (account: string) =>
      resources(built.template, 'AWS::SQS::Queue').find(([id]) => id.startsWith(`PSource${account}Queue`))![0];
    const acme = sourceQueue('111122223333');
    built.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: acme }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'SourceAccountSends',
            Principal: { AWS: { 'Fn::Join': ['', Match.arrayWith([':iam::111122223333:root'])] } },
            Action: Match.arrayWith(['sqs:SendMessage']),
          }),
        ]),
      },
    });
    built.template.hasResourceProperties('AWS::Events::EventBusPolicy', {
      Statement: Match.objectLike({
        Action: 'events:PutEvents',
        Principal: { AWS: { 'Fn::Join': ['', Match.arrayWith([':iam::111122223333:root'])] } },
      }),
    });
    built.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { account: ['111122223333'] },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [acme, 'Arn'] } })],
    });
    expect(resources(built.template, 'AWS::Events::EventBus')).toHaveLength(1);
    const ingestSqs = ourFunctions(built.template).find(
      ([, f]) => f.Properties.Description === 'stixflow: ingest queue → detection pipeline → alert queue',
    )!;
    const env = JSON.stringify(
      (ingestSqs[1].Properties.Environment as { Variables: Record<string, unknown> }).Variables.SOURCE_QUEUES,
    );
    expect(env).toContain(acme);
    expect(env).toContain('\\"tenant\\":\\"acme\\"');
    expect(env).toContain('\\"source\\":\\"aws-cloudtrail\\"');
  });

  it('applies the extra tags and route throttles, and the sweeper schedule', () => {
    built.template.hasResourceProperties('AWS::SQS::Queue', {
      Tags: Match.arrayWith([{ Key: 'costCentre', Value: 'secops' }]),
    });
    built.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      RouteSettings: Match.objectLike({ 'POST /events': { ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 } }),
    });
    built.template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(2 minutes)' });
  });

  it('refuses a source account that is not 12 digits, or listed twice', () => {
    expect(() => synth(() => ({ sourceAccounts: [{ account: '1234' }] }))).toThrow(/12 digits/);
    expect(() => synth(() => ({ sourceAccounts: [{ account: '111122223333' }, { account: '111122223333' }] }))).toThrow(
      /listed twice/,
    );
  }, 120_000);

  it('passes cdk-nag AwsSolutions and Serverless with nothing left unacknowledged', () => {
    expect(nagFindings(built.app)).toEqual([]);
  });
});

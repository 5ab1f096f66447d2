/** `cdk synth` of the ingest channels: each appears when its prop is set and not otherwise, least privilege, cdk-nag clean. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { Stream, StreamEncryption } from 'aws-cdk-lib/aws-kinesis';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { StixDetectionPipeline, type StixDetectionPipelineProps } from '../../infra/pipeline-construct.js';
import { GUARDDUTY_FINDINGS, SECURITY_HUB_FINDINGS } from '../../infra/parts/channels.js';

const dir = mkdtempSync(join(tmpdir(), 'stixflow-channel-rules-'));
writeFileSync(
  join(dir, 'a.yaml'),
  `- id: good\n  name: Good\n  description: d\n  severity: low\n  pattern: "[process:name = 'x']"\n`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function synth(
  ingest: (stack: Stack) => StixDetectionPipelineProps['ingest'],
  outputs?: (stack: Stack) => StixDetectionPipelineProps['outputs'],
  rulesDir = dir,
) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Channels', { env: { account: '444455556666', region: 'us-east-1' } });
  const pipeline = new StixDetectionPipeline(stack, 'P', {
    rulesDir,
    ingest: ingest(stack),
    ...(outputs ? { outputs: outputs(stack) } : {}),
  });
  return { app, stack, pipeline, template: Template.fromStack(stack) };
}

type Resource = { Properties: Record<string, unknown> };
const descriptions = (template: Template) =>
  Object.values(template.findResources('AWS::Lambda::Function') as Record<string, Resource>)
    .map((f) => f.Properties.Description as string)
    .filter((d) => d?.startsWith('stixflow'))
    .sort();

function nagViolations(app: App): string[] {
  return new AwsSolutionsChecks(app).validateScope(app).violations.map((v) => `${v.ruleName}`);
}

describe('ingest channels in the construct', () => {
  it('defines no channel function, queue or rule when no channel prop is set', () => {
    const { template, pipeline } = synth(() => undefined);
    // The three core functions, the console and the outbox sweeper (#18).
    expect(descriptions(template)).toHaveLength(5);
    // Only the outbox sweeper's schedule.
    template.resourceCountIs('AWS::Events::Rule', 1);
    template.resourceCountIs('AWS::Logs::SubscriptionFilter', 0);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    expect(pipeline.channels).toEqual({});
  }, 120_000);

  it('defines every channel its prop asks for, with routes, least-privilege grants and cdk-nag at 0', () => {
    const { template, app, pipeline } = synth((stack) => {
      const trail = new Bucket(stack, 'Trail', {
        encryption: BucketEncryption.KMS,
        enforceSSL: true,
        serverAccessLogsPrefix: 'access/',
      });
      return {
        s3: {
          buckets: [
            {
              bucket: trail,
              prefixes: [
                { prefix: 'AWSLogs/444455556666/CloudTrail/', source: 'aws-cloudtrail', tenant: 'acme' },
                { prefix: 'AWSLogs/444455556666/vpcflowlogs/', source: 'aws-vpcflow', tenant: 'acme' },
              ],
            },
          ],
        },
        kinesis: {
          streams: [
            {
              stream: new Stream(stack, 'Telemetry', { encryption: StreamEncryption.MANAGED }),
              source: 'ecs',
              tenant: 'acme',
            },
          ],
        },
        eventBridge: {
          rules: [
            { id: 'GuardDuty', pattern: GUARDDUTY_FINDINGS, tenant: 'acme' },
            { id: 'SecurityHub', pattern: SECURITY_HUB_FINDINGS, tenant: 'acme' },
          ],
        },
        cloudWatchLogs: {
          logGroups: [
            {
              id: 'TrailLogs',
              logGroup: new LogGroup(stack, 'TrailGroup', { logGroupName: '/aws/cloudtrail/acme' }),
              source: 'aws-cloudtrail',
            },
          ],
        },
      };
    });
    expect(descriptions(template)).toEqual([
      'stixflow: /rules (list, read, validate, create, replace, delete, enable/disable), /audit',
      'stixflow: CloudWatch Logs subscriptions → detection pipeline',
      'stixflow: EventBridge events → detection pipeline',
      'stixflow: Kinesis records → detection pipeline',
      'stixflow: POST /events → detection pipeline → alert queue',
      'stixflow: S3 object notifications → streamed objects → detection pipeline',
      'stixflow: ingest queue → detection pipeline → alert queue',
      'stixflow: outbox index → alerts whose delivery failed → alert queue',
      'stixflow: the detection console page (GET /, GET /console/*)',
    ]);
    // The routes the function reads, as the props gave them.
    const s3Fn = Object.values(template.findResources('AWS::Lambda::Function') as Record<string, Resource>).find((f) =>
      (f.Properties.Description as string).startsWith('stixflow: S3'),
    )!;
    const env = (s3Fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(JSON.stringify(env.INGEST_ROUTES)).toContain('AWSLogs/444455556666/CloudTrail/');
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        QueueConfigurations: [
          {
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'AWSLogs/444455556666/CloudTrail/' }] } },
          },
          {
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'AWSLogs/444455556666/vpcflowlogs/' }] } },
          },
        ],
      },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ParallelizationFactor: 1,
      DestinationConfig: { OnFailure: {} },
    });
    // The two channel rules and the outbox sweeper's schedule.
    template.resourceCountIs('AWS::Events::Rule', 3);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.guardduty'], 'detail-type': ['GuardDuty Finding'] },
    });
    template.resourceCountIs('AWS::Logs::SubscriptionFilter', 1);
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 2 });
    // Every queue encrypted and SSL-only (cdk-nag checks the latter); the S3 function reads only its prefixes.
    for (const queue of Object.values(template.findResources('AWS::SQS::Queue') as Record<string, Resource>))
      expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain('/AWSLogs/444455556666/CloudTrail/*');
    expect(policies).not.toMatch(/"s3:\*"|"Resource":"\*"/);
    expect(pipeline.channels.s3?.queue).toBeDefined();
    expect(nagViolations(app)).toEqual([]);
  }, 120_000);

  it('fails the synth on a route naming no mapping or an EventBridge route it cannot place', () => {
    expect(() =>
      synth((stack) => ({
        s3: {
          buckets: [
            {
              bucket: new Bucket(stack, 'B', { enforceSSL: true }),
              prefixes: [{ prefix: 'x/', source: 'no-such-mapping' }],
            },
          ],
        },
      })),
    ).toThrow(/ingest\.s3: .*no-such-mapping.*no mapping/s);
    expect(() =>
      synth(() => ({ eventBridge: { rules: [{ id: 'Any', pattern: { source: ['a', 'b'] }, tenant: 'acme' }] } })),
    ).toThrow(/routePrefix/);
  }, 120_000);

  it('defines the outputs stage on the alert queue when asked, reading only its secrets, cdk-nag clean', () => {
    const secretOf = (stack: Stack, id: string) => new Secret(stack, id);
    const { template, app, pipeline } = synth(
      () => undefined,
      (stack) => ({
        outputs: [
          { name: 'soc', kind: 'webhook', secret: secretOf(stack, 'SocSecret') },
          { name: 'oncall', kind: 'pagerduty', secret: secretOf(stack, 'OncallSecret') },
        ],
        routes: [{ outputs: ['oncall'], minSeverity: 'critical' }],
      }),
    );
    expect(descriptions(template)).toContain('stixflow: alert queue → outputs');
    expect(pipeline.outputs?.dlq).toBeDefined();
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain('secretsmanager:GetSecretValue');
    // The secrets are the test's own (rotation is their owner's choice): only the construct's findings count.
    expect(nagViolations(app).filter((v) => !v.startsWith('AwsSolutions-SMG4'))).toEqual([]);
    // A rule naming an output the stack does not define fails the synth.
    const rules = mkdtempSync(join(tmpdir(), 'stixflow-outputs-rules-'));
    writeFileSync(
      join(rules, 'a.yaml'),
      `- id: r1\n  name: R\n  description: d\n  severity: low\n  outputs: [nowhere]\n  pattern: "[process:name = 'x']"\n`,
    );
    expect(() =>
      synth(
        () => undefined,
        (stack) => ({ outputs: [{ name: 'soc', kind: 'webhook', secret: secretOf(stack, 'S') }] }),
        rules,
      ),
    ).toThrow(/r1 → nowhere/);
  }, 120_000);
});

/**
 * The ingest channels beyond the API and the ingest queue, each opt-in by its prop, each a function of its own
 * running the one pipeline (functions/ingest-*.ts) with the same grants on the state table and the alert queue as
 * the other ingest functions, plus only what its channel needs:
 *
 *   S3 buckets ── ObjectCreated notifications (per prefix) ──► notification queue (SSE, SSL-only, DLQ) ──► IngestS3
 *                 s3:GetObject on bucket/prefix* only (and kms:Decrypt on the bucket's key)
 *   Kinesis streams ── event source mapping (bisect on error, batch item failures, on-failure DLQ) ──► IngestKinesis
 *   EventBridge rules (GuardDuty, Security Hub, any pattern) ──► IngestEventBridge (async: retries, then DLQ)
 *   CloudWatch Logs subscription filters ──► IngestCwLogs (async: retries, then DLQ)
 *
 * The `source` and tenant of each place travel to the function as INGEST_ROUTES (src/ingest/routes.ts), checked at
 * synth: a mapping name that does not exist or an invalid tenant fails the synth.
 */
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, type EventPattern } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import { StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination as LambdaSqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { KinesisEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { FilterPattern, SubscriptionFilter, type ILogGroup } from 'aws-cdk-lib/aws-logs';
import { LambdaDestination } from 'aws-cdk-lib/aws-logs-destinations';
import { EventType, type IBucket } from 'aws-cdk-lib/aws-s3';
import { SqsDestination } from 'aws-cdk-lib/aws-s3-notifications';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

import { parseRoutes, type IngestRoute } from '../../src/ingest/routes.js';
import { builtInMappings } from '../../src/normalise/index.js';
import { CHANNEL_ENTRIES } from '../bundling.js';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import { definePipelineFunction, grantIngest, type PipelineFunctionsProps } from './functions.js';

/** Where the events of a place go: the mapping of every event there (detection when absent) and the tenant. */
export interface ChannelRoute {
  source?: string;
  tenant?: string;
}

export interface S3ChannelProps {
  buckets: {
    bucket: IBucket;
    /** Key prefixes notified and read (e.g. `AWSLogs/111122223333/CloudTrail/`); "" for the whole bucket. */
    prefixes: (ChannelRoute & { prefix: string })[];
  }[];
  /** Notification messages per invocation; default 5 (each may name a large object). */
  batchSize?: number;
}

export interface KinesisChannelProps {
  streams: (ChannelRoute & { stream: IStream; startingPosition?: StartingPosition; batchSize?: number })[];
}

/** GuardDuty findings on EventBridge. */
export const GUARDDUTY_FINDINGS: EventPattern = { source: ['aws.guardduty'], detailType: ['GuardDuty Finding'] };
/** Security Hub findings imported (each finding of the event is one event). */
export const SECURITY_HUB_FINDINGS: EventPattern = {
  source: ['aws.securityhub'],
  detailType: ['Security Hub Findings - Imported'],
};

export interface EventBridgeChannelProps {
  rules: (ChannelRoute & {
    /** Construct id of the rule (unique). */
    id: string;
    pattern: EventPattern;
    /**
     * The route prefix (`source/detail-type`) the route applies to; by default made from the pattern's single
     * source and single detail-type.
     */
    routePrefix?: string;
  })[];
}

export interface CloudWatchLogsChannelProps {
  logGroups: (ChannelRoute & { id: string; logGroup: ILogGroup; filterPattern?: string })[];
}

export interface IngestChannelsProps {
  s3?: S3ChannelProps;
  kinesis?: KinesisChannelProps;
  eventBridge?: EventBridgeChannelProps;
  cloudWatchLogs?: CloudWatchLogsChannelProps;
}

export interface IngestChannels {
  s3?: { function: NodejsFunction; queue: Queue; dlq: Queue };
  kinesis?: { function: NodejsFunction; dlq: Queue };
  eventBridge?: { function: NodejsFunction; dlq: Queue; rules: Rule[] };
  cloudWatchLogs?: { function: NodejsFunction; dlq: Queue; filters: SubscriptionFilter[] };
}

export interface DefineChannelsProps {
  ingest: IngestChannelsProps;
  functionProps: PipelineFunctionsProps;
  table: Table;
  alertQueue: Queue;
  timeout: Duration;
}

const queueDefaults = { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true } as const;

/** The routes as the function reads them, checked here so that a bad one fails the synth, not the function's init. */
function routesEnv(channel: string, routes: IngestRoute[]): Record<string, string> {
  const text = JSON.stringify(routes);
  const mappings = new Set(builtInMappings().map((m) => m.name));
  try {
    parseRoutes(text, (name) => mappings.has(name));
  } catch (error) {
    throw new Error(`StixDetectionPipeline: ingest.${channel}: ${(error as Error).message}`);
  }
  return { INGEST_ROUTES: text };
}

const route = (prefix: string, r: ChannelRoute): IngestRoute => ({
  prefix,
  ...(r.source !== undefined ? { source: r.source } : {}),
  ...(r.tenant !== undefined ? { tenant: r.tenant } : {}),
});

export function defineChannels(scope: Construct, props: DefineChannelsProps): IngestChannels {
  const { ingest } = props;
  const channels: IngestChannels = {};
  const make = (name: keyof typeof CHANNEL_ENTRIES, description: string, env: Record<string, string>) => {
    const fn = definePipelineFunction(scope, props.functionProps, name, CHANNEL_ENTRIES[name], description, {
      ALERT_QUEUE_URL: props.alertQueue.queueUrl,
      ...env,
    });
    grantIngest(fn, props.table, props.alertQueue);
    return fn;
  };
  const dlq = (id: string) => {
    const queue = new Queue(scope, id, { ...queueDefaults, retentionPeriod: Duration.days(14) });
    // A failure destination is a dead-letter queue by use (cdk-nag sees only redrive policies).
    Validations.of(queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'this queue is a dead-letter queue (failure destination)',
    });
    return queue;
  };
  /** Async invocations (EventBridge, CloudWatch Logs): Lambda retries twice, then the event goes to the DLQ. */
  const asyncFailuresTo = (fn: NodejsFunction, queue: Queue) => {
    fn.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new LambdaSqsDestination(queue),
    });
  };

  if (ingest.s3 && ingest.s3.buckets.length > 0) {
    const routes = ingest.s3.buckets.flatMap((b) =>
      b.prefixes.map((p) => route(`${b.bucket.bucketName}/${p.prefix}`, p)),
    );
    const fn = make(
      'IngestS3',
      'stixflow: S3 object notifications → streamed objects → detection pipeline',
      routesEnv('s3', routes),
    );
    const s3Dlq = dlq('S3NotificationDlq');
    const queue = new Queue(scope, 'S3NotificationQueue', {
      ...queueDefaults,
      visibilityTimeout: Duration.seconds(props.timeout.toSeconds() * 6),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: s3Dlq, maxReceiveCount: 5 },
    });
    for (const { bucket, prefixes } of ingest.s3.buckets) {
      for (const p of prefixes) {
        bucket.addEventNotification(EventType.OBJECT_CREATED, new SqsDestination(queue), {
          ...(p.prefix !== '' ? { prefix: p.prefix } : {}),
        });
        // Read only the notified prefix; versions too (a notification may name one).
        const objects = bucket.arnForObjects(`${p.prefix}*`);
        fn.addToRolePolicy(
          new PolicyStatement({ actions: ['s3:GetObject', 's3:GetObjectVersion'], resources: [objects] }),
        );
        Validations.of(fn.role!).acknowledge({
          id: `AwsSolutions-IAM5[${nagResource(scope, objects)}]`,
          reason: `the function reads the objects under the notified prefix ${p.prefix || '(whole bucket)'}, whose keys are not known in advance`,
        });
      }
      bucket.encryptionKey?.grantDecrypt(fn);
    }
    fn.addEventSource(
      new SqsEventSource(queue, {
        batchSize: ingest.s3.batchSize ?? 5,
        maxBatchingWindow: Duration.seconds(1),
        reportBatchItemFailures: true,
      }),
    );
    channels.s3 = { function: fn, queue, dlq: s3Dlq };
    acknowledgeNotificationHandler(scope);
  }

  if (ingest.kinesis && ingest.kinesis.streams.length > 0) {
    const routes = ingest.kinesis.streams.map((s) => route(s.stream.streamName, s));
    const fn = make('IngestKinesis', 'stixflow: Kinesis records → detection pipeline', routesEnv('kinesis', routes));
    const kinesisDlq = dlq('KinesisFailureDlq');
    for (const s of ingest.kinesis.streams) {
      fn.addEventSource(
        new KinesisEventSource(s.stream, {
          startingPosition: s.startingPosition ?? StartingPosition.LATEST,
          batchSize: s.batchSize ?? 500,
          maxBatchingWindow: Duration.seconds(1),
          // One shard's batches in order (parallelization 1), so an entity's events correlate in order.
          parallelizationFactor: 1,
          bisectBatchOnError: true,
          reportBatchItemFailures: true,
          retryAttempts: 10,
          maxRecordAge: Duration.days(1),
          onFailure: new SqsDlq(kinesisDlq),
        }),
      );
    }
    channels.kinesis = { function: fn, dlq: kinesisDlq };
  }

  if (ingest.eventBridge && ingest.eventBridge.rules.length > 0) {
    const routes = ingest.eventBridge.rules.flatMap((r) => {
      if (r.source === undefined && r.tenant === undefined) return [];
      const prefix = r.routePrefix ?? defaultRoutePrefix(r.pattern);
      if (prefix === undefined)
        throw new Error(
          `StixDetectionPipeline: ingest.eventBridge rule ${r.id} sets a source or tenant but its pattern has no single source to route by: give routePrefix`,
        );
      return [route(prefix, r)];
    });
    const fn = make(
      'IngestEventBridge',
      'stixflow: EventBridge events → detection pipeline',
      routesEnv('eventBridge', routes),
    );
    const ebDlq = dlq('EventBridgeDlq');
    asyncFailuresTo(fn, ebDlq);
    const rules = ingest.eventBridge.rules.map(
      (r) =>
        new Rule(scope, r.id, {
          eventPattern: r.pattern,
          description: `stixflow: ${r.id} → detection pipeline`,
          targets: [
            new LambdaFunction(fn, { deadLetterQueue: ebDlq, retryAttempts: 8, maxEventAge: Duration.hours(6) }),
          ],
        }),
    );
    channels.eventBridge = { function: fn, dlq: ebDlq, rules };
  }

  if (ingest.cloudWatchLogs && ingest.cloudWatchLogs.logGroups.length > 0) {
    const routes = ingest.cloudWatchLogs.logGroups.map((g) => route(g.logGroup.logGroupName, g));
    const fn = make(
      'IngestCwLogs',
      'stixflow: CloudWatch Logs subscriptions → detection pipeline',
      routesEnv('cloudWatchLogs', routes),
    );
    const cwDlq = dlq('CloudWatchLogsDlq');
    asyncFailuresTo(fn, cwDlq);
    const filters = ingest.cloudWatchLogs.logGroups.map(
      (g) =>
        new SubscriptionFilter(scope, g.id, {
          logGroup: g.logGroup,
          destination: new LambdaDestination(fn),
          filterPattern:
            g.filterPattern !== undefined ? FilterPattern.literal(g.filterPattern) : FilterPattern.allEvents(),
        }),
    );
    // CloudWatch Logs may invoke the function only for this account's log groups.
    fn.addPermission('CloudWatchLogsAccount', {
      principal: new ServicePrincipal('logs.amazonaws.com'),
      sourceAccount: Stack.of(scope).account,
    });
    channels.cloudWatchLogs = { function: fn, dlq: cwDlq, filters };
  }
  return channels;
}

function defaultRoutePrefix(pattern: EventPattern): string | undefined {
  const sources = pattern.source;
  if (sources?.length !== 1) return undefined;
  const detailTypes = pattern.detailType;
  return detailTypes?.length === 1 ? `${sources[0]}/${detailTypes[0]}` : `${sources[0]}/`;
}

/**
 * S3 notifications are configured by CDK's own BucketNotificationsHandler custom resource (the only way CDK
 * configures them); its role is CDK's, not ours. Acknowledged by finding, with the reason.
 */
function acknowledgeNotificationHandler(scope: Construct): void {
  const handler = Stack.of(scope).node.tryFindChild('BucketNotificationsHandler050a0587b7544547bf325f094a3db834');
  if (handler === undefined) return;
  Validations.of(handler).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason:
      "CDK's BucketNotificationsHandler (it configures the S3 event notifications) runs with the AWS managed basic execution role, as aws-cdk-lib defines it",
  });
}

/** The resource as cdk-nag names it in an IAM5 finding (`<Logical.Arn>/prefix*`). */
export function nagResource(scope: Construct, arn: string): string {
  return `Resource::${flattenCfnReference(Stack.of(scope).resolve(arn))}`;
}

/**
 * Operating the pipeline (#18; docs/operations.md): concurrency caps on every function, the alarm
 * topic, the customer-managed key applied to every table, queue, topic and log group, and per-route
 * API throttles. Each is applied once every resource of the pipeline exists, so a function, queue
 * or log group added by any part (channels, outputs) gets the same treatment.
 */
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { CfnStage, type HttpStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { Effect, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key, type IKey } from 'aws-cdk-lib/aws-kms';
import { CfnEventSourceMapping, CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { CfnLogGroup } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * Reserved concurrency by function id: a cap (a flood of events cannot take the account's whole
 * concurrency, nor the table's capacity) and a guarantee. Queue-fed functions also get the same
 * maximum concurrency on their event source mapping, so SQS does not hand batches to a throttled
 * function (which would count receives towards the dead-letter queue).
 */
export const DEFAULT_RESERVED_CONCURRENCY: Readonly<Record<string, number>> = {
  IngestHttp: 100,
  IngestSqs: 50,
  RulesApi: 5,
  IngestS3: 20,
  IngestKinesis: 50,
  IngestEventBridge: 20,
  IngestCwLogs: 20,
  Outputs: 10,
  OutboxSweeper: 1,
};

/** The pipeline's Lambda functions by construct id (every part defines its functions in the pipeline's scope). */
export function pipelineFunctions(scope: Construct): Map<string, NodejsFunction> {
  const found = new Map<string, NodejsFunction>();
  for (const child of scope.node.children) if (child instanceof NodejsFunction) found.set(child.node.id, child);
  return found;
}

/**
 * Applies reserved concurrency (`false`: none, only the queue mappings' maximum concurrency) and
 * the queue mappings' maximum concurrency.
 */
export function applyConcurrency(
  functions: ReadonlyMap<string, NodejsFunction>,
  reserved: Partial<Record<string, number>> | false = {},
): void {
  for (const [id, fn] of functions) {
    const limit = (reserved === false ? undefined : reserved[id]) ?? DEFAULT_RESERVED_CONCURRENCY[id] ?? 10;
    if (reserved !== false) (fn.node.defaultChild as CfnFunction).reservedConcurrentExecutions = limit;
    for (const child of fn.node.findAll()) {
      // SQS mappings only (Kinesis mappings have a starting position and no scaling config).
      if (child instanceof CfnEventSourceMapping && child.startingPosition === undefined)
        child.scalingConfig = { maximumConcurrency: Math.min(1000, Math.max(2, limit)) };
    }
  }
}

/**
 * The topic every alarm notifies: SSE with the pipeline's key (CloudWatch may use it), SSL only.
 * Subscribe e-mail, chat or paging to it (docs/operations.md).
 */
export function defineAlarmTopic(scope: Construct, key: IKey): Topic {
  return new Topic(scope, 'AlarmTopic', {
    displayName: 'stixflow alarms',
    masterKey: key,
    enforceSSL: true,
  });
}

/**
 * The key of the alarm topic when no customer-managed key is given: the AWS-managed SNS key cannot
 * be used by CloudWatch alarms, so the topic needs a key of its own (rotated yearly).
 */
export function defineAlarmTopicKey(scope: Construct): Key {
  return new Key(scope, 'AlarmTopicKey', {
    description: 'stixflow: alarm topic encryption (CloudWatch alarms publish to it)',
    enableKeyRotation: true,
  });
}

/** What using the key takes (named actions, no wildcards): SSE-KMS data keys for queues, table and logs. */
const KEY_USE = ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'];

/** The services that write into the pipeline's encrypted resources, allowed in the key's policy. */
export function allowServicesToUseKey(scope: Construct, key: IKey, services: readonly string[]): void {
  const stack = Stack.of(scope);
  for (const service of services)
    key.addToResourcePolicy(
      new PolicyStatement({
        sid: `Allow-${service.split('.')[0]}`,
        effect: Effect.ALLOW,
        principals: [new ServicePrincipal(service)],
        actions: KEY_USE,
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
}

/**
 * Encrypts every queue and log group of the pipeline with the customer-managed key, and lets every
 * function use it (they read and write the table, send to and receive from the queues). An imported
 * key's policy cannot be changed here: it must already allow the services (docs/operations.md).
 */
export function applyEncryptionKey(scope: Construct, key: IKey, functions: ReadonlyMap<string, NodejsFunction>): void {
  for (const child of scope.node.findAll()) {
    if (child instanceof CfnQueue) {
      child.sqsManagedSseEnabled = undefined;
      child.kmsMasterKeyId = key.keyArn;
    } else if (child instanceof CfnLogGroup) child.kmsKeyId = key.keyArn;
  }
  for (const fn of functions.values()) {
    key.grant(fn, ...KEY_USE);
    (fn.node.defaultChild as CfnFunction).kmsKeyArn = key.keyArn;
  }
  const region = Stack.of(scope).region;
  allowServicesToUseKey(scope, key, [
    'cloudwatch.amazonaws.com',
    'events.amazonaws.com',
    's3.amazonaws.com',
    `logs.${region}.amazonaws.com`,
  ]);
}

/** Throttles of one route (requests per second, burst), beside the stage's default. */
export interface RouteThrottle {
  rateLimit: number;
  burstLimit: number;
}

/**
 * Per-route throttles: POST /events takes the volume, the rules API a trickle (an operator), so a
 * flood of one cannot starve the other. Keys are route keys (`POST /events`).
 */
export const DEFAULT_ROUTE_THROTTLES: Readonly<Record<string, RouteThrottle>> = {
  'POST /events': { rateLimit: 100, burstLimit: 200 },
  'GET /rules': { rateLimit: 5, burstLimit: 10 },
  'PATCH /rules/{id}': { rateLimit: 1, burstLimit: 5 },
};

export function applyRouteThrottles(stage: HttpStage, throttles: Partial<Record<string, RouteThrottle>> = {}): void {
  // RouteSettings is a JSON map in CloudFormation (route key → settings): written as CloudFormation spells it.
  const settings: Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }> = {};
  for (const [route, t] of Object.entries({ ...DEFAULT_ROUTE_THROTTLES, ...throttles }))
    if (t) settings[route] = { ThrottlingRateLimit: t.rateLimit, ThrottlingBurstLimit: t.burstLimit };
  (stage.node.defaultChild as CfnStage).routeSettings = settings;
}

/** Why the Serverless pack's findings that are not fixed are right for this pipeline, by finding. */
export function acknowledgeServerlessFindings(functions: ReadonlyMap<string, NodejsFunction>): void {
  for (const [id, fn] of functions) {
    Validations.of(fn).acknowledge({
      id: 'Serverless-LambdaTracing',
      reason:
        'X-Ray is off by default (cost per trace, and a wildcard IAM grant); the functions publish EMF metrics and structured logs with request and message ids',
    });
    Validations.of(fn).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason: DLQ_REASONS[id] ?? DLQ_REASONS.default!,
    });
    for (const child of fn.node.findAll())
      if (child instanceof CfnEventSourceMapping && child.startingPosition === undefined)
        Validations.of(child).acknowledge({
          id: 'Serverless-LambdaEventSourceMappingDestination',
          reason:
            "an SQS event source mapping has no on-failure destination: failed messages go to the queue's own dead-letter queue (redrive policy)",
        });
  }
}

const DLQ_REASONS: Record<string, string> = {
  default:
    'invoked synchronously (API) or by an event source mapping, whose failed records go to the source queue or the stream failure destination, not to a function dead-letter queue',
  IngestEventBridge:
    'asynchronous failures go to an on-failure destination (an SSE, SSL-only SQS queue), which also keeps the error, instead of the older dead-letter config',
  IngestCwLogs:
    'asynchronous failures go to an on-failure destination (an SSE, SSL-only SQS queue), which also keeps the error, instead of the older dead-letter config',
  OutboxSweeper: 'a scheduled sweep that fails is followed by the next one: there is no event to keep',
};

/** Acknowledges the Serverless pack's redrive finding on a queue that is itself a dead-letter queue. */
export function acknowledgeDeadLetterQueue(queue: Construct): void {
  Validations.of(queue).acknowledge({
    id: 'Serverless-SQSRedrivePolicy',
    reason: 'this queue is a dead-letter queue: a redrive policy on it would only move the messages once more',
  });
}

export const NEAR_TIMEOUT_SHARE = 0.8;
export const ALARM_PERIOD = Duration.minutes(5);

/**
 * Cross-account sources (docs/operations.md#cross-account-sources): per source account, an ingest
 * queue only that account may send to (SSE, SSL-only, with a dead-letter queue) and, when asked, an
 * EventBridge bus only that account may put events on, whose rule forwards them to the same queue.
 * The IngestSqs function reads every source queue; SOURCE_QUEUES tells it the tenant of each, so the
 * tenant comes from the queue (the account), never from a message's own attribute.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { EventBus, Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { AccountPrincipal, Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { isValidTenant } from '../../src/ingest/routes.js';
import { SOURCE_QUEUES_ENV, type SourceQueueRoute } from '../../src/ingest/source-queues.js';
import { builtInMappings } from '../../src/normalise/index.js';

export interface SourceAccountProps {
  /** The AWS account (12 digits) that sends. */
  account: string;
  /** Tenant of everything it sends; default the account id. */
  tenant?: string;
  /** Mapping of its events (e.g. `aws-cloudtrail`); default: detected per event. */
  source?: string;
  /** An EventBridge bus it may put events on (forwarded to its queue); default false. */
  eventBus?: boolean;
}

export interface SourceAccountParts {
  account: string;
  tenant: string;
  queue: Queue;
  dlq: Queue;
  bus?: EventBus;
}

export function defineSourceAccounts(
  scope: Construct,
  props: {
    accounts: SourceAccountProps[];
    ingestSqs: NodejsFunction;
    timeout: Duration;
    maxReceiveCount?: number;
    batchSize?: number;
  },
): SourceAccountParts[] {
  const seen = new Set<string>();
  const mappings = new Set(builtInMappings().map((m) => m.name));
  const routes: SourceQueueRoute[] = [];
  const parts = props.accounts.map((a) => {
    const where = `StixDetectionPipeline: sourceAccounts ${a.account}`;
    if (!/^\d{12}$/.test(a.account)) throw new Error(`${where}: the account must be 12 digits`);
    if (seen.has(a.account)) throw new Error(`${where}: listed twice`);
    seen.add(a.account);
    const tenant = a.tenant ?? a.account;
    if (!isValidTenant(tenant)) throw new Error(`${where}: the tenant must be 1-256 printable characters`);
    if (a.source !== undefined && !mappings.has(a.source))
      throw new Error(`${where}: source ${a.source} names no built-in mapping`);
    const defaults = { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true } as const;
    const dlq = new Queue(scope, `Source${a.account}Dlq`, { ...defaults, retentionPeriod: Duration.days(14) });
    const queue = new Queue(scope, `Source${a.account}Queue`, {
      ...defaults,
      visibilityTimeout: Duration.seconds(props.timeout.toSeconds() * 6),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: dlq, maxReceiveCount: props.maxReceiveCount ?? 5 },
    });
    queue.addToResourcePolicy(
      new PolicyStatement({
        sid: 'SourceAccountSends',
        effect: Effect.ALLOW,
        principals: [new AccountPrincipal(a.account)],
        actions: ['sqs:SendMessage', 'sqs:GetQueueUrl', 'sqs:GetQueueAttributes'],
        resources: [queue.queueArn],
      }),
    );
    props.ingestSqs.addEventSource(
      new SqsEventSource(queue, {
        batchSize: props.batchSize ?? 10,
        maxBatchingWindow: Duration.seconds(1),
        reportBatchItemFailures: true,
      }),
    );
    routes.push({
      queue: queue.queueArn,
      account: a.account,
      tenant,
      ...(a.source !== undefined ? { source: a.source } : {}),
    });
    const part: SourceAccountParts = { account: a.account, tenant, queue, dlq };
    if (a.eventBus === true) {
      const bus = new EventBus(scope, `Source${a.account}Bus`, {
        description: `stixflow: events of account ${a.account} (tenant ${tenant})`,
      });
      bus.addToResourcePolicy(
        new PolicyStatement({
          sid: 'SourceAccountPutsEvents',
          effect: Effect.ALLOW,
          principals: [new AccountPrincipal(a.account)],
          actions: ['events:PutEvents'],
          resources: [bus.eventBusArn],
        }),
      );
      new Rule(scope, `Source${a.account}Forward`, {
        eventBus: bus,
        description: `stixflow: account ${a.account} events → its source queue`,
        // Only what that account sent (EventBridge sets `account`; a sender cannot).
        eventPattern: { account: [a.account] },
        targets: [new SqsQueue(queue, { deadLetterQueue: dlq, retryAttempts: 8, maxEventAge: Duration.hours(6) })],
      });
      part.bus = bus;
    }
    return part;
  });
  if (parts.length > 0) props.ingestSqs.addEnvironment(SOURCE_QUEUES_ENV, Stack.of(scope).toJsonString(routes));
  return parts;
}

/** The ingest queue and the alert queue, each with its dead-letter queue; SSE and SSL-only on all four. */
import { Duration } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

export interface PipelineQueuesProps {
  /** The ingest function's timeout: the ingest queue's visibility timeout is six times it. */
  functionTimeout: Duration;
  /** Receives before an ingest message is dead-lettered; default 5. */
  maxReceiveCount?: number;
  /** FIFO alert queue deduplicated by alert id, or a standard one. */
  alertQueueFifo: boolean;
}

export interface PipelineQueues {
  ingestQueue: Queue;
  ingestDlq: Queue;
  alertQueue: Queue;
  alertDlq: Queue;
}

/** Defines the queues in `scope` (the pipeline), under the ids deployed stacks already have. */
export function defineQueues(scope: Construct, props: PipelineQueuesProps): PipelineQueues {
  const queueDefaults = { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true } as const;
  const fifo = props.alertQueueFifo;
  const ingestDlq = new Queue(scope, 'IngestDlq', { ...queueDefaults, retentionPeriod: Duration.days(14) });
  const ingestQueue = new Queue(scope, 'IngestQueue', {
    ...queueDefaults,
    // Lambda's guidance: at least six times the function timeout, so retries of a slow batch do not overlap.
    visibilityTimeout: Duration.seconds(props.functionTimeout.toSeconds() * 6),
    retentionPeriod: Duration.days(4),
    deadLetterQueue: { queue: ingestDlq, maxReceiveCount: props.maxReceiveCount ?? 5 },
  });
  const alertDlq = new Queue(scope, 'AlertDlq', { ...queueDefaults, fifo, retentionPeriod: Duration.days(14) });
  const alertQueue = new Queue(scope, 'AlertQueue', {
    ...queueDefaults,
    fifo,
    // Deduplication is by MessageDeduplicationId = alert id (set by the sender), not by content.
    ...(fifo ? { contentBasedDeduplication: false } : {}),
    retentionPeriod: Duration.days(14),
    deadLetterQueue: { queue: alertDlq, maxReceiveCount: 5 },
  });
  return { ingestQueue, ingestDlq, alertQueue, alertDlq };
}

/**
 * Ingest from SQS with partial-batch failure reporting (Powertools BatchProcessor). Each message
 * body is one JSON event, a JSON array or NDJSON; its tenant is the `tenant` message attribute
 * (DEFAULT_TENANT when absent); its `source` message attribute, when present, names the mapping of
 * every event of the body instead of detection.
 *
 * A message fails (and is retried, then dead-lettered by the queue's redrive policy) when:
 * every event in it is malformed, its tenant attribute is invalid, its source attribute names no
 * mapping, an alert it raised was not delivered, or its state update kept conflicting. Messages that succeeded are not redone.
 * Failures are logged with the message id and reason, never the body.
 */
import middy from '@middy/core';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { StixflowError } from '../src/errors.js';
import { builtInMappings, unknownSourceMessage } from '../src/normalise/index.js';
import { countByCode } from './body.js';
import { isValidTenant } from './config.js';
import { Deadline } from './deadline.js';
import { sourceQueueRoute } from '../src/ingest/source-queues.js';
import {
  addIngestMetrics,
  inLambda,
  logger,
  metrics,
  rejectionSummary,
  sharedRuntime,
  type HandlerRuntime,
} from './runtime.js';

/** Why a message failed; `code` is stable, `reason` names no payload content. */
export class MessageFailure extends StixflowError {
  constructor(code: string, reason: string) {
    super(code, reason);
  }
}

export interface MessageFailureReport {
  messageId: string;
  code: string;
  reason: string;
  receiveCount: number;
}

const failureListeners = new Set<(failure: MessageFailureReport) => void>();

/**
 * Subscribes to message failures as they are logged (the local stack prints and records them).
 * Returns the unsubscribe function. No listener is registered on Lambda.
 */
export function onMessageFailure(listener: (failure: MessageFailureReport) => void): () => void {
  failureListeners.add(listener);
  return () => failureListeners.delete(listener);
}

export interface MessageOutcome {
  accepted: number;
  rejected: number;
  alertIds: string[];
}

async function processMessage(runtime: HandlerRuntime, record: SQSRecord): Promise<MessageOutcome> {
  // A source account's queue fixes the tenant; only the ingest queue reads the attribute (functions/source-accounts.ts).
  const bound = sourceQueueRoute(record.eventSourceARN);
  const attribute = bound ? undefined : record.messageAttributes?.tenant?.stringValue;
  const tenant = bound?.tenant ?? attribute ?? runtime.config.defaultTenant;
  if (!isValidTenant(tenant))
    throw new MessageFailure('invalid-tenant', 'the tenant message attribute must be 1-256 printable characters');
  const source = bound?.source ?? record.messageAttributes?.source?.stringValue;
  const unknownSource = source === undefined ? undefined : unknownSourceMessage(source, builtInMappings());
  if (unknownSource !== undefined) throw new MessageFailure('unknown-source', unknownSource);
  const outcome = await runtime.ingestText(record.body, tenant, source);
  addIngestMetrics(outcome);
  if (outcome.accepted === 0) {
    const codes = Object.entries(rejectionSummary(outcome.rejections)).map(([code, n]) => `${code} x${n}`);
    throw new MessageFailure('malformed', `no event in the message could be read (${codes.join(', ') || 'empty'})`);
  }
  if (outcome.undelivered.length > 0) {
    throw new MessageFailure(
      'alerts-undelivered',
      `${outcome.undelivered.length} alert(s) not delivered to the alert queue; the retry re-sends them`,
    );
  }
  if (outcome.retryable.length > 0) {
    throw new MessageFailure(
      'state-contended',
      `correlation state could not be updated (${Object.entries(countByCode(outcome.retryable))
        .map(([code, n]) => `${code} x${n}`)
        .join(', ')}); retrying`,
    );
  }
  if (outcome.rejections.length > 0) {
    logger.info('some events in the message were rejected', {
      messageId: record.messageId,
      rejected: rejectionSummary(outcome.rejections),
    });
  }
  return { accepted: outcome.accepted, rejected: outcome.rejections.length, alertIds: outcome.alertIds };
}

export function createIngestSqsHandler(getRuntime: () => HandlerRuntime) {
  // One processor per handler, reused across invocations as Powertools recommends.
  const processor = new BatchProcessor(EventType.SQS);
  return middy<SQSEvent, SQSBatchResponse, Error, Context>()
    .use(injectLambdaContext(logger, { logEvent: false, resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .handler(async (event, context) => {
      const runtime = getRuntime();
      const deadline = Deadline.of(context);
      const recordHandler = async (record: SQSRecord): Promise<MessageOutcome> => {
        // Close to the timeout: this message and the rest are batch item failures, retried (functions/deadline.ts).
        deadline.check(`message ${record.messageId}`);
        try {
          return await processMessage(runtime, record);
        } catch (error) {
          const failure: MessageFailureReport = {
            messageId: record.messageId,
            code: error instanceof StixflowError ? error.code : 'error',
            reason:
              error instanceof MessageFailure
                ? error.message
                : `processing failed: ${error instanceof Error ? error.name : 'unknown error'}`,
            receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? 1),
          };
          logger.warn('message failed; it will be retried, then dead-lettered', { ...failure });
          metrics.addMetric('MessagesFailed', MetricUnit.Count, 1);
          for (const listener of failureListeners) listener(failure);
          throw error;
        }
      };
      // In order, one message at a time: correlation sees a queue's events in the order they were sent.
      return processPartialResponse(event, recordHandler, processor, {
        context,
        throwOnFullBatchFailure: false,
        processInParallel: false,
      });
    });
}

export const handler = createIngestSqsHandler(() => sharedRuntime('ingest'));

// Build rules, clients and the Detector during the Lambda init phase, not on the first message.
if (inLambda()) sharedRuntime('ingest');

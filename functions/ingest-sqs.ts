/**
 * Ingest from SQS with partial-batch failure reporting (Powertools BatchProcessor). An invocation's
 * messages run as one engine batch (per tenant and source; see processMessages). Each message
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
import { Deadline, DeadlineReached } from './deadline.js';
import { sourceQueueRoute } from '../src/ingest/source-queues.js';
import {
  addIngestMetrics,
  inLambda,
  logger,
  metrics,
  rejectionSummary,
  sharedRuntime,
  type HandlerRuntime,
  type IngestOutcome,
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

/** Why a message fails, judged on its own outcome (whether from a shared batch or on its own). */
function judge(record: SQSRecord, outcome: IngestOutcome): MessageOutcome {
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

/** The tenant and source of a message, or why they are refused. */
function routeOf(runtime: HandlerRuntime, record: SQSRecord): { tenant: string; source: string | undefined } {
  // A source account's queue fixes the tenant (and maybe the source); only the ingest queue reads the attributes.
  const bound = sourceQueueRoute(record.eventSourceARN);
  const attribute = bound ? undefined : record.messageAttributes?.tenant?.stringValue;
  const tenant = bound?.tenant ?? attribute ?? runtime.config.defaultTenant;
  if (!isValidTenant(tenant))
    throw new MessageFailure('invalid-tenant', 'the tenant message attribute must be 1-256 printable characters');
  const source = bound?.source ?? record.messageAttributes?.source?.stringValue;
  const unknownSource = source === undefined ? undefined : unknownSourceMessage(source, builtInMappings());
  if (unknownSource !== undefined) throw new MessageFailure('unknown-source', unknownSource);
  return { tenant, source };
}

type Settled = { ok: true; outcome: MessageOutcome } | { ok: false; error: unknown };

async function settle(run: () => Promise<MessageOutcome> | MessageOutcome): Promise<Settled> {
  try {
    return { ok: true, outcome: await run() };
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * Runs an invocation's messages, in order, as one engine batch per (tenant, source): one state
 * read and one write per touched group for all of them, instead of one per message. Failures stay
 * per message: a message whose own events were all unreadable fails alone; and when the batch as
 * a whole did not complete (an alert not delivered, a state conflict — which fails every event of
 * its group, whatever message it came in), each message of that batch is run again on its own, as
 * a redelivery would run it (the outbox re-sends, the ledger and the used ids deduplicate), and
 * its own outcome decides.
 */
export async function processMessages(
  runtime: HandlerRuntime,
  records: readonly SQSRecord[],
  deadline?: Deadline,
): Promise<Settled[]> {
  const settled: Settled[] = [];
  const batches = new Map<string, { tenant: string; source: string | undefined; members: number[] }>();
  records.forEach((record, i) => {
    try {
      const route = routeOf(runtime, record);
      const id = JSON.stringify([route.tenant, route.source ?? null]);
      const batch = batches.get(id) ?? { ...route, members: [] };
      batch.members.push(i);
      batches.set(id, batch);
    } catch (error) {
      settled[i] = { ok: false, error };
    }
  });
  for (const { tenant, source, members } of batches.values()) {
    const alone = async (i: number): Promise<Settled> => {
      const record = records[i] as SQSRecord;
      return settle(async () => {
        // Close to the timeout: this message is a batch item failure, retried (functions/deadline.ts).
        deadline?.check(`message ${record.messageId}`);
        const outcome = await runtime.ingestText(record.body, tenant, source);
        addIngestMetrics(outcome);
        return judge(record, outcome);
      });
    };
    if (deadline?.near() === true) {
      // No time left to start this batch: each of its messages is deferred to a retry.
      for (const i of members) settled[i] = await alone(i); // each alone checks the deadline first: deferred
      continue;
    }
    let outcomes: IngestOutcome[] | undefined;
    try {
      outcomes = await runtime.ingestTexts(
        members.map((i) => (records[i] as SQSRecord).body),
        tenant,
        source,
      );
    } catch {
      outcomes = undefined; // the whole batch failed: each message is tried alone, and fails alone
    }
    const whole = outcomes !== undefined && (outcomes[0] as IngestOutcome).undelivered.length === 0;
    const complete = whole && (outcomes as IngestOutcome[])[0]?.retryable.length === 0;
    for (const [position, i] of members.entries()) {
      const outcome = outcomes?.[position];
      // One message alone in its batch: its outcome is its own, exactly.
      if (outcome !== undefined && (members.length === 1 || (complete && outcome.accepted > 0))) {
        addIngestMetrics(outcome);
        settled[i] = await settle(() => judge(records[i] as SQSRecord, outcome));
      } else settled[i] = await alone(i); // its events may have been partly refused: its own run counts them exactly
    }
  }
  return settled;
}

export function createIngestSqsHandler(getRuntime: () => HandlerRuntime) {
  // One processor per handler, reused across invocations as Powertools recommends.
  const processor = new BatchProcessor(EventType.SQS);
  return middy<SQSEvent, SQSBatchResponse, Error, Context>()
    .use(injectLambdaContext(logger, { logEvent: false, resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .handler(async (event, context) => {
      const runtime = getRuntime();
      const settled = await processMessages(runtime, event.Records, Deadline.of(context));
      const byMessage = new Map(event.Records.map((record, i) => [record.messageId, settled[i] as Settled]));
      const recordHandler = (record: SQSRecord): MessageOutcome => {
        const result = byMessage.get(record.messageId) as Settled;
        if (result.ok) return result.outcome;
        const error = result.error;
        // Deferred near the timeout (counted as Deferred, not as a failure): retried whole.
        if (error instanceof DeadlineReached) throw error;
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
      };
      // The messages ran above, as one batch; the processor turns their outcomes into batchItemFailures.
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

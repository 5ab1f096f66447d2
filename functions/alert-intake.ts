/**
 * Alert intake (#17): what leaves the alert queue is kept in the alert store for triage. The
 * outputs function (functions/outputs.ts), the alert queue's consumer when deployed, keeps each
 * alert before it delivers it; the local stack runs this handler on what it reads from the alert
 * queue. Keeping is idempotent (an alert id is kept once, its triage never reset by a redelivery),
 * so a message that comes back from the queue is safe.
 */
import middy from '@middy/core';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { AlertDocument } from '../src/outputs/types.js';
import { logger, metrics } from './runtime.js';

/** Where alerts are kept: DynamoDbAlertStore, or anything that keeps them as it does. */
export interface AlertKeeper {
  put(alert: AlertDocument): Promise<boolean>;
}

/** Keeps one alert; a body that is not an alert document is refused (the queue dead-letters it). */
export async function keepAlert(keeper: AlertKeeper, body: string): Promise<AlertDocument> {
  const alert = JSON.parse(body) as AlertDocument;
  if (typeof alert?.id !== 'string' || typeof alert.tenant !== 'string' || typeof alert.ruleId !== 'string')
    throw new Error('the message is not an alert document');
  const fresh = await keeper.put(alert);
  metrics.addMetric(fresh ? 'AlertsKept' : 'AlertsKeptAgain', MetricUnit.Count, 1);
  return alert;
}

export function createAlertIntakeHandler(getKeeper: () => AlertKeeper) {
  const processor = new BatchProcessor(EventType.SQS);
  return middy<SQSEvent, SQSBatchResponse, Error, Context>()
    .use(injectLambdaContext(logger, { logEvent: false, resetKeys: true }))
    .use(logMetrics(metrics))
    .handler(async (event, context) => {
      const keeper = getKeeper();
      const recordHandler = async (record: SQSRecord): Promise<string> => (await keepAlert(keeper, record.body)).id;
      return processPartialResponse(event, recordHandler, processor, { context, throwOnFullBatchFailure: false });
    });
}

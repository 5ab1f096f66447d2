/**
 * The outbox sweeper (EventBridge schedule, every few minutes; docs/operations.md): sends again the
 * alerts whose delivery to the alert queue failed and whose input never came back
 * (src/pipeline/outbox-sweep.ts). It stops taking pages when its own timeout is near; what is
 * left waits for the next run. Logs counts and alert ids only, never alert contents.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { OutboxSweeper, type PendingIndexReader, type SweepReport } from '../src/pipeline/outbox-sweep.js';
import { SqsMessageSink } from '../src/queue/sqs-sink.js';
import type { MessageSink } from '../src/queue/types.js';
import { DynamoDbStateStore } from '../src/state/dynamodb-store.js';
import { DynamoDbPendingIndex } from '../src/state/pending-index.js';
import type { StateStore } from '../src/state/types.js';
import { Deadline } from './deadline.js';
import { inLambda, logger, metrics, sharedRuntime, type HandlerRuntime } from './runtime.js';

export interface SweeperDeps {
  store: StateStore;
  index: PendingIndexReader;
  sink: MessageSink;
  now?: () => number;
}

/**
 * The sweeper of a deployment, from the ingest functions' environment (TABLE_NAME, ALERT_QUEUE_URL,
 * RULES_DIR, MAPPINGS_DIR): the rules are loaded as the ingest functions load them.
 */
export function sweeperFromEnv(
  runtime: HandlerRuntime,
  env: Record<string, string | undefined>,
  deps: Partial<SweeperDeps> = {},
) {
  const { config, rules, indicators } = runtime;
  const dynamo = deps.store && deps.index ? undefined : new DynamoDBClient({});
  const table = { client: dynamo as DynamoDBClient, tableName: config.tableName };
  const minAge = Number(env.OUTBOX_MIN_AGE_SECONDS);
  return (shouldStop: () => boolean) =>
    new OutboxSweeper({
      rules,
      indicators,
      store: deps.store ?? new DynamoDbStateStore(table),
      index: deps.index ?? new DynamoDbPendingIndex(table),
      sink: deps.sink ?? new SqsMessageSink({ client: new SQSClient({}), queueUrl: config.alertQueueUrl as string }),
      ...(Number.isInteger(minAge) && minAge >= 0 ? { minAgeSeconds: minAge } : {}),
      ...(deps.now ? { now: deps.now } : {}),
      shouldStop,
      engine: {
        ...(config.latenessSeconds !== undefined ? { latenessSeconds: config.latenessSeconds } : {}),
        ...(config.maxPartialsPerGroup !== undefined ? { maxPartialsPerGroup: config.maxPartialsPerGroup } : {}),
      },
    });
}

export function createOutboxSweeperHandler(getSweeper: () => ReturnType<typeof sweeperFromEnv>) {
  return middy<unknown, SweepReport, Error, Context>()
    .use(injectLambdaContext(logger, { logEvent: false, resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .handler(async (_event, context) => {
      const deadline = Deadline.of(context);
      const report = await getSweeper()(() => deadline.near()).sweep();
      metrics.addMetric('OutboxPending', MetricUnit.Count, report.examined);
      metrics.addMetric('OutboxResent', MetricUnit.Count, report.delivered.length);
      metrics.addMetric('OutboxResendFailed', MetricUnit.Count, report.failed.length);
      metrics.addMetric('AlertsUndeliverable', MetricUnit.Count, report.undeliverable.length);
      const summary = {
        examined: report.examined,
        delivered: report.delivered,
        failed: report.failed,
        undeliverable: report.undeliverable,
        skipped: report.skipped,
        stopped: report.stopped,
      };
      if (report.failed.length > 0 || report.undeliverable.length > 0)
        logger.warn('outbox sweep: some alerts are still undelivered', summary);
      else logger.info('outbox sweep', summary);
      return report;
    });
}

let lambdaSweeper: ReturnType<typeof sweeperFromEnv> | undefined;
function sweeperOnce(): ReturnType<typeof sweeperFromEnv> {
  lambdaSweeper ??= sweeperFromEnv(sharedRuntime('ingest'), process.env);
  return lambdaSweeper;
}

export const handler = createOutboxSweeperHandler(sweeperOnce);

if (inLambda()) sweeperOnce();

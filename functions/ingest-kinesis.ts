/**
 * Ingest from Kinesis Data Streams. Each record's data is one JSON event, a JSON array, NDJSON or text records
 * (gzip'd or not); the stream's route (INGEST_ROUTES, matched on the stream name) gives the tenant and the mapping.
 * Producers put an entity (a host, a user) as the partition key, so that entity's events arrive in order on one
 * shard and correlate in order.
 *
 * Records are run in order, in chunks of whole records. When a chunk fails in a way a retry can cure (an alert
 * not delivered, state contended), the handler reports that chunk's first record and every later one as batch
 * item failures: Lambda checkpoints before the lowest one and retries from there (with bisect-on-error halving
 * the batch), so nothing after a failure is skipped and nothing before it is run again. Records that hold no
 * readable event are counted and logged (never their content) and not retried: a retry cannot cure them.
 */
import { gunzipSync } from 'node:zlib';
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { chooseRoute, type IngestRoute } from '../src/ingest/routes.js';
import { parseEvents } from './body.js';
import { describeFailure, emptyTally, ingestBatch, routesFromEnv, type ChannelTally } from './channel.js';
import { Deadline } from './deadline.js';
import { inLambda, logger, metrics, sharedRuntime, type HandlerRuntime } from './runtime.js';

/** Events per pipeline call; a chunk always holds whole records. */
export const KINESIS_CHUNK_EVENTS = 500;

/** The stream name of an event source ARN (arn:aws:kinesis:region:account:stream/NAME). */
export function streamNameOf(arn: string): string {
  const at = arn.indexOf(':stream/');
  return at < 0 ? arn : arn.slice(at + ':stream/'.length);
}

/** A record's payload as text: base64 data, gunzipped when it starts with the gzip magic bytes. */
export function recordText(record: KinesisStreamRecord): string {
  const bytes = Buffer.from(record.kinesis.data, 'base64');
  return (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
}

export interface KinesisOutcome extends ChannelTally {
  /** Sequence numbers reported back as failed (a retry starts at the first). */
  failed: string[];
}

export function createIngestKinesisHandler(getRuntime: () => HandlerRuntime, getRoutes: () => IngestRoute[]) {
  return middy<KinesisStreamEvent, KinesisStreamBatchResponse, Error, Context>()
    .use(injectLambdaContext(logger, { logEvent: false, resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .handler(async (event, context) => {
      const outcome = await ingestKinesisRecords(getRuntime(), getRoutes(), event.Records, Deadline.of(context));
      return { batchItemFailures: outcome.failed.map((itemIdentifier) => ({ itemIdentifier })) };
    });
}

export async function ingestKinesisRecords(
  runtime: HandlerRuntime,
  routes: readonly IngestRoute[],
  records: readonly KinesisStreamRecord[],
  deadline?: Deadline,
): Promise<KinesisOutcome> {
  const tally = emptyTally();
  let unreadable = 0;
  let at = 0;
  while (at < records.length) {
    // One chunk: whole records of one stream, up to KINESIS_CHUNK_EVENTS events.
    const first = at;
    if (deadline?.near() === true) return deferRecords(records.slice(first), deadline, tally);
    const stream = streamNameOf(records[first]!.eventSourceARN);
    const values: unknown[] = [];
    const rejected: { code: string }[] = [];
    while (at < records.length && streamNameOf(records[at]!.eventSourceARN) === stream) {
      if (values.length > 0 && values.length >= KINESIS_CHUNK_EVENTS) break;
      let parsed;
      try {
        parsed = parseEvents(recordText(records[at]!));
      } catch {
        parsed = {
          events: [],
          rejections: [{ index: 0, code: 'invalid-gzip', reason: 'damaged gzip data' }],
          total: 1,
        };
      }
      if (parsed.events.length === 0) unreadable++;
      values.push(...parsed.events.map((e) => e.value));
      rejected.push(...parsed.rejections);
      at++;
    }
    const route = chooseRoute(routes, stream, runtime.config.defaultTenant);
    try {
      await ingestBatch(runtime, values, route.tenant, route.source, tally, rejected);
    } catch (error) {
      const failure = describeFailure(error);
      const failed = records.slice(first).map((r) => r.kinesis.sequenceNumber);
      logger.warn('Kinesis records failed; the stream resumes from the first of them', {
        stream,
        ...failure,
        firstSequenceNumber: failed[0],
        records: failed.length,
      });
      metrics.addMetric('RecordsFailed', MetricUnit.Count, failed.length);
      return { ...tally, failed };
    }
  }
  if (unreadable > 0 || tally.rejected > 0) {
    logger.warn('Kinesis records with unreadable events were skipped', {
      unreadableRecords: unreadable,
      rejected: tally.rejectionCodes,
    });
    metrics.addMetric('RecordsUnreadable', MetricUnit.Count, unreadable);
  }
  logger.info('Kinesis records ingested', {
    records: records.length,
    accepted: tally.accepted,
    alerts: tally.alertIds.length,
  });
  return { ...tally, failed: [] };
}

/** Close to the timeout: the records not started are failures from the first, so the shard checkpoints before it. */
function deferRecords(rest: readonly KinesisStreamRecord[], deadline: Deadline, tally: ChannelTally): KinesisOutcome {
  const failed = rest.map((r) => r.kinesis.sequenceNumber);
  deadline.deferred += failed.length;
  logger.warn("the function's timeout is near; the stream resumes from the first record not started", {
    firstSequenceNumber: failed[0],
    records: failed.length,
    remainingMs: Math.round(deadline.remainingMs()),
  });
  metrics.addMetric('Deferred', MetricUnit.Count, failed.length);
  return { ...tally, failed };
}

export const handler = createIngestKinesisHandler(() => sharedRuntime('ingest'), routesFromEnvOnce);

let lambdaRoutes: IngestRoute[] | undefined;
function routesFromEnvOnce(): IngestRoute[] {
  lambdaRoutes ??= routesFromEnv();
  return lambdaRoutes;
}

if (inLambda()) {
  sharedRuntime('ingest');
  routesFromEnvOnce();
}

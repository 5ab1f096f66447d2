/**
 * Ingest S3 objects: S3 event notifications (ObjectCreated) arrive on an SQS queue; each message names one or more
 * objects, each object is streamed (gzip'd or not; NDJSON, JSON arrays, CloudTrail `{"Records": [...]}` files, VPC
 * Flow Log text: src/ingest/object-reader.ts) in bounded batches through the one pipeline. The object's `source`
 * (mapping) and tenant come from the route of its `bucket/key` (INGEST_ROUTES), never from its content.
 *
 * A message fails (SQS partial batch response: retried, then dead-lettered by the redrive policy) when an object it
 * names cannot be read, holds nothing readable, or a batch's alerts were not delivered or its state stayed contended.
 * The retry reads the whole object again: alert ids are deterministic and the alert ledger and the outboxes
 * exactly-once, so alerts already delivered are not raised twice, and correlation state drops the events it holds
 * already. Events keep the ids their mapping gives them (a CloudTrail eventID, a flow's 5-tuple and start), or ids
 * from their content: the same event read again, or delivered in two objects, is the same event.
 *
 * S3 test events (`s3:TestEvent`, sent when a notification is configured) and records other than ObjectCreated
 * are skipped. Failures are logged with the message id, object and reason, never the content.
 */
import middy from '@middy/core';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { S3Client } from '@aws-sdk/client-s3';
import type { Context, S3EventRecord, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { readObjectEvents, type ObjectReaderOptions } from '../src/ingest/object-reader.js';
import { ObjectReadError, S3ObjectStore, type ObjectRef, type ObjectStore } from '../src/ingest/object-store.js';
import { chooseRoute, type IngestRoute } from '../src/ingest/routes.js';
import {
  ChannelFailure,
  describeFailure,
  emptyTally,
  ingestBatch,
  routesFromEnv,
  type ChannelTally,
} from './channel.js';
import { Deadline } from './deadline.js';
import { inLambda, logger, metrics, sharedRuntime, type HandlerRuntime } from './runtime.js';

export interface S3IngestDeps {
  objects: ObjectStore;
  routes: IngestRoute[];
  reader?: ObjectReaderOptions;
}

export interface ObjectOutcome extends ChannelTally {
  object: ObjectRef;
  tenant: string;
  source: string | undefined;
}

export interface S3MessageFailure {
  messageId: string;
  code: string;
  reason: string;
  object?: string;
}

/** The objects an S3 event notification names (keys arrive URL-encoded, spaces as '+'). */
export function objectsOfNotification(body: string): ObjectRef[] | 'test-event' {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new ChannelFailure('malformed-notification', 'the message is not an S3 event notification (not JSON)');
  }
  const value = parsed as { Event?: unknown; Records?: unknown };
  if (value.Event === 's3:TestEvent') return 'test-event';
  if (!Array.isArray(value.Records))
    throw new ChannelFailure('malformed-notification', 'the message is not an S3 event notification (no Records)');
  const refs: ObjectRef[] = [];
  for (const record of value.Records as Partial<S3EventRecord>[]) {
    if (typeof record.eventName !== 'string' || !record.eventName.startsWith('ObjectCreated:')) continue;
    const bucket = record.s3?.bucket?.name;
    const key = record.s3?.object?.key;
    if (typeof bucket !== 'string' || typeof key !== 'string')
      throw new ChannelFailure('malformed-notification', 'an S3 record has no bucket name or object key');
    const versionId = record.s3?.object?.versionId;
    refs.push({
      bucket,
      key: decodeURIComponent(key.replace(/\+/g, ' ')),
      ...(typeof versionId === 'string' && versionId !== '' ? { versionId } : {}),
    });
  }
  return refs;
}

/** Streams one object through the pipeline, batch by batch; throws ChannelFailure when the message must be retried. */
export async function ingestObject(
  runtime: HandlerRuntime,
  deps: S3IngestDeps,
  object: ObjectRef,
  deadline?: Deadline,
): Promise<ObjectOutcome> {
  const route = chooseRoute(deps.routes, `${object.bucket}/${object.key}`, runtime.config.defaultTenant);
  const tally = emptyTally();
  let stream;
  try {
    stream = await deps.objects.open(object);
  } catch (error) {
    if (error instanceof ObjectReadError)
      throw new ChannelFailure(error.code, `s3://${object.bucket}/${object.key} could not be read (${error.code})`);
    throw error;
  }
  for await (const batch of readObjectEvents(stream, deps.reader)) {
    // Mid-object too: the notification is retried and the object read again (its events already taken are duplicates).
    deadline?.check(`the rest of s3://${object.bucket}/${object.key}`);
    await ingestBatch(
      runtime,
      batch.events.map((e) => e.value),
      route.tenant,
      route.source,
      tally,
      batch.rejections,
    );
  }
  if (tally.events > 0 && tally.accepted === 0) {
    const codes = Object.entries(tally.rejectionCodes).map(([code, n]) => `${code} x${n}`);
    throw new ChannelFailure('malformed', `no event in the object could be read (${codes.join(', ')})`);
  }
  return { ...tally, object, tenant: route.tenant, source: route.source };
}

const failureListeners = new Set<(failure: S3MessageFailure) => void>();
const objectListeners = new Set<(outcome: ObjectOutcome) => void>();

/** Subscribes to message failures as they are logged (the local stack prints them). Returns the unsubscribe. */
export function onS3MessageFailure(listener: (failure: S3MessageFailure) => void): () => void {
  failureListeners.add(listener);
  return () => failureListeners.delete(listener);
}

/** Subscribes to objects read to the end. Returns the unsubscribe. */
export function onS3ObjectIngested(listener: (outcome: ObjectOutcome) => void): () => void {
  objectListeners.add(listener);
  return () => objectListeners.delete(listener);
}

export function createIngestS3Handler(getRuntime: () => HandlerRuntime, getDeps: () => S3IngestDeps) {
  const processor = new BatchProcessor(EventType.SQS);
  return middy<SQSEvent, SQSBatchResponse, Error, Context>()
    .use(injectLambdaContext(logger, { logEvent: false, resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .handler(async (event, context) => {
      const runtime = getRuntime();
      const deps = getDeps();
      const deadline = Deadline.of(context);
      const recordHandler = async (record: SQSRecord): Promise<ObjectOutcome[]> => {
        // Close to the timeout: this notification and the rest are batch item failures, retried (functions/deadline.ts).
        deadline.check(`notification ${record.messageId}`);
        let current: ObjectRef | undefined;
        try {
          const objects = objectsOfNotification(record.body);
          if (objects === 'test-event') return [];
          const outcomes: ObjectOutcome[] = [];
          for (const object of objects) {
            current = object;
            const outcome = await ingestObject(runtime, deps, object, deadline);
            outcomes.push(outcome);
            metrics.addMetric('ObjectsIngested', MetricUnit.Count, 1);
            logger.info('object ingested', {
              bucket: object.bucket,
              key: object.key,
              tenant: outcome.tenant,
              source: outcome.source ?? 'detected',
              events: outcome.events,
              accepted: outcome.accepted,
              rejected: outcome.rejectionCodes,
              alerts: outcome.alertIds.length,
            });
            for (const listener of objectListeners) listener(outcome);
          }
          return outcomes;
        } catch (error) {
          const failure: S3MessageFailure = {
            messageId: record.messageId,
            ...describeFailure(error),
            ...(current ? { object: `s3://${current.bucket}/${current.key}` } : {}),
          };
          logger.warn('S3 notification failed; it will be retried, then dead-lettered', { ...failure });
          metrics.addMetric('MessagesFailed', MetricUnit.Count, 1);
          for (const listener of failureListeners) listener(failure);
          throw error;
        }
      };
      // One message at a time: the objects of a prefix are read in the order they were notified.
      return processPartialResponse(event, recordHandler, processor, {
        context,
        throwOnFullBatchFailure: false,
        processInParallel: false,
      });
    });
}

let lambdaDeps: S3IngestDeps | undefined;
function depsFromEnv(): S3IngestDeps {
  lambdaDeps ??= { objects: new S3ObjectStore(new S3Client({})), routes: routesFromEnv() };
  return lambdaDeps;
}

export const handler = createIngestS3Handler(() => sharedRuntime('ingest'), depsFromEnv);

if (inLambda()) {
  sharedRuntime('ingest');
  depsFromEnv();
}

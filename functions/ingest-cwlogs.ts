/**
 * Ingest CloudWatch Logs subscription filter deliveries: `awslogs.data` is base64 of gzip'd JSON
 * `{ messageType, owner, logGroup, logStream, subscriptionFilters, logEvents: [{ id, timestamp, message }] }`.
 * Each log event's message is read like a body (JSON, NDJSON, VPC Flow Log or audit.log text). The log group's
 * route (INGEST_ROUTES, matched on the log group name) gives the tenant and the mapping. CONTROL_MESSAGE
 * deliveries (CloudWatch Logs checking the destination) are acknowledged and skipped.
 *
 * CloudWatch Logs invokes the function asynchronously: a failure a retry can cure is thrown, so Lambda retries the
 * delivery (and dead-letters it past its retries); the alert ledger keeps a retried delivery from alerting twice.
 */
import { gunzipSync } from 'node:zlib';
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { CloudWatchLogsDecodedData, CloudWatchLogsEvent, Context } from 'aws-lambda';
import { chooseRoute, type IngestRoute } from '../src/ingest/routes.js';
import { parseEvents } from './body.js';
import {
  ChannelFailure,
  describeFailure,
  emptyTally,
  ingestBatch,
  routesFromEnv,
  type ChannelTally,
} from './channel.js';
import { inLambda, logger, metrics, sharedRuntime, type HandlerRuntime } from './runtime.js';

export interface CloudWatchLogsOutcome extends ChannelTally {
  logGroup: string | undefined;
  tenant: string | undefined;
  control: boolean;
}

/** Events per pipeline call. */
export const CWLOGS_CHUNK_EVENTS = 500;

export function decodeDelivery(event: CloudWatchLogsEvent): CloudWatchLogsDecodedData {
  try {
    return JSON.parse(
      gunzipSync(Buffer.from(event.awslogs.data, 'base64')).toString('utf8'),
    ) as CloudWatchLogsDecodedData;
  } catch {
    throw new ChannelFailure('malformed-delivery', 'awslogs.data is not base64 gzip JSON');
  }
}

export function createIngestCloudWatchLogsHandler(getRuntime: () => HandlerRuntime, getRoutes: () => IngestRoute[]) {
  return middy<CloudWatchLogsEvent, CloudWatchLogsOutcome, Error, Context>()
    .use(injectLambdaContext(logger, { logEvent: false, resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .handler(async (event) => {
      const runtime = getRuntime();
      const tally = emptyTally();
      const delivery = decodeDelivery(event);
      if (delivery.messageType === 'CONTROL_MESSAGE')
        return { ...tally, logGroup: delivery.logGroup, tenant: undefined, control: true };
      const route = chooseRoute(getRoutes(), delivery.logGroup, runtime.config.defaultTenant);
      const values: unknown[] = [];
      const rejected: { code: string }[] = [];
      try {
        for (const logEvent of delivery.logEvents ?? []) {
          const parsed = parseEvents(logEvent.message);
          values.push(...parsed.events.map((e) => e.value));
          rejected.push(...parsed.rejections);
          if (values.length >= CWLOGS_CHUNK_EVENTS) {
            await ingestBatch(runtime, values.splice(0), route.tenant, route.source, tally, rejected.splice(0));
          }
        }
        await ingestBatch(runtime, values, route.tenant, route.source, tally, rejected);
      } catch (error) {
        logger.warn('CloudWatch Logs delivery failed; Lambda retries it, then dead-letters it', {
          logGroup: delivery.logGroup,
          logStream: delivery.logStream,
          ...describeFailure(error),
        });
        metrics.addMetric('DeliveriesFailed', MetricUnit.Count, 1);
        throw error;
      }
      logger.info('CloudWatch Logs delivery ingested', {
        logGroup: delivery.logGroup,
        logEvents: delivery.logEvents?.length ?? 0,
        accepted: tally.accepted,
        rejected: tally.rejectionCodes,
        alerts: tally.alertIds.length,
      });
      return { ...tally, logGroup: delivery.logGroup, tenant: route.tenant, control: false };
    });
}

let lambdaRoutes: IngestRoute[] | undefined;
function routesFromEnvOnce(): IngestRoute[] {
  lambdaRoutes ??= routesFromEnv();
  return lambdaRoutes;
}

export const handler = createIngestCloudWatchLogsHandler(() => sharedRuntime('ingest'), routesFromEnvOnce);

if (inLambda()) {
  sharedRuntime('ingest');
  routesFromEnvOnce();
}

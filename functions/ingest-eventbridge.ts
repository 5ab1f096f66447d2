/**
 * Ingest EventBridge events: GuardDuty findings, Security Hub findings, CloudTrail API calls, or any event a rule
 * pattern the deployment gives selects. The route of `source/detail-type` (INGEST_ROUTES; e.g. `aws.guardduty/`)
 * gives the tenant and, when set, the mapping; otherwise the normaliser opens the EventBridge envelope and detects
 * the mapping of its `detail` (GuardDuty findings are recognised).
 *
 * Security Hub's "Findings - Imported" events carry a list of ASFF findings in `detail.findings`: each finding is
 * one event. EventBridge invokes the function asynchronously: a failure a retry can cure is thrown, so Lambda
 * retries the event and, past its retries, sends it to the function's dead-letter queue. Alert ids are
 * deterministic and the ledger exactly-once, so a retried event raises nothing twice.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context, EventBridgeEvent } from 'aws-lambda';
import { chooseRoute, type IngestRoute } from '../src/ingest/routes.js';
import { describeFailure, emptyTally, ingestBatch, routesFromEnv, type ChannelTally } from './channel.js';
import { inLambda, logger, metrics, sharedRuntime, type HandlerRuntime } from './runtime.js';

export type AnyEventBridgeEvent = EventBridgeEvent<string, unknown>;

export interface EventBridgeOutcome extends ChannelTally {
  tenant: string;
  source: string | undefined;
}

/** The raw events of one EventBridge event. */
export function eventsOf(event: AnyEventBridgeEvent): unknown[] {
  const detail = event.detail as { findings?: unknown } | undefined;
  if (event.source === 'aws.securityhub' && Array.isArray(detail?.findings)) return detail.findings as unknown[];
  return [event];
}

export function createIngestEventBridgeHandler(getRuntime: () => HandlerRuntime, getRoutes: () => IngestRoute[]) {
  return middy<AnyEventBridgeEvent, EventBridgeOutcome, Error, Context>()
    .use(injectLambdaContext(logger, { logEvent: false, resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .handler(async (event) => {
      const runtime = getRuntime();
      const place = `${event.source}/${event['detail-type']}`;
      const route = chooseRoute(getRoutes(), place, runtime.config.defaultTenant);
      const tally = emptyTally();
      try {
        await ingestBatch(runtime, eventsOf(event), route.tenant, route.source, tally);
      } catch (error) {
        logger.warn('EventBridge event failed; Lambda retries it, then dead-letters it', {
          eventId: event.id,
          place,
          ...describeFailure(error),
        });
        metrics.addMetric('EventsFailed', MetricUnit.Count, 1);
        throw error;
      }
      if (tally.accepted === 0)
        logger.warn('EventBridge event held no readable event', {
          eventId: event.id,
          place,
          rejected: tally.rejectionCodes,
        });
      return { ...tally, tenant: route.tenant, source: route.source };
    });
}

let lambdaRoutes: IngestRoute[] | undefined;
function routesFromEnvOnce(): IngestRoute[] {
  lambdaRoutes ??= routesFromEnv();
  return lambdaRoutes;
}

export const handler = createIngestEventBridgeHandler(() => sharedRuntime('ingest'), routesFromEnvOnce);

if (inLambda()) {
  sharedRuntime('ingest');
  routesFromEnvOnce();
}

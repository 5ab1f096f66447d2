/**
 * POST /events on the HTTP API (payload v2): one JSON event, a JSON array or NDJSON, whatever
 * the content type. The tenant comes from the authoriser context, never from the body.
 *
 *   202 { accepted, alerts, alertIds (the first MAX_LISTED_ALERT_IDS, 1,000; alertIdsOmitted: the rest),
 *         rejected, rejections: [{ index, code, reason }], rejectionCodes: { code: count },
 *         late, lateEvents: [{ index, ruleId, groupKey, lagSeconds }],
 *         errors, errorEvents: [{ index, ruleId, code }], valuesCut }
 *       counts are totals; each list holds the first LISTED_PER_KIND (100) entries, by body index
 *   400 the body holds no usable event (not JSON/NDJSON, empty, or every event refused), or
 *       `source` names no mapping (error unknown-source, the message names the known ones)
 *
 * `?source=<mapping>` or the `x-stixflow-source` header names the mapping of every event of the body
 * (an explicit choice beats detection); the query parameter wins when both are given.
 *   401 no authoriser context; 403 an authorised principal without a tenant
 *   413 the body (base64-decoded) is over MAX_BODY_BYTES, checked before parsing
 *   503 alerts not delivered or state contended: nothing is lost, retry the same request
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { bodyBytes, countByCode, decodeBody, eventReport } from './body.js';
import { callerOf, requestedSource, type HttpApiEvent } from './auth.js';
import { builtInMappings, unknownSourceMessage } from '../src/normalise/index.js';
import {
  addIngestMetrics,
  inLambda,
  logger,
  metrics,
  rejectionSummary,
  sharedRuntime,
  type HandlerRuntime,
} from './runtime.js';

/** Alert ids a 202 lists at most (the `alerts` count is the total). */
export const MAX_LISTED_ALERT_IDS = 1000;

const RETRY_AFTER_SECONDS = '1';

function json(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export function createIngestHttpHandler(getRuntime: () => HandlerRuntime) {
  return middy<HttpApiEvent, APIGatewayProxyStructuredResultV2, Error, Context>()
    .use(injectLambdaContext(logger, { logEvent: false, resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .handler(async (event) => {
      const runtime = getRuntime();
      const caller = callerOf(event, runtime.config.iamTenantSource);
      if (!caller.ok) {
        logger.warn('request refused', { status: caller.status, reason: caller.reason });
        metrics.addMetric('RequestsRefused', MetricUnit.Count, 1);
        return json(caller.status, {
          error: caller.status === 401 ? 'unauthorized' : 'forbidden',
          message: caller.reason,
        });
      }
      logger.appendKeys({ tenant: caller.tenant });
      const body = event.body ?? '';
      const size = bodyBytes(body, event.isBase64Encoded);
      if (size > runtime.config.maxBodyBytes) {
        logger.warn('request body too large', { bytes: size, limit: runtime.config.maxBodyBytes });
        metrics.addMetric('RequestsTooLarge', MetricUnit.Count, 1);
        return json(413, {
          error: 'payload-too-large',
          message: `the body is ${size} bytes; the limit is ${runtime.config.maxBodyBytes}`,
        });
      }
      const source = requestedSource(event);
      const unknownSource = source === undefined ? undefined : unknownSourceMessage(source, builtInMappings());
      if (unknownSource !== undefined) {
        metrics.addMetric('RequestsRefused', MetricUnit.Count, 1);
        return json(400, { error: 'unknown-source', message: unknownSource });
      }

      let outcome;
      try {
        outcome = await runtime.ingestText(decodeBody(body, event.isBase64Encoded), caller.tenant, source);
      } catch (error) {
        logger.error('ingest failed', {
          error: error instanceof Error ? { name: error.name, message: error.message } : 'unknown',
        });
        metrics.addMetric('IngestFailures', MetricUnit.Count, 1);
        return json(
          503,
          { error: 'unavailable', message: 'the detection pipeline is unavailable; retry the request' },
          { 'retry-after': RETRY_AFTER_SECONDS },
        );
      }
      addIngestMetrics(outcome);
      const summary = {
        accepted: outcome.accepted,
        alerts: outcome.alertIds.length,
        // Bounded, so a body that raises many alerts cannot push the response past the Lambda limit.
        alertIds: outcome.alertIds.slice(0, MAX_LISTED_ALERT_IDS),
        ...(outcome.alertIds.length > MAX_LISTED_ALERT_IDS
          ? { alertIdsOmitted: outcome.alertIds.length - MAX_LISTED_ALERT_IDS }
          : {}),
        ...eventReport(outcome),
        // LIKE / MATCHES saw only the first MAX_SEARCHED_LENGTH characters of this many values.
        valuesCut: outcome.result?.valuesCut ?? 0,
      };
      // Counts and codes only: bounded whatever the body, and never the payload.
      logger.info('events ingested', {
        events: outcome.total,
        accepted: outcome.accepted,
        rejected: rejectionSummary(outcome.rejections),
        alerts: outcome.alertIds.length,
        late: outcome.late.length,
        errors: countByCode(outcome.errors),
      });

      if (outcome.undelivered.length > 0 || outcome.retryable.length > 0) {
        // The alerts stay in the engine's outbox; the retried request re-sends them under the same ids.
        logger.error('alerts not delivered; asking the client to retry', {
          undelivered: outcome.undelivered.length,
          reasons: [...new Set(outcome.undelivered.map((u) => u.reason.split(':')[0]))],
          retryable: outcome.retryable.map((d) => d.code),
        });
        return json(
          503,
          {
            error: 'retry',
            message: 'some alerts could not be delivered yet; retry the same request (alerts are deduplicated)',
            ...summary,
          },
          { 'retry-after': RETRY_AFTER_SECONDS },
        );
      }
      if (outcome.accepted === 0)
        return json(400, {
          error: 'no-valid-events',
          message: 'the body holds no event that could be read',
          ...summary,
        });
      return json(202, summary);
    });
}

export const handler = createIngestHttpHandler(() => sharedRuntime('ingest'));

// Build rules, clients and the Detector during the Lambda init phase, not on the first request.
if (inLambda()) sharedRuntime('ingest');

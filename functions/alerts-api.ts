/**
 * The alerts API (#17; docs/api.md), on the HTTP API like every route:
 *
 *   GET   /alerts?ruleId=&severity=&status=&from=&to=&limit=&cursor=   the caller's tenant's alerts, newest first
 *   GET   /alerts/{id}     the whole alert document, its status and its triage history
 *   PATCH /alerts/{id}     { "status": "new"|"acknowledged"|"rejected"|"resolved", "note"? }
 *
 * Every caller of a tenant may triage that tenant's alerts (no admin scope); another tenant's alert
 * is a 404, never a 403, so ids cannot be probed. Rejecting an alert (a false positive) adds one to
 * its rule's `rejected` counter for the alert's UTC day; taking the verdict back takes it off, so
 * GET /rules shows the same figure as the counters store.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { utcDay } from '../src/state/counters.js';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  ALERT_STATUSES,
  AlertCursorError,
  DynamoDbAlertStore,
  type AlertQuery,
  type AlertStatus,
} from '../src/state/alert-store.js';
import { callerOf, type HttpApiEvent } from './auth.js';
import { decodeBody } from './body.js';
import { inLambda, logger, metrics, sharedRuntime, type HandlerRuntime } from './runtime.js';

type Result = APIGatewayProxyStructuredResultV2;
const MAX_NOTE_CHARACTERS = 2000;

function json(statusCode: number, body: unknown): Result {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

const isStatus = (value: unknown): value is AlertStatus =>
  typeof value === 'string' && (ALERT_STATUSES as readonly string[]).includes(value);

function isoOrUndefined(value: string | undefined): string | undefined | null {
  if (value === undefined || value === '') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

async function listAlerts(store: DynamoDbAlertStore, tenant: string, event: HttpApiEvent): Promise<Result> {
  const q = event.queryStringParameters ?? {};
  if (q.status !== undefined && !isStatus(q.status))
    return json(400, { error: `status must be one of ${ALERT_STATUSES.join(', ')}` });
  const from = isoOrUndefined(q.from);
  const to = isoOrUndefined(q.to);
  if (from === null || to === null) return json(400, { error: 'from and to must be timestamps (ISO 8601)' });
  const limit = q.limit !== undefined ? Number(q.limit) : undefined;
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0 && limit <= 500))
    return json(400, { error: 'limit must be an integer from 1 to 500' });
  const query: AlertQuery = {
    ...(q.ruleId ? { ruleId: q.ruleId } : {}),
    ...(q.severity ? { severity: q.severity } : {}),
    ...(q.status ? { status: q.status as AlertStatus } : {}),
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
    ...(limit !== undefined ? { limit } : {}),
    ...(q.cursor ? { cursor: q.cursor } : {}),
  };
  return json(200, await store.list(tenant, query));
}

async function triage(
  runtime: HandlerRuntime,
  store: DynamoDbAlertStore,
  caller: { tenant: string; principal: string },
  id: string,
  event: HttpApiEvent,
  now: number,
): Promise<Result> {
  let body: unknown;
  try {
    body = JSON.parse(decodeBody(event.body ?? '', event.isBase64Encoded));
  } catch {
    return json(400, { error: 'the body must be JSON: { "status": "...", "note"?: "..." }' });
  }
  const { status, note, ...rest } = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (!isStatus(status) || Object.keys(rest).length > 0)
    return json(400, {
      error: `the body must be { "status": ${ALERT_STATUSES.map((s) => `"${s}"`).join(' | ')}, "note"?: string }`,
    });
  if (note !== undefined && (typeof note !== 'string' || note.length > MAX_NOTE_CHARACTERS))
    return json(400, { error: `note must be a string of at most ${MAX_NOTE_CHARACTERS} characters` });
  const at = new Date(now).toISOString();
  const changed = await store.setStatus(caller.tenant, id, {
    status,
    by: caller.principal,
    at,
    ...(note !== undefined ? { note } : {}),
  });
  if (!changed) return json(404, { error: 'no alert of your tenant has this id' });
  // The rejected counter follows the verdict, on the alert's own day.
  const delta = (status === 'rejected' ? 1 : 0) - (changed.previous === 'rejected' ? 1 : 0);
  if (delta !== 0) {
    const day = utcDay(Date.parse(changed.summary.createdAt) || now);
    await runtime.counters.increment(caller.tenant, changed.summary.ruleId, day, { rejected: delta });
    // Written now, not at the end of the container-minute the counters aggregate over: the rules API (another
    // function when deployed) must count it on the next GET /rules, and a container may not live another minute.
    await runtime.flushCounters();
  }
  logger.info('alert triaged', { alertId: id, status, previous: changed.previous, by: caller.principal });
  metrics.addMetric('AlertsTriaged', MetricUnit.Count, 1);
  return json(200, { id, status, statusBy: caller.principal, statusAt: at });
}

const built = new WeakMap<HandlerRuntime, DynamoDbAlertStore>();

/** The runtime's alert store: the one it was given, else one on ALERT_TABLE_NAME, built once. */
export function alertStoreOf(runtime: HandlerRuntime): DynamoDbAlertStore | undefined {
  if (runtime.alerts) return runtime.alerts;
  const tableName = runtime.config.alertTableName;
  if (tableName === undefined) return undefined;
  let store = built.get(runtime);
  if (!store) {
    store = new DynamoDbAlertStore({
      client: runtime.dynamo ?? new DynamoDBClient({}),
      tableName,
      retentionDays: runtime.config.alertRetentionDays,
    });
    built.set(runtime, store);
  }
  return store;
}

export function createAlertsApiHandler(getRuntime: () => HandlerRuntime, now: () => number = Date.now) {
  return middy<HttpApiEvent, Result, Error, Context>()
    .use(injectLambdaContext(logger, { logEvent: false, resetKeys: true }))
    .use(logMetrics(metrics))
    .handler(async (event) => {
      const runtime = getRuntime();
      metrics.addMetric('AlertsApiRequests', MetricUnit.Count, 1);
      const caller = callerOf(event, runtime.config.iamTenantSource);
      if (!caller.ok) {
        logger.warn('request refused', { status: caller.status, reason: caller.reason });
        return json(caller.status, {
          error: caller.status === 401 ? 'unauthorized' : 'forbidden',
          message: caller.reason,
        });
      }
      const store = alertStoreOf(runtime);
      if (!store) return json(404, { error: 'this deployment keeps no alerts (ALERT_TABLE_NAME is not set)' });
      const method = event.requestContext.http.method.toUpperCase();
      const parts = (event.rawPath ?? '').split('/').filter((p) => p.length > 0);
      let id: string | undefined;
      try {
        id = parts[1] !== undefined ? decodeURIComponent(parts[1]) : undefined;
      } catch {
        return json(400, { error: 'the alert id is not a valid path segment' });
      }
      try {
        if (parts[0] === 'alerts' && parts.length === 1 && method === 'GET')
          return await listAlerts(store, caller.tenant, event);
        if (parts[0] === 'alerts' && parts.length === 2 && id !== undefined) {
          if (method === 'GET') {
            const kept = await store.get(caller.tenant, id);
            if (!kept) return json(404, { error: 'no alert of your tenant has this id' });
            return json(200, { alert: kept.alert, status: kept.summary.status, history: kept.history });
          }
          if (method === 'PATCH') return await triage(runtime, store, caller, id, event, now());
        }
      } catch (error) {
        if (error instanceof AlertCursorError) return json(400, { error: error.message });
        logger.error('alerts API request failed', {
          error: error instanceof Error ? { name: error.name, message: error.message } : 'unknown',
        });
        return json(503, { error: 'unavailable', message: 'the alert table could not be reached; retry' });
      }
      return json(404, { error: 'not-found', message: 'routes: GET /alerts, GET /alerts/{id}, PATCH /alerts/{id}' });
    });
}

export const handler = createAlertsApiHandler(() => sharedRuntime('alerts-api'));

if (inLambda()) sharedRuntime('alerts-api');

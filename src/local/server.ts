/**
 * The one-command local stack: dynalite (DynamoDB) and fauxqs (SQS) in process on 127.0.0.1, the
 * state table and queues created as the CDK stack defines them (ingest queue with DLQ, FIFO
 * alert queue with DLQ), and the SAME Lambda handlers as deployed:
 *
 *   POST /events         functions/ingest-http.ts, invoked with an API Gateway v2 event
 *   POST /queue          enqueues the body on the ingest queue; a poller invokes
 *                        functions/ingest-sqs.ts with SQS events, deleting what succeeded
 *   /rules, /rules/{id}, /rules/{id}/versions/{v}, /rules/validate, /audit   functions/rules-api.ts
 *   GET /alerts, GET|PATCH /alerts/{id}   functions/alerts-api.ts (alerts kept by functions/alert-intake.ts
 *                        as the alert poller reads them, when alerts are printed)
 *   GET /health          200
 *
 * Authentication: local mode stands in for the API's JWT authoriser. Each bearer token maps to a
 * principal and a tenant, and maybe the rules admin scope; the handlers then decide as they do
 * when deployed (401 without a known token, 403 for a tenant they refuse, PATCH /rules only with
 * the admin scope, the override recording the principal). By default:
 *
 *   Bearer local-dev            principal local-dev, tenant `local`, rules admin (the operator)
 *   Bearer local-dev:<tenant>   principal local-dev:<tenant>, that tenant, not admin
 *
 * `tokens` (STIXFLOW_LOCAL_TOKENS for `npm start`) replaces that table.
 *
 * Alerts arriving on the alert queue are printed (one-line summary, then the JSON document)
 * unless `printAlerts` is false, in which case they stay on the queue for the caller to read.
 * The last `keepAlerts` printed alerts (and message failures) are also kept in `alerts`
 * (`failures`): a ring, so a long-running stack does not grow without bound.
 *
 * Durability: in memory unless `dataDir` (STIXFLOW_DATA_DIR) is given; then DynamoDB state,
 * rule overrides and counters persist there, and POST /queue journals each message before it
 * answers, so a kill loses no acknowledged message (src/local/data-dir.ts). The SQS emulator
 * itself stays in memory: alerts on the alert queue not yet read, and messages sent to the
 * emulator's queues directly (not through /queue), do not survive a restart.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyStructuredResultV2, Context, SQSEvent, SQSRecord } from 'aws-lambda';
import type { AlertDocument } from '../engine/alert.js';
import { packageRoot } from '../util/package-root.js';
import { claimDataDir, DYNAMO_SUBDIR, IngestJournal } from './data-dir.js';
import {
  EmulatorError,
  ensureQueue,
  ensureStateTable,
  LOCAL_REGION,
  startDynamo,
  startSqs,
} from '../emulators/emulators.js';
import { callerOf, requestedSource, type HttpApiEvent } from '../../functions/auth.js';
import { builtInMappings, unknownSourceMessage } from '../normalise/index.js';
import { DEFAULT_RULES_ADMIN_SCOPE } from '../../functions/config.js';
import type { MessageFailureReport } from '../../functions/ingest-sqs.js';
import { consoleResponse, type ServedAsset } from '../../functions/console.js';
import { buildConsoleAssets } from '../console/build.js';
import { createAlertTableInput } from '../state/alert-store.js';

export const LOCAL_TOKEN = 'local-dev';
export const LOCAL_TENANT = 'local';
/** The scope local admin tokens carry, and the rules API of the local stack asks for. */
export const LOCAL_ADMIN_SCOPE = DEFAULT_RULES_ADMIN_SCOPE;

/** Who a local bearer token stands for. */
export interface LocalToken {
  principal: string;
  tenant: string;
  /** May change rules for every tenant (PATCH /rules/{id}). */
  admin?: boolean;
}
const LOOPBACK = '127.0.0.1';
/** HTTP APIs refuse payloads over 10 MB; the local server stops reading a little later. */
const MAX_READ_BYTES = 11 * 1024 * 1024;

export interface LocalStackOptions {
  /** HTTP port; 0 (the default here) picks a free one. `npm start` uses STIXFLOW_PORT or 8080. */
  port?: number;
  /** Rules directory; `rules/` of the repository by default. */
  rulesDir?: string;
  /** No banner, no alert or failure printing, handler logs at ERROR only. */
  quiet?: boolean;
  /** Print alerts as they arrive on the alert queue (consuming them); default `!quiet`. */
  printAlerts?: boolean;
  /** Ingest queue redrive: receives before a failing message goes to the DLQ; default 2. */
  maxReceiveCount?: number;
  /** Ingest queue visibility timeout, so failed messages come back quickly; default 1 s. */
  visibilityTimeoutSeconds?: number;
  /** Where printed lines go; console.log by default. */
  print?: (line: string) => void;
  /** Bearer tokens and who they stand for, replacing the default `local-dev` tokens. */
  tokens?: Record<string, LocalToken>;
  /** Directory that keeps the stack's data across restarts (see src/local/data-dir.ts); in memory without it. */
  dataDir?: string;
  /** How many of the last printed alerts (and message failures) `alerts` (`failures`) keep; default 1000. */
  keepAlerts?: number;
  /**
   * Run the ingest queue poller (the SQS event source mapping); default true. False leaves
   * messages on the queue, as a disabled event source mapping would.
   */
  pollIngestQueue?: boolean;
  /**
   * A folder watched as if it were an S3 bucket prefix (src/local/folder-watch.ts): files dropped in it are read by
   * the S3 ingest handler. `npm start` takes it from STIXFLOW_WATCH_DIR.
   */
  watch?: { dir: string; source?: string; tenant?: string };
}

export const DEFAULT_KEEP_ALERTS = 1000;
/** Message attribute carrying a /queue message's journal id, so its outcome can be recorded. */
export const JOURNAL_ID_ATTRIBUTE = 'stixflowJournalId';

/** Appends to a list that keeps only its last `limit` items. */
function pushBounded<T>(list: T[], item: T, limit: number): void {
  list.push(item);
  if (list.length > limit) list.splice(0, list.length - limit);
}

export interface LocalStack {
  url: string;
  alertQueueUrl: string;
  alertDlqUrl: string;
  ingestQueueUrl: string;
  /** The ingest queue's dead-letter queue. */
  dlqUrl: string;
  tableName: string;
  sqs: SQSClient;
  dynamo: DynamoDBClient;
  /** The last `keepAlerts` ingest messages that failed, with the handler's reason, in order. */
  failures: MessageFailureReport[];
  /** The last `keepAlerts` alerts printed (only when printing), oldest first. */
  alerts: AlertDocument[];
  /** The data directory in use, if any. */
  dataDir: string | undefined;
  stop(): Promise<void>;
}

export const TABLE_NAME = 'stixflow-local-state';
export const ALERT_TABLE_NAME = 'stixflow-local-alerts';
export const INGEST_QUEUE = 'stixflow-ingest';
export const INGEST_DLQ = 'stixflow-ingest-dlq';
export const ALERT_QUEUE = 'stixflow-alerts.fifo';
export const ALERT_DLQ = 'stixflow-alerts-dlq.fifo';

/** Who a token stands for: from `tokens` when given, else the default `local-dev` tokens. */
export function localPrincipal(token: string, tokens?: Record<string, LocalToken>): LocalToken | undefined {
  if (tokens) return Object.prototype.hasOwnProperty.call(tokens, token) ? tokens[token] : undefined;
  if (token === LOCAL_TOKEN) return { principal: LOCAL_TOKEN, tenant: LOCAL_TENANT, admin: true };
  if (token.startsWith(`${LOCAL_TOKEN}:`) && token.length > LOCAL_TOKEN.length + 1) {
    return { principal: token, tenant: token.slice(LOCAL_TOKEN.length + 1), admin: false };
  }
  return undefined;
}

/** The authoriser context local mode grants for an Authorization header: a JWT authoriser's, as deployed. */
export function localAuthorizer(
  authorization: string | undefined,
  tokens?: Record<string, LocalToken>,
): HttpApiEvent['requestContext']['authorizer'] {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '');
  const who = match ? localPrincipal(match[1] as string, tokens) : undefined;
  if (!who) return undefined;
  return {
    jwt: { claims: { sub: who.principal, tenant: who.tenant }, scopes: who.admin === true ? [LOCAL_ADMIN_SCOPE] : [] },
  };
}

/**
 * Reads STIXFLOW_LOCAL_TOKENS: a JSON object of token → { principal, tenant, admin? }.
 * Throws a message naming what is wrong.
 */
export function parseLocalTokens(text: string): Record<string, LocalToken> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new EmulatorError(
      'STIXFLOW_LOCAL_TOKENS must be JSON: {"<token>": {"principal": "…", "tenant": "…", "admin": true}}',
      { cause: error },
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new EmulatorError('STIXFLOW_LOCAL_TOKENS must be a JSON object of token → { principal, tenant, admin? }');
  const tokens: Record<string, LocalToken> = {};
  for (const [token, entry] of Object.entries(value as Record<string, unknown>)) {
    const e = entry as Partial<LocalToken> | null;
    if (
      !/^\S+$/.test(token) ||
      typeof e !== 'object' ||
      e === null ||
      typeof e.principal !== 'string' ||
      e.principal === '' ||
      typeof e.tenant !== 'string' ||
      (e.admin !== undefined && typeof e.admin !== 'boolean')
    ) {
      throw new EmulatorError(
        `STIXFLOW_LOCAL_TOKENS: token ${JSON.stringify(token)} needs a principal and a tenant (strings) and an optional boolean admin`,
      );
    }
    tokens[token] = { principal: e.principal, tenant: e.tenant, admin: e.admin === true };
  }
  return tokens;
}

function lambdaContext(functionName: string, requestId: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:000000000000:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_READ_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function isTextual(contentType: string | undefined): boolean {
  return (
    contentType === undefined ||
    /^(text\/|application\/(json|x-ndjson|ndjson|x-www-form-urlencoded))/i.test(contentType)
  );
}

function httpEvent(
  request: IncomingMessage,
  url: URL,
  body: Buffer,
  routeKey: string,
  tokens: Record<string, LocalToken> | undefined,
  pathParameters?: Record<string, string>,
): HttpApiEvent {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers))
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  // Like API Gateway: text bodies as they are, anything else base64-encoded.
  const base64 = !isTextual(headers['content-type']);
  const now = Date.now();
  const requestId = randomUUID();
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    // Like API Gateway: repeated parameters joined with commas.
    ...(url.searchParams.size > 0 ? { queryStringParameters: queryParameters(url) } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: url.host,
      domainPrefix: 'local',
      http: {
        method: request.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? LOOPBACK,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey,
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
      authorizer: localAuthorizer(headers.authorization, tokens),
    },
    ...(pathParameters ? { pathParameters } : {}),
    body: body.length > 0 ? body.toString(base64 ? 'base64' : 'utf8') : undefined,
    isBase64Encoded: base64 && body.length > 0,
  };
}

function queryParameters(url: URL): Record<string, string> {
  const parameters: Record<string, string> = {};
  for (const name of new Set(url.searchParams.keys())) parameters[name] = url.searchParams.getAll(name).join(',');
  return parameters;
}

function send(response: ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  response.writeHead(result.statusCode ?? 200, (result.headers ?? {}) as Record<string, string>);
  response.end(result.body ?? '');
}

/**
 * The console (#17): GET / and /console/* answered as the deployed console function answers them, from assets
 * built from src/console once, at the first request. Undefined for any other request.
 */
function consoleRoute(): (method: string, path: string) => APIGatewayProxyStructuredResultV2 | undefined {
  let assets: ServedAsset[] | undefined;
  return (method, path) => {
    if (
      (method !== 'GET' && method !== 'HEAD') ||
      (path !== '/' && path !== '/console' && !path.startsWith('/console/'))
    )
      return undefined;
    assets ??= buildConsoleAssets();
    return consoleResponse(assets, method, path);
  };
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  send(response, { statusCode: status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** The console API routes (#17) as API Gateway routes them: route key, path parameters, function. */
export function consoleRouteKey(
  method: string,
  path: string,
): { routeKey: string; pathParameters?: Record<string, string>; fn: 'rules' | 'alerts' } | undefined {
  const parts = path.split('/').filter((p) => p.length > 0);
  let decoded: string[];
  try {
    decoded = parts.map((p) => decodeURIComponent(p));
  } catch {
    return undefined;
  }
  const [root, id, sub, version] = decoded;
  const m = method.toUpperCase();
  if (root === 'audit' && parts.length === 1 && m === 'GET') return { routeKey: 'GET /audit', fn: 'rules' };
  if (root === 'rules') {
    if (parts.length === 1 && (m === 'GET' || m === 'POST')) return { routeKey: `${m} /rules`, fn: 'rules' };
    if (parts.length === 2 && id === 'validate' && m === 'POST')
      return { routeKey: 'POST /rules/validate', fn: 'rules' };
    if (parts.length === 2 && ['GET', 'PUT', 'DELETE', 'PATCH'].includes(m))
      return { routeKey: `${m} /rules/{id}`, pathParameters: { id: id as string }, fn: 'rules' };
    if (parts.length === 4 && sub === 'versions' && m === 'GET')
      return {
        routeKey: 'GET /rules/{id}/versions/{version}',
        pathParameters: { id: id as string, version: version as string },
        fn: 'rules',
      };
  }
  if (root === 'alerts') {
    if (parts.length === 1 && m === 'GET') return { routeKey: 'GET /alerts', fn: 'alerts' };
    if (parts.length === 2 && (m === 'GET' || m === 'PATCH'))
      return { routeKey: `${m} /alerts/{id}`, pathParameters: { id: id as string }, fn: 'alerts' };
  }
  return undefined;
}

/** One line per alert: severity, rule, tenant, group, source events, id. */
export function alertSummary(alert: AlertDocument): string {
  const events =
    alert.sourceEventIds.length > 0 ? alert.sourceEventIds.join(',') : `${alert.observedDataIds.length} observed-data`;
  const group = alert.groupKey ? ` group=${alert.groupKey}` : '';
  return `ALERT ${alert.severity.toUpperCase()} ${alert.ruleId} tenant=${alert.tenant}${group} events=${events} id=${alert.id}`;
}

export function toSqsRecord(message: Message, queueArn: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  const messageAttributes: SQSRecord['messageAttributes'] = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: value.DataType ?? 'String',
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
    };
  }
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: LOCAL_REGION,
  };
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const quiet = options.quiet ?? false;
  const printAlerts = options.printAlerts ?? !quiet;
  const print = options.print ?? ((line: string) => console.log(line));
  const rulesDir = resolve(options.rulesDir ?? resolve(packageRoot(), 'rules'));
  const keep = options.keepAlerts ?? DEFAULT_KEEP_ALERTS;
  if (!Number.isInteger(keep) || keep < 0) throw new EmulatorError(`keepAlerts must be a whole number, got ${keep}`);
  const dataDir = options.dataDir !== undefined ? resolve(options.dataDir) : undefined;

  // Handler logging and metrics: quiet JSON logs, no EMF blobs on the console (unless asked for).
  process.env.POWERTOOLS_SERVICE_NAME ??= 'stixflow-local';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

  const releaseDataDir = dataDir !== undefined ? claimDataDir(dataDir) : () => undefined;
  const dynamo = await startDynamo(dataDir !== undefined ? { path: join(dataDir, DYNAMO_SUBDIR) } : {}).catch(
    (error: unknown) => {
      releaseDataDir();
      throw error;
    },
  );
  const sqs = await startSqs().catch(async (error: unknown) => {
    await dynamo.stop();
    releaseDataDir();
    throw error;
  });
  const stops: (() => Promise<void>)[] = [() => sqs.stop(), () => dynamo.stop(), async () => releaseDataDir()];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.splice(0)) await stop().catch(() => undefined);
  };

  try {
    await ensureStateTable(dynamo.client, TABLE_NAME);
    // The alert table (#17): kept in the data directory like the state table, so it may exist already.
    await dynamo.client
      .send(new CreateTableCommand(createAlertTableInput(ALERT_TABLE_NAME)))
      .catch((error: unknown) => {
        if ((error as { name?: string }).name !== 'ResourceInUseException') throw error;
      });
    const maxReceiveCount = options.maxReceiveCount ?? 2;
    const ingestQueueUrl = await ensureQueue(sqs.client, INGEST_QUEUE, {
      dlq: { name: INGEST_DLQ, maxReceiveCount },
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 1,
    });
    const alertQueueUrl = await ensureQueue(sqs.client, ALERT_QUEUE, {
      fifo: true,
      dlq: { name: ALERT_DLQ, maxReceiveCount: 5 },
    });
    const dlqUrl = await ensureQueue(sqs.client, INGEST_DLQ);
    const alertDlqUrl = await ensureQueue(sqs.client, ALERT_DLQ, { fifo: true });

    // What /queue acknowledged before the last stop or kill and was not processed: queued again.
    const journal = dataDir !== undefined ? IngestJournal.open(dataDir) : undefined;
    if (journal) stops.unshift(async () => journal.journal.close());
    const enqueue = (entry: { tenant: string; body: string; source?: string; journalId?: string }) =>
      sqs.client.send(
        new SendMessageCommand({
          QueueUrl: ingestQueueUrl,
          MessageBody: entry.body,
          MessageAttributes: {
            tenant: { DataType: 'String', StringValue: entry.tenant },
            ...(entry.source !== undefined ? { source: { DataType: 'String', StringValue: entry.source } } : {}),
            ...(entry.journalId !== undefined
              ? { [JOURNAL_ID_ATTRIBUTE]: { DataType: 'String', StringValue: entry.journalId } }
              : {}),
          },
        }),
      );
    for (const entry of journal?.pending ?? [])
      await enqueue({
        tenant: entry.tenant,
        body: entry.body,
        ...(entry.source !== undefined ? { source: entry.source } : {}),
        journalId: entry.id,
      });

    const runtimeModule = await import('../../functions/runtime.js');
    runtimeModule.configureSharedRuntime({
      env: {
        TABLE_NAME,
        ALERT_QUEUE_URL: alertQueueUrl,
        RULES_DIR: rulesDir,
        DEFAULT_TENANT: LOCAL_TENANT,
        MAX_BODY_BYTES: process.env.MAX_BODY_BYTES,
        LATENESS_SECONDS: process.env.LATENESS_SECONDS,
        RULE_OVERRIDES_REFRESH_SECONDS: process.env.RULE_OVERRIDES_REFRESH_SECONDS ?? '5',
        // Locally a rule written through the API takes effect on the next event: the store version
        // (one GetItem on the in-process emulator) is read for every batch.
        RULE_STORE_REFRESH_SECONDS: process.env.RULE_STORE_REFRESH_SECONDS ?? '0',
        ALERT_TABLE_NAME,
        ALERT_RETENTION_DAYS: process.env.ALERT_RETENTION_DAYS,
        RULES_ADMIN_SCOPE: LOCAL_ADMIN_SCOPE,
      },
      deps: { dynamo: dynamo.client, sqs: sqs.client },
    });
    if (!process.env.POWERTOOLS_LOG_LEVEL) runtimeModule.logger.setLogLevel(quiet ? 'ERROR' : 'WARN');
    // Build the runtime now: a broken rules directory fails the start, not the first request.
    runtimeModule.sharedRuntime('ingest');
    runtimeModule.sharedRuntime('rules-api');
    runtimeModule.sharedRuntime('alerts-api');
    stops.unshift(async () => runtimeModule.configureSharedRuntime());

    const ingestHttp = (await import('../../functions/ingest-http.js')).handler;
    const ingestSqs = await import('../../functions/ingest-sqs.js');
    const rulesApi = (await import('../../functions/rules-api.js')).handler;
    const alertsModule = await import('../../functions/alerts-api.js');
    const alertsApi = alertsModule.handler;
    const alertIntake = (await import('../../functions/alert-intake.js')).createAlertIntakeHandler(() => {
      const alerts = alertsModule.alertStoreOf(runtimeModule.sharedRuntime('alerts-api'));
      if (!alerts) throw new EmulatorError('the local alerts-api runtime has no alert store');
      return alerts;
    });

    if (options.watch) {
      const { watchFolder, folderRoutes } = await import('./folder-watch.js');
      const { DirectoryObjectStore } = await import('../ingest/object-store.js');
      const ingestS3 = await import('../../functions/ingest-s3.js');
      const watchDeps = {
        objects: new DirectoryObjectStore(options.watch.dir),
        routes: folderRoutes(options.watch.source, options.watch.tenant ?? LOCAL_TENANT),
      };
      const s3Handler = ingestS3.createIngestS3Handler(
        () => runtimeModule.sharedRuntime('ingest'),
        () => watchDeps,
      );
      const unsubscribeS3 = ingestS3.onS3MessageFailure((failure) => {
        if (!quiet) print(`FAILED file ${failure.object ?? ''}: ${failure.code}: ${failure.reason}`);
      });
      const watcher = watchFolder({
        dir: options.watch.dir,
        handler: s3Handler,
        context: () => lambdaContext('stixflow-ingest-s3', randomUUID()),
        onFile: ({ key, ok }) => {
          if (!quiet && ok) print(`read ${key} from the watched folder`);
        },
      });
      stops.unshift(async () => {
        await watcher.stop();
        unsubscribeS3();
      });
      if (!quiet) print(`watching ${options.watch.dir} as a bucket prefix (files dropped there are ingested)`);
    }

    const failures: MessageFailureReport[] = [];
    const unsubscribe = ingestSqs.onMessageFailure((failure) => {
      pushBounded(failures, failure, keep);
      if (!quiet)
        print(
          `FAILED message ${failure.messageId} (receive ${failure.receiveCount}): ${failure.code}: ${failure.reason}`,
        );
    });
    stops.unshift(async () => void unsubscribe());

    // ------------------------------------------------------------ HTTP front door
    const consolePage = consoleRoute();
    const server = createServer((request, response) => {
      void (async () => {
        const url = new URL(request.url ?? '/', `http://${request.headers.host ?? LOOPBACK}`);
        const method = request.method ?? 'GET';
        const body = await readBody(request);
        if (body === undefined)
          return sendJson(response, 413, {
            error: 'payload-too-large',
            message: 'the body is over the HTTP API limit',
          });
        const context = (name: string): Context => lambdaContext(name, randomUUID());
        if (url.pathname === '/health' && method === 'GET') return sendJson(response, 200, { ok: true });
        const page = consolePage(method, url.pathname);
        if (page) return send(response, page);
        if (url.pathname === '/events' && method === 'POST') {
          return send(
            response,
            await ingestHttp(
              httpEvent(request, url, body, 'POST /events', options.tokens),
              context('stixflow-ingest-http'),
            ),
          );
        }
        // The console API (#17): the routes as API Gateway has them, each to its function.
        const consoleRoute = consoleRouteKey(method, url.pathname);
        if (consoleRoute !== undefined) {
          const [handler, name] =
            consoleRoute.fn === 'alerts' ? [alertsApi, 'stixflow-alerts-api'] : [rulesApi, 'stixflow-rules-api'];
          return send(
            response,
            await handler(
              httpEvent(request, url, body, consoleRoute.routeKey, options.tokens, consoleRoute.pathParameters),
              context(name),
            ),
          );
        }
        if (url.pathname === '/queue' && method === 'POST') {
          // The caller and its tenant are decided exactly as for POST /events (functions/auth.ts), so
          // the queue never takes a message the handler would refuse and dead-letter.
          const caller = callerOf(
            httpEvent(request, url, Buffer.alloc(0), 'POST /queue', options.tokens),
            runtimeModule.sharedRuntime('ingest').config.iamTenantSource,
          );
          if (!caller.ok)
            return sendJson(response, caller.status, {
              error: caller.status === 401 ? 'unauthorized' : 'forbidden',
              message: caller.reason,
            });
          if (body.length === 0)
            return sendJson(response, 400, { error: 'empty-body', message: 'the body holds no events' });
          // The mapping named as for POST /events travels as the message's `source` attribute.
          const source = requestedSource(httpEvent(request, url, Buffer.alloc(0), 'POST /queue', options.tokens));
          const unknownSource = source === undefined ? undefined : unknownSourceMessage(source, builtInMappings());
          if (unknownSource !== undefined)
            return sendJson(response, 400, { error: 'unknown-source', message: unknownSource });
          const message = {
            tenant: caller.tenant,
            body: body.toString('utf8'),
            ...(source !== undefined ? { source } : {}),
          };
          if (!journal) return sendJson(response, 202, { queued: true, messageId: (await enqueue(message)).MessageId });
          // On disk first: the 202 promises the message survives a kill.
          const journalId = randomUUID();
          journal.journal.put({ id: journalId, ...message });
          try {
            return sendJson(response, 202, {
              queued: true,
              messageId: (await enqueue({ ...message, journalId })).MessageId,
            });
          } catch (error) {
            journal.journal.settle(journalId, 'not-queued');
            throw error;
          }
        }
        return sendJson(response, 404, {
          error: 'not-found',
          message: 'routes: POST /events, POST /queue, /rules…, /audit, /alerts… (docs/api.md), GET /health',
        });
      })().catch((error: unknown) => {
        if (!quiet) print(`local server error: ${error instanceof Error ? error.message : String(error)}`);
        if (!response.headersSent) sendJson(response, 500, { error: 'internal', message: 'local server error' });
        else response.end();
      });
    });
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, LOOPBACK, () => {
        server.off('error', reject);
        resolveListen();
      });
    });
    stops.unshift(
      () =>
        new Promise<void>((resolveClose) => {
          server.close(() => resolveClose());
          server.closeAllConnections();
        }),
    );
    const url = `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`;

    // ------------------------------------------------------------ pollers
    const abort = new AbortController();
    let running = true;
    const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    const loop = async (name: string, once: () => Promise<void>): Promise<void> => {
      while (running) {
        try {
          await once();
        } catch (error) {
          if (!running) return;
          if (!quiet) print(`${name} poller: ${error instanceof Error ? error.message : String(error)}`);
          await pause(500);
        }
      }
    };
    const receive = (queueUrl: string) =>
      sqs.client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }),
        { abortSignal: abort.signal },
      );
    const remove = async (queueUrl: string, messages: Message[]): Promise<void> => {
      if (messages.length === 0) return;
      await sqs.client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: messages.map((m, i) => ({ Id: `m${i}`, ReceiptHandle: m.ReceiptHandle ?? '' })),
        }),
      );
    };

    const ingestArn = `arn:aws:sqs:${LOCAL_REGION}:000000000000:${INGEST_QUEUE}`;
    const journalIdOf = (m: Message): string | undefined => m.MessageAttributes?.[JOURNAL_ID_ATTRIBUTE]?.StringValue;
    const ingestLoop =
      options.pollIngestQueue === false
        ? Promise.resolve()
        : loop('ingest', async () => {
            const { Messages = [] } = await receive(ingestQueueUrl);
            if (Messages.length === 0 || !running) return;
            const event: SQSEvent = { Records: Messages.map((m) => toSqsRecord(m, ingestArn)) };
            // Like the Lambda event source mapping: delete what succeeded, leave failures to become visible again.
            const response = await ingestSqs.handler(event, lambdaContext('stixflow-ingest-sqs', randomUUID()));
            const failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
            const succeeded = Messages.filter((m) => !failed.has(m.MessageId ?? ''));
            await remove(ingestQueueUrl, succeeded);
            if (!journal) return;
            for (const m of succeeded) {
              const id = journalIdOf(m);
              if (id !== undefined) journal.journal.settle(id, 'processed');
            }
            // A message failed its last allowed receive: the queue moves it to the dead-letter queue.
            for (const m of Messages) {
              const id = journalIdOf(m);
              if (
                id !== undefined &&
                failed.has(m.MessageId ?? '') &&
                Number(m.Attributes?.ApproximateReceiveCount ?? 1) >= maxReceiveCount
              )
                journal.journal.settle(id, 'dead-lettered');
            }
          });

    const alerts: AlertDocument[] = [];
    const alertLoop = printAlerts
      ? loop('alert', async () => {
          const { Messages = [] } = await receive(alertQueueUrl);
          if (Messages.length === 0) return;
          // Kept for triage first, by the intake handler, as the deployed outputs function does.
          const alertArn = `arn:aws:sqs:${LOCAL_REGION}:000000000000:${ALERT_QUEUE}`;
          const kept = await alertIntake(
            { Records: Messages.map((m) => toSqsRecord(m, alertArn)) },
            lambdaContext('stixflow-alert-intake', randomUUID()),
          );
          const notKept = new Set((kept?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
          for (const message of Messages) {
            try {
              const alert = JSON.parse(message.Body ?? '') as AlertDocument;
              pushBounded(alerts, alert, keep);
              print(alertSummary(alert));
              print(JSON.stringify(alert));
            } catch {
              print(`alert queue: message ${message.MessageId ?? ''} is not an alert document`);
            }
          }
          // What could not be kept stays on the queue and comes back, as with the event source mapping.
          await remove(
            alertQueueUrl,
            Messages.filter((m) => !notKept.has(m.MessageId ?? '')),
          );
        })
      : Promise.resolve();

    stops.unshift(async () => {
      running = false;
      abort.abort();
      await Promise.all([ingestLoop, alertLoop]);
    });

    if (!quiet) {
      print(`stixflow local stack on ${url}`);
      print(
        options.tokens
          ? `  POST ${url}/events   (Authorization: Bearer <token>; ${Object.keys(options.tokens).length} token(s) configured)`
          : `  POST ${url}/events   (Authorization: Bearer ${LOCAL_TOKEN}; tenant "${LOCAL_TENANT}", rules admin)`,
      );
      print(`  POST ${url}/queue    enqueue on ${INGEST_QUEUE}, processed by the SQS handler`);
      print(
        `  GET  ${url}/rules    PATCH ${url}/rules/{id} {"enabled": false}    POST ${url}/rules {"source": "<YAML>"}`,
      );
      print(`  GET  ${url}/         the detection console (docs/console.md); alerts at ${url}/alerts`);
      if (options.watch) print(`  watching ${options.watch.dir} as a bucket prefix: drop event files in it`);
      print(`  rules from ${rulesDir}; alerts print below as they arrive on ${ALERT_QUEUE}`);
      print(
        dataDir !== undefined
          ? `  data in ${dataDir}: state, overrides, counters and /queue messages survive a restart${journal && journal.pending.length > 0 ? ` (${journal.pending.length} queued message(s) resumed)` : ''}`
          : '  in memory only: state, overrides, counters and queued messages are lost when it stops (STIXFLOW_DATA_DIR keeps them)',
      );
    }

    let stopped: Promise<void> | undefined;
    return {
      url,
      alertQueueUrl,
      alertDlqUrl,
      ingestQueueUrl,
      dlqUrl,
      tableName: TABLE_NAME,
      sqs: sqs.client,
      dynamo: dynamo.client,
      failures,
      alerts,
      dataDir,
      stop: () => (stopped ??= stopAll()),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

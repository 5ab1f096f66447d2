/**
 * The outputs function: reads the alert queue (SQS event source) and delivers each alert to its outputs
 * (src/outputs): the outputs its rule names (`outputs:` in the rule file, or in the runtime rule store: the two rule
 * layers of functions/rule-layers.ts, as the ingest functions load them) and those of the stack's routes
 * (OUTPUT_ROUTES, by rule, severity, tag or tenant). Each output is retried with backoff and, when it keeps
 * failing, dead-lettered on its own (OUTPUT_DLQ_URL) while the others deliver. It runs after the alert queue, so
 * detection and its exactly-once state commit never wait for an output.
 *
 * The alerts of a batch go to each output together (one SNS PublishBatch, one `_bulk` request, one archive object
 * a partition, one BatchImportFindings), and the outputs side by side.
 * A message fails (and comes back from the queue) only when its body is not an alert or a dead letter of it could
 * not be stored: then every output of that alert is tried again (at-least-once; receivers deduplicate by alert
 * id: PagerDuty's dedup_key, TheHive's sourceRef, the bulk _id, the finding Id, the FIFO topic's deduplication id).
 * Configuration: OUTPUTS (JSON: [{ name, kind, secret }]), OUTPUT_ROUTES (JSON), OUTPUT_DLQ_URL, RULES_DIR;
 * TABLE_NAME (the state table, for the store rules' outputs; RULE_STORE_REFRESH_SECONDS as for ingest);
 * ALERT_TABLE_NAME (and ALERT_RETENTION_DAYS) to keep every alert for triage first (#17, functions/alert-intake.ts):
 * an alert that could not be kept fails its message, which comes back from the queue.
 * Secrets come from Secrets Manager by name; URLs, keys and tokens are never logged.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import {
  deliverAlerts,
  FetchHttpClient,
  outputsFor,
  parseOutputsConfig,
  QueueDeadLetterSink,
  SecretsManagerSecretStore,
  type AlertDelivery,
  type DeliveryOptions,
} from '../src/outputs/deliver.js';
import type { AlertDocument, OutputRoute } from '../src/outputs/types.js';
import { SqsMessageSink } from '../src/queue/sqs-sink.js';
import { loadRulesFromPaths } from '../src/rules/load.js';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbAlertStore } from '../src/state/alert-store.js';
import { DynamoDbRuleStore } from '../src/state/rule-store.js';
import { DEFAULT_RULE_STORE_REFRESH_SECONDS } from './config.js';
import { LayeredRuleOutputs, RuleLayers, type RuleOutputs } from './rule-layers.js';
import { keepAlert, type AlertKeeper } from './alert-intake.js';
import { ConfigError } from './config.js';
import { inLambda, logger, metrics } from './runtime.js';

export interface OutputsDeps {
  delivery: DeliveryOptions;
  routes: OutputRoute[];
  /** Each rule's own outputs (`outputs:`), by rule id: the bundle's and the rule store's (LayeredRuleOutputs). */
  ruleOutputs: RuleOutputs;
  /** Where alerts are kept for triage before delivery (#17); none: not kept. */
  alerts?: AlertKeeper;
}

export function createOutputsHandler(getDeps: () => OutputsDeps) {
  return middy<SQSEvent, SQSBatchResponse, Error, Context>()
    .use(injectLambdaContext(logger, { logEvent: false, resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .handler(async (event) => {
      const deps = getDeps();
      const failed = new Set<string>();
      const deliveries: (AlertDelivery & { messageId: string })[] = [];
      // Each alert is kept for triage first (when an alert store is configured): one that could not be kept is
      // not delivered, and its message comes back from the queue.
      const read = await Promise.all(
        event.Records.map(async (record, index): Promise<AlertDocument | undefined> => {
          try {
            if (deps.alerts) return await keepAlert(deps.alerts, record.body);
            const alert = JSON.parse(record.body) as AlertDocument;
            if (typeof alert?.id !== 'string' || typeof alert.ruleId !== 'string') throw new Error('not an alert');
            return alert;
          } catch (error) {
            logger.error('alert queue message not delivered', {
              recordIndex: index,
              reason: error instanceof SyntaxError ? 'not JSON' : (error as Error).message,
            });
            failed.add(record.messageId);
            return undefined;
          }
        }),
      );
      // Store rules change at run time: their outputs are brought up to date before the alerts are routed.
      const ruleIds = [...new Set(read.flatMap((alert) => (alert ? [alert.ruleId] : [])))];
      await deps.ruleOutputs.refresh?.(ruleIds);
      event.Records.forEach((record, index) => {
        const alert = read[index];
        if (alert === undefined) return;
        const outputs = outputsFor(alert, deps.ruleOutputs.get(alert.ruleId) ?? [], deps.routes);
        deliveries.push({ alert, outputs, messageId: record.messageId });
      });
      const reports = await deliverAlerts(deps.delivery, deliveries);
      deliveries.forEach(({ alert, messageId }, i) => {
        for (const report of reports[i]!) {
          metrics.addMetric(report.delivered ? 'OutputsDelivered' : 'OutputsDeadLettered', MetricUnit.Count, 1);
          if (report.delivered) continue;
          logger.warn('output failed; dead-lettered', {
            alertId: alert.id,
            output: report.output,
            attempts: report.attempts,
            reason: report.reason,
          });
          if (report.deadLetterError !== undefined) {
            logger.error('dead letter not stored; the alert comes back from the queue', {
              alertId: alert.id,
              output: report.output,
              error: report.deadLetterError,
            });
            failed.add(messageId);
          }
        }
      });
      return { batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })) };
    });
}

/** The deployment's configuration, read and checked once per container. */
export function outputsDepsFromEnv(env: Record<string, string | undefined> = process.env): OutputsDeps {
  const problems: string[] = [];
  if (!env.OUTPUT_DLQ_URL?.trim()) problems.push('OUTPUT_DLQ_URL is required');
  if (!env.RULES_DIR?.trim()) problems.push('RULES_DIR is required');
  let config: ReturnType<typeof parseOutputsConfig> = { outputs: [], routes: [] };
  try {
    config = parseOutputsConfig(env.OUTPUTS, env.OUTPUT_ROUTES);
  } catch (error) {
    problems.push((error as Error).message);
  }
  const refresh = env.RULE_STORE_REFRESH_SECONDS?.trim()
    ? Number(env.RULE_STORE_REFRESH_SECONDS)
    : DEFAULT_RULE_STORE_REFRESH_SECONDS;
  if (!(Number.isInteger(refresh) && refresh >= 0 && refresh <= 3600))
    problems.push('RULE_STORE_REFRESH_SECONDS must be an integer from 0 to 3600');
  if (problems.length > 0) throw new ConfigError(problems);
  const rulesDir = env.RULES_DIR as string;
  const tableName = env.TABLE_NAME?.trim();
  // With the state table, the store rules' outputs too; without it (a hand-made deployment), the bundle's.
  const ruleOutputs: RuleOutputs = tableName
    ? new LayeredRuleOutputs(
        new RuleLayers(rulesDir),
        new DynamoDbRuleStore({ client: new DynamoDBClient({}), tableName }),
        {
          refreshSeconds: refresh,
          onReadError: (error) =>
            logger.warn('rule store could not be read; keeping the rule outputs in force', {
              error: error instanceof Error ? error.name : 'unknown',
            }),
        },
      )
    : new Map(loadRulesFromPaths([rulesDir]).rules.map((r) => [r.id, r.outputs ?? []]));
  const retention = env.ALERT_RETENTION_DAYS?.trim() ? Number(env.ALERT_RETENTION_DAYS) : undefined;
  return {
    ...(env.ALERT_TABLE_NAME?.trim()
      ? {
          alerts: new DynamoDbAlertStore({
            client: new DynamoDBClient({}),
            tableName: env.ALERT_TABLE_NAME.trim(),
            ...(retention !== undefined && Number.isInteger(retention) && retention > 0
              ? { retentionDays: retention }
              : {}),
          }),
        }
      : {}),
    routes: config.routes,
    ruleOutputs,
    delivery: {
      outputs: config.outputs,
      secrets: new SecretsManagerSecretStore(new SecretsManagerClient({})),
      http: new FetchHttpClient(),
      deadLetters: new QueueDeadLetterSink(
        new SqsMessageSink({ client: new SQSClient({}), queueUrl: env.OUTPUT_DLQ_URL as string }),
      ),
    },
  };
}

let lambdaDeps: OutputsDeps | undefined;
const depsOnce = (): OutputsDeps => (lambdaDeps ??= outputsDepsFromEnv());

export const handler = createOutputsHandler(depsOnce);

if (inLambda()) depsOnce();

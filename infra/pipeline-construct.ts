/**
 * StixDetectionPipeline: the whole serverless detection pipeline as one reusable construct.
 *
 *   HTTP API (IAM or JWT on every route) ── POST /events ──► ingest-http ─┐
 *   ingest queue (SSE, SSL-only, DLQ) ──────────────────────► ingest-sqs ──┼─► normalise → match →
 *                                                                          │   correlate (state table)
 *   GET /rules, PATCH /rules/{id} ──────────────────────────► rules-api    └─► alert queue (FIFO, DLQ)
 *
 * The rules directory is loaded and compiled at synth time: an invalid rule fails the synth
 * (with file, line and reason) so it is never deployed silently. The same directory is copied
 * into each function bundle and compiled again once per container.
 */
import { existsSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { Duration, Tags, type RemovalPolicy } from 'aws-cdk-lib';
import type { Dashboard } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { Topic } from 'aws-cdk-lib/aws-sns';
import type { HttpApi, HttpStage } from 'aws-cdk-lib/aws-apigatewayv2';
import type { Alarm, IAlarmAction } from 'aws-cdk-lib/aws-cloudwatch';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { parseAllDocuments } from 'yaml';
import { formatDiagnostics } from '../src/errors.js';
import { DEFAULT_RULES_ADMIN_SCOPE } from '../src/util/scopes.js';
import { loadRulesFromPaths, readRuleSources } from '../src/rules/load.js';
import { BUNDLED_MAPPINGS_DIR, BUNDLED_RULES_DIR, writeRulesCompiled } from './bundling.js';
import { defineAlarms, defineDashboard } from './parts/alarms.js';
import {
  acknowledgeDeadLetterQueue,
  acknowledgeServerlessFindings,
  allowServicesToUseKey,
  applyConcurrency,
  applyEncryptionKey,
  applyRouteThrottles,
  defineAlarmTopic,
  defineAlarmTopicKey,
  pipelineFunctions,
  type RouteThrottle,
} from './parts/operations.js';
import { defineOutboxSweeper, type OutboxSweeperParts, type OutboxSweepProps } from './parts/outbox-sweeper.js';
import { defineSourceAccounts, type SourceAccountParts, type SourceAccountProps } from './parts/source-accounts.js';
import type { TableThroughputCap } from './parts/state-table.js';
import { defineApi } from './parts/api.js';
import { defineAlertStore, type AlertStoreProps, type PipelineAlertStore } from './parts/alert-store.js';
import { defineOutputs, type PipelineOutputs, type PipelineOutputsProps } from './parts/outputs.js';
import { defineConsole, type PipelineConsole } from './parts/console.js';
import { defineChannels, type IngestChannels, type IngestChannelsProps } from './parts/channels.js';
import {
  defineFunctions,
  grantPipelineAccess,
  removeStagedRules,
  type FunctionVpcProps,
  type PipelineFunctions,
} from './parts/functions.js';
import { defineQueues } from './parts/queues.js';
import { defineStateTable } from './parts/state-table.js';

export type PipelineAuth =
  | {
      type: 'iam';
      /** How a caller maps to a tenant: its account id (default) or its role/user name. */ tenantSource?:
        'account' | 'role';
    }
  | {
      type: 'jwt';
      issuer: string;
      audience: string[];
      /**
       * OAuth scope a token needs for PATCH /rules/{id}, whose overrides apply to every tenant
       * (default `stixflow/rules.admin`). Any valid token may send events and read its tenant's
       * rule health; only this scope changes rules. With IAM, grant `execute-api:Invoke` on
       * `PATCH/rules/*` to operators only.
       */
      rulesAdminScope?: string;
    };

export interface StixDetectionPipelineProps {
  /** Directory of rule files (YAML/JSON, STIX indicator bundles); validated at synth, shipped in the bundles. */
  rulesDir: string;
  /** How late an event may arrive and still correlate (seconds); engine default 300. */
  latenessSeconds?: number;
  /** Partial matches kept per rule and group; engine default 100. */
  maxPartialsPerGroup?: number;
  /** FIFO alert queue with deduplication by alert id (default true); false gives a standard queue (consumers deduplicate by id). */
  alertQueueFifo?: boolean;
  /** API authorisation on every route; default IAM (SigV4). */
  auth?: PipelineAuth;
  /** Largest POST /events body in bytes; default 1 MiB. */
  maxBodyBytes?: number;
  /** Tenant of ingest-queue messages without a `tenant` attribute; default "default". */
  defaultTenant?: string;
  /** Receives before an ingest message is dead-lettered; default 5. */
  maxReceiveCount?: number;
  /** SQS batch size for the ingest function; default 10. */
  ingestBatchSize?: number;
  /** Function memory (MB); default 512. */
  memorySize?: number;
  /** Function timeout; default 30 s (the ingest queue's visibility timeout is six times this). */
  timeout?: Duration;
  /** Log retention for function and access logs; default one month. */
  logRetention?: RetentionDays;
  /** API stage throttling; default 100 requests/s, burst 200. */
  throttle?: { rateLimit: number; burstLimit: number };
  /** Where alarms notify (e.g. an SNS action); none by default. */
  alarmActions?: IAlarmAction[];
  /** Removal policy of the state table; default RETAIN. */
  tableRemovalPolicy?: RemovalPolicy;
  /** Ingest channels beyond the API and the ingest queue (S3 objects, Kinesis, EventBridge, CloudWatch Logs), each opt-in; docs/ingest.md. */
  ingest?: IngestChannelsProps;
  /** OUTPUTS (#19): deliver alerts from the alert queue to webhooks, Slack, PagerDuty; docs/outputs.md. */
  outputs?: PipelineOutputsProps;
  /**
   * The ALERT STORE (#17): every alert the outputs function takes off the alert queue is kept for
   * triage (GET /alerts, GET|PATCH /alerts/{id}); needs `outputs`. docs/api.md.
   */
  alertStore?: AlertStoreProps;
  /**
   * The detection console (#17.3) at GET / on the API (docs/console.md); default true. Its data calls carry a
   * bearer token, so it is for JWT-authorised stacks; under IAM the page loads but the API refuses its calls.
   */
  console?: boolean;

  // OPERATIONS (#18; docs/operations.md)
  /**
   * Reserved concurrency by function id (IngestHttp, IngestSqs, RulesApi, channel functions, Outputs,
   * OutboxSweeper), over DEFAULT_RESERVED_CONCURRENCY; queue-fed functions get the same maximum concurrency
   * on their mappings. `false`: reserve nothing (an account with little concurrency), keeping the mapping caps.
   */
  reservedConcurrency?: Partial<Record<string, number>> | false;
  /** On-demand throughput cap of the state table (and its outbox index); none by default. */
  tableMaxThroughput?: TableThroughputCap;
  /** Customer-managed KMS key for the table, every queue, the alarm topic, the log groups and function environments. */
  encryptionKey?: IKey;
  /** Places every function in a VPC (the VPC needs endpoints or NAT for DynamoDB, SQS, CloudWatch, S3…). */
  vpc?: FunctionVpcProps;
  /** Tags on every resource, beside `application: stixflow`. */
  tags?: Record<string, string>;
  /** Per-route throttles by route key (`POST /events`), over DEFAULT_ROUTE_THROTTLES. */
  routeThrottles?: Partial<Record<string, RouteThrottle>>;
  /** The outbox sweeper's schedule; false: no sweeper (undelivered alerts then wait for their input to come back). */
  outboxSweep?: OutboxSweepProps | false;
  /** Accounts that send events cross-account: a queue (and optionally an EventBridge bus) each, tenant from the account. */
  sourceAccounts?: SourceAccountProps[];
}

/** Loads and compiles the rules as the functions will; throws with every diagnostic when any rule is invalid. */
export function validateRulesDir(rulesDir: string): { ruleIds: string[]; warnings: string } {
  if (!existsSync(rulesDir) || !statSync(rulesDir).isDirectory()) {
    throw new Error(`StixDetectionPipeline: rules directory ${rulesDir} does not exist`);
  }
  const { rules, diagnostics } = loadRulesFromPaths([rulesDir]);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    throw new Error(
      `StixDetectionPipeline: ${errors.length} problem(s) in the rules under ${rulesDir}; refusing to synthesise a deployment with broken rules:\n${formatDiagnostics(errors)}`,
    );
  }
  if (rules.length === 0) throw new Error(`StixDetectionPipeline: no rules in ${rulesDir}`);
  return {
    ruleIds: rules.map((r) => r.id),
    warnings: formatDiagnostics(diagnostics.filter((d) => d.severity !== 'error')),
  };
}

/**
 * Writes the (validated) rules as JSON into a staging folder for the bundles: YAML costs a
 * Lambda cold start about a fifth of a second per thousand rules, JSON.parse almost nothing,
 * and the loader reads both alike. Each YAML document becomes one JSON file, in
 * document order; beside them, their precompiled form (RULES_COMPILED).
 */
export function stageRulesAsJson(rulesDir: string): string {
  const staging = mkdtempSync(join(tmpdir(), 'stixflow-rules-'));
  // The loader's own walk, so that what ships is what was validated: the same files, a
  // directory reached twice through links once, unreadable entries (already reported) left out.
  for (const source of readRuleSources([rulesDir]).sources) {
    const target = join(staging, relative(rulesDir, source.file));
    mkdirSync(dirname(target), { recursive: true });
    if (/\.json$/i.test(source.file)) {
      writeFileSync(target, source.text);
      continue;
    }
    const stem = target.replace(/\.ya?ml$/i, '');
    const documents = parseAllDocuments(source.text);
    // Several documents: numbered so that name order (the loader's) is document order.
    const width = String(documents.length - 1).length;
    documents.forEach((doc, i) => {
      const value: unknown = doc.toJS();
      if (value !== null && value !== undefined)
        writeFileSync(
          `${stem}${documents.length > 1 ? `.${String(i).padStart(width, '0')}` : ''}.json`,
          JSON.stringify(value),
        );
    });
  }
  // What ships, precompiled (RULES_COMPILED): the functions' cold start reads one file.
  writeRulesCompiled(staging);
  return staging;
}

/**
 * The pipeline, composed of its parts (infra/parts/): state table, queues, functions with their
 * grants, API, alarms. The parts define their resources in this construct's own scope rather
 * than in child constructs of their own: a resource's CloudFormation logical id is a hash of its
 * construct path, so an extra level would replace every table, queue and function of a
 * deployed stack instead of updating it in place.
 */
export class StixDetectionPipeline extends Construct {
  readonly table: Table;
  readonly ingestQueue: Queue;
  readonly ingestDlq: Queue;
  readonly alertQueue: Queue;
  readonly alertDlq: Queue;
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly functions: PipelineFunctions;
  readonly alarms: Alarm[];
  /** Ids of the rules deployed (validated at synth). */
  readonly ruleIds: string[];
  /** The ingest channels the props asked for, with their functions and queues. */
  readonly channels: IngestChannels;
  /** The outputs stage, when the props ask for it. */
  readonly outputs: PipelineOutputs | undefined;
  /** The alert store and its API (#17), when the props ask for it. */
  readonly alertStore: PipelineAlertStore | undefined;
  /** The console function and its public routes, unless `console: false`. */
  readonly console: PipelineConsole | undefined;

  /** Every alarm notifies it: subscribe e-mail, chat or paging (docs/operations.md). */
  readonly alarmTopic: Topic;
  readonly dashboard: Dashboard;
  /** The outbox sweeper, unless `outboxSweep` is false. */
  readonly outboxSweeper: OutboxSweeperParts | undefined;
  readonly sourceAccounts: SourceAccountParts[];

  constructor(scope: Construct, id: string, props: StixDetectionPipelineProps) {
    super(scope, id);
    const rulesDir = resolve(props.rulesDir);
    // First, before anything is bundled: a broken rule stops the synth here.
    const validated = validateRulesDir(rulesDir);
    this.ruleIds = validated.ruleIds;
    const timeout = props.timeout ?? Duration.seconds(30);
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;

    this.table = defineStateTable(this, {
      removalPolicy: props.tableRemovalPolicy,
      maxThroughput: props.tableMaxThroughput,
      encryptionKey: props.encryptionKey,
    });
    const queues = defineQueues(this, {
      functionTimeout: timeout,
      maxReceiveCount: props.maxReceiveCount,
      alertQueueFifo: props.alertQueueFifo ?? true,
    });
    this.ingestQueue = queues.ingestQueue;
    this.ingestDlq = queues.ingestDlq;
    this.alertQueue = queues.alertQueue;
    this.alertDlq = queues.alertDlq;

    const auth = props.auth ?? { type: 'iam' };
    const rulesAdminScope = auth.type === 'jwt' ? (auth.rulesAdminScope ?? DEFAULT_RULES_ADMIN_SCOPE) : undefined;
    const functionProps = {
      environment: {
        TABLE_NAME: this.table.tableName,
        RULES_DIR: BUNDLED_RULES_DIR,
        MAPPINGS_DIR: BUNDLED_MAPPINGS_DIR,
        IAM_TENANT_SOURCE: auth.type === 'iam' ? (auth.tenantSource ?? 'account') : 'account',
        POWERTOOLS_SERVICE_NAME: 'stixflow',
        POWERTOOLS_METRICS_NAMESPACE: 'Stixflow',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...(props.defaultTenant !== undefined ? { DEFAULT_TENANT: props.defaultTenant } : {}),
        ...(props.maxBodyBytes !== undefined ? { MAX_BODY_BYTES: String(props.maxBodyBytes) } : {}),
        ...(props.latenessSeconds !== undefined ? { LATENESS_SECONDS: String(props.latenessSeconds) } : {}),
        ...(props.maxPartialsPerGroup !== undefined
          ? { MAX_PARTIALS_PER_GROUP: String(props.maxPartialsPerGroup) }
          : {}),
      },
      alertQueue: this.alertQueue,
      rulesAdminScope,
      stagedRules: stageRulesAsJson(rulesDir),
      timeout,
      memorySize: props.memorySize,
      logRetention,
      ...(props.vpc ? { vpc: props.vpc } : {}),
    };
    try {
      this.functions = defineFunctions(this, functionProps);
      // INGEST CHANNELS (#19): each opt-in by its prop.
      this.channels = defineChannels(this, {
        ingest: props.ingest ?? {},
        functionProps,
        table: this.table,
        alertQueue: this.alertQueue,
        timeout,
      });
      this.outputs = props.outputs
        ? defineOutputs(this, {
            outputs: props.outputs,
            functionProps,
            alertQueue: this.alertQueue,
            rules: loadRulesFromPaths([rulesDir]).rules,
            table: this.table,
          })
        : undefined;
      if (props.alertStore && !this.outputs)
        throw new Error('StixDetectionPipeline: alertStore needs outputs: the outputs function keeps the alerts');
      this.alertStore =
        props.alertStore && this.outputs
          ? defineAlertStore(this, {
              alertStore: props.alertStore,
              functionProps,
              stateTable: this.table,
              outputsFunction: this.outputs.function,
            })
          : undefined;

      this.outboxSweeper =
        props.outboxSweep === false
          ? undefined
          : defineOutboxSweeper(this, {
              sweep: props.outboxSweep ?? {},
              functionProps,
              table: this.table,
              alertQueue: this.alertQueue,
            });
    } finally {
      removeStagedRules(functionProps.stagedRules);
    }
    grantPipelineAccess(this.functions, { table: this.table, queues, ingestBatchSize: props.ingestBatchSize });

    const api = defineApi(this, {
      auth,
      rulesAdminScope,
      functions: this.functions,
      ...(this.alertStore ? { alertsApi: this.alertStore.function } : {}),
      logRetention,
      throttle: props.throttle,
    });
    this.api = api.api;
    this.stage = api.stage;
    this.console =
      props.console === false
        ? undefined
        : defineConsole(this, { api: this.api, logRetention, ...(props.vpc ? { vpc: props.vpc } : {}) });

    this.sourceAccounts = defineSourceAccounts(this, {
      accounts: props.sourceAccounts ?? [],
      ingestSqs: this.functions.IngestSqs,
      timeout,
      maxReceiveCount: props.maxReceiveCount,
      batchSize: props.ingestBatchSize,
    });
    applyRouteThrottles(this.stage, props.routeThrottles);

    // Operations over every function, queue and log group the parts defined.
    const functions = pipelineFunctions(this);
    applyConcurrency(functions, props.reservedConcurrency);
    const key = props.encryptionKey ?? defineAlarmTopicKey(this);
    if (props.encryptionKey) applyEncryptionKey(this, props.encryptionKey, functions);
    else allowServicesToUseKey(this, key, ['cloudwatch.amazonaws.com']);
    this.alarmTopic = defineAlarmTopic(this, key);
    const deadLetterQueues: Record<string, { queue: Queue; description: string }> = {};
    const channelDlqs = {
      S3NotificationDlqDepth: [this.channels.s3?.dlq, 'S3 notifications were dead-lettered'],
      KinesisFailureDlqDepth: [this.channels.kinesis?.dlq, 'Kinesis records were sent to the failure queue'],
      EventBridgeDlqDepth: [this.channels.eventBridge?.dlq, 'EventBridge events were dead-lettered'],
      CloudWatchLogsDlqDepth: [this.channels.cloudWatchLogs?.dlq, 'CloudWatch Logs deliveries were dead-lettered'],
      OutputDlqDepth: [this.outputs?.dlq, 'alerts could not be delivered to an output (webhook, Slack, PagerDuty)'],
    } as const;
    for (const [alarmId, [queue, description]] of Object.entries(channelDlqs))
      if (queue) deadLetterQueues[alarmId] = { queue, description };
    for (const source of this.sourceAccounts)
      deadLetterQueues[`Source${source.account}DlqDepth`] = {
        queue: source.dlq,
        description: `messages of source account ${source.account} were dead-lettered`,
      };
    const monitored = {
      queues,
      functions,
      table: this.table,
      api: this.api,
      timeout,
      deadLetterQueues,
      alarmActions: [new SnsAction(this.alarmTopic), ...(props.alarmActions ?? [])],
    };
    this.alarms = defineAlarms(this, monitored);
    this.dashboard = defineDashboard(this, monitored);
    for (const dlq of [queues.ingestDlq, queues.alertDlq, ...Object.values(deadLetterQueues).map((d) => d.queue)])
      acknowledgeDeadLetterQueue(dlq);
    acknowledgeServerlessFindings(functions);
    Tags.of(this).add('application', 'stixflow');
    for (const [name, value] of Object.entries(props.tags ?? {})) Tags.of(this).add(name, value);

    // cdk-nag AwsSolutions: this construct has no findings to acknowledge. What the checks ask
    // for is built in (SSE and SSL-only on every queue, DLQs, PITR and encryption on the table,
    // access logs and an authoriser on every route, own roles without managed policies or
    // wildcard resources, the newest Lambda runtime). test/infra asserts the report stays empty.
  }

  /** The HTTPS endpoint of the API. */
  get apiUrl(): string {
    return this.stage.url;
  }
}

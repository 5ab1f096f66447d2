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
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
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
import { defineAlarms } from './parts/alarms.js';
import { defineApi } from './parts/api.js';
import { defineOutputs, type PipelineOutputs, type PipelineOutputsProps } from './parts/outputs.js';
import { defineChannels, type IngestChannels, type IngestChannelsProps } from './parts/channels.js';
import { defineFunctions, grantPipelineAccess, removeStagedRules, type PipelineFunctions } from './parts/functions.js';
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

  constructor(scope: Construct, id: string, props: StixDetectionPipelineProps) {
    super(scope, id);
    const rulesDir = resolve(props.rulesDir);
    // First, before anything is bundled: a broken rule stops the synth here.
    const validated = validateRulesDir(rulesDir);
    this.ruleIds = validated.ruleIds;
    const timeout = props.timeout ?? Duration.seconds(30);
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;

    this.table = defineStateTable(this, { removalPolicy: props.tableRemovalPolicy });
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
          })
        : undefined;
    } finally {
      removeStagedRules(functionProps.stagedRules);
    }
    grantPipelineAccess(this.functions, { table: this.table, queues, ingestBatchSize: props.ingestBatchSize });

    const api = defineApi(this, {
      auth,
      rulesAdminScope,
      functions: this.functions,
      logRetention,
      throttle: props.throttle,
    });
    this.api = api.api;
    this.stage = api.stage;

    this.alarms = defineAlarms(this, { queues, functions: this.functions, alarmActions: props.alarmActions });

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

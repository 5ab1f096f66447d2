/**
 * The outputs stage (opt-in by the construct's `outputs` prop): a function reading the alert queue and delivering
 * each alert to its outputs (functions/outputs.ts), a dead-letter queue for deliveries that kept failing (SSE,
 * SSL-only), and for each output the least it needs: read access to its secret, sns:Publish on its topic,
 * s3:PutObject under its prefix, es:ESHttpPost on the two paths of its domain it posts to,
 * securityhub:BatchImportFindings on the account's custom-integration product. It consumes the alert queue: with
 * it, the queue's other consumers should read the outputs' receivers (or an SNS output) instead (docs/outputs.md).
 */
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { IDomain } from 'aws-cdk-lib/aws-opensearchservice';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { parseOutputsConfig } from '../../src/outputs/deliver.js';
import { DEFAULT_INDEX_PREFIX } from '../../src/outputs/opensearch.js';
import type { OutputConfig, OutputRoute } from '../../src/outputs/types.js';
import type { Rule } from '../../src/rules/model.js';
import { RULE_STORE_PARTITION } from '../../src/state/rule-store.js';
import { CHANNEL_ENTRIES } from '../bundling.js';
import { nagResource } from './channels.js';
import { definePipelineFunction, type PipelineFunctionsProps } from './functions.js';

/** One output of the stack (docs/outputs.md has each kind's settings and what its receiver gets). */
export type PipelineOutput =
  | {
      name: string;
      kind: 'webhook' | 'slack' | 'pagerduty' | 'thehive';
      /** Its JSON value holds the URL and key or token. */
      secret: ISecret;
      /** Settings that are not secret (TheHive: tlp, pap, organisation, type, source). */
      settings?: Record<string, string | number>;
    }
  | { name: string; kind: 'sns'; topic: ITopic }
  | { name: string; kind: 's3'; bucket: IBucket; /** Key prefix, e.g. `alerts/`. */ prefix?: string }
  /** Amazon OpenSearch Service, signed with SigV4 by the function's role. */
  | { name: string; kind: 'opensearch'; domain: IDomain; indexPrefix?: string }
  /** Any OpenSearch or Elasticsearch, with HTTP basic auth: the secret holds {"username", "password"}. */
  | { name: string; kind: 'opensearch'; endpoint: string; secret: ISecret; indexPrefix?: string }
  | { name: string; kind: 'securityhub' };

export interface PipelineOutputsProps {
  /** The outputs, by name. */
  outputs: PipelineOutput[];
  /** The stack's routes (by rule, severity, tag, tenant); the rules' own `outputs:` come on top. */
  routes?: OutputRoute[];
}

export interface PipelineOutputs {
  function: NodejsFunction;
  dlq: Queue;
}

export function defineOutputs(
  scope: Construct,
  props: {
    outputs: PipelineOutputsProps;
    functionProps: PipelineFunctionsProps;
    alertQueue: Queue;
    rules: Rule[];
    /** The state table: the function reads the runtime rule store's rules for their `outputs:` (#17). */
    table: Table;
  },
): PipelineOutputs {
  const stack = Stack.of(scope);
  const configs = props.outputs.outputs.map((o) => outputConfig(stack, o));
  const outputsJson = JSON.stringify(configs);
  const routesJson = JSON.stringify(props.outputs.routes ?? []);
  // Checked at synth: an unknown kind, a route or a rule naming an output that does not exist fails here.
  const names = new Set(parseOutputsConfig(outputsJson, routesJson).outputs.map((o) => o.name));
  const unknown = props.rules.flatMap((r) =>
    (r.outputs ?? []).filter((n) => !names.has(n)).map((n) => `${r.id} → ${n}`),
  );
  if (unknown.length > 0)
    throw new Error(`StixDetectionPipeline: rules name outputs the stack does not define: ${unknown.join(', ')}`);

  const dlq = new Queue(scope, 'OutputDlq', {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  // A dead-letter queue by use (the function writes the deliveries that kept failing); cdk-nag sees only redrives.
  Validations.of(dlq).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'this queue is the outputs dead-letter queue' });
  const fn = definePipelineFunction(
    scope,
    props.functionProps,
    'Outputs',
    CHANNEL_ENTRIES.Outputs,
    'stixflow: alert queue → outputs',
    { OUTPUTS: outputsJson, OUTPUT_ROUTES: routesJson, OUTPUT_DLQ_URL: dlq.queueUrl },
  );
  for (const o of props.outputs.outputs) grantOutput(fn, o);
  // Store rules name outputs too: the store's version item and rule heads, read only (as the ingest functions).
  fn.addToRolePolicy(
    new PolicyStatement({
      sid: 'ReadRuleStore',
      actions: ['dynamodb:GetItem', 'dynamodb:Query'],
      resources: [props.table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [RULE_STORE_PARTITION] } },
    }),
  );
  dlq.grantSendMessages(fn);
  fn.addEventSource(new SqsEventSource(props.alertQueue, { batchSize: 10, reportBatchItemFailures: true }));
  return { function: fn, dlq };
}

/** The output as the function reads it (OUTPUTS): kind, settings the stack knows, the secret's ARN. */
function outputConfig(stack: Stack, o: PipelineOutput): OutputConfig {
  const base = { name: o.name, kind: o.kind };
  switch (o.kind) {
    case 'sns':
      return { ...base, settings: { topicArn: o.topic.topicArn } };
    case 's3':
      return { ...base, settings: { bucket: o.bucket.bucketName, prefix: o.prefix ?? '' } };
    case 'securityhub':
      return { ...base, settings: { region: stack.region, accountId: stack.account, partition: stack.partition } };
    case 'opensearch': {
      const indexPrefix = o.indexPrefix ?? DEFAULT_INDEX_PREFIX;
      return 'domain' in o
        ? {
            ...base,
            settings: {
              endpoint: `https://${o.domain.domainEndpoint}`,
              auth: 'sigv4',
              region: stack.region,
              indexPrefix,
            },
          }
        : { ...base, secret: o.secret.secretArn, settings: { endpoint: o.endpoint, auth: 'basic', indexPrefix } };
    }
    default:
      return { ...base, secret: o.secret.secretArn, ...(o.settings ? { settings: o.settings } : {}) };
  }
}

/** The least each output needs, on its own resources only. */
function grantOutput(fn: NodejsFunction, o: PipelineOutput): void {
  const stack = Stack.of(fn);
  switch (o.kind) {
    case 'sns':
      fn.addToRolePolicy(new PolicyStatement({ actions: ['sns:Publish'], resources: [o.topic.topicArn] }));
      // An encrypted topic: the publisher makes and opens the message's data key (without grantPublish's wildcard).
      o.topic.masterKey?.grant(fn, 'kms:GenerateDataKey', 'kms:Decrypt');
      return;
    case 's3': {
      const objects = o.bucket.arnForObjects(`${o.prefix ?? ''}*`);
      fn.addToRolePolicy(new PolicyStatement({ actions: ['s3:PutObject'], resources: [objects] }));
      Validations.of(fn.role!).acknowledge({
        id: `AwsSolutions-IAM5[${nagResource(stack, objects)}]`,
        reason: `the archive writes objects under ${o.prefix || 'the bucket root'}, whose keys (date, rule, alert ids) are not known in advance`,
      });
      // SSE-KMS: PutObject asks KMS for a data key.
      o.bucket.encryptionKey?.grant(fn, 'kms:GenerateDataKey');
      return;
    }
    case 'securityhub':
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: ['securityhub:BatchImportFindings'],
          resources: [
            `arn:${stack.partition}:securityhub:${stack.region}:${stack.account}:product/${stack.account}/default`,
          ],
        }),
      );
      return;
    case 'opensearch':
      if ('domain' in o) {
        const prefix = o.indexPrefix ?? DEFAULT_INDEX_PREFIX;
        fn.addToRolePolicy(
          new PolicyStatement({
            actions: ['es:ESHttpPost'],
            resources: [`${o.domain.domainArn}/_bulk`, `${o.domain.domainArn}/_index_template/${prefix}`],
          }),
        );
      } else o.secret.grantRead(fn);
      return;
    default:
      o.secret.grantRead(fn);
  }
}

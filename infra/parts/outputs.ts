/**
 * The outputs stage (opt-in by the construct's `outputs` prop): a function reading the alert queue and delivering
 * each alert to its outputs (functions/outputs.ts), a dead-letter queue for deliveries that kept failing (SSE,
 * SSL-only), and read access to the outputs' secrets only. It consumes the alert queue: with it, the queue's other
 * consumers should read the outputs' receivers (or an SNS/webhook output) instead (docs/outputs.md).
 */
import { Duration, Validations } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { parseOutputsConfig } from '../../src/outputs/deliver.js';
import type { OutputKind, OutputRoute } from '../../src/outputs/types.js';
import type { Rule } from '../../src/rules/model.js';
import { CHANNEL_ENTRIES } from '../bundling.js';
import { definePipelineFunction, type PipelineFunctionsProps } from './functions.js';

export interface PipelineOutputsProps {
  /** The outputs, by name; each secret's value is the output's JSON settings (docs/outputs.md). */
  outputs: { name: string; kind: OutputKind; secret: ISecret }[];
  /** The stack's routes (by rule, severity, tag, tenant); the rules' own `outputs:` come on top. */
  routes?: OutputRoute[];
}

export interface PipelineOutputs {
  function: NodejsFunction;
  dlq: Queue;
}

export function defineOutputs(
  scope: Construct,
  props: { outputs: PipelineOutputsProps; functionProps: PipelineFunctionsProps; alertQueue: Queue; rules: Rule[] },
): PipelineOutputs {
  const outputsJson = JSON.stringify(
    props.outputs.outputs.map((o) => ({ name: o.name, kind: o.kind, secret: o.secret.secretArn })),
  );
  const routesJson = JSON.stringify(props.outputs.routes ?? []);
  // Checked at synth: an unknown kind, a route or a rule naming an output that does not exist fails here.
  const names = new Set(
    parseOutputsConfig(
      JSON.stringify(props.outputs.outputs.map((o) => ({ name: o.name, kind: o.kind, secret: o.name }))),
      routesJson,
    ).outputs.map((o) => o.name),
  );
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
    'stixflow: alert queue → outputs (webhook, Slack, PagerDuty)',
    { OUTPUTS: outputsJson, OUTPUT_ROUTES: routesJson, OUTPUT_DLQ_URL: dlq.queueUrl },
  );
  for (const o of props.outputs.outputs) o.secret.grantRead(fn);
  dlq.grantSendMessages(fn);
  fn.addEventSource(new SqsEventSource(props.alertQueue, { batchSize: 10, reportBatchItemFailures: true }));
  return { function: fn, dlq };
}

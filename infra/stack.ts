/** StixflowStack: the detection pipeline with its outputs, as `cdk deploy` deploys it. */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { join } from 'node:path';
import { REPO_ROOT } from './bundling.js';
import { StixDetectionPipeline, type StixDetectionPipelineProps } from './pipeline-construct.js';

export interface StixflowStackProps extends StackProps {
  /** Pipeline settings; the rules directory defaults to the repository's `rules/`. */
  pipeline?: Partial<StixDetectionPipelineProps>;
}

export class StixflowStack extends Stack {
  readonly pipeline: StixDetectionPipeline;

  constructor(scope: Construct, id: string, props: StixflowStackProps = {}) {
    super(scope, id, { description: 'stixflow: serverless STIX 2.1 detection pipeline', ...props });
    this.pipeline = new StixDetectionPipeline(this, 'Pipeline', {
      rulesDir: join(REPO_ROOT, 'rules'),
      ...props.pipeline,
    });
    const p = this.pipeline;
    new CfnOutput(this, 'ApiUrl', { value: p.apiUrl, description: 'HTTP API base URL (SigV4 or JWT on every route)' });
    new CfnOutput(this, 'EventsEndpoint', {
      value: `${p.apiUrl}events`,
      description: 'POST events here (JSON, JSON array or NDJSON)',
    });
    new CfnOutput(this, 'IngestQueueUrl', {
      value: p.ingestQueue.queueUrl,
      description: 'Send events here; message attribute `tenant` names the tenant',
    });
    new CfnOutput(this, 'IngestDlqUrl', { value: p.ingestDlq.queueUrl });
    new CfnOutput(this, 'AlertQueueUrl', {
      value: p.alertQueue.queueUrl,
      description: 'Alert documents (schemas/alert.schema.json)',
    });
    new CfnOutput(this, 'AlertDlqUrl', { value: p.alertDlq.queueUrl });
    new CfnOutput(this, 'StateTableName', { value: p.table.tableName });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: p.alarmTopic.topicArn,
      description: 'Every alarm notifies this topic: subscribe e-mail, chat or paging (docs/operations.md)',
    });
    new CfnOutput(this, 'DashboardName', { value: p.dashboard.dashboardName });
  }
}

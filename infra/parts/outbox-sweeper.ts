/**
 * The outbox sweeper (functions/outbox-sweeper.ts) on an EventBridge schedule: it queries the state
 * table's outbox index and re-sends the alerts whose delivery failed (docs/operations.md#outbox-sweeper).
 * It may read and write only correlation state items (S#…), query only the outbox index, and send
 * only to the alert queue.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { PENDING_INDEX_NAME } from '../../src/state/pending-index.js';
import { STATE_PK_PREFIX } from '../../src/state/table-schema.js';
import { CHANNEL_ENTRIES } from '../bundling.js';
import { definePipelineFunction, type PipelineFunctionsProps } from './functions.js';

export interface OutboxSweepProps {
  /** How often the sweeper runs; default every 5 minutes. */
  every?: Duration;
  /** Items marked pending more recently than this are left to the invocation delivering them; default 1 minute. */
  minAge?: Duration;
}

export interface OutboxSweeperParts {
  function: NodejsFunction;
  schedule: Rule;
}

export function defineOutboxSweeper(
  scope: Construct,
  props: { sweep: OutboxSweepProps; functionProps: PipelineFunctionsProps; table: Table; alertQueue: Queue },
): OutboxSweeperParts {
  const fn = definePipelineFunction(
    scope,
    props.functionProps,
    'OutboxSweeper',
    CHANNEL_ENTRIES.OutboxSweeper,
    'stixflow: outbox index → alerts whose delivery failed → alert queue',
    {
      ALERT_QUEUE_URL: props.alertQueue.queueUrl,
      OUTBOX_MIN_AGE_SECONDS: String((props.sweep.minAge ?? Duration.minutes(1)).toSeconds()),
    },
  );
  fn.addToRolePolicy(
    new PolicyStatement({
      sid: 'OutboxItems',
      actions: ['dynamodb:BatchGetItem', 'dynamodb:PutItem'],
      resources: [props.table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${STATE_PK_PREFIX}*`] } },
    }),
  );
  fn.addToRolePolicy(
    new PolicyStatement({
      sid: 'OutboxIndex',
      actions: ['dynamodb:Query'],
      resources: [`${props.table.tableArn}/index/${PENDING_INDEX_NAME}`],
    }),
  );
  fn.addToRolePolicy(
    new PolicyStatement({ sid: 'SendAlerts', actions: ['sqs:SendMessage'], resources: [props.alertQueue.queueArn] }),
  );
  // A failed sweep is followed by the next one: no retries that would overlap it.
  fn.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(5) });
  const schedule = new Rule(scope, 'OutboxSweepSchedule', {
    description: 'stixflow: run the outbox sweeper',
    schedule: Schedule.rate(props.sweep.every ?? Duration.minutes(5)),
    targets: [new LambdaFunction(fn, { retryAttempts: 0 })],
  });
  Validations.of(schedule).acknowledge({
    id: 'Serverless-EventBusDLQ',
    reason: 'a schedule tick that cannot be delivered is followed by the next one: there is no event to keep',
  });
  Validations.of(fn).acknowledge({
    id: 'Serverless-LambdaAsyncFailureDestination',
    reason: 'a failed scheduled sweep is followed by the next one; failures show in the OutboxSweeperErrors alarm',
  });
  return { function: fn, schedule };
}

/** Alarms on what needs an operator: dead-lettered messages, a falling-behind ingest queue, function errors and throttles. */
import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  TreatMissingData,
  type IAlarmAction,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import type { PipelineFunctions } from './functions.js';
import type { PipelineQueues } from './queues.js';

export interface PipelineAlarmsProps {
  queues: PipelineQueues;
  functions: PipelineFunctions;
  /** Where alarms notify (e.g. an SNS action); none by default. */
  alarmActions?: IAlarmAction[];
}

/** Defines the alarms in `scope` (the pipeline), under the ids deployed stacks already have. */
export function defineAlarms(scope: Construct, props: PipelineAlarmsProps): Alarm[] {
  const alarms: Alarm[] = [];
  const alarm = (alarmId: string, description: string, metric: IMetric, threshold = 1): void => {
    const created = new Alarm(scope, alarmId, {
      alarmDescription: description,
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    for (const action of props.alarmActions ?? []) created.addAlarmAction(action);
    alarms.push(created);
  };
  const { ingestDlq, alertDlq, ingestQueue } = props.queues;
  alarm(
    'IngestDlqDepth',
    'stixflow: ingest messages were dead-lettered (malformed or failing repeatedly); see the IngestSqs logs by message id',
    ingestDlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
  );
  alarm(
    'AlertDlqDepth',
    'stixflow: alert consumers dead-lettered alerts',
    alertDlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
  );
  alarm(
    'IngestQueueAge',
    'stixflow: the oldest ingest message is over 5 minutes old (ingest is falling behind)',
    ingestQueue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' }),
    300,
  );
  for (const [name, fn] of Object.entries(props.functions)) {
    alarm(
      `${name}Errors`,
      `stixflow: ${name} function errors`,
      fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
    );
    alarm(
      `${name}Throttles`,
      `stixflow: ${name} function throttled`,
      fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }),
    );
  }
  return alarms;
}

/**
 * Alarms on what needs an operator (docs/operations.md says what to do for each): dead-lettered
 * messages, ingest failures the handlers report (the HTTP handler answers 503 and the queue handlers
 * report batch item failures, so function errors alone miss them), undelivered alerts, pipeline
 * errors, a falling-behind ingest or alert queue, DynamoDB throttling, API 5xx, functions erroring,
 * throttled or running close to their timeout. And the dashboard of the same signals.
 */
import { Duration } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
  type IAlarmAction,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { PipelineQueues } from './queues.js';

/** The namespace and service dimension of the functions' EMF metrics (POWERTOOLS_* in the functions' environment). */
export const METRICS_NAMESPACE = 'Stixflow';
export const METRICS_SERVICE = 'stixflow';

export interface PipelineAlarmsProps {
  queues: PipelineQueues;
  /** Every function of the pipeline, by construct id. */
  functions: ReadonlyMap<string, NodejsFunction>;
  table: Table;
  api: HttpApi;
  /** The functions' timeout: a duration above 80% of it alarms. */
  timeout: Duration;
  /** Dead-letter queues beyond the ingest and alert ones (channels, outputs), by alarm id. */
  deadLetterQueues?: Record<string, { queue: Queue; description: string }>;
  /** Where alarms notify (the alarm topic, and any the props add). */
  alarmActions?: IAlarmAction[];
}

const PERIOD = Duration.minutes(5);

/** One of the functions' EMF metrics, summed. */
export function pipelineMetric(name: string, period = PERIOD): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { service: METRICS_SERVICE },
    statistic: 'Sum',
    period,
  });
}

/** Several EMF metrics summed as one (missing ones count 0). */
function sumOf(label: string, names: string[]): MathExpression {
  const usingMetrics: Record<string, IMetric> = {};
  names.forEach((name, i) => (usingMetrics[`m${i}`] = pipelineMetric(name)));
  return new MathExpression({
    expression: names.map((_, i) => `FILL(m${i}, 0)`).join(' + '),
    usingMetrics,
    label,
    period: PERIOD,
  });
}

/** Messages (SQS, S3 notifications), requests (HTTP), events (EventBridge, CloudWatch Logs) and records (Kinesis) that failed. */
export const INGEST_FAILURE_METRICS = [
  'MessagesFailed',
  'IngestFailures',
  'EventsFailed',
  'DeliveriesFailed',
  'RecordsFailed',
];

/** Defines the alarms in `scope` (the pipeline), under the ids deployed stacks already have. */
export function defineAlarms(scope: Construct, props: PipelineAlarmsProps): Alarm[] {
  const alarms: Alarm[] = [];
  const alarm = (alarmId: string, description: string, metric: IMetric, threshold = 1, evaluationPeriods = 1) => {
    const created = new Alarm(scope, alarmId, {
      alarmDescription: `${description} (docs/operations.md#${alarmId.toLowerCase()})`,
      metric,
      threshold,
      evaluationPeriods,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    for (const action of props.alarmActions ?? []) created.addAlarmAction(action);
    alarms.push(created);
  };
  const { ingestDlq, alertDlq, ingestQueue, alertQueue } = props.queues;
  const depth = (queue: Queue) =>
    queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' });
  alarm(
    'IngestDlqDepth',
    'stixflow: ingest messages were dead-lettered (malformed or failing repeatedly); see the IngestSqs logs by message id',
    depth(ingestDlq),
  );
  alarm('AlertDlqDepth', 'stixflow: alert consumers dead-lettered alerts', depth(alertDlq));
  for (const [id, dlq] of Object.entries(props.deadLetterQueues ?? {}))
    alarm(id, `stixflow: ${dlq.description}`, depth(dlq.queue));
  alarm(
    'IngestQueueAge',
    'stixflow: the oldest ingest message is over 5 minutes old (ingest is falling behind)',
    ingestQueue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' }),
    300,
  );
  alarm(
    'AlertQueueAge',
    'stixflow: the oldest alert has waited over 15 minutes in the alert queue (its consumers are not reading)',
    alertQueue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' }),
    900,
  );
  alarm(
    'IngestFailures',
    'stixflow: ingest messages, requests, events or records failed (they are retried; repeated failures dead-letter them)',
    sumOf('ingest failures', INGEST_FAILURE_METRICS),
  );
  alarm(
    'AlertsUndelivered',
    'stixflow: alerts were not delivered to the alert queue (the input is retried and the outbox sweeper re-sends them)',
    sumOf('alerts undelivered', ['AlertsUndelivered', 'AlertsUndeliverable']),
  );
  alarm(
    'OutboxStuck',
    'stixflow: the outbox sweeper could not deliver pending alerts on two sweeps in a row',
    pipelineMetric('OutboxResendFailed'),
    1,
    2,
  );
  alarm(
    'PipelineErrors',
    'stixflow: rule evaluation or state errors (each names its rule and event index in the logs)',
    pipelineMetric('PipelineErrors'),
  );
  alarm(
    'StateTableThrottles',
    'stixflow: DynamoDB throttled state reads or writes (capacity cap or hot partition)',
    new MathExpression({
      expression: 'FILL(r, 0) + FILL(w, 0)',
      usingMetrics: {
        r: props.table.metric('ReadThrottleEvents', { statistic: 'Sum', period: PERIOD }),
        w: props.table.metric('WriteThrottleEvents', { statistic: 'Sum', period: PERIOD }),
      },
      label: 'throttle events',
      period: PERIOD,
    }),
  );
  alarm(
    'Api5xx',
    'stixflow: the API answered 5xx (503: state or alert queue unavailable, the caller retries)',
    props.api.metricServerError({ period: PERIOD, statistic: 'Sum' }),
  );
  const nearTimeout = Math.floor(props.timeout.toMilliseconds() * 0.8);
  for (const [name, fn] of props.functions) {
    alarm(`${name}Errors`, `stixflow: ${name} function errors`, fn.metricErrors({ period: PERIOD, statistic: 'Sum' }));
    alarm(
      `${name}Throttles`,
      `stixflow: ${name} function throttled`,
      fn.metricThrottles({ period: PERIOD, statistic: 'Sum' }),
    );
    alarm(
      `${name}NearTimeout`,
      `stixflow: ${name} ran over 80% of its timeout (the handlers stop taking work near it and retry the rest)`,
      fn.metricDuration({ period: PERIOD, statistic: 'Maximum' }),
      nearTimeout,
    );
  }
  return alarms;
}

/** The dashboard: throughput and failures, queues, state table, API, functions. */
export function defineDashboard(scope: Construct, props: PipelineAlarmsProps): Dashboard {
  const dashboard = new Dashboard(scope, 'Dashboard', { defaultInterval: Duration.hours(3) });
  const graph = (title: string, left: IMetric[], right: IMetric[] = []) =>
    new GraphWidget({ title, left, right, width: 12, height: 6 });
  const fns = [...props.functions.values()];
  const { ingestQueue, alertQueue, ingestDlq, alertDlq } = props.queues;
  dashboard.addWidgets(
    new TextWidget({
      markdown: '# stixflow\nWhat each alarm means and what to do: docs/operations.md',
      width: 24,
      height: 2,
    }),
  );
  dashboard.addWidgets(
    graph(
      'Events and alerts',
      ['EventsAccepted', 'EventsRejected'].map((n) => pipelineMetric(n)),
      ['Alerts', 'Suppressed', 'Throttled'].map((n) => pipelineMetric(n)),
    ),
    graph(
      'Failures',
      [sumOf('ingest failures', INGEST_FAILURE_METRICS), pipelineMetric('PipelineErrors'), pipelineMetric('Deferred')],
      ['AlertsUndelivered', 'OutboxPending', 'OutboxResent', 'OutboxResendFailed'].map((n) => pipelineMetric(n)),
    ),
  );
  dashboard.addWidgets(
    graph(
      'Queues: visible messages',
      [ingestQueue, alertQueue, ingestDlq, alertDlq].map((q) =>
        q.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(1) }),
      ),
    ),
    graph(
      'Queues: oldest message (s)',
      [ingestQueue, alertQueue].map((q) =>
        q.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: Duration.minutes(1) }),
      ),
    ),
  );
  dashboard.addWidgets(
    graph(
      'State table: consumed units',
      [props.table.metricConsumedWriteCapacityUnits({ period: PERIOD })],
      [props.table.metricConsumedReadCapacityUnits({ period: PERIOD })],
    ),
    graph('State table: throttles', [
      props.table.metric('ReadThrottleEvents', { statistic: 'Sum', period: PERIOD }),
      props.table.metric('WriteThrottleEvents', { statistic: 'Sum', period: PERIOD }),
    ]),
  );
  dashboard.addWidgets(
    graph(
      'API',
      [props.api.metricCount({ period: PERIOD })],
      [props.api.metricClientError({ period: PERIOD }), props.api.metricServerError({ period: PERIOD })],
    ),
    graph(
      'Functions: duration p99 (ms)',
      fns.map((fn) => fn.metricDuration({ statistic: 'p99', period: PERIOD })),
    ),
  );
  dashboard.addWidgets(
    graph(
      'Functions: errors and throttles',
      fns.map((fn) => fn.metricErrors({ period: PERIOD })),
      fns.map((fn) => fn.metricThrottles({ period: PERIOD })),
    ),
    graph(
      'Functions: concurrent executions',
      fns.map((fn) => fn.metric('ConcurrentExecutions', { statistic: 'Maximum', period: Duration.minutes(1) })),
    ),
  );
  return dashboard;
}

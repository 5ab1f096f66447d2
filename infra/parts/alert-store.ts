/**
 * The alert store (#17, opt-in by the construct's `alertStore` prop, with `outputs`): the alert
 * table (keys and indexes from src/state/alert-store.ts, TTL, PITR, encryption), the alerts API
 * function behind GET /alerts, GET|PATCH /alerts/{id}, and the outputs function keeping each alert
 * there before it delivers it (the outputs function is the alert queue's consumer).
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import {
  ALERT_INDEXES,
  ALERT_SUMMARY_ATTRIBUTES,
  ALERT_TIME_KEY,
  DEFAULT_ALERT_RETENTION_DAYS,
} from '../../src/state/alert-store.js';
import { COUNTER_PK_PREFIX, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE } from '../../src/state/table-schema.js';
import { CHANNEL_ENTRIES } from '../bundling.js';
import { definePipelineFunction, type PipelineFunctionsProps } from './functions.js';

export interface AlertStoreProps {
  /** Days an alert is kept (DynamoDB TTL from its creation); default 90. */
  retentionDays?: number;
  /** Default RETAIN: the table holds triage history. */
  removalPolicy?: RemovalPolicy;
}

export interface PipelineAlertStore {
  table: Table;
  function: NodejsFunction;
}

export function defineAlertStore(
  scope: Construct,
  props: {
    alertStore: AlertStoreProps;
    functionProps: PipelineFunctionsProps;
    stateTable: Table;
    outputsFunction: NodejsFunction;
  },
): PipelineAlertStore {
  const retention = props.alertStore.retentionDays ?? DEFAULT_ALERT_RETENTION_DAYS;
  if (!Number.isInteger(retention) || retention < 1 || retention > 3650)
    throw new Error(
      `StixDetectionPipeline: alertStore.retentionDays must be an integer from 1 to 3650, got ${retention}`,
    );
  const table = new Table(scope, 'AlertTable', {
    partitionKey: { name: PARTITION_KEY, type: AttributeType.STRING },
    sortKey: { name: SORT_KEY, type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    timeToLiveAttribute: TTL_ATTRIBUTE,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: TableEncryption.AWS_MANAGED,
    removalPolicy: props.alertStore.removalPolicy ?? RemovalPolicy.RETAIN,
  });
  for (const [indexName, key] of Object.entries(ALERT_INDEXES))
    table.addGlobalSecondaryIndex({
      indexName,
      partitionKey: { name: key, type: AttributeType.STRING },
      sortKey: { name: ALERT_TIME_KEY, type: AttributeType.STRING },
      projectionType: ProjectionType.INCLUDE,
      nonKeyAttributes: ALERT_SUMMARY_ATTRIBUTES,
    });
  const env = { ALERT_TABLE_NAME: table.tableName, ALERT_RETENTION_DAYS: String(retention) };
  const fn = definePipelineFunction(
    scope,
    props.functionProps,
    'AlertsApi',
    CHANNEL_ENTRIES.AlertsApi,
    'stixflow: GET /alerts, GET|PATCH /alerts/{id} (triage)',
    env,
  );
  // Read and triage alerts: one item at a time, listings through the indexes; never a scan or a delete.
  fn.addToRolePolicy(
    new PolicyStatement({
      sid: 'ReadAndTriageAlerts',
      actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
      resources: [table.tableArn, ...Object.keys(ALERT_INDEXES).map((name) => `${table.tableArn}/index/${name}`)],
    }),
  );
  // The rejected counter of the triaged alert's rule (C#… items of the state table).
  fn.addToRolePolicy(
    new PolicyStatement({
      sid: 'CountRejected',
      actions: ['dynamodb:UpdateItem'],
      resources: [props.stateTable.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${COUNTER_PK_PREFIX}*`] } },
    }),
  );
  // The outputs function keeps each alert (a conditional put, so a redelivery changes nothing).
  for (const [name, value] of Object.entries(env)) props.outputsFunction.addEnvironment(name, value);
  props.outputsFunction.addToRolePolicy(
    new PolicyStatement({ sid: 'KeepAlerts', actions: ['dynamodb:PutItem'], resources: [table.tableArn] }),
  );
  return { table, function: fn };
}

/** The state table: correlation state, rule-health counters and rule overrides, one item each. */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE } from '../../src/state/table-schema.js';

export interface StateTableProps {
  /** Default RETAIN: the table holds live correlation state. */
  removalPolicy?: RemovalPolicy;
}

/** Defines the table in `scope` (the pipeline), under the id deployed stacks already have. */
export function defineStateTable(scope: Construct, props: StateTableProps): Table {
  return new Table(scope, 'StateTable', {
    partitionKey: { name: PARTITION_KEY, type: AttributeType.STRING },
    sortKey: { name: SORT_KEY, type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    timeToLiveAttribute: TTL_ATTRIBUTE,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: TableEncryption.AWS_MANAGED,
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
  });
}

/**
 * The state table: correlation state, rule-health counters and rule overrides, one item each, with
 * the sparse outbox index the outbox sweeper queries (src/state/pending-index.ts).
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import {
  PENDING_AT_ATTRIBUTE,
  PENDING_ATTRIBUTE,
  PENDING_INDEX_NAME,
  PENDING_KEY_ATTRIBUTE,
} from '../../src/state/pending-index.js';
import { PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE } from '../../src/state/table-schema.js';

/** An on-demand table's throughput cap (request units per second): a runaway writer is throttled, not billed. */
export interface TableThroughputCap {
  maxReadRequestUnits?: number;
  maxWriteRequestUnits?: number;
}

export interface StateTableProps {
  /** Default RETAIN: the table holds live correlation state. */
  removalPolicy?: RemovalPolicy;
  /**
   * On-demand throughput cap of the table, and the same for the outbox index (a throttled index write
   * throttles the table write, so the index never gets a lower cap); none by default.
   */
  maxThroughput?: TableThroughputCap;
  /** Customer-managed key; default the AWS-managed DynamoDB key. */
  encryptionKey?: IKey;
}

/** Defines the table in `scope` (the pipeline), under the id deployed stacks already have. */
export function defineStateTable(scope: Construct, props: StateTableProps): Table {
  const cap = props.maxThroughput ?? {};
  const table = new Table(scope, 'StateTable', {
    partitionKey: { name: PARTITION_KEY, type: AttributeType.STRING },
    sortKey: { name: SORT_KEY, type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    ...cap,
    timeToLiveAttribute: TTL_ATTRIBUTE,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    ...(props.encryptionKey
      ? { encryption: TableEncryption.CUSTOMER_MANAGED, encryptionKey: props.encryptionKey }
      : { encryption: TableEncryption.AWS_MANAGED }),
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
  });
  // Sparse: only items holding undelivered alerts carry `pending`, so the index stays tiny.
  table.addGlobalSecondaryIndex({
    indexName: PENDING_INDEX_NAME,
    partitionKey: { name: PENDING_ATTRIBUTE, type: AttributeType.STRING },
    sortKey: { name: PENDING_AT_ATTRIBUTE, type: AttributeType.NUMBER },
    projectionType: ProjectionType.INCLUDE,
    nonKeyAttributes: [PENDING_KEY_ATTRIBUTE],
    ...cap,
  });
  return table;
}

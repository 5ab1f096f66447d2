/**
 * The outbox index: a sparse, sharded global secondary index over the state items that hold
 * alerts not yet confirmed delivered (a correlation state's outbox, a pending alert-ledger entry).
 * A write marks such an item with
 *   pending    = "<shard>"   (GSI partition key; present only while something is pending)
 *   pendingAt  = epoch seconds of the write (GSI sort key: the sweeper leaves fresh items alone)
 *   pendingKey = the item's StateKey as JSON (projected, so the sweeper needs no key decoding)
 * and the write that delivers the last alert drops the attributes (PutItem replaces the item), so
 * the index holds only what is pending: the outbox sweeper (src/pipeline/outbox-sweep.ts) queries
 * it shard by shard. The shard spreads the index over partitions, so a burst of failed deliveries
 * is not one hot index partition.
 */
import { createHash } from 'node:crypto';
import {
  QueryCommand,
  type AttributeValue,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { StateStoreError } from './errors.js';
import { describeError } from './batch-get.js';
import type { StateKey } from './types.js';

export const PENDING_INDEX_NAME = 'pending';
export const PENDING_ATTRIBUTE = 'pending';
export const PENDING_AT_ATTRIBUTE = 'pendingAt';
export const PENDING_KEY_ATTRIBUTE = 'pendingKey';
/** Shards of the index's partition key; the sweeper queries each. */
export const PENDING_SHARDS = 16;

/** The shard of an item, from its table key (stable: the same item always lands on the same shard). */
export function pendingShard(pk: string, sk: string): string {
  return String(createHash('sha256').update(pk).update('\0').update(sk).digest().readUInt32BE(0) % PENDING_SHARDS);
}

/** The marker attributes of a pending item. */
export function pendingAttributes(
  pk: string,
  sk: string,
  key: StateKey,
  nowSeconds: number,
): Record<string, AttributeValue> {
  return {
    [PENDING_ATTRIBUTE]: { S: pendingShard(pk, sk) },
    [PENDING_AT_ATTRIBUTE]: { N: String(nowSeconds) },
    [PENDING_KEY_ATTRIBUTE]: { S: JSON.stringify({ tenant: key.tenant, ruleId: key.ruleId, group: key.group }) },
  };
}

/** The table as the stores need it, with the outbox index (local stack, tests; the CDK table uses the same names). */
export function withPendingIndex(input: CreateTableCommandInput): CreateTableCommandInput {
  return {
    ...input,
    AttributeDefinitions: [
      ...(input.AttributeDefinitions ?? []),
      { AttributeName: PENDING_ATTRIBUTE, AttributeType: 'S' },
      { AttributeName: PENDING_AT_ATTRIBUTE, AttributeType: 'N' },
    ],
    GlobalSecondaryIndexes: [
      ...(input.GlobalSecondaryIndexes ?? []),
      {
        IndexName: PENDING_INDEX_NAME,
        KeySchema: [
          { AttributeName: PENDING_ATTRIBUTE, KeyType: 'HASH' },
          { AttributeName: PENDING_AT_ATTRIBUTE, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [PENDING_KEY_ATTRIBUTE] },
      },
    ],
  };
}

export interface PendingEntry {
  key: StateKey;
  /** When the item was last written pending (epoch seconds). */
  pendingAt: number;
}

export interface PendingPage {
  entries: PendingEntry[];
  /** Entries whose key attribute could not be read (a damaged item): reported, never sent. */
  unreadable: number;
  /** Where the next page starts; undefined on the last page. */
  next: Record<string, AttributeValue> | undefined;
}

export interface PendingIndexOptions {
  client: DynamoDBClient;
  tableName: string;
  indexName?: string;
}

/** Reads the outbox index. */
export class DynamoDbPendingIndex {
  constructor(private readonly options: PendingIndexOptions) {}

  /** One page of a shard's items written pending at or before `before` (epoch seconds), oldest first. */
  async page(
    shard: string,
    before: number,
    limit: number,
    start?: Record<string, AttributeValue>,
  ): Promise<PendingPage> {
    let response;
    try {
      response = await this.options.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          IndexName: this.options.indexName ?? PENDING_INDEX_NAME,
          KeyConditionExpression: '#p = :shard AND #at <= :before',
          ExpressionAttributeNames: { '#p': PENDING_ATTRIBUTE, '#at': PENDING_AT_ATTRIBUTE },
          ExpressionAttributeValues: { ':shard': { S: shard }, ':before': { N: String(before) } },
          Limit: limit,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
    } catch (error) {
      throw new StateStoreError(
        `outbox index query on table ${this.options.tableName} failed: ${describeError(error)}`,
        error,
      );
    }
    const entries: PendingEntry[] = [];
    let unreadable = 0;
    for (const row of response.Items ?? []) {
      const key = parseKey(row[PENDING_KEY_ATTRIBUTE]?.S);
      if (key === undefined) unreadable++;
      else entries.push({ key, pendingAt: Number(row[PENDING_AT_ATTRIBUTE]?.N ?? 0) });
    }
    return { entries, unreadable, next: response.LastEvaluatedKey };
  }
}

function parseKey(text: string | undefined): StateKey | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<StateKey>;
    return typeof value.tenant === 'string' && typeof value.ruleId === 'string' && typeof value.group === 'string'
      ? { tenant: value.tenant, ruleId: value.ruleId, group: value.group }
      : undefined;
  } catch {
    return undefined;
  }
}

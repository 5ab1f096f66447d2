/**
 * Rule overrides: an operator can disable (or re-enable) a deployed rule without redeploying.
 * Each override is one small item in the state table, in its own partition (`O#rules`), which
 * cannot collide with state (`S#…`) or counter (`C#…`) partitions. Ingest functions re-read the
 * partition at most every RULE_OVERRIDES_REFRESH_SECONDS (default 60).
 *
 *   pk = "O#rules"   sk = "R#" + encodeURIComponent(ruleId)   enabled (BOOL), updatedAt (S), updatedBy (S)
 */
import { PutItemCommand, QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PARTITION_KEY, SORT_KEY } from './table-schema.js';

export const OVERRIDE_PARTITION = 'O#rules';
export const OVERRIDE_SK_PREFIX = 'R#';

export interface RuleOverride {
  ruleId: string;
  enabled: boolean;
  updatedAt: string;
  updatedBy: string;
}

export interface RuleOverrideStore {
  list(): Promise<Map<string, RuleOverride>>;
  set(override: RuleOverride): Promise<void>;
}

export class InMemoryRuleOverrideStore implements RuleOverrideStore {
  private readonly items = new Map<string, RuleOverride>();
  /** list() calls, for the refresh-interval tests. */
  reads = 0;

  async list(): Promise<Map<string, RuleOverride>> {
    this.reads += 1;
    return new Map([...this.items].map(([id, o]) => [id, { ...o }]));
  }

  async set(override: RuleOverride): Promise<void> {
    this.items.set(override.ruleId, { ...override });
  }
}

export class DynamoDbRuleOverrideStore implements RuleOverrideStore {
  constructor(private readonly options: { client: DynamoDBClient; tableName: string }) {}

  async list(): Promise<Map<string, RuleOverride>> {
    const result = new Map<string, RuleOverride>();
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.options.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY },
          ExpressionAttributeValues: { ':pk': { S: OVERRIDE_PARTITION } },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        const sk = item[SORT_KEY]?.S;
        const enabled = item.enabled?.BOOL;
        if (!sk?.startsWith(OVERRIDE_SK_PREFIX) || enabled === undefined) continue;
        const ruleId = decodeURIComponent(sk.slice(OVERRIDE_SK_PREFIX.length));
        result.set(ruleId, { ruleId, enabled, updatedAt: item.updatedAt?.S ?? '', updatedBy: item.updatedBy?.S ?? '' });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return result;
  }

  async set(override: RuleOverride): Promise<void> {
    await this.options.client.send(
      new PutItemCommand({
        TableName: this.options.tableName,
        Item: {
          [PARTITION_KEY]: { S: OVERRIDE_PARTITION },
          [SORT_KEY]: { S: OVERRIDE_SK_PREFIX + encodeURIComponent(override.ruleId) },
          enabled: { BOOL: override.enabled },
          updatedAt: { S: override.updatedAt },
          updatedBy: { S: override.updatedBy },
        },
      }),
    );
  }
}

/**
 * BatchGetItem in rounds of at most 100 keys, asking again for UnprocessedKeys (DynamoDB returns
 * them under throttling or when a response would exceed 16 MB) with capped exponential backoff.
 */
import {
  BatchGetItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type KeysAndAttributes,
} from '@aws-sdk/client-dynamodb';
import { StateStoreError } from './errors.js';
import { PARTITION_KEY, SORT_KEY, type TableKey } from './table-schema.js';

/** BatchGetItem accepts at most 100 keys per call. */
export const BATCH_GET_MAX_KEYS = 100;

export interface BatchGetOptions {
  client: DynamoDBClient;
  tableName: string;
  /** Attributes to return beyond the key; names are passed through ExpressionAttributeNames. */
  attributes: string[];
  consistentRead: boolean;
  maxUnprocessedRetries: number;
  sleep: (ms: number) => Promise<void>;
  /** Called once per BatchGetItem call, with the number of keys in it and whether it is a retry. */
  onCall?: (keys: number, isRetry: boolean) => void;
}

export async function batchGetRows(
  keys: TableKey[],
  options: BatchGetOptions,
): Promise<Record<string, AttributeValue>[]> {
  const names: Record<string, string> = {};
  options.attributes.forEach((attribute, i) => (names[`#a${i}`] = attribute));
  const projection = [PARTITION_KEY, SORT_KEY, ...Object.keys(names)].join(', ');
  const rows: Record<string, AttributeValue>[] = [];
  for (let start = 0; start < keys.length; start += BATCH_GET_MAX_KEYS) {
    let pending: KeysAndAttributes | undefined = {
      Keys: keys
        .slice(start, start + BATCH_GET_MAX_KEYS)
        .map((k) => ({ [PARTITION_KEY]: { S: k.pk }, [SORT_KEY]: { S: k.sk } })),
      ConsistentRead: options.consistentRead,
      ProjectionExpression: projection,
      ExpressionAttributeNames: names,
    };
    for (let round = 0; pending?.Keys && pending.Keys.length > 0; round += 1) {
      if (round > options.maxUnprocessedRetries) {
        throw new StateStoreError(
          `${pending.Keys.length} key(s) still unprocessed after ${options.maxUnprocessedRetries} retries`,
        );
      }
      if (round > 0) await options.sleep(Math.min(1000, 25 * 2 ** (round - 1)) * (0.5 + Math.random() / 2));
      options.onCall?.(pending.Keys.length, round > 0);
      let output;
      try {
        output = await options.client.send(new BatchGetItemCommand({ RequestItems: { [options.tableName]: pending } }));
      } catch (error) {
        throw new StateStoreError(`read from table ${options.tableName} failed: ${describeError(error)}`, error);
      }
      rows.push(...(output.Responses?.[options.tableName] ?? []));
      pending = output.UnprocessedKeys?.[options.tableName];
    }
  }
  return rows;
}

/** The lookup key of a table key in a Map. pk and sk are URI-encoded after a prefix, so never contain a newline. */
export function joinTableKey(key: TableKey): string {
  return `${key.pk}\n${key.sk}`;
}

/** Error name and message only: never request payloads, which may contain tenant data. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

export function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * StateStore on DynamoDB: optimistic concurrency through a version attribute and single-item
 * conditional writes, expiry through the TTL attribute, values longer than COMPRESS_ABOVE_CHARS
 * stored deflated (a binary attribute; billed by its compressed size).
 *
 * DynamoDB deletes expired items only eventually (typically within days), so expiry is enforced
 * here: reads drop items whose ttl has passed, creates may overwrite them, and updates or
 * deletes of an expired item fail as conflicts (the caller re-reads, sees nothing, and creates).
 */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  PutItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { batchGetRows, defaultSleep, describeError, joinTableKey } from './batch-get.js';
import { StateCorruptError, StateStoreError } from './errors.js';
import {
  dynamoNumberBytes,
  packValue,
  readUnits,
  stateItemBytes,
  unpackValue,
  writeUnits,
  type StoredValue,
} from './item-size.js';
import { pendingAttributes } from './pending-index.js';
import {
  DEFAULT_MAX_STATE_ITEM_BYTES,
  DEFLATED_VALUE_ATTRIBUTE,
  DYNAMODB_MAX_ITEM_BYTES,
  PARTITION_KEY,
  SORT_KEY,
  TTL_ATTRIBUTE,
  VALUE_ATTRIBUTE,
  VERSION_ATTRIBUTE,
  stateTableKey,
  type TableKey,
} from './table-schema.js';
import {
  assertValidWrite,
  emptyStoreStats,
  epochSeconds,
  isExpired,
  stateKeyId,
  type PutItem,
  type PutOutcome,
  type StateItem,
  type StateKey,
  type StateStore,
  type StoreStats,
} from './types.js';

export interface DynamoDbStateStoreOptions {
  client: DynamoDBClient;
  tableName: string;
  /** Largest item (DynamoDB size rule) accepted by put; default 64 KiB, at most 400 KiB. */
  maxItemBytes?: number;
  /** Clock in epoch milliseconds, used to decide expiry on read and in write conditions. */
  now?: () => number;
  /** Rounds of asking again for UnprocessedKeys before giving up; default 8. */
  maxUnprocessedRetries?: number;
  /** Waits between those rounds; injectable so tests need not sleep. */
  sleep?: (ms: number) => Promise<void>;
}

const NAMES = { '#v': VERSION_ATTRIBUTE, '#ttl': TTL_ATTRIBUTE };
const CREATE_CONDITION = `attribute_not_exists(${PARTITION_KEY}) OR #ttl < :now`;
// An expired item is absent for every purpose, so an update or delete against it must fail too.
const UPDATE_CONDITION = '#v = :expected AND #ttl >= :now';

export class DynamoDbStateStore implements StateStore {
  readonly stats: StoreStats = emptyStoreStats();
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  private readonly maxItemBytes: number;
  private readonly now: () => number;
  private readonly maxUnprocessedRetries: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: DynamoDbStateStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.maxItemBytes = options.maxItemBytes ?? DEFAULT_MAX_STATE_ITEM_BYTES;
    if (!(this.maxItemBytes > 0 && this.maxItemBytes <= DYNAMODB_MAX_ITEM_BYTES)) {
      throw new RangeError(`maxItemBytes must be between 1 and ${DYNAMODB_MAX_ITEM_BYTES}`);
    }
    this.now = options.now ?? Date.now;
    this.maxUnprocessedRetries = options.maxUnprocessedRetries ?? 8;
    this.sleep = options.sleep ?? defaultSleep;
  }

  async getMany(keys: StateKey[]): Promise<Map<string, StateItem>> {
    // pk + sk -> requested key, so results map back without decoding the stored key.
    const wanted = new Map<string, { key: StateKey; tableKey: TableKey }>();
    for (const key of keys) {
      const tableKey = stateTableKey(key);
      wanted.set(joinTableKey(tableKey), { key, tableKey });
    }
    this.stats.keysRead += wanted.size;
    const rows = await batchGetRows(
      [...wanted.values()].map((w) => w.tableKey),
      {
        client: this.client,
        tableName: this.tableName,
        attributes: [VERSION_ATTRIBUTE, VALUE_ATTRIBUTE, DEFLATED_VALUE_ATTRIBUTE, TTL_ATTRIBUTE],
        // Strongly consistent, so a read right after a write sees it and read-modify-write rarely conflicts.
        consistentRead: true,
        maxUnprocessedRetries: this.maxUnprocessedRetries,
        sleep: this.sleep,
        onCall: (keyCount, isRetry) => {
          this.stats.reads += 1;
          if (isRetry) this.stats.unprocessedRetries += keyCount;
        },
      },
    );
    const nowSeconds = epochSeconds(this.now());
    const result = new Map<string, StateItem>();
    // Each key costs a unit even when absent; a present item one per 4 KiB.
    this.stats.readUnits += wanted.size - rows.length;
    for (const row of rows) {
      const pk = row[PARTITION_KEY]?.S;
      const sk = row[SORT_KEY]?.S;
      const requested = pk !== undefined && sk !== undefined ? wanted.get(joinTableKey({ pk, sk })) : undefined;
      if (!requested) continue;
      const { item, stored } = parseStateRow(row, requested.key);
      this.stats.readUnits += readUnits(stateItemBytes(requested.tableKey, item.version, stored, item.expiresAt));
      if (!isExpired(item.expiresAt, nowSeconds)) result.set(stateKeyId(requested.key), item);
    }
    return result;
  }

  async put(item: PutItem, expectedVersion: number | null): Promise<PutOutcome> {
    const tableKey = stateTableKey(item.key);
    assertValidWrite(item.value, item.expiresAt, expectedVersion);
    const version = expectedVersion === null ? 1 : expectedVersion + 1;
    const stored = packValue(item.value);
    const nowSeconds = epochSeconds(this.now());
    const marker = item.pending === true ? pendingAttributes(tableKey.pk, tableKey.sk, item.key, nowSeconds) : {};
    const bytes = stateItemBytes(tableKey, version, stored, item.expiresAt) + markerBytes(marker);
    if (bytes > this.maxItemBytes) {
      this.stats.tooLarge += 1;
      return { ok: false, reason: 'too-large' };
    }
    const values: Record<string, AttributeValue> = { ':now': { N: String(nowSeconds) } };
    if (expectedVersion !== null) values[':expected'] = { N: String(expectedVersion) };
    const command = new PutItemCommand({
      TableName: this.tableName,
      Item: {
        [PARTITION_KEY]: { S: tableKey.pk },
        [SORT_KEY]: { S: tableKey.sk },
        [VERSION_ATTRIBUTE]: { N: String(version) },
        ...('text' in stored
          ? { [VALUE_ATTRIBUTE]: { S: stored.text } }
          : { [DEFLATED_VALUE_ATTRIBUTE]: { B: stored.deflated } }),
        [TTL_ATTRIBUTE]: { N: String(item.expiresAt) },
        ...marker,
      },
      ConditionExpression: expectedVersion === null ? CREATE_CONDITION : UPDATE_CONDITION,
      ExpressionAttributeNames: expectedVersion === null ? { '#ttl': TTL_ATTRIBUTE } : NAMES,
      ExpressionAttributeValues: values,
      // On a conflict, the item that won comes back with the failure: the caller needs no second read.
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    return this.conditionalWrite(command, version, item.key, writeUnits(bytes));
  }

  async delete(key: StateKey, expectedVersion: number): Promise<PutOutcome> {
    const tableKey = stateTableKey(key);
    assertValidWrite(undefined, undefined, expectedVersion);
    const command = new DeleteItemCommand({
      TableName: this.tableName,
      Key: { [PARTITION_KEY]: { S: tableKey.pk }, [SORT_KEY]: { S: tableKey.sk } },
      ConditionExpression: UPDATE_CONDITION,
      ExpressionAttributeNames: NAMES,
      ExpressionAttributeValues: {
        ':expected': { N: String(expectedVersion) },
        ':now': { N: String(epochSeconds(this.now())) },
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    return this.conditionalWrite(command, expectedVersion, key, 1);
  }

  private async conditionalWrite(
    command: PutItemCommand | DeleteItemCommand,
    versionOnSuccess: number,
    key: StateKey,
    units: number,
  ): Promise<PutOutcome> {
    this.stats.writes += 1;
    this.stats.writeUnits += units;
    try {
      // The SDK's overloads do not accept the union directly; each branch is the same call.
      if (command instanceof PutItemCommand) await this.client.send(command);
      else await this.client.send(command);
      return { ok: true, version: versionOnSuccess };
    } catch (error) {
      if (
        error instanceof ConditionalCheckFailedException ||
        (error as { name?: unknown }).name === 'ConditionalCheckFailedException'
      ) {
        this.stats.conflicts += 1;
        return { ok: false, reason: 'conflict', ...this.itemOfFailure(error, key) };
      }
      throw new StateStoreError(`state write to table ${this.tableName} failed: ${describeError(error)}`, error);
    }
  }

  /**
   * The item returned with a failed condition (ALL_OLD). Absent when no item existed, or when
   * the service did not return one (an emulator without the feature): as neither can be told
   * apart from an expired item for sure, the caller then reads again.
   */
  private itemOfFailure(error: unknown, key: StateKey): { current?: StateItem | null } {
    const row = (error as { Item?: Record<string, AttributeValue> }).Item;
    if (row === undefined || Object.keys(row).length === 0) return {};
    let item: StateItem;
    try {
      item = parseStateRow(row, key).item;
    } catch {
      return {}; // unreadable: the read that follows reports it
    }
    return { current: isExpired(item.expiresAt, epochSeconds(this.now())) ? null : item };
  }
}

function parseStateRow(row: Record<string, AttributeValue>, key: StateKey): { item: StateItem; stored: StoredValue } {
  const version = Number(row[VERSION_ATTRIBUTE]?.N);
  const expiresAt = Number(row[TTL_ATTRIBUTE]?.N);
  const text = row[VALUE_ATTRIBUTE]?.S;
  const deflated = row[DEFLATED_VALUE_ATTRIBUTE]?.B;
  const stored: StoredValue | undefined =
    text !== undefined ? { text } : deflated !== undefined ? { deflated } : undefined;
  if (!Number.isSafeInteger(version) || !Number.isFinite(expiresAt) || stored === undefined) {
    throw new StateCorruptError('a stored state item is missing its version, value or ttl attribute');
  }
  let value: string;
  try {
    value = unpackValue(stored);
  } catch {
    throw new StateCorruptError('a stored state item has a deflated value that does not inflate');
  }
  return {
    item: { key: { tenant: key.tenant, ruleId: key.ruleId, group: key.group }, version, value, expiresAt },
    stored,
  };
}

/** Bytes the outbox-index marker adds to an item (DynamoDB's size rule). */
function markerBytes(marker: Record<string, AttributeValue>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(marker))
    bytes +=
      Buffer.byteLength(name, 'utf8') +
      (value.S !== undefined ? Buffer.byteLength(value.S, 'utf8') : dynamoNumberBytes(Number(value.N)));
  return bytes;
}

/**
 * The one DynamoDB table behind correlation state and rule-health counters. The CDK stack
 * imports these constants so the deployed table matches what the stores read and write.
 *
 * Layout (all keys are strings):
 *   group item:   pk = "S#" + enc(tenant) + "#" + enc(group)    sk = "G"
 *   rule item:    pk = "S#" + enc(tenant) + "#" + enc(group)    sk = "R#" + enc(ruleId)
 *   counter item: pk = "C#" + enc(tenant) + "#" + enc(ruleId)   sk = "D#" + day (YYYY-MM-DD)
 * The group is in the partition key, so that the groups of one busy rule spread over partitions
 * instead of making one hot partition. A group item (rule id GROUP_ITEM_RULE_ID) holds every
 * correlation rule's state of that (tenant, group); rule items are the alert gate's and the
 * alert ledger's items, whose groups start with `#`.
 * enc() is encodeURIComponent, which always escapes "#", so a tenant or rule id containing the
 * separator cannot produce the same key as another tenant/rule pair. A part whose encoding is
 * too long for DynamoDB's key limits becomes enc(readable prefix) + "$" + SHA-256 of the whole
 * part (base64url): encodeURIComponent always escapes "$" too, so a hashed part can never equal
 * an encoded one, and two hashed parts are equal only if their texts are.
 */
import { createHash } from 'node:crypto';
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { InvalidStateKeyError } from './errors.js';
import type { StateKey } from './types.js';

export const PARTITION_KEY = 'pk';
export const SORT_KEY = 'sk';
/** TTL attribute (epoch seconds), present on every item; DynamoDB's TTL sweeper deletes expired items eventually. */
export const TTL_ATTRIBUTE = 'ttl';
/** Optimistic-concurrency version of a state item. */
export const VERSION_ATTRIBUTE = 'v';
/** Opaque serialised state of a state item, as text (values of up to COMPRESS_ABOVE_CHARS characters). */
export const VALUE_ATTRIBUTE = 'val';
/** The same, deflated (raw deflate of its UTF-8), for longer values: an item holds one of the two. */
export const DEFLATED_VALUE_ATTRIBUTE = 'z';

export const STATE_PK_PREFIX = 'S#';
/** Sort key of a group item; rule items' sort keys start with RULE_SK_PREFIX, so they never equal it. */
export const GROUP_ITEM_SK = 'G';
export const RULE_SK_PREFIX = 'R#';
/** The rule id of a StateKey naming a group item (no rule has an empty id). */
export const GROUP_ITEM_RULE_ID = '';
export const COUNTER_PK_PREFIX = 'C#';
export const COUNTER_SK_PREFIX = 'D#';
export const KEY_SEPARATOR = '#';

/** DynamoDB limits on key attribute sizes (UTF-8 bytes). */
export const MAX_PARTITION_KEY_BYTES = 2048;
export const MAX_SORT_KEY_BYTES = 1024;
/** Default cap on a state item, well under DynamoDB's limit so one hot group cannot make reads slow and costly. */
export const DEFAULT_MAX_STATE_ITEM_BYTES = 64 * 1024;
/** DynamoDB's hard item size limit. */
export const DYNAMODB_MAX_ITEM_BYTES = 400 * 1024;

/** How long rule-health counters are kept after the day they count. */
export const COUNTER_RETENTION_DAYS = 35;

export interface TableKey {
  pk: string;
  sk: string;
}

/** Longest encoded key part kept as it is: two of them and the prefixes fit the 2048-byte partition key. */
export const MAX_ENCODED_PART_BYTES = 1022;
/** Encoded bytes of the readable prefix kept before the hash of a part too long for a key. */
export const HASHED_PART_PREFIX_BYTES = 128;
/** Marks a hashed key part; encodeURIComponent never leaves it in an encoded part. */
export const HASHED_PART_MARKER = '$';

function encodePart(part: string, what: string): string {
  let encoded: string;
  try {
    encoded = encodeURIComponent(part);
  } catch (error) {
    // encodeURIComponent throws only on lone surrogates, which DynamoDB (UTF-8) cannot store either.
    throw new InvalidStateKeyError(`${what} is not valid Unicode text`, { cause: error });
  }
  // encodeURIComponent's output is ASCII: its length is its size in bytes.
  if (encoded.length <= MAX_ENCODED_PART_BYTES) return encoded;
  let prefix = '';
  for (const character of part) {
    const next = encodeURIComponent(character);
    if (prefix.length + next.length > HASHED_PART_PREFIX_BYTES) break;
    prefix += next;
  }
  return prefix + HASHED_PART_MARKER + createHash('sha256').update(part, 'utf8').digest('base64url');
}

function checkKeySize(key: TableKey): TableKey {
  if (Buffer.byteLength(key.pk, 'utf8') > MAX_PARTITION_KEY_BYTES) {
    throw new InvalidStateKeyError(
      `the partition key (tenant with rule id or group) exceeds the ${MAX_PARTITION_KEY_BYTES}-byte limit once encoded`,
    );
  }
  if (Buffer.byteLength(key.sk, 'utf8') > MAX_SORT_KEY_BYTES) {
    throw new InvalidStateKeyError(`the sort key exceeds the ${MAX_SORT_KEY_BYTES}-byte limit once encoded`);
  }
  return key;
}

function tenantRulePartition(prefix: string, tenant: string, ruleId: string): string {
  if (tenant.length === 0) throw new InvalidStateKeyError('tenant must not be empty');
  if (ruleId.length === 0) throw new InvalidStateKeyError('rule id must not be empty');
  return prefix + encodePart(tenant, 'tenant') + KEY_SEPARATOR + encodePart(ruleId, 'rule id');
}

/**
 * The table key of a state item, within DynamoDB's key limits for parts of any length; throws
 * InvalidStateKeyError only for an empty tenant, or text that is not valid Unicode. An empty
 * rule id names the group item of (tenant, group).
 */
export function stateTableKey(key: StateKey): TableKey {
  if (key.tenant.length === 0) throw new InvalidStateKeyError('tenant must not be empty');
  return checkKeySize({
    pk: STATE_PK_PREFIX + encodePart(key.tenant, 'tenant') + KEY_SEPARATOR + encodePart(key.group, 'group'),
    sk: key.ruleId === GROUP_ITEM_RULE_ID ? GROUP_ITEM_SK : RULE_SK_PREFIX + encodePart(key.ruleId, 'rule id'),
  });
}

/** The table key of one (tenant, rule, day) counter item. */
export function counterTableKey(tenant: string, ruleId: string, day: string): TableKey {
  return checkKeySize({ pk: tenantRulePartition(COUNTER_PK_PREFIX, tenant, ruleId), sk: COUNTER_SK_PREFIX + day });
}

/** CreateTable input for local mode and tests; the deployed table is defined from the same constants. */
export function createStateTableInput(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: PARTITION_KEY, AttributeType: 'S' },
      { AttributeName: SORT_KEY, AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: PARTITION_KEY, KeyType: 'HASH' },
      { AttributeName: SORT_KEY, KeyType: 'RANGE' },
    ],
  };
}

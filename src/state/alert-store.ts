/**
 * The alert store (#17): every alert delivered from the alert queue, kept for triage for
 * ALERT_RETENTION_DAYS (default 90, by DynamoDB TTL), each with a status (new, acknowledged,
 * rejected as a false positive, resolved), who set it and when, and the history of changes.
 *
 * Its own table, not the state table: the listings need secondary indexes, and keeping them off
 * the state table keeps the hot correlation writes free of index upkeep and alerts' retention
 * apart from state's. Layout (strings; enc() is encodeURIComponent, which escapes "#"):
 *
 *   pk = "T#" + enc(tenant)    sk = "A#" + enc(alertId)      one alert: summary fields, status, history, doc
 *
 * Every query starts from the tenant, so a tenant can only ever read its own alerts: a lookup of
 * another tenant's alert id misses. The listings are four global secondary indexes, each keyed by
 * the tenant and one filter and sorted by time (`gTime` = createdAt + "#" + id), so each listing
 * is one Query, newest first (ScanIndexForward false); a second filter is a FilterExpression on
 * that Query, a time range a condition on its sort key:
 *
 *   byTenant    gTenant   = enc(tenant)                       every alert of the tenant
 *   byRule      gRule     = enc(tenant) + "#" + enc(ruleId)    ?ruleId=
 *   byStatus    gStatus   = enc(tenant) + "#" + status         ?status=  (moves when the status changes)
 *   bySeverity  gSeverity = enc(tenant) + "#" + severity       ?severity=
 *
 * The indexes project the summary attributes only (INCLUDE), not the alert document.
 */
import {
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { AlertDocument } from '../outputs/types.js';
import { describeError } from './batch-get.js';
import { StateStoreError } from './errors.js';
import { createStateTableInput, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE } from './table-schema.js';

export const ALERT_STATUSES = ['new', 'acknowledged', 'rejected', 'resolved'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];
export const DEFAULT_ALERT_RETENTION_DAYS = 90;
/** The sort key of every index. */
export const ALERT_TIME_KEY = 'gTime';
/** The indexes: name → partition key attribute. */
export const ALERT_INDEXES = {
  byTenant: 'gTenant',
  byRule: 'gRule',
  byStatus: 'gStatus',
  bySeverity: 'gSeverity',
} as const;
/** What the indexes carry besides their keys: an alert's summary. */
export const ALERT_SUMMARY_ATTRIBUTES = [
  'id',
  'ruleId',
  'ruleName',
  'severity',
  'title',
  'tenant',
  'groupKey',
  'firstObserved',
  'lastObserved',
  'createdAt',
  'status',
  'statusBy',
  'statusAt',
];
/** Alert documents over this size are kept without their matched events (DynamoDB items stop at 400 KB). */
export const MAX_ALERT_DOCUMENT_BYTES = 300 * 1024;

export interface AlertSummary {
  id: string;
  ruleId: string;
  ruleName: string;
  severity: string;
  title?: string;
  tenant: string;
  groupKey: string;
  firstObserved: string;
  lastObserved: string;
  createdAt: string;
  status: AlertStatus;
  statusBy?: string;
  statusAt?: string;
}

export interface StatusChange {
  status: AlertStatus;
  by: string;
  at: string;
  note?: string;
}

export interface StoredAlert {
  summary: AlertSummary;
  alert: Record<string, unknown>;
  history: StatusChange[];
}

export interface AlertQuery {
  ruleId?: string;
  severity?: string;
  status?: AlertStatus;
  /** ISO timestamps bounding createdAt, inclusive. */
  from?: string;
  to?: string;
  limit?: number;
  cursor?: string;
}

export class AlertCursorError extends StateStoreError {}

const enc = encodeURIComponent;
const keyOf = (tenant: string, id: string) => ({
  [PARTITION_KEY]: { S: `T#${enc(tenant)}` },
  [SORT_KEY]: { S: `A#${enc(id)}` },
});

/**
 * CreateTable input for the local stack and tests: the state table's keys, and the indexes. The CDK stack defines
 * the same table from the same constants (infra/parts/alert-store.ts).
 */
export function createAlertTableInput(tableName: string): CreateTableCommandInput {
  const base = createStateTableInput(tableName);
  return {
    ...base,
    AttributeDefinitions: [
      ...(base.AttributeDefinitions ?? []),
      { AttributeName: ALERT_TIME_KEY, AttributeType: 'S' },
      ...Object.values(ALERT_INDEXES).map((name) => ({ AttributeName: name, AttributeType: 'S' as const })),
    ],
    GlobalSecondaryIndexes: Object.entries(ALERT_INDEXES).map(([indexName, key]) => ({
      IndexName: indexName,
      KeySchema: [
        { AttributeName: key, KeyType: 'HASH' },
        { AttributeName: ALERT_TIME_KEY, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ALERT_SUMMARY_ATTRIBUTES },
    })),
  };
}

export interface DynamoDbAlertStoreOptions {
  client: DynamoDBClient;
  tableName: string;
  retentionDays?: number;
  now?: () => number;
}

export class DynamoDbAlertStore {
  private readonly retentionDays: number;
  private readonly now: () => number;

  constructor(private readonly options: DynamoDbAlertStoreOptions) {
    this.retentionDays = options.retentionDays ?? DEFAULT_ALERT_RETENTION_DAYS;
    this.now = options.now ?? Date.now;
  }

  private async send<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw new StateStoreError(`${what} in table ${this.options.tableName} failed: ${describeError(error)}`, error);
    }
  }

  /**
   * Keeps an alert as `new`. Idempotent: the alert queue delivers at least once, and a second
   * delivery of an alert already kept (and maybe triaged) leaves it as it is. Returns whether it was new.
   */
  async put(alert: AlertDocument): Promise<boolean> {
    const createdAt = typeof alert.created === 'string' ? alert.created : new Date(this.now()).toISOString();
    let doc = JSON.stringify(alert);
    let truncated = false;
    if (Buffer.byteLength(doc, 'utf8') > MAX_ALERT_DOCUMENT_BYTES) {
      const { events: _events, explain: _explain, ...rest } = alert as Record<string, unknown>;
      doc = JSON.stringify({ ...rest, x_stixflow_truncated: true });
      truncated = true;
    }
    const tenant = enc(alert.tenant);
    const title = typeof alert.title === 'string' ? alert.title : undefined;
    const item: Record<string, AttributeValue> = {
      ...keyOf(alert.tenant, alert.id),
      id: { S: alert.id },
      ruleId: { S: alert.ruleId },
      ruleName: { S: alert.ruleName },
      severity: { S: alert.severity },
      ...(title !== undefined ? { title: { S: title } } : {}),
      tenant: { S: alert.tenant },
      groupKey: { S: alert.groupKey },
      firstObserved: { S: alert.firstObserved },
      lastObserved: { S: alert.lastObserved },
      createdAt: { S: createdAt },
      status: { S: 'new' },
      history: { L: [] },
      doc: { S: doc },
      ...(truncated ? { truncated: { BOOL: true } } : {}),
      [ALERT_TIME_KEY]: { S: `${createdAt}#${alert.id}` },
      [ALERT_INDEXES.byTenant]: { S: tenant },
      [ALERT_INDEXES.byRule]: { S: `${tenant}#${enc(alert.ruleId)}` },
      [ALERT_INDEXES.byStatus]: { S: `${tenant}#new` },
      [ALERT_INDEXES.bySeverity]: { S: `${tenant}#${alert.severity}` },
      // Kept from the alert's creation, not its delivery: a redelivered old alert does not live longer.
      [TTL_ATTRIBUTE]: { N: String(Math.floor(Date.parse(createdAt) / 1000) + this.retentionDays * 86_400) },
    };
    try {
      await this.options.client.send(
        new PutItemCommand({
          TableName: this.options.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY },
        }),
      );
      return true;
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw new StateStoreError(
        `keeping alert in table ${this.options.tableName} failed: ${describeError(error)}`,
        error,
      );
    }
  }

  /** One alert of the tenant; undefined when the tenant has no alert of that id. */
  async get(tenant: string, id: string): Promise<StoredAlert | undefined> {
    const result = await this.send('reading an alert', () =>
      this.options.client.send(
        new GetItemCommand({ TableName: this.options.tableName, Key: keyOf(tenant, id), ConsistentRead: true }),
      ),
    );
    const item = result.Item;
    if (!item) return undefined;
    return {
      summary: summaryOf(item),
      alert: JSON.parse(item.doc?.S ?? '{}') as Record<string, unknown>,
      history: (item.history?.L ?? []).map((entry) => {
        const m = entry.M ?? {};
        return {
          status: (m.status?.S ?? 'new') as AlertStatus,
          by: m.by?.S ?? '',
          at: m.at?.S ?? '',
          ...(m.note?.S !== undefined ? { note: m.note.S } : {}),
        };
      }),
    };
  }

  /**
   * Sets an alert's status and appends the change to its history, in one conditional update (the
   * alert must exist in this tenant). Returns the status it had before and the alert's summary, or
   * undefined when the tenant has no such alert.
   */
  async setStatus(
    tenant: string,
    id: string,
    change: StatusChange,
  ): Promise<{ previous: AlertStatus; summary: AlertSummary } | undefined> {
    const entry: Record<string, AttributeValue> = {
      status: { S: change.status },
      by: { S: change.by },
      at: { S: change.at },
      ...(change.note !== undefined ? { note: { S: change.note } } : {}),
    };
    try {
      const result = await this.options.client.send(
        new UpdateItemCommand({
          TableName: this.options.tableName,
          Key: keyOf(tenant, id),
          UpdateExpression:
            'SET #status = :status, statusBy = :by, statusAt = :at, #gStatus = :gStatus, history = list_append(history, :entry)',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#status': 'status', '#gStatus': ALERT_INDEXES.byStatus },
          ExpressionAttributeValues: {
            ':status': { S: change.status },
            ':by': { S: change.by },
            ':at': { S: change.at },
            ':gStatus': { S: `${enc(tenant)}#${change.status}` },
            ':entry': { L: [{ M: entry }] },
          },
          // The whole old item, so the caller knows the status it replaced (atomically: counters follow it).
          ReturnValues: 'ALL_OLD',
        }),
      );
      const old = result.Attributes ?? {};
      const summary = summaryOf(old);
      return {
        previous: summary.status,
        summary: { ...summary, status: change.status, statusBy: change.by, statusAt: change.at },
      };
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return undefined;
      throw new StateStoreError(
        `triaging an alert in table ${this.options.tableName} failed: ${describeError(error)}`,
        error,
      );
    }
  }

  /** A page of the tenant's alerts, newest first, and the cursor of the next page when there is one. */
  async list(tenant: string, query: AlertQuery = {}): Promise<{ alerts: AlertSummary[]; cursor?: string }> {
    const t = enc(tenant);
    const [index, key, value]: [string, string, string] =
      query.ruleId !== undefined
        ? ['byRule', ALERT_INDEXES.byRule, `${t}#${enc(query.ruleId)}`]
        : query.status !== undefined
          ? ['byStatus', ALERT_INDEXES.byStatus, `${t}#${query.status}`]
          : query.severity !== undefined
            ? ['bySeverity', ALERT_INDEXES.bySeverity, `${t}#${query.severity}`]
            : ['byTenant', ALERT_INDEXES.byTenant, t];
    const names: Record<string, string> = { '#key': key };
    const values: Record<string, AttributeValue> = { ':key': { S: value } };
    let condition = '#key = :key';
    // "~" sorts after every character of an id, so `to` includes every alert of its instant.
    if (query.from !== undefined || query.to !== undefined) {
      values[':from'] = { S: query.from ?? '' };
      values[':to'] = { S: `${query.to ?? '9999'}~` };
      names['#time'] = ALERT_TIME_KEY;
      condition += ' AND #time BETWEEN :from AND :to';
    }
    const filters: string[] = [];
    if (query.ruleId !== undefined && query.status !== undefined) {
      names['#status'] = 'status';
      values[':status'] = { S: query.status };
      filters.push('#status = :status');
    }
    if (query.severity !== undefined && (query.ruleId !== undefined || query.status !== undefined)) {
      names['#severity'] = 'severity';
      values[':severity'] = { S: query.severity };
      filters.push('#severity = :severity');
    }
    const start = query.cursor !== undefined ? decodeCursor(query.cursor, t) : undefined;
    const page = await this.send('listing alerts', () =>
      this.options.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          IndexName: index,
          KeyConditionExpression: condition,
          ...(filters.length > 0 ? { FilterExpression: filters.join(' AND ') } : {}),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ScanIndexForward: false,
          Limit: Math.min(Math.max(query.limit ?? 50, 1), 500),
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      ),
    );
    const alerts = (page.Items ?? []).map(summaryOf);
    return { alerts, ...(page.LastEvaluatedKey ? { cursor: encodeCursor(page.LastEvaluatedKey) } : {}) };
  }
}

function encodeCursor(key: Record<string, AttributeValue>): string {
  const plain: Record<string, string> = {};
  for (const [name, value] of Object.entries(key)) if (value.S !== undefined) plain[name] = value.S;
  return Buffer.from(JSON.stringify(plain), 'utf8').toString('base64url');
}

/** A cursor back to a start key; one that names another tenant's partition is refused, not followed. */
function decodeCursor(cursor: string, tenant: string): Record<string, AttributeValue> {
  let plain: unknown;
  try {
    plain = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new AlertCursorError('the cursor is not one this API gave');
  }
  if (typeof plain !== 'object' || plain === null || Array.isArray(plain))
    throw new AlertCursorError('the cursor is not one this API gave');
  const entries = Object.entries(plain as Record<string, unknown>);
  if (
    !entries.every(([, v]) => typeof v === 'string') ||
    (plain as Record<string, string>)[PARTITION_KEY] !== `T#${tenant}`
  )
    throw new AlertCursorError('the cursor is not one this API gave');
  return Object.fromEntries(entries.map(([k, v]) => [k, { S: v as string }]));
}

function summaryOf(item: Record<string, AttributeValue>): AlertSummary {
  const s = (name: string): string => item[name]?.S ?? '';
  return {
    id: s('id'),
    ruleId: s('ruleId'),
    ruleName: s('ruleName'),
    severity: s('severity'),
    ...(item.title?.S !== undefined ? { title: item.title.S } : {}),
    tenant: s('tenant'),
    groupKey: s('groupKey'),
    firstObserved: s('firstObserved'),
    lastObserved: s('lastObserved'),
    createdAt: s('createdAt'),
    status: (s('status') || 'new') as AlertStatus,
    ...(item.statusBy?.S !== undefined ? { statusBy: item.statusBy.S } : {}),
    ...(item.statusAt?.S !== undefined ? { statusAt: item.statusAt.S } : {}),
  };
}

/**
 * The runtime rule store (#17): rules written through the API, a layer over the rules shipped
 * with the bundle, with every change kept as a numbered version (who, when, what) and listed in
 * an audit trail.
 *
 * It lives in the state table, not a table of its own: rules are few and small, apply to the
 * whole deployment (like rule overrides), and every ingest function already reads the state
 * table, so polling the store needs no new table or grant beyond one partition. Alerts, which
 * need secondary indexes and their own retention, have their own table (alert-store.ts).
 *
 *   pk = "R#rules"           sk = "#version"             n (N): bumped on every change; what pollers read
 *   pk = "R#rules"           sk = "R#" + enc(ruleId)     the rule's head: version, source?, deleted, status, by, at
 *   pk = "R#v#" + enc(ruleId) sk = "V#" + version(10)    one version: action, by, at, summary, source?
 *   pk = "R#audit"           sk = at + "#" + enc(ruleId) + "#" + version(10)   the audit index, newest last
 *   pk = "R#tests"           sk = "R#" + enc(ruleId)     the last run of the rule's tests (not a change:
 *                                                        no version, no audit entry, no store version bump)
 *
 * A rule with a head but no source (or deleted) is not a store rule: a bundle rule whose only
 * history is enable/disable has a head for its version count. DynamoDB transactions would make
 * a change one write, but the local emulator (dynalite) has none, so a change is four writes in
 * an order that keeps the store consistent: the version item is claimed first with a condition
 * (two writers of one rule cannot both take a version number), then the audit entry, the head
 * and the store version, each idempotent: a change is never in force without its audit entry. A
 * writer that fails midway leaves a version (and maybe an audit entry) the head has not caught up
 * with; the next change of the rule numbers after the newest version item.
 */
import {
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { describeError } from './batch-get.js';
import { StateStoreError } from './errors.js';
import { PARTITION_KEY, SORT_KEY } from './table-schema.js';

export const RULE_STORE_PARTITION = 'R#rules';
export const RULE_STORE_VERSION_SK = '#version';
export const RULE_HEAD_SK_PREFIX = 'R#';
export const RULE_VERSIONS_PK_PREFIX = 'R#v#';
export const RULE_VERSION_SK_PREFIX = 'V#';
export const RULE_AUDIT_PARTITION = 'R#audit';
export const RULE_TESTS_PARTITION = 'R#tests';
/** Every partition of the rule store starts with this: the API's IAM grant is on `R#*`. */
export const RULE_STORE_PK_PREFIX = 'R#';

export type RuleAction = 'create' | 'update' | 'delete' | 'enable' | 'disable';

/** A rule of the store as last written. */
export interface StoredRule {
  id: string;
  /** The YAML text as submitted. */
  source: string;
  version: number;
  /** `invalid` when stored with allowInvalid despite errors. */
  status: 'loaded' | 'invalid';
  by: string;
  at: string;
}

/** The head of a rule: its version count, whether the store holds a source for it. */
export interface RuleHead {
  id: string;
  version: number;
  source?: string;
  deleted: boolean;
  status: 'loaded' | 'invalid';
  by: string;
  at: string;
  action: RuleAction;
}

export interface RuleVersion {
  ruleId: string;
  version: number;
  action: RuleAction;
  by: string;
  at: string;
  summary: string;
  source?: string;
}

export interface RuleChange {
  ruleId: string;
  action: RuleAction;
  by: string;
  at: string;
  summary: string;
  /** The new source (create, update); absent for delete, enable and disable. */
  source?: string;
  status?: 'loaded' | 'invalid';
}

/** One test of a rule as it last ran (src/testing/rule-tests.ts, as `stixflow test` runs it). */
export interface RuleTestCase {
  name: string;
  outcome: 'passed' | 'failed' | 'skipped';
  /** Why it failed or was skipped. */
  message?: string;
  durationMs: number;
}

/**
 * The last run of a rule's tests. It names the source it ran on (its SHA-256): a run is the
 * rule's current result while the rule's source is the same.
 */
export interface RuleTestRun {
  ruleId: string;
  at: string;
  by: string;
  /** What ran them: a save of the rule, or a read that found no current result. */
  trigger: 'save' | 'read';
  sourceSha256: string;
  /** The rule's store version when they ran (absent: a bundle rule with no store history). */
  version?: number;
  results: RuleTestCase[];
}

export interface AuditQuery {
  ruleId?: string;
  limit?: number;
}

/** The store as the rules API uses it. */
export interface RuleStore {
  storeVersion(): Promise<number>;
  list(): Promise<StoredRule[]>;
  heads(): Promise<RuleHead[]>;
  head(ruleId: string): Promise<RuleHead | undefined>;
  versions(ruleId: string, limit?: number): Promise<RuleVersion[]>;
  version(ruleId: string, version: number): Promise<RuleVersion | undefined>;
  audit(query?: AuditQuery): Promise<RuleVersion[]>;
  write(change: RuleChange, expect?: 'absent' | 'present'): Promise<number>;
  lastTestRun(ruleId: string): Promise<RuleTestRun | undefined>;
  putTestRun(run: RuleTestRun): Promise<void>;
}

/** Bounds of a stored test run, so that a rule with many tests or long explanations fits one item (400 KB). */
export const TEST_RUN_LIMITS = { maxCases: 200, maxMessageChars: 2000 } as const;

export class RuleVersionConflictError extends StateStoreError {}

const pad = (version: number): string => String(version).padStart(10, '0');
const enc = encodeURIComponent;

export interface DynamoDbRuleStoreOptions {
  client: DynamoDBClient;
  tableName: string;
}

export class DynamoDbRuleStore implements RuleStore {
  /** GetItem calls on the store version, for the refresh-interval tests. */
  versionReads = 0;
  constructor(private readonly options: DynamoDbRuleStoreOptions) {}

  private async send<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof StateStoreError) throw error;
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException')
        throw new RuleVersionConflictError(`${what}: a concurrent change won; retry`, error);
      throw new StateStoreError(`${what} in table ${this.options.tableName} failed: ${describeError(error)}`, error);
    }
  }

  /** The store's change counter: 0 before the first change. One small consistent read. */
  async storeVersion(): Promise<number> {
    this.versionReads += 1;
    const result = await this.send('reading the rule store version', () =>
      this.options.client.send(
        new GetItemCommand({
          TableName: this.options.tableName,
          Key: { [PARTITION_KEY]: { S: RULE_STORE_PARTITION }, [SORT_KEY]: { S: RULE_STORE_VERSION_SK } },
          ConsistentRead: true,
        }),
      ),
    );
    return Number(result.Item?.n?.N ?? 0);
  }

  /** Every rule head, store rules and bundle rules with history alike. */
  async heads(): Promise<RuleHead[]> {
    const heads: RuleHead[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.send('listing the rule store', () =>
        this.options.client.send(
          new QueryCommand({
            TableName: this.options.tableName,
            KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
            ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY },
            ExpressionAttributeValues: {
              ':pk': { S: RULE_STORE_PARTITION },
              ':prefix': { S: RULE_HEAD_SK_PREFIX },
            },
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        ),
      );
      for (const item of page.Items ?? []) heads.push(headOf(item));
      start = page.LastEvaluatedKey;
    } while (start);
    return heads;
  }

  /** The rules the store holds (not deleted), in id order. */
  async list(): Promise<StoredRule[]> {
    return (await this.heads()).filter((h) => h.source !== undefined && !h.deleted).map(storedRuleOf);
  }

  async head(ruleId: string): Promise<RuleHead | undefined> {
    const result = await this.send('reading a rule', () =>
      this.options.client.send(
        new GetItemCommand({
          TableName: this.options.tableName,
          Key: { [PARTITION_KEY]: { S: RULE_STORE_PARTITION }, [SORT_KEY]: { S: RULE_HEAD_SK_PREFIX + enc(ruleId) } },
          ConsistentRead: true,
        }),
      ),
    );
    return result.Item ? headOf(result.Item) : undefined;
  }

  /** A rule's versions, newest first, without their sources. */
  async versions(ruleId: string, limit = 100): Promise<RuleVersion[]> {
    const page = await this.send('listing rule versions', () =>
      this.options.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY },
          ExpressionAttributeValues: { ':pk': { S: RULE_VERSIONS_PK_PREFIX + enc(ruleId) } },
          ScanIndexForward: false,
          Limit: limit,
          ConsistentRead: true,
        }),
      ),
    );
    return (page.Items ?? []).map((item) => {
      const { source: _source, ...version } = versionOf(ruleId, item);
      return version;
    });
  }

  async version(ruleId: string, version: number): Promise<RuleVersion | undefined> {
    const result = await this.send('reading a rule version', () =>
      this.options.client.send(
        new GetItemCommand({
          TableName: this.options.tableName,
          Key: {
            [PARTITION_KEY]: { S: RULE_VERSIONS_PK_PREFIX + enc(ruleId) },
            [SORT_KEY]: { S: RULE_VERSION_SK_PREFIX + pad(version) },
          },
          ConsistentRead: true,
        }),
      ),
    );
    return result.Item ? versionOf(ruleId, result.Item) : undefined;
  }

  /** Audit entries, newest first: of one rule (its versions) or of the whole store. */
  async audit(query: AuditQuery = {}): Promise<RuleVersion[]> {
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
    if (query.ruleId !== undefined) return this.versions(query.ruleId, limit);
    const page = await this.send('listing the audit trail', () =>
      this.options.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY },
          ExpressionAttributeValues: { ':pk': { S: RULE_AUDIT_PARTITION } },
          ScanIndexForward: false,
          Limit: limit,
        }),
      ),
    );
    return (page.Items ?? []).map((item) => versionOf(item.ruleId?.S ?? '', item));
  }

  /**
   * Records a change: claims the next version, moves the head, adds the audit entry, bumps the
   * store version. `expect` guards create ('absent': no store rule of that id) and update/delete
   * ('present'). Returns the version written.
   */
  async write(change: RuleChange, expect?: 'absent' | 'present'): Promise<number> {
    const head = await this.head(change.ruleId);
    const stored = head !== undefined && head.source !== undefined && !head.deleted;
    if (expect === 'absent' && stored)
      throw new RuleVersionConflictError(`rule ${change.ruleId} is already in the store`);
    if (expect === 'present' && !stored)
      throw new RuleVersionConflictError(`rule ${change.ruleId} is not in the store`);
    const newest = (await this.versions(change.ruleId, 1))[0]?.version ?? 0;
    const version = Math.max(newest, head?.version ?? 0) + 1;
    const { client, tableName } = this.options;
    const common: Record<string, AttributeValue> = {
      action: { S: change.action },
      by: { S: change.by },
      at: { S: change.at },
      summary: { S: change.summary },
      ...(change.source !== undefined ? { source: { S: change.source } } : {}),
    };
    await this.send('claiming a rule version', () =>
      client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: {
            [PARTITION_KEY]: { S: RULE_VERSIONS_PK_PREFIX + enc(change.ruleId) },
            [SORT_KEY]: { S: RULE_VERSION_SK_PREFIX + pad(version) },
            ...common,
          },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY },
        }),
      ),
    );
    // The audit entry before the head: a change is never in force without its audit entry.
    await this.send('writing the audit entry', () =>
      client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: {
            [PARTITION_KEY]: { S: RULE_AUDIT_PARTITION },
            [SORT_KEY]: { S: `${change.at}#${enc(change.ruleId)}#${pad(version)}` },
            ruleId: { S: change.ruleId },
            version: { N: String(version) },
            action: common.action!,
            by: common.by!,
            at: common.at!,
            summary: common.summary!,
          },
        }),
      ),
    );
    // The head keeps the source of the latest create/update; enable/disable/delete keep it (delete marks it).
    const keepsSource = change.action === 'enable' || change.action === 'disable';
    const names: Record<string, string> = {
      '#version': 'version',
      '#by': 'by',
      '#at': 'at',
      '#action': 'action',
      '#deleted': 'deleted',
    };
    const values: Record<string, AttributeValue> = {
      ':version': { N: String(version) },
      ':by': { S: change.by },
      ':at': { S: change.at },
      ':action': { S: change.action },
      ':deleted': { BOOL: change.action === 'delete' ? true : keepsSource ? (head?.deleted ?? false) : false },
    };
    const sets = ['#version = :version', '#by = :by', '#at = :at', '#action = :action', '#deleted = :deleted'];
    if (change.source !== undefined) {
      names['#source'] = 'source';
      names['#status'] = 'status';
      values[':source'] = { S: change.source };
      values[':status'] = { S: change.status ?? 'loaded' };
      sets.push('#source = :source', '#status = :status');
    }
    await this.send('moving a rule head', () =>
      client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: {
            [PARTITION_KEY]: { S: RULE_STORE_PARTITION },
            [SORT_KEY]: { S: RULE_HEAD_SK_PREFIX + enc(change.ruleId) },
          },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: 'attribute_not_exists(#version) OR #version < :version',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      ),
    );
    await this.send('bumping the rule store version', () =>
      client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: { [PARTITION_KEY]: { S: RULE_STORE_PARTITION }, [SORT_KEY]: { S: RULE_STORE_VERSION_SK } },
          UpdateExpression: 'ADD #n :one',
          ExpressionAttributeNames: { '#n': 'n' },
          ExpressionAttributeValues: { ':one': { N: '1' } },
        }),
      ),
    );
    return version;
  }

  async lastTestRun(ruleId: string): Promise<RuleTestRun | undefined> {
    const result = await this.send('reading the last test run', () =>
      this.options.client.send(
        new GetItemCommand({
          TableName: this.options.tableName,
          Key: { [PARTITION_KEY]: { S: RULE_TESTS_PARTITION }, [SORT_KEY]: { S: RULE_HEAD_SK_PREFIX + enc(ruleId) } },
          ConsistentRead: true,
        }),
      ),
    );
    const item = result.Item;
    if (!item) return undefined;
    let results: RuleTestCase[] = [];
    try {
      const parsed: unknown = JSON.parse(item.results?.S ?? '[]');
      if (Array.isArray(parsed)) results = parsed as RuleTestCase[];
    } catch {
      // A result that cannot be read is no result: the tests run again.
      return undefined;
    }
    return {
      ruleId,
      at: item.at?.S ?? '',
      by: item.by?.S ?? '',
      trigger: item.trigger?.S === 'save' ? 'save' : 'read',
      sourceSha256: item.sourceSha256?.S ?? '',
      ...(item.version?.N !== undefined ? { version: Number(item.version.N) } : {}),
      results,
    };
  }

  /** Keeps a rule's last test run (the previous one is replaced), its cases bounded by TEST_RUN_LIMITS. */
  async putTestRun(run: RuleTestRun): Promise<void> {
    const { maxCases, maxMessageChars } = TEST_RUN_LIMITS;
    const results = run.results
      .slice(0, maxCases)
      .map((c) =>
        c.message !== undefined && c.message.length > maxMessageChars
          ? { ...c, message: `${c.message.slice(0, maxMessageChars)}…` }
          : c,
      );
    await this.send('storing a test run', () =>
      this.options.client.send(
        new PutItemCommand({
          TableName: this.options.tableName,
          Item: {
            [PARTITION_KEY]: { S: RULE_TESTS_PARTITION },
            [SORT_KEY]: { S: RULE_HEAD_SK_PREFIX + enc(run.ruleId) },
            ruleId: { S: run.ruleId },
            at: { S: run.at },
            by: { S: run.by },
            trigger: { S: run.trigger },
            sourceSha256: { S: run.sourceSha256 },
            ...(run.version !== undefined ? { version: { N: String(run.version) } } : {}),
            results: { S: JSON.stringify(results) },
          },
        }),
      ),
    );
  }
}

function headOf(item: Record<string, AttributeValue>): RuleHead {
  const sk = item[SORT_KEY]?.S ?? '';
  return {
    id: decodeURIComponent(sk.slice(RULE_HEAD_SK_PREFIX.length)),
    version: Number(item.version?.N ?? 0),
    ...(item.source?.S !== undefined ? { source: item.source.S } : {}),
    deleted: item.deleted?.BOOL ?? false,
    status: item.status?.S === 'invalid' ? 'invalid' : 'loaded',
    by: item.by?.S ?? '',
    at: item.at?.S ?? '',
    action: (item.action?.S ?? 'create') as RuleAction,
  };
}

function storedRuleOf(head: RuleHead): StoredRule {
  return {
    id: head.id,
    source: head.source ?? '',
    version: head.version,
    status: head.status,
    by: head.by,
    at: head.at,
  };
}

function versionOf(ruleId: string, item: Record<string, AttributeValue>): RuleVersion {
  const sk = item[SORT_KEY]?.S ?? '';
  const version = item.version?.N ?? sk.slice(sk.lastIndexOf(RULE_VERSION_SK_PREFIX) + RULE_VERSION_SK_PREFIX.length);
  return {
    ruleId,
    version: Number(version),
    action: (item.action?.S ?? 'update') as RuleAction,
    by: item.by?.S ?? '',
    at: item.at?.S ?? '',
    summary: item.summary?.S ?? '',
    ...(item.source?.S !== undefined ? { source: item.source.S } : {}),
  };
}

/**
 * The store as a function reads it, in memory: for handler tests that run without DynamoDB.
 * Each put or remove is one change of the store version, as in the table.
 */
export class InMemoryRuleStore {
  versionReads = 0;
  private version = 0;
  private readonly rules = new Map<string, StoredRule>();

  async storeVersion(): Promise<number> {
    this.versionReads += 1;
    return this.version;
  }

  async list(): Promise<StoredRule[]> {
    return [...this.rules.values()].map((r) => ({ ...r }));
  }

  put(rule: Omit<StoredRule, 'version'>): void {
    this.version += 1;
    this.rules.set(rule.id, { ...rule, version: (this.rules.get(rule.id)?.version ?? 0) + 1 });
  }

  remove(ruleId: string): void {
    this.version += 1;
    this.rules.delete(ruleId);
  }
}

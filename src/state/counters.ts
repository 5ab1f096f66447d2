/**
 * Rule-health counters per (tenant, rule, UTC day): how many matches, alerts, filtered,
 * suppressed, evicted and late events a rule saw. Stored in the state table under their own
 * partition-key prefix with DynamoDB atomic ADD, so concurrent Lambdas never lose an increment.
 */
import { UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { batchGetRows, defaultSleep, describeError, joinTableKey } from './batch-get.js';
import { CounterFlushError, InvalidCounterError, StateStoreError } from './errors.js';
import {
  COUNTER_RETENTION_DAYS,
  PARTITION_KEY,
  SORT_KEY,
  TTL_ATTRIBUTE,
  counterTableKey,
  type TableKey,
} from './table-schema.js';

export const COUNTER_NAMES = ['matches', 'alerts', 'filtered', 'suppressed', 'evicted', 'late', 'rejected'] as const;
/**
 * `rejected` counts alerts triaged as false positives (#17): triage can take the verdict back,
 * so it is the one counter a delta may lower.
 */
const LOWERABLE: ReadonlySet<string> = new Set(['rejected']);
export type CounterName = (typeof COUNTER_NAMES)[number];
export type CounterDeltas = Partial<Record<CounterName, number>>;
export type CounterValues = Record<CounterName, number>;

export interface CounterStore {
  /** Adds the deltas atomically to the (tenant, rule, day) counters; zero deltas are skipped. */
  increment(tenant: string, ruleId: string, day: string, deltas: CounterDeltas): Promise<void>;
  /**
   * Counters for every requested rule and day, zero-filled where nothing was counted:
   * ruleId -> day -> values. Only the given tenant's counters are visible.
   */
  read(tenant: string, ruleIds: string[], days: string[]): Promise<Map<string, Map<string, CounterValues>>>;
}

export function zeroCounts(): CounterValues {
  return { matches: 0, alerts: 0, filtered: 0, suppressed: 0, evicted: 0, late: 0, rejected: 0 };
}

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** Epoch milliseconds of the day's UTC midnight; throws for anything that is not a real calendar day. */
export function dayStartMs(day: string): number {
  const ms = DAY_PATTERN.test(day) ? Date.parse(`${day}T00:00:00Z`) : NaN;
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== day) {
    throw new InvalidCounterError(`day must be a calendar date as YYYY-MM-DD, got ${JSON.stringify(day)}`);
  }
  return ms;
}

/** The UTC day (YYYY-MM-DD) of an epoch-millisecond instant, for callers bucketing by event time. */
export function utcDay(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

/** The non-zero deltas, validated as safe integers, non-negative but for a lowerable counter. */
function nonZeroDeltas(deltas: CounterDeltas): [CounterName, number][] {
  const result: [CounterName, number][] = [];
  for (const [name, delta] of Object.entries(deltas) as [string, number | undefined][]) {
    if (!(COUNTER_NAMES as readonly string[]).includes(name))
      throw new InvalidCounterError(`unknown counter ${JSON.stringify(name)}`);
    if (delta === undefined || delta === 0) continue;
    if (!Number.isSafeInteger(delta) || (delta < 0 && !LOWERABLE.has(name))) {
      throw new InvalidCounterError(`counter ${name} delta must be a non-negative integer, got ${delta}`);
    }
    result.push([name as CounterName, delta]);
  }
  return result;
}

function emptyResult(ruleIds: string[], days: string[]): Map<string, Map<string, CounterValues>> {
  const result = new Map<string, Map<string, CounterValues>>();
  for (const ruleId of ruleIds) result.set(ruleId, new Map(days.map((day) => [day, zeroCounts()])));
  return result;
}

export class InMemoryCounterStore implements CounterStore {
  /** Calls made, mirroring the DynamoDB store's one UpdateItem per increment. */
  incrementCalls = 0;
  private readonly counts = new Map<string, CounterValues>();

  async increment(tenant: string, ruleId: string, day: string, deltas: CounterDeltas): Promise<void> {
    const key = counterTableKey(tenant, ruleId, day);
    dayStartMs(day);
    const changes = nonZeroDeltas(deltas);
    if (changes.length === 0) return;
    this.incrementCalls += 1;
    const id = joinTableKey(key);
    const counts = this.counts.get(id) ?? zeroCounts();
    for (const [name, delta] of changes) counts[name] += delta;
    this.counts.set(id, counts);
  }

  async read(tenant: string, ruleIds: string[], days: string[]): Promise<Map<string, Map<string, CounterValues>>> {
    await AggregatingCounterStore.flushAll(); // counts still in memory in this process are read too
    days.forEach(dayStartMs);
    const result = emptyResult(ruleIds, days);
    for (const ruleId of ruleIds) {
      for (const day of days) {
        const stored = this.counts.get(joinTableKey(counterTableKey(tenant, ruleId, day)));
        if (stored) result.get(ruleId)?.set(day, { ...stored });
      }
    }
    return result;
  }
}

export interface DynamoDbCounterStoreOptions {
  client: DynamoDBClient;
  tableName: string;
  /** Days after the counted day before DynamoDB may delete the counter; default 35. */
  retentionDays?: number;
  maxUnprocessedRetries?: number;
  sleep?: (ms: number) => Promise<void>;
}

export class DynamoDbCounterStore implements CounterStore {
  /** UpdateItem calls made, for benchmarks and the batching tests. */
  incrementCalls = 0;
  /** BatchGetItem calls made. */
  readCalls = 0;
  private readonly options: Required<DynamoDbCounterStoreOptions>;

  constructor(options: DynamoDbCounterStoreOptions) {
    this.options = { retentionDays: COUNTER_RETENTION_DAYS, maxUnprocessedRetries: 8, sleep: defaultSleep, ...options };
  }

  async increment(tenant: string, ruleId: string, day: string, deltas: CounterDeltas): Promise<void> {
    const key = counterTableKey(tenant, ruleId, day);
    // The TTL follows the counted day, not the write time, so a late increment does not keep an old day alive.
    const ttl = Math.floor(dayStartMs(day) / 1000) + this.options.retentionDays * 86_400;
    const changes = nonZeroDeltas(deltas);
    if (changes.length === 0) return;
    const names: Record<string, string> = { '#ttl': TTL_ATTRIBUTE };
    const values: Record<string, AttributeValue> = { ':ttl': { N: String(ttl) } };
    const adds = changes.map(([name, delta]) => {
      names[`#${name}`] = name;
      values[`:${name}`] = { N: String(delta) };
      return `#${name} :${name}`;
    });
    this.incrementCalls += 1;
    try {
      await this.options.client.send(
        new UpdateItemCommand({
          TableName: this.options.tableName,
          Key: { [PARTITION_KEY]: { S: key.pk }, [SORT_KEY]: { S: key.sk } },
          UpdateExpression: `SET #ttl = :ttl ADD ${adds.join(', ')}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      throw new StateStoreError(
        `counter update in table ${this.options.tableName} failed: ${describeError(error)}`,
        error,
      );
    }
  }

  async read(tenant: string, ruleIds: string[], days: string[]): Promise<Map<string, Map<string, CounterValues>>> {
    await AggregatingCounterStore.flushAll(); // counts still in memory in this process are read too
    days.forEach(dayStartMs);
    const wanted = new Map<string, { ruleId: string; day: string; key: TableKey }>();
    for (const ruleId of ruleIds) {
      for (const day of days) {
        const key = counterTableKey(tenant, ruleId, day);
        wanted.set(joinTableKey(key), { ruleId, day, key });
      }
    }
    const rows = await batchGetRows(
      [...wanted.values()].map((w) => w.key),
      {
        client: this.options.client,
        tableName: this.options.tableName,
        attributes: [...COUNTER_NAMES],
        // Health dashboards tolerate a second of staleness; eventually consistent reads cost half.
        consistentRead: false,
        maxUnprocessedRetries: this.options.maxUnprocessedRetries,
        sleep: this.options.sleep,
        onCall: () => (this.readCalls += 1),
      },
    );
    const result = emptyResult(ruleIds, days);
    for (const row of rows) {
      const pk = row[PARTITION_KEY]?.S;
      const sk = row[SORT_KEY]?.S;
      const requested = pk !== undefined && sk !== undefined ? wanted.get(joinTableKey({ pk, sk })) : undefined;
      if (!requested) continue;
      const counts = zeroCounts();
      for (const name of COUNTER_NAMES) counts[name] = Number(row[name]?.N ?? 0);
      result.get(requested.ruleId)?.set(requested.day, counts);
    }
    return result;
  }
}

export interface CounterBufferOptions {
  /** UpdateItem calls in flight at once during flush; default 8. */
  concurrency?: number;
}

/**
 * Accumulates increments in memory so a batch of events costs one UpdateItem per
 * (tenant, rule, day) at flush time instead of one per event. Not idempotent: ADD applied
 * twice counts twice, so a flush whose call failed after DynamoDB applied it (a timeout) can
 * over-count on the retried flush. Counters are health signals, not billing, so that is accepted.
 */
export class CounterBuffer {
  private pending = new Map<string, { tenant: string; ruleId: string; day: string; deltas: CounterValues }>();
  private readonly concurrency: number;

  constructor(
    private readonly store: CounterStore,
    options: CounterBufferOptions = {},
  ) {
    this.concurrency = Math.max(1, options.concurrency ?? 8);
  }

  /** Adds deltas to the pending totals; validates now, so a bad call fails at its source rather than at flush. */
  add(tenant: string, ruleId: string, day: string, deltas: CounterDeltas): void {
    const key = counterTableKey(tenant, ruleId, day);
    dayStartMs(day);
    const changes = nonZeroDeltas(deltas);
    if (changes.length === 0) return;
    const id = joinTableKey(key);
    const entry = this.pending.get(id) ?? { tenant, ruleId, day, deltas: zeroCounts() };
    for (const [name, delta] of changes) entry.deltas[name] += delta;
    this.pending.set(id, entry);
  }

  /** Number of (tenant, rule, day) updates waiting for the next flush. */
  get pendingKeys(): number {
    return this.pending.size;
  }

  /**
   * Writes every pending total with one increment each. Totals that fail to write go back into
   * the buffer (merged with anything added meanwhile) and a CounterFlushError is thrown.
   */
  async flush(): Promise<{ updates: number }> {
    const batch = [...this.pending.values()];
    this.pending = new Map();
    const failures: unknown[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < batch.length) {
        const entry = batch[next++]!;
        try {
          await this.store.increment(entry.tenant, entry.ruleId, entry.day, entry.deltas);
        } catch (error) {
          failures.push(error);
          this.add(entry.tenant, entry.ruleId, entry.day, entry.deltas);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, batch.length) }, worker));
    if (failures.length > 0) throw new CounterFlushError(failures.length, failures[0]);
    return { updates: batch.length };
  }
}

export interface AggregatingCounterStoreOptions {
  /** Longest time counts wait in memory before they are written; default 60 s (one write per counter per container-minute). */
  flushIntervalMs?: number;
  /** Clock in epoch milliseconds. */
  now?: () => number;
}

/**
 * Rule-health counters aggregated in memory and written at most once per flush interval (per
 * container-minute by default), instead of once per batch: a busy container makes one atomic ADD
 * per (tenant, rule, day) a minute, whatever its batch rate. Counts are written when an increment
 * finds the interval passed, on `flush`, and before any read in this process (so a reader in the
 * same process, the local stack's rules API, sees every count). A container that is never invoked
 * again after its last counts loses at most that last interval's counts: they are health signals.
 */
export class AggregatingCounterStore implements CounterStore {
  private static readonly live = new Set<AggregatingCounterStore>();
  private readonly buffer: CounterBuffer;
  private readonly flushIntervalMs: number;
  private readonly now: () => number;
  private lastFlush: number;

  constructor(
    private readonly inner: CounterStore,
    options: AggregatingCounterStoreOptions = {},
  ) {
    this.buffer = new CounterBuffer(inner);
    this.flushIntervalMs = options.flushIntervalMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.lastFlush = this.now();
    AggregatingCounterStore.live.add(this);
  }

  /** Writes the pending counts of every aggregating store of this process. */
  static async flushAll(): Promise<void> {
    // A failed total stays pending in its store; the read goes on with what is written.
    await Promise.all([...AggregatingCounterStore.live].map((store) => store.flush().catch(() => undefined)));
  }

  get pendingKeys(): number {
    return this.buffer.pendingKeys;
  }

  async increment(tenant: string, ruleId: string, day: string, deltas: CounterDeltas): Promise<void> {
    this.buffer.add(tenant, ruleId, day, deltas);
    if (this.now() - this.lastFlush >= this.flushIntervalMs) await this.flush();
  }

  /** Writes the pending counts now (a failed total stays pending for the next flush, and the error is thrown). */
  async flush(): Promise<void> {
    this.lastFlush = this.now();
    if (this.buffer.pendingKeys > 0) await this.buffer.flush();
  }

  read(tenant: string, ruleIds: string[], days: string[]): Promise<Map<string, Map<string, CounterValues>>> {
    return this.inner.read(tenant, ruleIds, days); // which writes this process's pending counts first
  }
}

/**
 * The correlation state store contract. The streaming engine keeps partial matches per
 * (tenant, rule, group) and updates them with optimistic concurrency: read, compute, write
 * conditionally on the version read, and on conflict re-read and retry.
 */
import { InvalidStateWriteError } from './errors.js';

export interface StateKey {
  tenant: string;
  ruleId: string;
  group: string;
}

export interface StateItem {
  key: StateKey;
  /** Monotonic per item: 1 on create, +1 on every successful put. */
  version: number;
  /** Opaque serialised state (JSON); the store never parses it. */
  value: string;
  /** Epoch seconds after which the item counts as absent. */
  expiresAt: number;
}

export type PutOutcome =
  | { ok: true; version: number }
  | {
      ok: false;
      reason: 'conflict';
      /**
       * The item that made the condition fail, when the store could tell (DynamoDB's
       * ReturnValuesOnConditionCheckFailure): null when it is absent or expired, undefined when
       * the store did not say (the caller reads it again).
       */
      current?: StateItem | null;
    }
  | { ok: false; reason: 'too-large' };

/** Counters of the calls a store made, for benchmarks and metrics. Monotonic; never reset by the store. */
export interface StoreStats {
  /** Read round trips to storage (one per BatchGetItem call, retries of unprocessed keys included). */
  reads: number;
  /** Distinct keys asked for by getMany. */
  keysRead: number;
  /** Conditional writes and deletes sent to storage (refused too-large values are not sent, so not counted). */
  writes: number;
  /** Writes and deletes refused because the version (or existence) condition failed. */
  conflicts: number;
  /** Puts refused locally because the item would exceed maxItemBytes. */
  tooLarge: number;
  /** Keys the backend left unprocessed and that were asked for again. */
  unprocessedRetries: number;
  /** Write capacity units those writes cost on DynamoDB (one per KiB of each item written, conflicts too). */
  writeUnits: number;
  /** Read capacity units of the reads (strongly consistent: one per 4 KiB of each item, an absent key one). */
  readUnits: number;
}

/** What a put writes. */
export interface PutItem {
  key: StateKey;
  value: string;
  expiresAt: number;
  /**
   * The item holds alerts not yet confirmed delivered: a store with an outbox index marks it there
   * (src/state/pending-index.ts), and a put without it takes the mark away.
   */
  pending?: boolean;
}

export interface StateStore {
  /**
   * Batch read; an item whose expiresAt has passed (per the store's clock) is returned as absent.
   * The map is keyed by stateKeyId(key); absent keys have no entry.
   */
  getMany(keys: StateKey[]): Promise<Map<string, StateItem>>;
  /**
   * Single-item conditional write. expectedVersion null: the item must not exist or be expired.
   * Otherwise the stored, unexpired item must have exactly that version. Writes version
   * expectedVersion + 1 (or 1 on create).
   */
  put(item: PutItem, expectedVersion: number | null): Promise<PutOutcome>;
  /** Conditional delete with the same version semantics; on success reports the version deleted. */
  delete(key: StateKey, expectedVersion: number): Promise<PutOutcome>;
  readonly stats: StoreStats;
}

/**
 * A stable, collision-free identifier for a key, used to index getMany results (in memory
 * only: it is never stored).
 */
export function stateKeyId(key: StateKey): string {
  // Tenant and rule id prefixed with their lengths, the group last: no two keys give the same
  // id, without escaping anything (groups are JSON already, and this runs per touched group).
  return `${key.tenant.length}:${key.tenant}${key.ruleId.length}:${key.ruleId}${key.group}`;
}

export function emptyStoreStats(): StoreStats {
  return {
    reads: 0,
    keysRead: 0,
    writes: 0,
    conflicts: 0,
    tooLarge: 0,
    unprocessedRetries: 0,
    writeUnits: 0,
    readUnits: 0,
  };
}

/** Epoch seconds for a millisecond clock reading, rounded down like DynamoDB's TTL comparison. */
export function epochSeconds(epochMs: number): number {
  return Math.floor(epochMs / 1000);
}

/**
 * An item is expired once its expiresAt is strictly before the current second. Both stores and
 * the DynamoDB condition expressions (`#ttl < :now`) use this same rule.
 */
export function isExpired(expiresAt: number, nowSeconds: number): boolean {
  return expiresAt < nowSeconds;
}

/** Rejects malformed write arguments before any storage call; both stores share it so they behave alike. */
export function assertValidWrite(
  value: string | undefined,
  expiresAt: number | undefined,
  expectedVersion: number | null,
): void {
  if (value !== undefined && typeof value !== 'string') {
    throw new InvalidStateWriteError('value must be a string (serialised state)');
  }
  if (expiresAt !== undefined && !Number.isSafeInteger(expiresAt)) {
    throw new InvalidStateWriteError('expiresAt must be an integer number of epoch seconds');
  }
  if (expectedVersion !== null && !(Number.isSafeInteger(expectedVersion) && expectedVersion >= 1)) {
    throw new InvalidStateWriteError('expectedVersion must be null or a positive integer');
  }
}

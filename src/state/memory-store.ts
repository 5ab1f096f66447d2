/**
 * In-memory StateStore with the same semantics as the DynamoDB store (expiry, versioning,
 * size cap, key validation), for the CLI, unit tests and the shared behavioural suite.
 */
import { readUnits, stateItemBytes, writeUnits } from './item-size.js';
import { DEFAULT_MAX_STATE_ITEM_BYTES, stateTableKey } from './table-schema.js';
import {
  assertValidWrite,
  emptyStoreStats,
  epochSeconds,
  isExpired,
  stateKeyId,
  type PutOutcome,
  type StateItem,
  type StateKey,
  type StateStore,
  type StoreStats,
} from './types.js';

export interface InMemoryStateStoreOptions {
  /** Clock in epoch milliseconds; injectable so tests can move time past expiresAt. */
  now?: () => number;
  /** Largest item (DynamoDB size rule) accepted by put; default 64 KiB. */
  maxItemBytes?: number;
}

export class InMemoryStateStore implements StateStore {
  readonly stats: StoreStats = emptyStoreStats();
  private readonly items = new Map<string, StateItem>();
  private readonly now: () => number;
  private readonly maxItemBytes: number;

  constructor(options: InMemoryStateStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    this.maxItemBytes = options.maxItemBytes ?? DEFAULT_MAX_STATE_ITEM_BYTES;
  }

  async getMany(keys: StateKey[]): Promise<Map<string, StateItem>> {
    const result = new Map<string, StateItem>();
    const distinct = new Map<string, StateKey>();
    for (const key of keys) {
      stateTableKey(key);
      distinct.set(stateKeyId(key), key);
    }
    this.stats.keysRead += distinct.size;
    if (distinct.size === 0) return result;
    // Count round trips the way the DynamoDB store does: one per 100 keys.
    this.stats.reads += Math.ceil(distinct.size / 100);
    for (const [id, key] of distinct) {
      const live = this.live(id);
      // Units as DynamoDB would bill them, for the text as it is (this store does not deflate).
      this.stats.readUnits += live
        ? readUnits(stateItemBytes(stateTableKey(key), live.version, live.value, live.expiresAt))
        : 1;
      if (live) result.set(id, cloneItem(live));
    }
    return result;
  }

  async put(
    item: { key: StateKey; value: string; expiresAt: number },
    expectedVersion: number | null,
  ): Promise<PutOutcome> {
    const tableKey = stateTableKey(item.key);
    assertValidWrite(item.value, item.expiresAt, expectedVersion);
    const version = expectedVersion === null ? 1 : expectedVersion + 1;
    const bytes = stateItemBytes(tableKey, version, item.value, item.expiresAt);
    if (bytes > this.maxItemBytes) {
      this.stats.tooLarge += 1;
      return { ok: false, reason: 'too-large' };
    }
    this.stats.writes += 1;
    this.stats.writeUnits += writeUnits(bytes);
    const id = stateKeyId(item.key);
    const current = this.live(id);
    const conditionHolds = expectedVersion === null ? current === undefined : current?.version === expectedVersion;
    if (!conditionHolds) {
      this.stats.conflicts += 1;
      return { ok: false, reason: 'conflict', current: current ? cloneItem(current) : null };
    }
    this.items.set(id, { key: { ...item.key }, version, value: item.value, expiresAt: item.expiresAt });
    return { ok: true, version };
  }

  async delete(key: StateKey, expectedVersion: number): Promise<PutOutcome> {
    stateTableKey(key);
    assertValidWrite(undefined, undefined, expectedVersion);
    this.stats.writes += 1;
    this.stats.writeUnits += 1;
    const id = stateKeyId(key);
    const current = this.live(id);
    if (current?.version !== expectedVersion) {
      this.stats.conflicts += 1;
      return { ok: false, reason: 'conflict', current: current ? cloneItem(current) : null };
    }
    this.items.delete(id);
    return { ok: true, version: expectedVersion };
  }

  /** The stored item unless expired. Expired items stay in the map, as they do in DynamoDB until the TTL sweep. */
  private live(id: string): StateItem | undefined {
    const item = this.items.get(id);
    if (!item || isExpired(item.expiresAt, epochSeconds(this.now()))) return undefined;
    return item;
  }
}

function cloneItem(item: StateItem): StateItem {
  return { key: { ...item.key }, version: item.version, value: item.value, expiresAt: item.expiresAt };
}

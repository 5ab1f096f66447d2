/**
 * The alert ledger: exactly-once for what no correlation state remembers. A stateful rule's
 * alert is committed in its group's outbox and its events are remembered there, so a
 * redelivered event neither raises it again nor counts again. A stateless rule (one
 * observation, or an indicator) keeps no state, so without the ledger every redelivery of an
 * event would raise its alert, and count its match, once more.
 *
 * The ledger is written once per alert, not per event, so an event that matches nothing costs
 * no store call. When a stateless alert is raised, a conditional create (put with
 * expectedVersion null) of its ledger item decides what it is:
 *   - the create succeeds: the alert is new; it goes through the gate and is counted;
 *   - the item exists and is pending: an earlier attempt raised it but its delivery was not
 *     confirmed (the send failed, or the process died in between): it is sent again, with the
 *     same id, and not counted again (an outbox of one);
 *   - the item exists and is settled (delivered, suppressed, throttled, or undeliverable): a
 *     duplicate; it is dropped.
 * After the sink confirmed it (or the gate decided it), `settle` marks the item settled. Items
 * are kept for the dedupe window (default 7 days, wall clock): a redelivery later than that
 * raises the alert again.
 *
 * Counted hits that raise no alert (an event muted by a rule filter, an event too late to
 * correlate) get the same treatment with a `hit` item per (event, rule): the first create
 * counts, a redelivery finds the item and does not.
 *
 * Ledger items live in the state store under the rule's partition with groups that start with
 * `#`; correlation groups are '' or JSON arrays, and the gate's items are `#suppress …` and
 * `#rate`, so no ledger key can collide with either.
 */
import { createHash } from 'node:crypto';
import type { StateItem, StateKey, StateStore } from '../state/types.js';
import { StateRepository } from './state-repository.js';
import { stateKeyId } from '../state/types.js';
import type { Alert } from './alert.js';

/** How long the ledger remembers an alert or a counted hit (seconds of wall-clock time). */
export const DEFAULT_DEDUPE_WINDOW_SECONDS = 7 * 86_400;

export const LEDGER_ALERT_PREFIX = '#ledger alert ';
export const LEDGER_HIT_PREFIX = '#ledger hit ';

/** How a raised alert was finally handled. */
export type Settlement = 'delivered' | 'suppressed' | 'throttled' | 'undeliverable';

interface AlertEntry {
  status: 'pending' | Settlement;
  /** The alert as first raised, while pending and when it fits the item (re-sends are then identical). */
  alert?: Alert;
}

export interface AlertLedgerOptions {
  /** How long alerts and hits are remembered; default 7 days. */
  dedupeWindowSeconds?: number;
  /** Wall clock, epoch milliseconds. */
  now?: () => number;
  /** Conditional-write rounds before giving up on an item; default 10. */
  maxConflictRetries?: number;
}

export interface LedgerRecord {
  /** Raised for the first time: gate and count them. */
  fresh: Alert[];
  /** Raised before and not settled: send them again (the stored copy when there is one), do not count them. */
  resent: Alert[];
  /** Raised and settled before, or a second copy within this call: drop them. */
  duplicates: Alert[];
  /** Item versions by alert id, so settling needs no read. */
  readonly versions: ReadonlyMap<string, number>;
}

/** A counted (event, rule) hit that raises no alert. */
export interface LedgerHit {
  tenant: string;
  ruleId: string;
  /** What is counted: `filtered`, `late`. */
  kind: string;
  /** The event's observed-data id. */
  eventId: string;
}

/** A key part as is when short and plain, else its digest, so every ledger key fits the store's limits. */
function keyPart(text: string): string {
  return text.length <= 128 && /^[\x21-\x7e]+$/.test(text)
    ? text
    : `sha256-${createHash('sha256').update(text, 'utf8').digest('hex')}`;
}

export function ledgerAlertKey(alert: Pick<Alert, 'tenant' | 'ruleId' | 'id'>): StateKey {
  return { tenant: alert.tenant, ruleId: alert.ruleId, group: LEDGER_ALERT_PREFIX + keyPart(alert.id) };
}

export function ledgerHitKey(hit: LedgerHit): StateKey {
  return {
    tenant: hit.tenant,
    ruleId: hit.ruleId,
    group: `${LEDGER_HIT_PREFIX}${keyPart(hit.kind)} ${keyPart(hit.eventId)}`,
  };
}

export class AlertLedger {
  readonly dedupeWindowSeconds: number;
  private readonly now: () => number;
  private readonly maxRetries: number;
  /** The ledger's items go through the engine's state repository, like every other state. */
  private readonly repository: StateRepository;

  constructor(state: StateRepository | StateStore, options: AlertLedgerOptions = {}) {
    this.dedupeWindowSeconds = options.dedupeWindowSeconds ?? DEFAULT_DEDUPE_WINDOW_SECONDS;
    if (!(Number.isSafeInteger(this.dedupeWindowSeconds) && this.dedupeWindowSeconds >= 1)) {
      throw new RangeError('dedupeWindowSeconds must be a positive whole number of seconds');
    }
    this.now = options.now ?? Date.now;
    this.repository =
      state instanceof StateRepository
        ? state
        : new StateRepository(state, { maxConflictRetries: options.maxConflictRetries ?? 10 });
    this.maxRetries = options.maxConflictRetries ?? this.repository.maxConflictRetries;
  }

  private expiresAt(): number {
    return Math.ceil(this.now() / 1000) + this.dedupeWindowSeconds;
  }

  /** Records raised alerts as pending where they are new, and sorts them into fresh, re-sends and duplicates. */
  async record(alerts: Alert[]): Promise<LedgerRecord> {
    const versions = new Map<string, number>();
    const result: LedgerRecord = { fresh: [], resent: [], duplicates: [], versions };
    const distinct = new Map<string, { key: StateKey; alert: Alert }>();
    for (const alert of alerts) {
      const key = ledgerAlertKey(alert);
      const id = stateKeyId(key);
      if (distinct.has(id)) result.duplicates.push(alert);
      else distinct.set(id, { key, alert });
    }
    let pending = [...distinct.values()];
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > this.maxRetries) {
        // Created and gone again, round after round (expiring under a skewed clock?): an
        // extra alert beats a lost one, so these count as new.
        result.fresh.push(...pending.map((p) => p.alert));
        break;
      }
      const existing: typeof pending = [];
      // The item a failed create returned, when the store says which (it saves the read).
      const found = new Map<string, StateItem | null>();
      await forEachLimited(pending, async (entry) => {
        const created = await this.create(entry.key, entry.alert);
        if (typeof created === 'object') {
          existing.push(entry);
          if (created.current !== undefined) found.set(stateKeyId(entry.key), created.current);
        } else {
          if (created !== 'unrecorded') versions.set(entry.alert.id, created);
          result.fresh.push(entry.alert);
        }
      });
      if (existing.length === 0) break;
      const unread = existing.filter((e) => !found.has(stateKeyId(e.key)));
      const stored = unread.length > 0 ? await this.repository.readItems(unread.map((e) => e.key)) : new Map();
      pending = [];
      for (const entry of existing) {
        const id = stateKeyId(entry.key);
        const item = found.has(id) ? found.get(id) : stored.get(id);
        // Expired or removed between the create and the read: try to create it again.
        if (!item) {
          pending.push(entry);
          continue;
        }
        const value = JSON.parse(item.value) as AlertEntry;
        if (value.status === 'pending') {
          versions.set(entry.alert.id, item.version);
          result.resent.push(value.alert ?? entry.alert);
        } else result.duplicates.push(entry.alert);
      }
    }
    return result;
  }

  /**
   * Creates a pending item: its version; the existing item (when the store returned it) when
   * there is one; 'unrecorded' when the store refused it.
   */
  private async create(
    key: StateKey,
    alert: Alert,
  ): Promise<number | { current: StateItem | null | undefined } | 'unrecorded'> {
    const expiresAt = this.expiresAt();
    let outcome = await this.repository.writeItem(
      { key, value: JSON.stringify({ status: 'pending', alert } satisfies AlertEntry), expiresAt, pending: true },
      null,
    );
    // An alert too large for a state item is remembered without its copy; a re-send then
    // sends the alert as raised again from the redelivered event (same id, same content).
    if (!outcome.ok && outcome.reason === 'too-large')
      outcome = await this.repository.writeItem(
        // Not marked for the outbox sweeper: without its copy only a redelivery can send it.
        { key, value: JSON.stringify({ status: 'pending' } satisfies AlertEntry), expiresAt },
        null,
      );
    if (outcome.ok) return outcome.version;
    // Only a store with an absurdly small item cap refuses the bare entry: the alert then goes
    // out unrecorded (at least once) rather than not at all.
    return outcome.reason === 'conflict' ? { current: outcome.current } : 'unrecorded';
  }

  /**
   * The alerts of pending ledger entries, as first raised (for the outbox sweeper); entries that
   * are settled or gone, or kept without their copy (only a redelivery can send those), give none.
   */
  async pendingAlerts(keys: readonly StateKey[]): Promise<Alert[]> {
    if (keys.length === 0) return [];
    const alerts: Alert[] = [];
    for (const item of (await this.repository.readItems([...keys])).values()) {
      const entry = JSON.parse(item.value) as AlertEntry;
      if (entry.status === 'pending' && entry.alert) alerts.push(entry.alert);
    }
    return alerts;
  }

  /**
   * Marks recorded alerts settled, so that a later redelivery drops them. `versions` (from
   * `record`) saves reading the items again. A failed or lost settlement only means the alert
   * is sent once more, with the same id, if its event comes again.
   */
  async settle(
    settled: { alert: Alert; outcome: Settlement }[],
    versions: ReadonlyMap<string, number> = new Map(),
  ): Promise<void> {
    // version: the item's, null when there is none (expired while pending: created settled), undefined when unknown.
    type Pending = { key: StateKey; outcome: Settlement; version: number | null | undefined };
    const byKey = new Map<string, Pending>();
    for (const { alert, outcome } of settled) {
      const key = ledgerAlertKey(alert);
      byKey.set(stateKeyId(key), { key, outcome, version: versions.get(alert.id) });
    }
    let pending = [...byKey.values()];
    for (let attempt = 0; pending.length > 0 && attempt <= this.maxRetries; attempt++) {
      const unknown = pending.filter((p) => p.version === undefined);
      if (unknown.length > 0) {
        const stored = await this.repository.readItems(unknown.map((p) => p.key));
        const settledBefore = new Set<Pending>();
        for (const p of unknown) {
          const item = stored.get(stateKeyId(p.key));
          p.version = item ? item.version : null;
          // Another worker settled it first: its word stands.
          if (item && (JSON.parse(item.value) as AlertEntry).status !== 'pending') settledBefore.add(p);
        }
        pending = pending.filter((p) => !settledBefore.has(p));
      }
      const retry: Pending[] = [];
      await forEachLimited(pending, async (p) => {
        const outcome = await this.repository.writeItem(
          {
            key: p.key,
            value: JSON.stringify({ status: p.outcome } satisfies AlertEntry),
            expiresAt: this.expiresAt(),
          },
          p.version ?? null,
        );
        if (!outcome.ok && outcome.reason === 'conflict') retry.push({ ...p, version: undefined });
      });
      pending = retry;
    }
  }

  /**
   * The hits counted for the first time, in input order: each gets an item (one conditional
   * create); a hit whose item exists was counted before (a redelivery), as was a second copy
   * within the call.
   */
  async firstHits<T extends LedgerHit>(hits: T[]): Promise<T[]> {
    const distinct = new Map<string, { key: StateKey; hit: T }>();
    for (const hit of hits) {
      const key = ledgerHitKey(hit);
      const id = stateKeyId(key);
      if (!distinct.has(id)) distinct.set(id, { key, hit });
    }
    const expiresAt = this.expiresAt();
    const first = new Set<T>();
    await forEachLimited([...distinct.values()], async ({ key, hit }) => {
      const outcome = await this.repository.writeItem({ key, value: '{}', expiresAt }, null);
      // Refused as too large (a tiny item cap): counted, as before the ledger.
      if (outcome.ok || outcome.reason === 'too-large') first.add(hit);
    });
    return hits.filter((h) => first.has(h));
  }
}

/** Store calls in flight at once for one ledger operation. */
const LEDGER_CONCURRENCY = 16;

async function forEachLimited<T>(items: T[], run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await run(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(LEDGER_CONCURRENCY, items.length) }, worker));
}

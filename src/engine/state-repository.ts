/**
 * The state repository: the only code that calls a StateStore for engine state (correlation
 * groups, and the alert gate's suppression and rate items). It owns the one read–modify–write
 * protocol: read every pending key in one call, let the caller compute each key's next state,
 * write each conditionally on the version read, and on a version conflict compute again from
 * the item the failed write returned (or, when the store cannot return it, from a second read),
 * at most `maxConflictRetries` times. It owns the cache of states as last written (a key whose
 * stored version is the cached one is not decoded again) and the outbox protocol (clearing
 * delivered alerts from the states that committed them).
 */
import { StateCorruptError } from '../state/errors.js';
import type { PutItem, PutOutcome, StateItem, StateKey, StateStore } from '../state/types.js';
import { stateKeyId } from '../state/types.js';
import type { StateCodec } from './rule-kind.js';

/**
 * What a stored item is for. Each kind has keys of its own: correlation groups are '' or JSON
 * arrays, so the gate's kinds are stored under groups that start with `#` (the layout items
 * have always had, so stored items stay where they are).
 */
export type StateKind = 'correlation' | 'suppression' | 'rate';

/** The store key of an item of a kind. */
export function stateKeyOf(kind: StateKind, tenant: string, ruleId: string, group = ''): StateKey {
  switch (kind) {
    case 'correlation':
      return { tenant, ruleId, group };
    case 'suppression':
      return { tenant, ruleId, group: `#suppress ${group}` };
    case 'rate':
      return { tenant, ruleId, group: '#rate' };
  }
}

/** A state as read: decoded, with the version and expiry it was stored with. */
export interface Current<S> {
  state: S;
  version: number;
  expiresAt: number;
}

/** What the caller makes of a key's current state, in one attempt. */
export type Step<S, R> =
  | {
      /** Nothing to write; `result` is final. `cache`: the state is exactly as stored, keep it decoded. */
      write: false;
      result: R;
      cache?: boolean;
      /**
       * The result depends on the state being current (it re-sends alerts of the outbox, which another
       * writer may have acknowledged since): when the attempt started from the cache, unverified, the key
       * is read and the step runs again.
       */
      confirm?: boolean;
    }
  | {
      write: true;
      state: S;
      expiresAt: number;
      /** The state holds alerts not yet confirmed delivered (marked for the outbox sweeper). */
      pending?: boolean;
      /** Sheds state, one step per call, while the write is refused as too large; false: nothing left to shed. */
      shrink?: () => boolean;
      /** The result once the write is committed, or refused as too large even after shrinking. */
      settle(outcome: 'written' | 'too-large'): R;
    };

export type UpdateOutcome<R> =
  | { status: 'done'; result: R }
  /** Still conflicting after every retry. */
  | { status: 'conflict' }
  /** The store failed for this key, or its item could not be decoded (StateCorruptError). */
  | { status: 'failed'; during: 'read' | 'write'; error: unknown };

export interface UpdateReport<R> {
  /** One per entry, in the order given. */
  outcomes: UpdateOutcome<R>[];
  /** Read calls made (a read that fell back to one call per key counts once). */
  reads: number;
  /** Conditional writes that reached the store and were decided (committed or conflicting). */
  writes: number;
  conflicts: number;
}

export interface UpdateOptions {
  /**
   * Try the cached state first, without reading: right for writes that usually follow this
   * process's own (clearing an outbox right after the batch that filled it).
   */
  startFromCache?: boolean;
  /** Keep the states written in the cache (the kinds whose states are large and often rewritten). */
  cache?: boolean;
}

const DEFAULT_MAX_CONFLICT_RETRIES = 10;
const MAX_CACHED_STATES = 20_000;

export interface StateRepositoryOptions {
  /** Conditional-write retries per key before giving up on it; default 10. */
  maxConflictRetries?: number;
}

/** Where a key's next attempt starts: a state to decode (read or returned by a failed write), or the cache. */
type Known = { item: StateItem | undefined } | { cached: Current<unknown> };

export class StateRepository {
  readonly maxConflictRetries: number;
  private readonly cache = new Map<string, Current<unknown>>();

  constructor(
    private readonly store: StateStore,
    options: StateRepositoryOptions = {},
  ) {
    this.maxConflictRetries = options.maxConflictRetries ?? DEFAULT_MAX_CONFLICT_RETRIES;
  }

  /**
   * Read–modify–write of many keys. `step` runs once per attempt of a key, on its current
   * state (undefined: absent); it must not publish anything, as an attempt that conflicts is
   * thrown away and the step runs again on the newer state.
   */
  async update<S, R>(
    entries: readonly { key: StateKey; codec: StateCodec<S> }[],
    step: (index: number, current: Current<S> | undefined) => Step<S, R>,
    options: UpdateOptions = {},
  ): Promise<UpdateReport<R>> {
    const keys = entries.map((e) => e.key);
    // Each key's id once: it is the cache's key and the stores' (building it costs a string).
    const ids = keys.map(stateKeyId);
    const report: UpdateReport<R> = {
      outcomes: keys.map(() => ({ status: 'conflict' })),
      reads: 0,
      writes: 0,
      conflicts: 0,
    };
    const known = new Map<number, Known>();
    if (options.startFromCache)
      keys.forEach((key, i) => {
        const cached = this.cache.get(ids[i] as string);
        if (cached !== undefined) known.set(i, { cached });
      });
    let pending = keys.map((_, i) => i);
    for (let attempt = 0; pending.length > 0 && attempt <= this.maxConflictRetries; attempt++) {
      const unknown = pending.filter((i) => !known.has(i));
      if (unknown.length > 0) {
        const { items, failures } = await this.readMany(unknown.map((i) => keys[i] as StateKey));
        report.reads++;
        for (const i of unknown) {
          const id = ids[i] as string;
          const failure = failures.get(id);
          if (failure !== undefined) report.outcomes[i] = { status: 'failed', during: 'read', error: failure };
          else known.set(i, { item: items.get(id) });
        }
      }
      const retry: number[] = [];
      await Promise.all(
        pending.map(async (i) => {
          const start = known.get(i);
          known.delete(i);
          if (start === undefined) return; // its read failed
          const key = keys[i] as StateKey;
          let current: Current<S> | undefined;
          try {
            current = this.current((entries[i] as { codec: StateCodec<S> }).codec, ids[i] as string, start);
          } catch (error) {
            report.outcomes[i] = { status: 'failed', during: 'read', error };
            return;
          }
          try {
            const next = step(i, current);
            if (!next.write && next.confirm === true && 'cached' in start) {
              retry.push(i); // no known state: the next attempt reads it
              return;
            }
            if (!next.write) {
              if (next.cache && current !== undefined && options.cache) this.remember(ids[i] as string, current);
              report.outcomes[i] = { status: 'done', result: next.result };
              return;
            }
            const expected = current ? current.version : null;
            const put = (): Promise<PutOutcome> =>
              this.store.put(
                {
                  key,
                  value: (entries[i] as { codec: StateCodec<S> }).codec.encode(next.state),
                  expiresAt: next.expiresAt,
                  ...(next.pending === true ? { pending: true } : {}),
                },
                expected,
              );
            let outcome = await put();
            // Refused too-large writes are checked by the stores locally: the trials cost no call.
            while (!outcome.ok && outcome.reason === 'too-large' && next.shrink?.()) outcome = await put();
            if (outcome.ok) {
              report.writes++;
              if (options.cache)
                this.remember(ids[i] as string, {
                  state: next.state,
                  version: outcome.version,
                  expiresAt: next.expiresAt,
                });
              report.outcomes[i] = { status: 'done', result: next.settle('written') };
            } else if (outcome.reason === 'conflict') {
              report.writes++;
              report.conflicts++;
              // The item that made the write fail, when the store returned it, saves a read.
              if (outcome.current !== undefined) known.set(i, { item: outcome.current ?? undefined });
              retry.push(i);
            } else report.outcomes[i] = { status: 'done', result: next.settle('too-large') };
          } catch (error) {
            report.outcomes[i] = { status: 'failed', during: 'write', error };
          }
        }),
      );
      pending = retry.sort((a, b) => a - b);
    }
    return report;
  }

  /**
   * Raw items, for a protocol that is not a read–modify–write of coded state (the alert
   * ledger's write-first entries). A failed read throws: such a protocol cannot tell an
   * unreadable item from an absent one.
   */
  readItems(keys: StateKey[]): Promise<Map<string, StateItem>> {
    return this.store.getMany(keys);
  }

  /** One conditional write of a raw item (`expected` null: only if absent); see readItems. */
  writeItem(item: PutItem, expected: number | null): Promise<PutOutcome> {
    return this.store.put(item, expected);
  }

  /** The state of one key as stored (the cache is neither used nor changed). */
  async read<S>(codec: StateCodec<S>, key: StateKey): Promise<Current<S> | undefined> {
    const item = (await this.store.getMany([key])).get(stateKeyId(key));
    return item ? { state: decode(codec, item), version: item.version, expiresAt: item.expiresAt } : undefined;
  }

  /**
   * Removes delivered alerts from the outboxes of the states that committed them. A key whose
   * outbox cannot be cleared now is left as it is: its alerts are sent again, with the same
   * ids, the next time it is touched.
   */
  async acknowledge<S>(
    entries: readonly { key: StateKey; codec: StateCodec<S>; ids: ReadonlySet<string> }[],
    clear: (index: number, state: S, ids: ReadonlySet<string>) => boolean,
    expiresAt: (index: number, current: Current<S>) => number,
    options: UpdateOptions = {},
    /** Whether a state still holds undelivered alerts once cleared (it stays marked for the sweeper). */
    stillPending?: (index: number, state: S) => boolean,
  ): Promise<void> {
    await this.update<S, void>(
      entries,
      (index, current) => {
        if (current === undefined) return { write: false, result: undefined };
        if (!clear(index, current.state, (entries[index] as { ids: ReadonlySet<string> }).ids))
          return { write: false, result: undefined, cache: true };
        return {
          write: true,
          state: current.state,
          expiresAt: expiresAt(index, current),
          pending: stillPending?.(index, current.state) ?? false,
          settle: () => undefined,
        };
      },
      options,
    );
  }

  private current<S>(codec: StateCodec<S>, id: string, start: Known): Current<S> | undefined {
    // A cached state leaves the cache while it is being changed: it is the caller's to mutate.
    const cached = this.cache.get(id);
    this.cache.delete(id);
    if ('cached' in start) return start.cached as Current<S>;
    const item = start.item;
    if (item === undefined) return undefined;
    if (cached !== undefined && cached.version === item.version) return cached as Current<S>;
    return { state: decode(codec, item), version: item.version, expiresAt: item.expiresAt };
  }

  private remember(id: string, current: Current<unknown>): void {
    if (this.cache.size >= MAX_CACHED_STATES && !this.cache.has(id)) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(id, current);
  }

  /**
   * Reads items; when the store fails the read, reads each key on its own, so that one key it
   * cannot read (or a store failing for one partition) fails only that key.
   */
  private async readMany(keys: StateKey[]): Promise<{ items: Map<string, StateItem>; failures: Map<string, unknown> }> {
    try {
      return { items: await this.store.getMany(keys), failures: new Map() };
    } catch (error) {
      const failures = new Map<string, unknown>();
      if (keys.length === 1) {
        failures.set(stateKeyId(keys[0] as StateKey), error);
        return { items: new Map(), failures };
      }
      const items = new Map<string, StateItem>();
      await Promise.all(
        keys.map(async (key) => {
          try {
            for (const [id, item] of await this.store.getMany([key])) items.set(id, item);
          } catch (keyError) {
            failures.set(stateKeyId(key), keyError);
          }
        }),
      );
      return { items, failures };
    }
  }
}

function decode<S>(codec: StateCodec<S>, item: StateItem): S {
  try {
    return codec.decode(item.value);
  } catch (error) {
    if (error instanceof StateCorruptError) throw error;
    throw new StateCorruptError(
      `a stored state could not be decoded: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

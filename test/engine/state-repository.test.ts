/**
 * The state repository's read–modify–write protocol against the in-memory store: conflicts,
 * retry exhaustion, the version cache, the outbox, and failures kept to their own keys.
 */
import { describe, expect, it } from 'vitest';
import type { StateCodec } from '../../src/engine/rule-kind.js';
import { StateRepository, stateKeyOf, type Step } from '../../src/engine/state-repository.js';
import { StateCorruptError, StateStoreError } from '../../src/state/errors.js';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import { stateKeyId, type PutOutcome, type StateItem, type StateKey } from '../../src/state/types.js';

interface Counter {
  count: number;
  outbox: string[];
}

let decoded = 0;
const codec: StateCodec<Counter> = {
  format: 1,
  empty: () => ({ count: 0, outbox: [] }),
  encode: (s) => JSON.stringify(s),
  decode: (text) => {
    decoded++;
    const value = JSON.parse(text) as Counter;
    if (typeof value.count !== 'number') throw new StateCorruptError('not a counter');
    return value;
  },
};

const T = 4_000_000_000;
const key = (group: string): StateKey => stateKeyOf('correlation', 'acme', 'r1', group);

/** Adds 1, and an outbox entry, to each key. */
function increment(index: number, current: { state: Counter } | undefined): Step<Counter, number> {
  const state = current ? current.state : codec.empty();
  state.count++;
  state.outbox.push(`alert-${index}-${state.count}`);
  return { write: true, state, expiresAt: T, settle: (outcome) => (outcome === 'written' ? state.count : -1) };
}

/** An in-memory store where other writers get in first: `rivals` puts before each of ours. */
class ContendedStore extends InMemoryStateStore {
  rivals = 0;
  /** Only writes of this group meet rivals, when set. */
  contended: string | undefined;
  override async put(
    item: { key: StateKey; value: string; expiresAt: number },
    expected: number | null,
  ): Promise<PutOutcome> {
    if (this.rivals > 0 && (this.contended === undefined || item.key.group === this.contended)) {
      this.rivals--;
      const current = (await this.getMany([item.key])).get(stateKeyId(item.key));
      const rival = current ? (JSON.parse(current.value) as Counter) : codec.empty();
      await super.put(
        { key: item.key, value: JSON.stringify({ ...rival, count: rival.count + 100 }), expiresAt: T },
        current?.version ?? null,
      );
    }
    return super.put(item, expected);
  }
}

async function stored(store: InMemoryStateStore, k: StateKey): Promise<Counter | undefined> {
  const item = (await store.getMany([k])).get(stateKeyId(k));
  return item ? (JSON.parse(item.value) as Counter) : undefined;
}

describe('StateRepository.update', () => {
  it('reads all keys once, writes each conditionally, and reports what it did', async () => {
    const store = new InMemoryStateStore();
    const repository = new StateRepository(store);
    const report = await repository.update(
      [key('a'), key('b')].map((k) => ({ key: k, codec })),
      increment,
    );
    expect(report).toEqual({
      outcomes: [
        { status: 'done', result: 1 },
        { status: 'done', result: 1 },
      ],
      reads: 1,
      writes: 2,
      conflicts: 0,
    });
    expect(store.stats.reads).toBe(1);
    expect(await stored(store, key('a'))).toEqual({ count: 1, outbox: ['alert-0-1'] });
  });

  it('on a conflict, computes again from the item the failed write returned, without a second read', async () => {
    const store = new ContendedStore();
    const repository = new StateRepository(store);
    await repository.update([{ key: key('a'), codec }], increment);
    store.rivals = 1;
    let attempts = 0;
    const report = await repository.update([{ key: key('a'), codec }], (i, current) => {
      attempts++;
      return increment(i, current);
    });
    expect(attempts).toBe(2);
    expect(report).toMatchObject({ outcomes: [{ status: 'done', result: 102 }], writes: 2, conflicts: 1, reads: 1 });
    // The rival's change is kept, and ours is applied on top of it exactly once.
    expect((await stored(store, key('a')))?.count).toBe(102);
  });

  it('reads again on a conflict when the store does not return the item', async () => {
    const store = new ContendedStore();
    const put = store.put.bind(store);
    store.put = async (item, expected) => {
      const outcome = await put(item, expected);
      return outcome.ok || outcome.reason !== 'conflict' ? outcome : { ok: false, reason: 'conflict' };
    };
    const repository = new StateRepository(store);
    store.rivals = 1;
    const report = await repository.update([{ key: key('a'), codec }], increment);
    expect(report).toMatchObject({ outcomes: [{ status: 'done', result: 101 }], reads: 2, conflicts: 1 });
  });

  it('gives up on a key after maxConflictRetries retries, leaving the others committed', async () => {
    const store = new ContendedStore();
    const repository = new StateRepository(store, { maxConflictRetries: 3 });
    let attempts = 0;
    store.rivals = 4; // the hot key's 4 attempts each lose; the cold key's write wins
    store.contended = 'hot';
    const report = await repository.update(
      [key('hot'), key('cold')].map((k) => ({ key: k, codec })),
      (i, c) => {
        if (i === 0) attempts++;
        return increment(i, c);
      },
    );
    expect(attempts).toBe(4);
    expect(report.outcomes[0]).toEqual({ status: 'conflict' });
    expect(report.outcomes[1]).toMatchObject({ status: 'done' });
    expect((await stored(store, key('hot')))?.count).toBe(400);
  });

  it('commits nothing for a step that writes nothing, and keeps the state it read cached only when asked', async () => {
    const store = new InMemoryStateStore();
    const repository = new StateRepository(store);
    await repository.update([{ key: key('a'), codec }], increment, { cache: true });
    decoded = 0;
    // The state as this repository wrote it: no decode for the same version.
    const report = await repository.update([{ key: key('a'), codec }], (_, current) => ({
      write: false,
      result: current?.state.count ?? 0,
    }));
    expect(report.outcomes).toEqual([{ status: 'done', result: 1 }]);
    expect(decoded).toBe(0);
    // It left the cache when handed out (and came back unchanged was not said): decoded next time.
    await repository.update([{ key: key('a'), codec }], (_, current) => ({ write: false, result: current }));
    expect(decoded).toBe(1);
  });

  it('fails only the key whose item cannot be decoded or read, as not retryable and retryable errors', async () => {
    const store = new InMemoryStateStore();
    await store.put({ key: key('corrupt'), value: '{"count": "x"}', expiresAt: T }, null);
    const getMany = store.getMany.bind(store);
    store.getMany = async (keys: StateKey[]): Promise<Map<string, StateItem>> => {
      if (keys.some((k) => k.group === 'down')) throw new StateStoreError('throttled');
      return getMany(keys);
    };
    const repository = new StateRepository(store);
    const report = await repository.update(
      [key('corrupt'), key('down'), key('fine')].map((k) => ({ key: k, codec })),
      increment,
    );
    expect(report.outcomes[0]).toMatchObject({ status: 'failed', during: 'read' });
    expect((report.outcomes[0] as { error: unknown }).error).toBeInstanceOf(StateCorruptError);
    expect(report.outcomes[1]).toMatchObject({ status: 'failed', during: 'read' });
    expect((report.outcomes[1] as { error: unknown }).error).toBeInstanceOf(StateStoreError);
    expect(report.outcomes[2]).toEqual({ status: 'done', result: 1 });
  });

  it('sheds state while the write is too large, and settles as too-large when nothing is left', async () => {
    const store = new InMemoryStateStore({ maxItemBytes: 300 });
    const repository = new StateRepository(store);
    const big = (): Step<Counter, string> => {
      const state: Counter = { count: 1, outbox: Array.from({ length: 30 }, (_, i) => `alert-${i}`) };
      return {
        write: true,
        state,
        expiresAt: T,
        shrink: () => state.outbox.shift() !== undefined,
        settle: (outcome) => `${outcome} with ${state.outbox.length}`,
      };
    };
    const report = await repository.update([{ key: key('a'), codec }], big);
    expect(report.outcomes[0]).toMatchObject({ status: 'done' });
    const kept = (await stored(store, key('a')))?.outbox.length ?? 0;
    expect(kept).toBeGreaterThan(0);
    expect(report.outcomes[0]).toEqual({ status: 'done', result: `written with ${kept}` });
    const tiny = new StateRepository(new InMemoryStateStore({ maxItemBytes: 10 }));
    expect((await tiny.update([{ key: key('a'), codec }], big)).outcomes).toEqual([
      { status: 'done', result: 'too-large with 0' },
    ]);
  });
});

describe('StateRepository.acknowledge (the outbox)', () => {
  const clear = (_: number, state: Counter, ids: ReadonlySet<string>): boolean => {
    const before = state.outbox.length;
    state.outbox = state.outbox.filter((id) => !ids.has(id));
    return state.outbox.length !== before;
  };

  it('clears delivered entries from a state it wrote last without reading it', async () => {
    const store = new InMemoryStateStore();
    const repository = new StateRepository(store);
    await repository.update([{ key: key('a'), codec }], increment, { cache: true });
    await repository.update([{ key: key('a'), codec }], increment, { cache: true });
    const reads = store.stats.reads;
    await repository.acknowledge([{ key: key('a'), codec, ids: new Set(['alert-0-1']) }], clear, () => T, {
      startFromCache: true,
      cache: true,
    });
    expect(store.stats.reads).toBe(reads);
    expect(await stored(store, key('a'))).toEqual({ count: 2, outbox: ['alert-0-2'] });
  });

  it('clears them from what another writer left when that writer got in first', async () => {
    const store = new ContendedStore();
    const repository = new StateRepository(store);
    await repository.update([{ key: key('a'), codec }], increment, { cache: true });
    store.rivals = 1;
    await repository.acknowledge([{ key: key('a'), codec, ids: new Set(['alert-0-1']) }], clear, () => T, {
      startFromCache: true,
    });
    expect(await stored(store, key('a'))).toEqual({ count: 101, outbox: [] });
  });

  it('leaves a key it cannot clear, and absent keys, without throwing', async () => {
    const store = new ContendedStore();
    const repository = new StateRepository(store, { maxConflictRetries: 1 });
    await repository.update([{ key: key('a'), codec }], increment);
    store.rivals = 5;
    await expect(
      repository.acknowledge(
        [key('a'), key('absent')].map((k) => ({ key: k, codec, ids: new Set(['alert-0-1']) })),
        clear,
        () => T,
      ),
    ).resolves.toBeUndefined();
    expect((await stored(store, key('a')))?.outbox).toEqual(['alert-0-1']);
    expect(await stored(store, key('absent'))).toBeUndefined();
  });
});

describe('stateKeyOf', () => {
  it('gives each kind keys that cannot collide with the others', () => {
    const keys = [
      stateKeyOf('correlation', 't', 'r', ''),
      stateKeyOf('correlation', 't', 'r', '["x"]'),
      stateKeyOf('suppression', 't', 'r', ''),
      stateKeyOf('suppression', 't', 'r', '["x"]'),
      stateKeyOf('rate', 't', 'r'),
    ];
    expect(new Set(keys.map(stateKeyId)).size).toBe(keys.length);
    // The layout the gate's items have always had, so they stay where they are.
    expect(keys.slice(2).map((k) => k.group)).toEqual(['#suppress ', '#suppress ["x"]', '#rate']);
  });
});

/**
 * Behavioural suite every StateStore must pass. Each implementation's test file calls
 * describeStateStore with a factory; the factory gets the clock and size cap to use.
 */
import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { InvalidStateKeyError, InvalidStateWriteError } from '../../src/state/errors.js';
import { stateKeyId, type StateKey, type StateStore } from '../../src/state/types.js';

export interface StoreFactoryOptions {
  now: () => number;
  maxItemBytes: number;
}
export type StateStoreFactory = (options: StoreFactoryOptions) => Promise<StateStore>;

/** Read-modify-write with retry on conflict: the protocol the streaming engine follows. */
export async function incrementWithRetry(store: StateStore, key: StateKey, expiresAt: number): Promise<number> {
  for (let attempts = 1; ; attempts += 1) {
    const current = (await store.getMany([key])).get(stateKeyId(key));
    const count = current ? (JSON.parse(current.value) as { count: number }).count : 0;
    const outcome = await store.put(
      { key, value: JSON.stringify({ count: count + 1 }), expiresAt },
      current?.version ?? null,
    );
    if (outcome.ok) return attempts;
    if (outcome.reason !== 'conflict') throw new Error(`unexpected ${outcome.reason}`);
    if (attempts > 1000) throw new Error('no progress after 1000 attempts');
  }
}

export function describeStateStore(name: string, factory: StateStoreFactory): void {
  describe(`StateStore behaviour: ${name}`, () => {
    const T0 = Date.UTC(2025, 0, 1) / 1000; // epoch seconds
    let nowMs: number;
    let store: StateStore;
    const key: StateKey = { tenant: 'acme', ruleId: 'rule-1', group: 'host-a' };
    const id = stateKeyId(key);

    beforeEach(async () => {
      nowMs = T0 * 1000;
      store = await factory({ now: () => nowMs, maxItemBytes: 4096 });
    });

    it('creates at version 1 and refuses a second create', async () => {
      expect(await store.put({ key, value: '{"a":1}', expiresAt: T0 + 60 }, null)).toEqual({ ok: true, version: 1 });
      expect(await store.put({ key, value: '{"a":2}', expiresAt: T0 + 60 }, null)).toMatchObject({
        ok: false,
        reason: 'conflict',
      });
      const read = await store.getMany([key]);
      expect(read.get(id)).toEqual({ key, version: 1, value: '{"a":1}', expiresAt: T0 + 60 });
    });

    it('updates only at the expected version and increments it', async () => {
      await store.put({ key, value: 'v1', expiresAt: T0 + 60 }, null);
      expect(await store.put({ key, value: 'v2', expiresAt: T0 + 60 }, 1)).toEqual({ ok: true, version: 2 });
      expect(await store.put({ key, value: 'stale', expiresAt: T0 + 60 }, 1)).toMatchObject({
        ok: false,
        reason: 'conflict',
      });
      expect(await store.put({ key, value: 'future', expiresAt: T0 + 60 }, 7)).toMatchObject({
        ok: false,
        reason: 'conflict',
      });
      expect((await store.getMany([key])).get(id)).toMatchObject({ version: 2, value: 'v2' });
    });

    it('refuses an update of an item that does not exist', async () => {
      expect(await store.put({ key, value: 'x', expiresAt: T0 + 60 }, 1)).toMatchObject({
        ok: false,
        reason: 'conflict',
      });
      expect((await store.getMany([key])).size).toBe(0);
    });

    it('lets exactly one of two writers with the same expected version win', async () => {
      await store.put({ key, value: 'base', expiresAt: T0 + 60 }, null);
      const outcomes = await Promise.all([
        store.put({ key, value: 'writer-a', expiresAt: T0 + 60 }, 1),
        store.put({ key, value: 'writer-b', expiresAt: T0 + 60 }, 1),
      ]);
      expect(outcomes.filter((o) => o.ok)).toEqual([{ ok: true, version: 2 }]);
      expect(outcomes.filter((o) => !o.ok)).toMatchObject([{ ok: false, reason: 'conflict' }]);
      const winner = outcomes[0]!.ok ? 'writer-a' : 'writer-b';
      expect((await store.getMany([key])).get(id)).toMatchObject({ version: 2, value: winner });
    });

    it('returns, with a conflict, the item that made it (when the store tells it), never another', async () => {
      await store.put({ key, value: 'v1', expiresAt: T0 + 60 }, null);
      const stale = await store.put({ key, value: 'late', expiresAt: T0 + 60 }, 7);
      const again = await store.put({ key, value: 'again', expiresAt: T0 + 60 }, null);
      for (const outcome of [stale, again]) {
        expect(outcome).toMatchObject({ ok: false, reason: 'conflict' });
        const current = !outcome.ok && outcome.reason === 'conflict' ? outcome.current : undefined;
        if (current !== undefined) expect(current).toEqual({ key, version: 1, value: 'v1', expiresAt: T0 + 60 });
      }
      nowMs = (T0 + 61) * 1000; // expired: absent for every purpose
      const expired = await store.put({ key, value: 'x', expiresAt: T0 + 100 }, 1);
      expect(expired).toMatchObject({ ok: false, reason: 'conflict' });
      if (!expired.ok && expired.reason === 'conflict' && expired.current !== undefined)
        expect(expired.current).toBeNull();
    });

    it('lets exactly one of two concurrent creators win', async () => {
      const outcomes = await Promise.all([
        store.put({ key, value: 'a', expiresAt: T0 + 60 }, null),
        store.put({ key, value: 'b', expiresAt: T0 + 60 }, null),
      ]);
      expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
    });

    it('treats an expired item as absent, refuses to update it, and lets a create overwrite it', async () => {
      await store.put({ key, value: 'old', expiresAt: T0 + 10 }, null);
      await store.put({ key, value: 'old-2', expiresAt: T0 + 10 }, 1);
      nowMs = (T0 + 10) * 1000 + 999; // still second T0+10: not yet expired
      expect((await store.getMany([key])).get(id)?.value).toBe('old-2');
      nowMs = (T0 + 11) * 1000; // expiresAt is now strictly in the past
      expect((await store.getMany([key])).has(id)).toBe(false);
      expect(await store.put({ key, value: 'revived', expiresAt: T0 + 100 }, 2)).toMatchObject({
        ok: false,
        reason: 'conflict',
      });
      expect(await store.delete(key, 2)).toMatchObject({ ok: false, reason: 'conflict' });
      expect(await store.put({ key, value: 'fresh', expiresAt: T0 + 100 }, null)).toEqual({ ok: true, version: 1 });
      expect((await store.getMany([key])).get(id)).toEqual({ key, version: 1, value: 'fresh', expiresAt: T0 + 100 });
    });

    it('refuses a value over maxItemBytes as too-large without writing anything', async () => {
      const big = incompressible(8000);
      const writesBefore = store.stats.writes;
      expect(await store.put({ key, value: big, expiresAt: T0 + 60 }, null)).toEqual({
        ok: false,
        reason: 'too-large',
      });
      expect((await store.getMany([key])).size).toBe(0);
      await store.put({ key, value: 'small', expiresAt: T0 + 60 }, null);
      expect(await store.put({ key, value: big, expiresAt: T0 + 60 }, 1)).toEqual({ ok: false, reason: 'too-large' });
      expect((await store.getMany([key])).get(id)).toMatchObject({ version: 1, value: 'small' });
      expect(store.stats.tooLarge).toBe(2);
      expect(store.stats.writes - writesBefore).toBe(1);
    });

    it('counts multi-byte characters by their UTF-8 size against the cap', async () => {
      // Short enough to be stored as text: 400 three-byte characters are 400 UTF-16 units but 1200 bytes.
      const small = await factory({ now: () => nowMs, maxItemBytes: 1024 });
      expect(await small.put({ key, value: '€'.repeat(400), expiresAt: T0 + 60 }, null)).toEqual({
        ok: false,
        reason: 'too-large',
      });
      expect(await small.put({ key, value: '€'.repeat(300), expiresAt: T0 + 60 }, null)).toEqual({
        ok: true,
        version: 1,
      });
      expect((await small.getMany([key])).get(id)?.value).toBe('€'.repeat(300));
    });

    it('stores long values whole, and bills them by the KiB', async () => {
      const long = `{"events":[${Array.from({ length: 60 }, (_, i) => `{"id":"observed-data--${i}","f":1767225600000000}`).join(',')}]}`;
      const units = store.stats.writeUnits;
      expect(await store.put({ key, value: long, expiresAt: T0 + 60 }, null)).toEqual({ ok: true, version: 1 });
      expect((await store.getMany([key])).get(id)?.value).toBe(long);
      expect(store.stats.writeUnits - units).toBeGreaterThanOrEqual(1);
      expect(store.stats.readUnits).toBeGreaterThanOrEqual(1);
    });

    it('reads more than 100 keys, returning exactly the live ones', async () => {
      const keys = Array.from({ length: 250 }, (_, i) => ({ tenant: 'acme', ruleId: 'rule-many', group: `g-${i}` }));
      await Promise.all(
        keys.map((k, i) =>
          i % 2 === 0
            ? store.put({ key: k, value: String(i), expiresAt: i % 10 === 0 ? T0 - 5 : T0 + 60 }, null)
            : undefined,
        ),
      );
      const readsBefore = store.stats.reads;
      const read = await store.getMany([...keys, keys[0]!, keys[2]!]);
      expect(store.stats.reads - readsBefore).toBe(3);
      const expected = keys.filter((_, i) => i % 2 === 0 && i % 10 !== 0);
      expect(read.size).toBe(expected.length);
      for (const k of expected) expect(read.get(stateKeyId(k))?.value).toBe(k.group.slice(2));
    });

    it('returns an empty map for no keys', async () => {
      expect((await store.getMany([])).size).toBe(0);
    });

    it('keeps the same rule and group independent across tenants', async () => {
      const other: StateKey = { ...key, tenant: 'globex' };
      await store.put({ key, value: 'acme-state', expiresAt: T0 + 60 }, null);
      expect((await store.getMany([other])).size).toBe(0);
      expect(await store.put({ key: other, value: 'globex-state', expiresAt: T0 + 60 }, null)).toEqual({
        ok: true,
        version: 1,
      });
      expect(await store.delete(other, 1)).toEqual({ ok: true, version: 1 });
      const read = await store.getMany([key, other]);
      expect(read.get(id)?.value).toBe('acme-state');
      expect(read.has(stateKeyId(other))).toBe(false);
    });

    it('does not collide keys whose parts contain the separator or its encoding', async () => {
      const lookalikes: StateKey[] = [
        { tenant: 'a#b', ruleId: 'c', group: 'g' },
        { tenant: 'a', ruleId: 'b#c', group: 'g' },
        { tenant: 'a%23b', ruleId: 'c', group: 'g' },
        { tenant: 'a', ruleId: 'b', group: 'c#g' },
        { tenant: 'a#', ruleId: '#b', group: 'g' },
        { tenant: 'a', ruleId: '##b', group: 'g' },
        { tenant: 'S#a', ruleId: 'b', group: 'G#g' },
      ];
      for (const [i, k] of lookalikes.entries()) {
        expect(await store.put({ key: k, value: `v${i}`, expiresAt: T0 + 60 }, null)).toEqual({ ok: true, version: 1 });
      }
      const read = await store.getMany(lookalikes);
      expect(lookalikes.map((k) => read.get(stateKeyId(k))?.value)).toEqual(lookalikes.map((_, i) => `v${i}`));
    });

    it('deletes only at the expected version', async () => {
      await store.put({ key, value: 'v', expiresAt: T0 + 60 }, null);
      expect(await store.delete(key, 2)).toMatchObject({ ok: false, reason: 'conflict' });
      expect(await store.delete(key, 1)).toEqual({ ok: true, version: 1 });
      expect((await store.getMany([key])).size).toBe(0);
      expect(await store.delete(key, 1)).toMatchObject({ ok: false, reason: 'conflict' });
      expect(await store.put({ key, value: 'again', expiresAt: T0 + 60 }, null)).toEqual({ ok: true, version: 1 });
    });

    it('rejects keys and writes it cannot store', async () => {
      await expect(store.put({ key: { ...key, tenant: '' }, value: 'x', expiresAt: T0 }, null)).rejects.toThrow(
        InvalidStateKeyError,
      );
      await expect(store.getMany([{ ...key, tenant: '' }])).rejects.toThrow(InvalidStateKeyError);
      await expect(store.getMany([{ ...key, tenant: 'bad\uD800' }])).rejects.toThrow(InvalidStateKeyError);
      await expect(store.put({ key, value: 'x', expiresAt: T0 + 0.5 }, null)).rejects.toThrow(InvalidStateWriteError);
      await expect(store.put({ key, value: 'x', expiresAt: T0 }, 0)).rejects.toThrow(InvalidStateWriteError);
      await expect(store.delete(key, 1.5)).rejects.toThrow(InvalidStateWriteError);
    });

    // Issue #11.3: a group_by value too long for DynamoDB's key limits (2048-byte partition key,
    // 1024-byte sort key) used to be refused, failing the whole batch. Keys of any length now
    // fit: a long part keeps a readable prefix and is told apart by its SHA-256.
    it('stores keys of any length, and keeps long keys that share a prefix apart', async () => {
      const cjk = '\u6f22'.repeat(300); // 300 CJK characters: 2700 bytes once URI-encoded
      const longKeys: StateKey[] = [
        { ...key, group: JSON.stringify([cjk]) },
        { ...key, group: JSON.stringify([`${cjk}x`]) },
        { ...key, group: 'g'.repeat(5000) },
        { ...key, group: `${'g'.repeat(4999)}h` },
        { tenant: 't'.repeat(3000), ruleId: 'r'.repeat(3000), group: 'g' },
        { tenant: 't'.repeat(3000), ruleId: `${'r'.repeat(2999)}s`, group: 'g' },
      ];
      for (const [i, k] of longKeys.entries()) {
        expect(await store.put({ key: k, value: `long-${i}`, expiresAt: T0 + 60 }, null)).toEqual({
          ok: true,
          version: 1,
        });
      }
      const read = await store.getMany([...longKeys, key]);
      expect(longKeys.map((k) => read.get(stateKeyId(k))?.value)).toEqual(longKeys.map((_, i) => `long-${i}`));
      expect(read.has(id)).toBe(false);
      expect(await store.put({ key: longKeys[0]!, value: 'updated', expiresAt: T0 + 60 }, 1)).toEqual({
        ok: true,
        version: 2,
      });
      expect(await store.delete(longKeys[2]!, 1)).toEqual({ ok: true, version: 1 });
    });

    it('allows an empty group', async () => {
      const ungrouped = { ...key, group: '' };
      expect(await store.put({ key: ungrouped, value: 'x', expiresAt: T0 + 60 }, null)).toEqual({
        ok: true,
        version: 1,
      });
      expect((await store.getMany([ungrouped, key])).get(stateKeyId(ungrouped))?.version).toBe(1);
      expect((await store.getMany([key])).size).toBe(0);
    });

    it('ends 8 concurrent read-modify-write workers with the exact total', async () => {
      const workers = 8;
      const perWorker = 15;
      const conflictsBefore = store.stats.conflicts;
      const counter: StateKey = { tenant: 'acme', ruleId: 'rule-count', group: 'hot' };
      await Promise.all(
        Array.from({ length: workers }, async () => {
          for (let i = 0; i < perWorker; i += 1) await incrementWithRetry(store, counter, T0 + 3600);
        }),
      );
      const final = (await store.getMany([counter])).get(stateKeyId(counter));
      expect(final && JSON.parse(final.value)).toEqual({ count: workers * perWorker });
      // Every successful write bumps the version once: no write was lost or applied twice.
      expect(final?.version).toBe(workers * perWorker);
      // All workers read "absent" before any create lands, so at least 7 creates must conflict.
      expect(store.stats.conflicts - conflictsBefore).toBeGreaterThanOrEqual(workers - 1);
    });
  });
}

/** Text that deflate cannot shrink much (digests, chained), for size limits of a store that deflates. */
export function incompressible(length: number): string {
  let text = '';
  for (let i = 0; text.length < length; i++) text += createHash('sha256').update(`${i}`).digest('base64');
  return text.slice(0, length);
}

import { describe, expect, it } from 'vitest';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import { describeStateStore } from './state-store-suite.js';

describeStateStore(
  'InMemoryStateStore',
  async ({ now, maxItemBytes }) => new InMemoryStateStore({ now, maxItemBytes }),
);

describe('InMemoryStateStore', () => {
  it('always returns the current item with a conflict (null when there is none)', async () => {
    const store = new InMemoryStateStore();
    const key = { tenant: 't', ruleId: 'r', group: 'g' };
    expect(await store.put({ key, value: 'x', expiresAt: 4_000_000_000 }, 3)).toEqual({
      ok: false,
      reason: 'conflict',
      current: null,
    });
    await store.put({ key, value: 'v', expiresAt: 4_000_000_000 }, null);
    expect(await store.put({ key, value: 'w', expiresAt: 4_000_000_000 }, null)).toEqual({
      ok: false,
      reason: 'conflict',
      current: { key, version: 1, value: 'v', expiresAt: 4_000_000_000 },
    });
    expect(await store.delete(key, 5)).toMatchObject({ current: { version: 1, value: 'v' } });
  });

  it('returns copies, so a caller mutating a read item cannot change the store', async () => {
    const store = new InMemoryStateStore();
    const key = { tenant: 't', ruleId: 'r', group: 'g' };
    await store.put({ key, value: 'v', expiresAt: 4_000_000_000 }, null);
    const first = [...(await store.getMany([key])).values()][0]!;
    first.value = 'tampered';
    first.key.tenant = 'other';
    expect([...(await store.getMany([key])).values()][0]).toMatchObject({ value: 'v', key });
  });
});

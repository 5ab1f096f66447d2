import { describe, expect, it } from 'vitest';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import { describeStateStore } from './state-store-suite.js';

describeStateStore(
  'InMemoryStateStore',
  async ({ now, maxItemBytes }) => new InMemoryStateStore({ now, maxItemBytes }),
);

describe('InMemoryStateStore', () => {
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

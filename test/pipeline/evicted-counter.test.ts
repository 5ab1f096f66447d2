/** The per-rule `evicted` counter: partial matches a rule's groups had to drop, counted once each. */
import { describe, expect, it } from 'vitest';
import { Detector } from '../../src/pipeline/detector.js';
import { InMemoryCounterStore, utcDay } from '../../src/state/counters.js';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import { observed, rule } from '../engine/helpers.js';

describe('Detector counters: evicted', () => {
  it('counts the partial matches evicted by the per-group cap, per rule, and not again on redelivery', async () => {
    const now = (): number => Date.UTC(2026, 0, 1, 0, 10, 0);
    const counters = new InMemoryCounterStore();
    const pair = rule('pair', "[x-thing:v = 'a'] FOLLOWEDBY [x-thing:v = 'b']");
    const other = rule('other', "[x-thing:v = 'z'] FOLLOWEDBY [x-thing:v = 'b']");
    const detector = new Detector({
      rules: [pair, other],
      store: new InMemoryStateStore({ now }),
      counters,
      engine: { maxPartialsPerGroup: 2 },
      now,
    });
    // Five A's wait for a B; the group keeps two (a4, a5): three are evicted. A redelivery of
    // the two kept is a duplicate, and evicts (and counts) nothing more.
    const waiting = ['a1', 'a2', 'a3', 'a4', 'a5'].map((id, i) => {
      const [observedData, object] = (observed(id, i, { type: 'x-thing', v: 'a' }).bundle as { objects: never[] })
        .objects;
      return { observedData: observedData as never, objects: [object as never] };
    });
    const first = await detector.processObserved(waiting, 'acme');
    expect(first.errors).toEqual([]);
    await detector.processObserved(waiting.slice(3), 'acme');
    const day = utcDay(now());
    const read = await counters.read('acme', ['pair', 'other'], [day]);
    expect(read.get('pair')?.get(day)).toMatchObject({ evicted: 3, matches: 5 });
    expect(read.get('other')?.get(day)).toMatchObject({ evicted: 0 });
  });
});

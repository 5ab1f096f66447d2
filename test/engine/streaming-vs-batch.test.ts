/**
 * The streaming engine must agree with the batch semantics: its first alert comes exactly at
 * the first prefix of the (event-time ordered) stream that the batch matcher accepts, and
 * duplicated deliveries change nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePattern } from '../../src/pattern/compile.js';
import { StreamingEngine } from '../../src/engine/streaming.js';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import { observed, rule } from './helpers.js';

const LEAVES = ["[x:v = 'a']", "[x:v = 'b']", "[x:v = 'c']", '[x:n > 5]'];

const patternArb: fc.Arbitrary<string> = fc.letrec<{ p: string }>((tie) => ({
  p: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...LEAVES),
    fc.tuple(tie('p'), fc.constantFrom('AND', 'OR', 'FOLLOWEDBY'), tie('p')).map(([l, op, r]) => `(${l} ${op} ${r})`),
    fc.tuple(tie('p'), fc.integer({ min: 1, max: 30 })).map(([p, s]) => `(${p}) WITHIN ${s} SECONDS`),
    fc.tuple(tie('p'), fc.integer({ min: 2, max: 3 })).map(([p, n]) => `(${p}) REPEATS ${n} TIMES`),
  ),
})).p;

const eventArb = fc.record({
  v: fc.constantFrom('a', 'b', 'c', 'z'),
  n: fc.integer({ min: 0, max: 9 }),
  count: fc.constantFrom(1, 1, 1, 2),
});

describe('streaming engine agrees with the batch matcher', () => {
  it('raises its first alert on the first prefix the batch matcher accepts', async () => {
    await fc.assert(
      fc.asyncProperty(
        patternArb,
        fc.array(eventArb, { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        async (pattern, specs, duplicate) => {
          const compiled = compilePattern(pattern);
          if (compiled.isSingleObservation) return; // single-observation rules are covered elsewhere
          const events = specs.map((s, i) => observed(`e${i}`, i * 4, { type: 'x', v: s.v, n: s.n }, s.count));
          let batchFirst = -1;
          for (let i = 0; i < events.length && batchFirst < 0; i++) {
            if (compiled.match(events.slice(0, i + 1).map((e) => e.bundle)).matched) batchFirst = i;
          }
          const engine = new StreamingEngine({
            rules: [rule('r', pattern)],
            store: new InMemoryStateStore(),
            latenessSeconds: 3600,
          });
          let streamFirst = -1;
          const alertIds: string[] = [];
          for (let i = 0; i < events.length; i++) {
            const delivery = duplicate ? [events[i]!.input, events[i]!.input] : [events[i]!.input];
            for (const input of delivery) {
              const { alerts } = await engine.processBatch([input]);
              await engine.acknowledge(alerts);
              for (const a of alerts) if (!alertIds.includes(a.id)) alertIds.push(a.id);
            }
            if (streamFirst < 0 && alertIds.length > 0) streamFirst = i;
          }
          expect(streamFirst).toBe(batchFirst);
        },
      ),
      { seed: 20261124, numRuns: 300 },
    );
  });

  it('gives the same alerts with every event delivered twice', async () => {
    await fc.assert(
      fc.asyncProperty(patternArb, fc.array(eventArb, { minLength: 1, maxLength: 12 }), async (pattern, specs) => {
        const events = specs.map((s, i) => observed(`e${i}`, i * 4, { type: 'x', v: s.v, n: s.n }, s.count));
        const run = async (twice: boolean): Promise<string[]> => {
          const engine = new StreamingEngine({
            rules: [rule('r', pattern)],
            store: new InMemoryStateStore(),
            latenessSeconds: 3600,
          });
          const ids = new Set<string>();
          for (const e of events) {
            for (const input of twice ? [e.input, e.input] : [e.input]) {
              const { alerts } = await engine.processBatch([input]);
              await engine.acknowledge(alerts);
              alerts.forEach((a) => ids.add(a.id));
            }
          }
          return [...ids].sort();
        };
        expect(await run(true)).toEqual(await run(false));
      }),
      { seed: 7, numRuns: 200 },
    );
  });
});

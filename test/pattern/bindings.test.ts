/**
 * The binding search restricted to bindings that use one observed-data (`required`, what the
 * streaming engine asks for when an event arrives) must give exactly the bindings of the full
 * search that use it, in the same order: it prunes, it never reorders or invents.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { enumerateBindings, type Binding, type BindingNode } from '../../src/pattern/bindings.js';
import type { PreparedObservation } from '../../src/pattern/observation.js';

const LEAVES = 3;

const tree: fc.Arbitrary<BindingNode> = fc.letrec<{ node: BindingNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer({ min: 0, max: LEAVES - 1 }).map((leaf): BindingNode => ({ kind: 'leaf', leaf })),
    fc.record({
      kind: fc.constantFrom('and' as const, 'or' as const, 'followedBy' as const),
      left: tie('node'),
      right: tie('node'),
    }),
    fc.record({
      kind: fc.constant('within' as const),
      micros: fc.integer({ min: 0, max: 5 }).map((s) => s * 1e6),
      expression: tie('node'),
    }),
    fc.record({
      kind: fc.constant('startStop' as const),
      start: fc.constant(2e6),
      stop: fc.constant(7e6),
      expression: tie('node'),
    }),
    fc.record({
      kind: fc.constant('repeats' as const),
      times: fc.integer({ min: 1, max: 3 }),
      expression: tie('node'),
    }),
  ),
})).node;

const events = fc.array(
  fc.record({
    first: fc.integer({ min: 0, max: 9 }),
    length: fc.integer({ min: 0, max: 2 }),
    count: fc.integer({ min: 1, max: 2 }),
    mask: fc.integer({ min: 1, max: 2 ** LEAVES - 1 }),
  }),
  { minLength: 1, maxLength: 6 },
);

function all(
  node: BindingNode,
  list: { first: number; length: number; count: number; mask: number }[],
  required?: number,
  budget = { remaining: 1_000_000 },
): Binding[] {
  const observations = list.map(
    (e, index) =>
      ({
        index,
        firstObserved: e.first * 1e6,
        lastObserved: (e.first + e.length) * 1e6,
        numberObserved: e.count,
      }) as PreparedObservation,
  );
  const leafMatches = Array.from({ length: LEAVES }, (_, leaf) =>
    list.flatMap((e, i) => ((e.mask & (1 << leaf)) !== 0 ? [i] : [])),
  );
  const found: Binding[] = [];
  for (const b of enumerateBindings(node, {
    observations,
    leafMatches,
    budget,
    ...(required === undefined ? {} : { required }),
  })) {
    found.push(b);
    if (found.length >= 200) break;
  }
  return found;
}

describe('enumerateBindings with a required observed-data', () => {
  it('yields the full search’s bindings that use it, in the same order', () => {
    fc.assert(
      fc.property(tree, events, fc.nat(), (node, list, pick) => {
        const required = pick % list.length;
        const full = all(node, list);
        // The full list is cut at 200 bindings; compare only when it was complete.
        fc.pre(full.length < 200);
        expect(all(node, list, required)).toEqual(full.filter((b) => b.observations.includes(required)));
      }),
      { numRuns: 800, seed: 20261124 },
    );
  });

  it('never takes more steps than the full search (so it never runs out of budget where that would not)', () => {
    fc.assert(
      fc.property(tree, events, fc.nat(), (node, list, pick) => {
        const required = pick % list.length;
        const fullBudget = { remaining: 1_000_000 };
        const full = all(node, list, undefined, fullBudget);
        fc.pre(full.length < 200);
        const restrictedBudget = { remaining: 1_000_000 };
        all(node, list, required, restrictedBudget);
        expect(1_000_000 - restrictedBudget.remaining).toBeLessThanOrEqual(1_000_000 - fullBudget.remaining);
      }),
      { numRuns: 800, seed: 20261124 },
    );
  });

  it('prunes: a FOLLOWEDBY over many buffered events visits each about once, not every pair', () => {
    const list = Array.from({ length: 40 }, (_, i) => ({ first: i % 10, length: 0, count: 1, mask: i < 20 ? 1 : 2 }));
    const node: BindingNode = { kind: 'followedBy', left: { kind: 'leaf', leaf: 0 }, right: { kind: 'leaf', leaf: 1 } };
    const observations = list.map(
      (e, index) =>
        ({ index, firstObserved: e.first, lastObserved: e.first, numberObserved: 1 }) as PreparedObservation,
    );
    const leafMatches = [
      list.flatMap((e, i) => (e.mask === 1 ? [i] : [])),
      list.flatMap((e, i) => (e.mask === 2 ? [i] : [])),
    ];
    const budget = { remaining: 1_000_000 };
    const found = Array.from(enumerateBindings(node, { observations, leafMatches, budget, required: 39 }));
    const pruned = 1_000_000 - budget.remaining;
    const fullBudget = { remaining: 1_000_000 };
    const unrestricted = Array.from(enumerateBindings(node, { observations, leafMatches, budget: fullBudget }));
    expect(found).toEqual(unrestricted.filter((b) => b.observations.includes(39)));
    expect(pruned).toBeLessThanOrEqual(2 * list.length);
    expect(1_000_000 - fullBudget.remaining).toBeGreaterThan(400);
  });
});

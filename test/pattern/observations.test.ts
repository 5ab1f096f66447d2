/**
 * Observation expressions, observation operators and qualifiers over several observed-data
 * (STIX 2.1, 9.6–9.7), the binding the matcher returns, and input errors.
 */
import { describe, expect, it } from 'vitest';
import { InputError, MatchError } from '../../src/errors.js';
import { compilePattern } from '../../src/pattern/compile.js';
import { prepareObservations } from '../../src/pattern/observation.js';
import { parsePattern } from '../../src/pattern/parse.js';
import { at, matches, observed20, observed21, odId, one, sco } from './fixtures.js';

const A = '[x-a:v = 1]';
const B = '[x-b:v = 1]';
const C = '[x-c:v = 1]';
const a = (first: number, opts: { last?: number; count?: number } = {}) => one('x-a', { v: 1 }, { first, ...opts });
const b = (first: number, opts: { last?: number; count?: number } = {}) => one('x-b', { v: 1 }, { first, ...opts });
const c = (first: number, opts: { last?: number; count?: number } = {}) => one('x-c', { v: 1 }, { first, ...opts });

describe('AND', () => {
  it('needs both sides, on different observed-data', () => {
    expect(matches(`${A} AND ${B}`, [a(0), b(1)])).toBe(true);
    expect(matches(`${A} AND ${B}`, [b(1), a(0)])).toBe(true);
    expect(matches(`${A} AND ${B}`, [a(0), a(1)])).toBe(false);
    expect(matches(`${A} AND ${B}`, [b(0)])).toBe(false);
  });

  it('binds its sides to different instances', () => {
    // one observed-data, number_observed 1, holding both objects: one instance only
    const both = observed21([
      { type: 'x-a', v: 1 },
      { type: 'x-b', v: 1 },
    ]);
    expect(matches(`${A} AND ${B}`, both)).toBe(false);
    const bothTwice = observed21(
      [
        { type: 'x-a', v: 1 },
        { type: 'x-b', v: 1 },
      ],
      { count: 2 },
    );
    expect(matches(`${A} AND ${B}`, bothTwice)).toBe(true);
  });

  it('one observed-data with number_observed 2 satisfies [a] AND [a]', () => {
    expect(matches(`${A} AND ${A}`, a(0, { count: 2 }))).toBe(true);
    expect(matches(`${A} AND ${A}`, a(0))).toBe(false);
    expect(matches(`${A} AND ${A}`, [a(0), a(5)])).toBe(true);
    expect(matches(`${A} AND ${A} AND ${A}`, a(0, { count: 2 }))).toBe(false);
    expect(matches(`${A} AND ${A} AND ${A}`, a(0, { count: 3 }))).toBe(true);
  });
});

describe('OR', () => {
  it('needs either side', () => {
    expect(matches(`${A} OR ${B}`, a(0))).toBe(true);
    expect(matches(`${A} OR ${B}`, b(0))).toBe(true);
    expect(matches(`${A} OR ${B}`, c(0))).toBe(false);
    expect(matches(`${A} OR ${B}`, [])).toBe(false);
  });
});

describe('FOLLOWEDBY', () => {
  it('needs the left side before the right side', () => {
    expect(matches(`${A} FOLLOWEDBY ${B}`, [a(0), b(10)])).toBe(true);
    expect(matches(`${A} FOLLOWEDBY ${B}`, [b(10), a(0)])).toBe(true); // input order is irrelevant
    expect(matches(`${A} FOLLOWEDBY ${B}`, [a(10), b(0)])).toBe(false); // reversed order fails
    expect(matches(`${B} FOLLOWEDBY ${A}`, [a(10), b(0)])).toBe(true);
  });

  it('allows ties', () => {
    expect(matches(`${A} FOLLOWEDBY ${B}`, [a(5), b(5)])).toBe(true);
  });

  it('compares the latest first_observed on the left with the earliest last_observed on the right', () => {
    // a covers [10, 20]; b covers [0, 15]: 10 ≤ 15
    expect(matches(`${A} FOLLOWEDBY ${B}`, [a(10, { last: 20 }), b(0, { last: 15 })])).toBe(true);
    // b covers [0, 9]: 10 > 9
    expect(matches(`${A} FOLLOWEDBY ${B}`, [a(10, { last: 20 }), b(0, { last: 9 })])).toBe(false);
    // boundary: b ends exactly when a starts
    expect(matches(`${A} FOLLOWEDBY ${B}`, [a(10, { last: 20 }), b(0, { last: 10 })])).toBe(true);
  });

  it('one observed-data with number_observed 2 satisfies [a] FOLLOWEDBY [a]', () => {
    expect(matches(`${A} FOLLOWEDBY ${A}`, a(0, { count: 2 }))).toBe(true);
    expect(matches(`${A} FOLLOWEDBY ${A}`, a(0))).toBe(false);
  });

  it('chains', () => {
    expect(matches(`${A} FOLLOWEDBY ${B} FOLLOWEDBY ${C}`, [a(0), b(1), c(2)])).toBe(true);
    expect(matches(`${A} FOLLOWEDBY ${B} FOLLOWEDBY ${C}`, [a(0), b(3), c(2)])).toBe(false);
  });
});

describe('precedence and parentheses', () => {
  const shape = (text: string): string => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const show = (n: any): string =>
      n.kind === 'observation'
        ? (n.comparison.path.objectType as string).slice(2)
        : n.kind === 'qualified'
          ? `Q(${show(n.expression)})`
          : `${n.kind}(${show(n.left)},${show(n.right)})`;
    const { ast, diagnostics } = parsePattern(text);
    expect(diagnostics).toEqual([]);
    return show(ast!.root);
  };

  it('AND binds tighter than OR, which binds tighter than FOLLOWEDBY', () => {
    expect(shape(`${A} OR ${B} AND ${C}`)).toBe('or(a,and(b,c))');
    expect(shape(`${A} AND ${B} OR ${C}`)).toBe('or(and(a,b),c)');
    expect(shape(`${A} FOLLOWEDBY ${B} OR ${C}`)).toBe('followedBy(a,or(b,c))');
    expect(shape(`${A} OR ${B} FOLLOWEDBY ${C}`)).toBe('followedBy(or(a,b),c)');
    expect(shape(`${A} AND ${B} FOLLOWEDBY ${C}`)).toBe('followedBy(and(a,b),c)');
    expect(shape(`(${A} OR ${B}) AND ${C}`)).toBe('and(or(a,b),c)');
    expect(shape(`${A} FOLLOWEDBY (${B} FOLLOWEDBY ${C})`)).toBe('followedBy(a,followedBy(b,c))');
    expect(shape(`${A} FOLLOWEDBY ${B} FOLLOWEDBY ${C}`)).toBe('followedBy(followedBy(a,b),c)');
  });

  it('and the matcher follows it', () => {
    // A OR (B AND C): A alone is enough; B alone is not
    expect(matches(`${A} OR ${B} AND ${C}`, a(0))).toBe(true);
    expect(matches(`${A} OR ${B} AND ${C}`, b(0))).toBe(false);
    expect(matches(`(${A} OR ${B}) AND ${C}`, a(0))).toBe(false);
    expect(matches(`(${A} OR ${B}) AND ${C}`, [b(0), c(0)])).toBe(true);
    // A FOLLOWEDBY (B OR C): C before A does not satisfy it, as (A FOLLOWEDBY B) OR C would be
    expect(matches(`${A} FOLLOWEDBY ${B} OR ${C}`, [c(0), a(10)])).toBe(false);
    expect(matches(`(${A} FOLLOWEDBY ${B}) OR ${C}`, [c(0), a(10)])).toBe(true);
    expect(matches(`${A} FOLLOWEDBY ${B} OR ${C}`, [a(0), c(10)])).toBe(true);
  });
});

describe('WITHIN', () => {
  it('integer seconds, the boundary exactly equal passes', () => {
    expect(matches(`(${A} AND ${B}) WITHIN 5 SECONDS`, [a(0), b(5)])).toBe(true);
    expect(matches(`(${A} AND ${B}) WITHIN 4 SECONDS`, [a(0), b(5)])).toBe(false);
    expect(matches(`(${A} FOLLOWEDBY ${B}) WITHIN 5 SECONDS`, [a(0), b(5)])).toBe(true);
    expect(matches(`(${A} FOLLOWEDBY ${B}) WITHIN 5 SECONDS`, [a(0), b(5.001)])).toBe(false);
  });

  it('float seconds', () => {
    expect(matches(`(${A} AND ${B}) WITHIN 2.5 SECONDS`, [a(0), b(2.5)])).toBe(true);
    expect(matches(`(${A} AND ${B}) WITHIN 2.4 SECONDS`, [a(0), b(2.5)])).toBe(false);
    expect(matches(`(${A} AND ${B}) WITHIN 0.001 SECONDS`, [a(0), b(0)])).toBe(true);
  });

  it('a window touching each interval is enough', () => {
    // a covers [0, 10], b at 14: a 5 s window [9, 14] touches both
    expect(matches(`(${A} AND ${B}) WITHIN 5 SECONDS`, [a(0, { last: 10 }), b(14)])).toBe(true);
    expect(matches(`(${A} AND ${B}) WITHIN 3 SECONDS`, [a(0, { last: 10 }), b(14)])).toBe(false);
  });

  it('picks the pair that fits among several', () => {
    expect(matches(`(${A} AND ${B}) WITHIN 2 SECONDS`, [a(0), b(100), a(99)])).toBe(true);
  });
});

describe('START / STOP', () => {
  const q = (start: number, stop: number) => `${A} START t'${at(start)}' STOP t'${at(stop)}'`;
  it('start is inclusive', () => {
    expect(matches(q(10, 20), a(10))).toBe(true);
    expect(matches(q(10, 20), a(9.999))).toBe(false);
    expect(matches(q(10, 20), a(5, { last: 10 }))).toBe(true); // interval overlaps at its end
  });
  it('stop is exclusive', () => {
    expect(matches(q(10, 20), a(20))).toBe(false);
    expect(matches(q(10, 20), a(19.999))).toBe(true);
    expect(matches(q(10, 20), a(20, { last: 30 }))).toBe(false);
    expect(matches(q(10, 20), a(0, { last: 30 }))).toBe(true); // interval spans the window
  });
  it('applies to every observation of a group', () => {
    const qq = `(${A} AND ${B}) START t'${at(10)}' STOP t'${at(20)}'`;
    expect(matches(qq, [a(11), b(19)])).toBe(true);
    expect(matches(qq, [a(11), b(21)])).toBe(false);
    expect(matches(qq, [a(11), b(21), b(15)])).toBe(true);
  });
});

describe('REPEATS', () => {
  it('counts distinct observed-data', () => {
    expect(matches(`${A} REPEATS 3 TIMES`, [a(0), a(1), a(2)])).toBe(true);
    expect(matches(`${A} REPEATS 4 TIMES`, [a(0), a(1), a(2)])).toBe(false);
    expect(matches(`${A} REPEATS 1 TIMES`, [a(0)])).toBe(true);
  });

  it('counts number_observed', () => {
    expect(matches(`${A} REPEATS 3 TIMES`, a(0, { count: 3 }))).toBe(true);
    expect(matches(`${A} REPEATS 4 TIMES`, a(0, { count: 3 }))).toBe(false);
    expect(matches(`${A} REPEATS 4 TIMES`, [a(0, { count: 3 }), a(1)])).toBe(true);
  });

  it('two matching objects in one observed-data with number_observed 1 do not satisfy REPEATS 2', () => {
    const twoObjects = observed21([
      { type: 'x-a', v: 1 },
      { type: 'x-a', v: 1 },
    ]);
    expect(matches(`${A} REPEATS 2 TIMES`, twoObjects)).toBe(false);
    expect(matches(`${A} REPEATS 1 TIMES`, twoObjects)).toBe(true);
  });

  it('combines with WITHIN', () => {
    expect(matches(`${A} REPEATS 3 TIMES WITHIN 10 SECONDS`, [a(0), a(5), a(10)])).toBe(true);
    expect(matches(`${A} REPEATS 3 TIMES WITHIN 9 SECONDS`, [a(0), a(5), a(10)])).toBe(false);
    expect(matches(`${A} REPEATS 3 TIMES WITHIN 9 SECONDS`, [a(0), a(5), a(10), a(7)])).toBe(true);
  });
});

describe('a qualifier binds to the expression just before it', () => {
  it('[A] AND [B] WITHIN 9 SECONDS qualifies only [B]', () => {
    const { ast } = parsePattern(`${A} AND ${B} WITHIN 9 SECONDS`);
    expect(ast!.root.kind).toBe('and');
    expect((ast!.root as { right: { kind: string } }).right.kind).toBe('qualified');
    expect((ast!.root as { left: { kind: string } }).left.kind).toBe('observation');
    expect(matches(`${A} AND ${B} WITHIN 9 SECONDS`, [a(0), b(100)])).toBe(true);
    expect(matches(`(${A} AND ${B}) WITHIN 9 SECONDS`, [a(0), b(100)])).toBe(false);
  });

  it('[A] AND [B] REPEATS 2 TIMES repeats only [B]', () => {
    expect(matches(`${A} AND ${B} REPEATS 2 TIMES`, [a(0), b(1), b(2)])).toBe(true);
    expect(matches(`${A} AND ${B} REPEATS 2 TIMES`, [a(0), a(1), b(2)])).toBe(false);
  });

  it('[A] FOLLOWEDBY [B] START … STOP … bounds only [B]', () => {
    const p = `${A} FOLLOWEDBY ${B} START t'${at(10)}' STOP t'${at(20)}'`;
    expect(matches(p, [a(0), b(15)])).toBe(true);
    expect(matches(p, [a(0), b(25)])).toBe(false);
  });
});

describe('comparisons on different root types joined by AND', () => {
  const p = '[x-a:v = 1 AND x-b:v = 1]';
  it('never match', () => {
    const both = observed21(
      [
        { type: 'x-a', v: 1 },
        { type: 'x-b', v: 1 },
      ],
      { count: 5 },
    );
    expect(matches(p, both)).toBe(false);
    expect(matches(p, [a(0), b(0)])).toBe(false);
  });
  it('yield a different-root-types warning', () => {
    const compiled = compilePattern(p);
    expect(compiled.warnings.map((w) => w.code)).toEqual(['different-root-types']);
    expect(compiled.warnings[0]?.severity).toBe('warning');
    expect(compilePattern('[x-a:v = 1 OR x-b:v = 1]').warnings).toEqual([]);
    expect(compilePattern('[x-a:v = 1 AND x-a:w = 2]').warnings).toEqual([]);
  });
  it('OR of types inside one observation still matches either', () => {
    expect(matches('[x-a:v = 1 OR x-b:v = 1]', b(0))).toBe(true);
    // (A OR B) AND A can only hold on an x-a object
    expect(matches('[(x-a:v = 1 OR x-b:v = 1) AND x-a:v = 1]', a(0))).toBe(true);
    expect(matches('[(x-a:v = 1 OR x-b:v = 1) AND x-a:v = 1]', b(0))).toBe(false);
  });
  it('all comparisons joined by AND must hold on the same object', () => {
    const two = observed21([
      { type: 'x-a', v: 1, w: 0 },
      { type: 'x-a', v: 0, w: 2 },
    ]);
    expect(matches('[x-a:v = 1 AND x-a:w = 2]', two)).toBe(false);
    expect(matches('[x-a:v = 1 AND x-a:w = 0]', two)).toBe(true);
  });
});

describe('the returned binding', () => {
  it('for a 2.1 bundle names the observed-data and the matching object ids', () => {
    const hit = sco('x-a', { v: 1 });
    const miss = sco('x-a', { v: 2 });
    const first = observed21([miss], { id: 'observed-data--00000000-0000-4000-8000-0000000000a1' });
    const second = observed21([sco('x-b', { v: 1 }), hit, miss], {
      first: 3,
      id: 'observed-data--00000000-0000-4000-8000-0000000000a2',
    });
    const result = compilePattern(A).match([first, second]);
    expect(result).toEqual({
      matched: true,
      binding: [{ observation: 0, observedDataIndex: 1, observedDataId: odId(second), objects: [hit.id] }],
      observedDataIds: [odId(second)],
    });
  });

  it('for several observation expressions lists each with its observed-data', () => {
    const da = a(0);
    const db = b(1);
    const result = compilePattern(`${A} FOLLOWEDBY ${B}`).match([db, da]);
    expect(result.matched).toBe(true);
    expect(result.binding?.map((x) => [x.observation, x.observedDataId])).toEqual([
      [0, odId(da)],
      [1, odId(db)],
    ]);
    expect(result.observedDataIds).toEqual([odId(db), odId(da)]); // input order
  });

  it('is absent when there is no match', () => {
    expect(compilePattern(A).match(b(0))).toEqual({ matched: false });
  });

  it('for 2.0 observed-data with embedded objects uses the objects keys', () => {
    const od = observed20({ '0': { type: 'x-b', v: 1 }, '7': { type: 'x-a', v: 1 } }, { id: 'observed-data--20' });
    const result = compilePattern(A, { stixVersion: '2.0' }).match(od);
    expect(result.binding).toEqual([
      { observation: 0, observedDataIndex: 0, observedDataId: 'observed-data--20', objects: ['7'] },
    ]);
  });
});

describe('input shapes', () => {
  it('accepts a mixed array of 2.1 bundles, 2.0 observed-data and loose 2.1 observed-data with SCOs', () => {
    const bundle = a(0);
    const od20 = observed20([{ type: 'x-b', v: 1 }], { first: 1 });
    const loose = observed21([{ type: 'x-c', v: 1 }], { first: 2 });
    const input = [bundle, od20, ...loose.objects]; // loose: the observed-data and its SCO, outside a bundle
    expect(matches(`${A} FOLLOWEDBY ${B} FOLLOWEDBY ${C}`, input)).toBe(true);
    expect(prepareObservations(input).map((o) => o.index)).toEqual([0, 1, 2]);
  });

  it('accepts an empty objects dictionary beside object_refs', () => {
    const bundle = a(0);
    (bundle.observedData as unknown as Record<string, unknown>).objects = {};
    expect(matches(A, bundle)).toBe(true);
  });

  it('an empty input matches nothing', () => {
    expect(matches(A, [])).toBe(false);
    expect(matches(`${A} OR ${B}`, { type: 'bundle', id: 'bundle--e', objects: [] })).toBe(false);
  });
});

describe('input errors', () => {
  const base = () => observed21([{ type: 'x-a', v: 1 }]);
  const mutate = (f: (od: Record<string, unknown>) => void) => {
    const bundle = base();
    f(bundle.observedData as unknown as Record<string, unknown>);
    return bundle;
  };

  it('observed-data with both non-empty objects and object_refs', () => {
    const bad = mutate((od) => (od.objects = { '0': { type: 'x-a', v: 1 } }));
    expect(() => compilePattern(A).match(bad)).toThrow(InputError);
    try {
      compilePattern(A).match(bad);
    } catch (error) {
      expect((error as InputError).code).toBe('objects-and-object-refs');
    }
  });

  it('missing first_observed', () => {
    expect(() => compilePattern(A).match(mutate((od) => delete od.first_observed))).toThrow(InputError);
  });

  it('malformed first_observed', () => {
    expect(() => compilePattern(A).match(mutate((od) => (od.first_observed = 'yesterday')))).toThrow(InputError);
  });

  it('number_observed 0', () => {
    expect(() => compilePattern(A).match(mutate((od) => (od.number_observed = 0)))).toThrow(InputError);
  });

  it('last_observed before first_observed', () => {
    expect(() => compilePattern(A).match(mutate((od) => (od.last_observed = '2000-01-01T00:00:00Z')))).toThrow(
      InputError,
    );
  });

  it('a non-object item', () => {
    expect(() => compilePattern(A).match([a(0), 42])).toThrow(InputError);
  });

  it('InputError carries a diagnostic with the event index', () => {
    try {
      compilePattern(A).match([a(0), mutate((od) => (od.number_observed = 0))]);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).diagnostics[0]).toMatchObject({ severity: 'error', eventIndex: 1 });
    }
  });
});

describe('compiled pattern API', () => {
  it('isSingleObservation', () => {
    expect(compilePattern(A).isSingleObservation).toBe(true);
    expect(compilePattern(`${A} OR ${B}`).isSingleObservation).toBe(false);
    expect(compilePattern(`${A} WITHIN 5 SECONDS`).isSingleObservation).toBe(false);
  });

  it('observations[i].test tests one prepared observed-data', () => {
    const compiled = compilePattern(`${A} AND ${B}`);
    const [pa, pb] = prepareObservations([a(0), b(0)]);
    expect(compiled.observations).toHaveLength(2);
    expect(compiled.observations[0]?.test(pa!)).toBe(true);
    expect(compiled.observations[0]?.test(pb!)).toBe(false);
    expect(compiled.observations[1]?.test(pb!)).toBe(true);
  });
});

describe('combinatorial patterns', () => {
  // 200 observed-data one second apart: no 12 of them fit in 5 seconds.
  const spread = Array.from({ length: 200 }, (_, i) => observed21([{ type: 'a', x: 1 }], { first: i }));

  it('REPEATS 12 TIMES WITHIN 5 SECONDS over 200 spread observed-data: not matched or a typed budget error, never a hang', () => {
    const compiled = compilePattern('[a:x > 0] REPEATS 12 TIMES WITHIN 5 SECONDS');
    let outcome: string;
    try {
      outcome = compiled.match(spread).matched ? 'matched' : 'not-matched';
    } catch (error) {
      expect(error).toBeInstanceOf(MatchError);
      outcome = (error as MatchError).code;
    }
    expect(['not-matched', 'match-budget-exceeded']).toContain(outcome);
  });

  it('a small match budget turns the search into a typed MatchError', () => {
    const compiled = compilePattern('[a:x > 0] REPEATS 12 TIMES WITHIN 5 SECONDS', { matchBudget: 500 });
    expect(() => compiled.match(spread)).toThrow(MatchError);
    try {
      compiled.match(spread);
    } catch (error) {
      expect((error as MatchError).code).toBe('match-budget-exceeded');
    }
  });

  it('still finds a match when 12 do fit', () => {
    const dense = [
      ...spread,
      ...Array.from({ length: 12 }, (_, i) => observed21([{ type: 'a', x: 1 }], { first: 1000 + i * 0.4 })),
    ];
    expect(matches('[a:x > 0] REPEATS 12 TIMES WITHIN 5 SECONDS', dense)).toBe(true);
  });
});

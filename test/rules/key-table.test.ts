import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyTable } from '../../src/rules/key-table.js';

describe('KeyTable', () => {
  it('files and finds ids as a Map of lists would, through every resize', () => {
    const key = fc.oneof(
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: 2 ** 30 - 1 }),
      fc.constantFrom(0, 2 ** 30 - 1, 2 ** 16, 2 ** 17),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(key, fc.nat({ max: 1_000_000 })), { maxLength: 300 }),
        fc.array(key, { maxLength: 50 }),
        (entries, probes) => {
          const table = new KeyTable();
          const model = new Map<number, number[]>();
          for (const [k, id] of entries) {
            table.add(k, id);
            model.set(k, [...(model.get(k) ?? []), id]);
          }
          expect(table.size).toBe(model.size);
          for (const k of [...model.keys(), ...probes]) {
            const got = table.get(k);
            const want = model.get(k);
            expect(got === undefined ? undefined : typeof got === 'number' ? [got] : got).toEqual(want);
          }
        },
      ),
      { seed: 20261124, numRuns: 400 },
    );
  });

  it('refuses keys outside 30 bits', () => {
    const table = new KeyTable();
    expect(() => table.add(2 ** 30, 1)).toThrow(RangeError);
    expect(() => table.add(-1, 1)).toThrow(RangeError);
    expect(() => table.add(1.5, 1)).toThrow(RangeError);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StringPool } from '../../src/util/string-pool.js';

describe('StringPool', () => {
  it('gives back every string as added, across segments, with reads between adds', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 6 }), fc.constant('')),
          { maxLength: 60 },
        ),
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (texts, segmentChars, readsAt) => {
          const pool = new StringPool(segmentChars);
          const positions: number[] = [];
          texts.forEach((text, k) => {
            positions.push(pool.add(text));
            // Reading while adding seals the pending strings early; later adds must not disturb them.
            for (const r of readsAt)
              if (r % texts.length === k) expect(pool.get(positions[r % (k + 1)] as number)).toBe(texts[r % (k + 1)]);
          });
          expect(pool.size).toBe(texts.length);
          expect(positions.map((p) => pool.get(p))).toEqual(texts);
        },
      ),
      { seed: 20261124, numRuns: 500 },
    );
  });

  it('refuses a position it never gave', () => {
    const pool = new StringPool();
    pool.add('a');
    expect(() => pool.get(1)).toThrow(RangeError);
    expect(() => pool.get(-1)).toThrow(RangeError);
  });

  it('holds more strings than its initial capacity', () => {
    const pool = new StringPool(1000);
    const texts = Array.from({ length: 5000 }, (_, i) => `indicator--${i}`);
    texts.forEach((t) => pool.add(t));
    expect(pool.get(4321)).toBe('indicator--4321');
    expect(pool.get(0)).toBe('indicator--0');
  });
});

/**
 * Many LIKE patterns tested at once (src/pattern/like-set.ts: a set, tries, an Aho–Corasick
 * automaton) against the patterns tested one by one (compileLike), on seeded random lists and
 * texts: lists long enough to build the automata, texts made partly of the patterns' own
 * literals so that many match, non-ASCII and astral text, folded and not.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { foldCase } from '../../src/pattern/case-fold.js';
import { compilePattern } from '../../src/pattern/compile.js';
import { AUTOMATON_MIN, compileLikeSet } from '../../src/pattern/like-set.js';
import { compileLike } from '../../src/pattern/regex.js';

const SEED = 1516;

const one = (patterns: readonly string[], text: string): boolean => patterns.some((p) => compileLike(p)(text));

/** Few characters, so that literals share prefixes, suffixes and infixes; some fold, some are astral. */
const char = fc.constantFrom('a', 'b', 'A', '\\', '.', 'e', 'x', 'ß', 'S', '\u212a', 'k', 'é', '🦆', '%', '_');
const piece = fc.array(char, { maxLength: 6 }).map((a) => a.join(''));
const pattern = fc
  .tuple(fc.constantFrom('', '%', '_'), piece, fc.constantFrom('', '%', '_'), piece, fc.constantFrom('', '%', '_'))
  .map((parts) => parts.join(''));
/** Lists of one shape mostly (as Sigma's are), from a few to several dozen. */
const list = fc.oneof(
  fc.array(pattern, { minLength: 1, maxLength: 40 }),
  fc.array(
    piece.map((p) => `%${p}%`),
    { minLength: AUTOMATON_MIN, maxLength: 40 },
  ),
  fc.array(
    piece.map((p) => `%${p}`),
    { minLength: AUTOMATON_MIN, maxLength: 40 },
  ),
  fc.array(
    piece.map((p) => `${p}%`),
    { minLength: AUTOMATON_MIN, maxLength: 40 },
  ),
);

/** A text of random pieces and pieces of the patterns' literals. */
function textFrom(patterns: readonly string[], picks: number[], filler: string[]): string {
  const literals = patterns.map((p) => p.replace(/[%_]/g, ''));
  return picks.map((k, i) => (k % 2 === 0 ? (literals[k % literals.length] ?? '') : (filler[i] ?? ''))).join('');
}

describe('LIKE sets', () => {
  it('match as the patterns one by one (seeded property)', () => {
    fc.assert(
      fc.property(
        list,
        fc.array(fc.nat(1000), { maxLength: 5 }),
        fc.array(piece, { maxLength: 5 }),
        fc.boolean(),
        (patterns, picks, filler, fold) => {
          const source = fold ? patterns.map(foldCase) : patterns;
          const together = compileLikeSet(source);
          const text = textFrom(source, picks, filler);
          for (const t of [text, fold ? foldCase(text) : text, text.slice(1), text.slice(0, -1), ''])
            expect(together(t)).toBe(one(source, t));
        },
      ),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('match as the patterns one by one when the table would be too large (many distinct characters)', () => {
    // 3,000 distinct code units: no automaton, the literals are tested one by one.
    const literals = Array.from({ length: 3000 }, (_, i) => String.fromCharCode(0x4e00 + i));
    const infix = literals.map((l) => `%${l}x%`);
    const suffix = literals.map((l) => `%${l}`);
    const test = compileLikeSet([...infix, ...suffix]);
    for (const text of ['plain ascii', 'a\u4e10xb', 'ends \u4e20', '\u4e20 starts', '']) {
      expect(test(text)).toBe(one([...infix, ...suffix], text));
    }
  });

  it('hold for an empty literal of any shape', () => {
    for (const p of ['%', '%%', '']) {
      const patterns = [p, '%abc', '%abd', '%abe'];
      for (const text of ['', 'x', 'abc']) expect(compileLikeSet(patterns)(text)).toBe(one(patterns, text));
    }
  });

  it('decide a long OR of LIKEs on one path as its comparisons one at a time, case-insensitive', () => {
    fc.assert(
      fc.property(list, fc.array(fc.nat(1000), { maxLength: 5 }), fc.array(piece, { maxLength: 5 }), (ps, picks, f) => {
        const value = textFrom(ps, picks, f);
        const quote = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
        const observed = {
          type: 'observed-data',
          id: 'observed-data--00000000-0000-4000-8000-000000000016',
          first_observed: '2024-01-01T00:00:00Z',
          last_observed: '2024-01-01T00:00:00Z',
          number_observed: 1,
          objects: { 0: { type: 'process', name: value } },
        };
        const options = { caseInsensitive: true };
        const all = compilePattern(`[${ps.map((p) => `process:name LIKE ${quote(p)}`).join(' OR ')}]`, options);
        const each = ps.some(
          (p) => compilePattern(`[process:name LIKE ${quote(p)}]`, options).match([observed]).matched,
        );
        expect(all.match([observed]).matched).toBe(each);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });
});

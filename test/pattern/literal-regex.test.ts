/**
 * MATCHES on a regex that only says "contains / starts with / ends with / is this literal"
 * (src/pattern/regex.ts literalRegexTest) runs as a string test: it must agree with re2js.
 */
import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { literalRegexTest } from '../../src/pattern/regex.js';

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const re2 = (source: string) => {
  const re = RE2JS.compile(source);
  return (text: string): boolean => re.matcher(text).find();
};

describe('literalRegexTest', () => {
  it('takes the literal shapes and refuses the rest', () => {
    expect(literalRegexTest('(?s)^.*______\\.exe$')?.('a______.exe')).toBe(true);
    expect(literalRegexTest('(?s)^.*______\\.exe$')?.('a______.exe\n')).toBe(false);
    expect(literalRegexTest('^ab_c')?.('ab_cd')).toBe(true);
    expect(literalRegexTest('ab_c$')?.('xab_c')).toBe(true);
    expect(literalRegexTest('^ab$')?.('ab')).toBe(true);
    expect(literalRegexTest('a_b')?.('xa_by')).toBe(true);
    expect(literalRegexTest('ab\\$')?.('xab$y')).toBe(true);
    for (const refused of ['^.*ab$', 'a.b', 'ab+', '[ab]', '(?i)ab', 'a|b', '\\d', '\\\\$', '(?s)^.*', '', 'é'])
      expect(literalRegexTest(refused), refused).toBeUndefined();
  });

  it('agrees with re2js on random literal regexes and strings (seeded)', () => {
    const random = seeded(15);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
    const atoms = ['a', 'B', '_', '-', ' ', '\\.', '\\\\', '\\$', '\\*', '.', '*', '$', '^', '\\d'];
    const chars = ['a', 'B', 'b', '_', '-', ' ', '.', '\\', '$', '*', '^', '\n', '1'];
    let taken = 0;
    for (let round = 0; round < 2000; round++) {
      const body = Array.from({ length: Math.floor(random() * 5) }, () => pick(atoms)).join('');
      const source = `${pick(['', '(?s)'])}${pick(['', '^', '^.*'])}${body}${pick(['', '$', '.*$'])}`;
      const fast = literalRegexTest(source);
      if (fast === undefined) continue;
      taken++;
      const slow = re2(source);
      for (let k = 0; k < 20; k++) {
        const text = Array.from({ length: Math.floor(random() * 7) }, () => pick(chars)).join('');
        expect(fast(text), `${JSON.stringify(source)} on ${JSON.stringify(text)}`).toBe(slow(text));
      }
    }
    expect(taken).toBeGreaterThan(100);
  });
});

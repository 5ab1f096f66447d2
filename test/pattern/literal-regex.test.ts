/**
 * MATCHES on a regex that only says "contains / starts with / ends with / is this literal"
 * (src/pattern/regex.ts literalRegexTest) runs as a string test: it must agree with re2js.
 */
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { literalRegexTest } from '../../src/pattern/regex.js';

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
    expect(literalRegexTest('(?i)(?s)^.*\\\\Powershell_ISE\\.exe$')?.('C:\\x\\powershell_ise.EXE')).toBe(true);
    expect(literalRegexTest('(?i)^ab$')?.('AB')).toBe(true);
    expect(literalRegexTest('(?i)sk')?.('x\u017f\u212ay')).toBe(true);
    expect(literalRegexTest('(?i)ab')?.('xa\u0412')).toBe(false);
    for (const refused of [
      '^.*ab$',
      'a.b',
      'ab+',
      '[ab]',
      '(?m)ab',
      '(?i-s)ab',
      'a|b',
      '\\d',
      '\\\\$',
      '(?s)^.*',
      '',
      'é',
    ])
      expect(literalRegexTest(refused), refused).toBeUndefined();
  });

  it('agrees with re2js on random literal regexes and strings (seeded)', () => {
    const atoms = ['a', 'B', 'k', 'S', '_', '-', ' ', '\\.', '\\\\', '\\$', '\\*', '.', '*', '$', '^', '\\d'];
    // With the non-ASCII members of k's and s's case orbits, and look-alikes that are not in them.
    const chars = [
      'a',
      'A',
      'B',
      'b',
      'k',
      'K',
      's',
      'S',
      '\u212a',
      '\u017f',
      '\u0130',
      '\u0131',
      '_',
      '-',
      ' ',
      '.',
      '\\',
      '$',
      '*',
      '^',
      '\n',
      '1',
    ];
    const source = fc
      .tuple(
        fc.constantFrom('', '(?s)', '(?i)', '(?i)(?s)', '(?s)(?i)', '(?is)'),
        fc.constantFrom('', '^', '^.*'),
        fc.array(fc.constantFrom(...atoms), { maxLength: 4 }),
        fc.constantFrom('', '$', '.*$'),
      )
      .map(([flags, start, body, end]) => `${flags}${start}${body.join('')}${end}`);
    const texts = fc.array(
      fc.array(fc.constantFrom(...chars), { maxLength: 6 }).map((t) => t.join('')),
      { minLength: 20, maxLength: 20 },
    );
    let taken = 0;
    fc.assert(
      fc.property(source, texts, (regex, samples) => {
        const fast = literalRegexTest(regex);
        if (fast === undefined) return;
        taken++;
        const slow = re2(regex);
        for (const text of samples)
          expect(fast(text), `${JSON.stringify(regex)} on ${JSON.stringify(text)}`).toBe(slow(text));
      }),
      { seed: 15, numRuns: 2000 },
    );
    expect(taken).toBeGreaterThan(100);
  });
});

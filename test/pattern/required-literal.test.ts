/**
 * A regex that re2js runs is first ruled out by a string search for the literal every match
 * holds (src/pattern/regex.ts requiredLiteral): compileRegex must agree with re2js alone.
 */
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { compileRegex, requiredLiteral } from '../../src/pattern/regex.js';
import { regexArbitrary } from './regex-arbitrary.js';

const re2 = (source: string) => {
  const re = RE2JS.compile(source);
  return (text: string): boolean => re.matcher(text).find();
};

describe('requiredLiteral', () => {
  it('finds the literal every match holds, of any length, and says when it holds only up to case', () => {
    expect(requiredLiteral('\\w+`(?:\\w+|-|.)`[\\w+|\\s]')).toEqual({ literal: '`', caseInsensitive: false });
    expect(requiredLiteral('"(?:\\{\\d\\})+"\\s*-f')).toEqual({ literal: '-f', caseInsensitive: false });
    expect(requiredLiteral('(?i)\\$\\{`?e')).toEqual({ literal: '${', caseInsensitive: true });
    // Under (?i), a literal without letters is searched for as it is; one with letters is not.
    const folded = compileRegex('(?i)\\$\\{`?e');
    expect(folded.ok && folded.regex.test('x${E')).toBe(true);
    expect(folded.ok && folded.regex.test('x$E')).toBe(false);
    const kelvin = compileRegex('(?i)k1\\d');
    expect(kelvin.ok && kelvin.regex.test('\u212a12')).toBe(true);
    expect(requiredLiteral('ab?c')).toEqual({ literal: 'a', caseInsensitive: false });
    for (const none of ['a|b', '\\d+', '[ab]', '(ab)', 'a?', 'x(?-i)y'])
      expect(requiredLiteral(none), none).toBeUndefined();
  });

  it('compileRegex with the literal search agrees with re2js on random regexes and strings (seeded)', () => {
    const atoms = [
      'a',
      'b',
      'K',
      '1',
      '\\$\\{',
      '`',
      '"',
      '-',
      '\\.',
      '.',
      '\\d',
      '\\w',
      '[ab]',
      '(a|b)',
      '(?:ab)',
      'é',
      '😀',
    ];
    const source = fc
      .tuple(
        fc.constantFrom('', '(?s)', '(?i)', '^'),
        regexArbitrary(atoms, ['', '', '', '?', '*', '+', '{2}', '{0,2}'], 5),
        fc.constantFrom('', '', '|b', '$'),
      )
      .map(([flags, body, end]) => flags + body + end);
    const texts = fc.array(
      fc
        .array(fc.constantFrom('a', 'b', 'A', 'k', '\u212a', '${', '`', '"', '-', '.', '1', 'é', '😀', '\n'), {
          maxLength: 8,
        })
        .map((t) => t.join('')),
      { minLength: 20, maxLength: 20 },
    );
    let filtered = 0;
    fc.assert(
      fc.property(source, texts, (regex, samples) => {
        let slow: (text: string) => boolean;
        try {
          slow = re2(regex);
        } catch {
          return;
        }
        const compiled = compileRegex(regex);
        if (!compiled.ok) throw new Error(`${regex}: ${compiled.message}`);
        const needed = requiredLiteral(regex);
        if (needed !== undefined && (!needed.caseInsensitive || !/[a-z]/i.test(needed.literal))) filtered++;
        for (const text of samples)
          expect(compiled.regex.test(text), `${JSON.stringify(regex)} on ${JSON.stringify(text)}`).toBe(slow(text));
      }),
      { seed: 1515, numRuns: 2000 },
    );
    expect(filtered).toBeGreaterThan(500);
  });
});

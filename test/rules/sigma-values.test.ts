/** Sigma strings: escapes, and wildcard → LIKE/MATCHES agreeing with a direct wildcard matcher (seeded). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileLike, compileRegex } from '../../src/pattern/regex.js';
import {
  base64Offsets,
  parseSigmaString,
  sigmaStringMatches,
  stringTest,
  utf8Bytes,
  windashAlternatives,
} from '../../src/rules/sigma/values.js';

describe('Sigma strings', () => {
  it('reads wildcards and escapes as pySigma does', () => {
    expect(parseSigmaString('a*b?c')).toEqual([
      { text: 'a' },
      { wildcard: '*' },
      { text: 'b' },
      { wildcard: '?' },
      { text: 'c' },
    ]);
    expect(parseSigmaString('a\\*b')).toEqual([{ text: 'a*b' }]);
    expect(parseSigmaString('a\\?b')).toEqual([{ text: 'a?b' }]);
    expect(parseSigmaString('C:\\Windows\\\\*')).toEqual([{ text: 'C:\\Windows\\' }, { wildcard: '*' }]);
    expect(parseSigmaString('C:\\Windows\\x')).toEqual([{ text: 'C:\\Windows\\x' }]);
    expect(parseSigmaString('trailing\\')).toEqual([{ text: 'trailing\\' }]);
  });

  it('base64offset gives the three encodings of pySigma', () => {
    // The values the Sigma specification lists for `http://`.
    expect(base64Offsets(utf8Bytes('http://'))).toEqual(['aHR0cDovL', 'h0dHA6Ly', 'odHRwOi8v']);
  });

  it('windash expands option dashes only', () => {
    const texts = (value: string): string[] =>
      (windashAlternatives(parseSigmaString(value)) ?? []).map((a) =>
        a.map((p) => ('text' in p ? p.text : p.wildcard)).join(''),
      );
    expect(texts(' -a x-y')).toEqual([' -a x-y', ' /a x-y', ' \u2013a x-y', ' \u2014a x-y', ' \u2015a x-y']);
    expect(texts('-a -b')).toHaveLength(25);
    expect(windashAlternatives(parseSigmaString('-a -b -c -d -e'))).toBeUndefined();
  });

  it('compiles to the operator that says it: =, LIKE, or MATCHES for literal % and _', () => {
    expect(stringTest(parseSigmaString('abc'))).toEqual({ operator: '=', value: 'abc' });
    expect(stringTest(parseSigmaString('a*b?'))).toEqual({ operator: 'LIKE', value: 'a%b_' });
    expect(stringTest(parseSigmaString('50%*'))).toEqual({ operator: 'MATCHES', value: '(?s)^50%.*$' });
  });

  it('wildcard values agree with a direct wildcard matcher on the engine (property, seeded)', () => {
    const alphabet = fc.constantFrom('a', 'b', '%', '_', '.', '\\', '*', '?', '(', '\n');
    const word = fc.array(alphabet, { maxLength: 8 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(word, word, (sigma, text) => {
        const value = parseSigmaString(sigma);
        const test = stringTest(value);
        let engine: boolean;
        if (test.operator === '=') engine = text === test.value;
        else if (test.operator === 'LIKE') engine = compileLike(test.value)(text);
        else {
          const regex = compileRegex(test.value);
          if (!regex.ok) throw new Error(regex.message);
          engine = regex.regex.test(text);
        }
        expect(engine).toBe(sigmaStringMatches(value, text, false));
      }),
      { seed: 15, numRuns: 3000 },
    );
  });
});

/**
 * OR-ed LIKEs on one path (a Sigma contains/startswith/endswith list) are evaluated as one
 * predicate that walks the path and prepares each value once (src/pattern/evaluate.ts,
 * likeGroup). Checked against the comparisons evaluated one at a time, on seeded random
 * strings and patterns, case-sensitive and not, on a single value and on a list.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePattern, type CompileOptions } from '../../src/pattern/compile.js';
import { MAX_SEARCHED_LENGTH } from '../../src/pattern/evaluate.js';

const SEED = 1515;

function observed(object: Record<string, unknown>): unknown {
  return {
    type: 'observed-data',
    id: 'observed-data--00000000-0000-4000-8000-000000000015',
    first_observed: '2024-01-01T00:00:00Z',
    last_observed: '2024-01-01T00:00:00Z',
    number_observed: 1,
    objects: { 0: { type: 'process', ...object } },
  };
}

const quote = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function run(pattern: string, object: Record<string, unknown>, options: CompileOptions) {
  const { matched, valuesCut } = compilePattern(pattern, options).match([observed(object)]);
  return { matched, valuesCut: valuesCut ?? 0 };
}

/** Characters that exercise folding (K, ß, İ), NFC (e + combining acute, é), wildcards and astral text. */
const alphabet = fc.constantFrom(
  'a',
  'A',
  'b',
  'K',
  'k',
  '\u212a',
  'ß',
  'S',
  's',
  'İ',
  'i',
  'e',
  '\u0301',
  'é',
  '🦆',
  ' ',
  '\\',
);
const text = fc.array(alphabet, { maxLength: 8 }).map((a) => a.join(''));
const likePattern = fc
  .tuple(fc.constantFrom('', '%', '_'), text, fc.constantFrom('', '%', '_', '%_'), text, fc.constantFrom('', '%'))
  .map((parts) => parts.join(''));

describe('OR-ed LIKEs on one path', () => {
  it('match as the comparisons one at a time (seeded property)', () => {
    fc.assert(
      fc.property(
        fc.array(likePattern, { minLength: 1, maxLength: 6 }),
        text,
        fc.array(text, { maxLength: 3 }),
        fc.boolean(),
        (patterns, value, list, folded) => {
          const options: CompileOptions = folded ? { caseInsensitive: true } : {};
          const object = { name: value, arguments: list };
          for (const path of ['process:name', 'process:arguments[*]']) {
            const all = patterns.map((p) => `${path} LIKE ${quote(p)}`).join(' OR ');
            const one = patterns.some((p) => run(`[${path} LIKE ${quote(p)}]`, object, options).matched);
            expect(run(`[${all}]`, object, options).matched).toBe(one);
          }
          // Mixed with comparisons on another path and of another operator, which end a run.
          const mixed = patterns
            .map((p, i) => (i % 2 ? `process:name LIKE ${quote(p)}` : `process:arguments[*] LIKE ${quote(p)}`))
            .concat([`process:name = ${quote(value)}`])
            .join(' OR ');
          expect(run(`[${mixed}]`, object, options).matched).toBe(true);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('count a cut value once per pattern tested on it, as the comparisons one at a time', () => {
    const long = `${'x'.repeat(MAX_SEARCHED_LENGTH)}evil`;
    const patterns = ["'%a%'", "'%b%'", "'x%'", "'%c'"];
    const all = `[${patterns.map((p) => `process:command_line LIKE ${p}`).join(' OR ')}]`;
    // '%a%' and '%b%' fail, 'x%' holds: three comparisons saw the cut value.
    expect(run(all, { command_line: long }, {})).toEqual({ matched: true, valuesCut: 3 });
    expect(run(all, { command_line: long }, { caseInsensitive: true })).toEqual({ matched: true, valuesCut: 3 });
    expect(
      run("[process:command_line LIKE '%evil' OR process:command_line LIKE '%evil%']", { command_line: long }, {}),
    ).toEqual({ matched: false, valuesCut: 2 });
  });

  it('match binary data as bytes, only with patterns that are all bytes', () => {
    const object = { x_data_bin: 'aGVsbG8=' }; // "hello"
    expect(run("[process:x_data_bin LIKE '%🦆%' OR process:x_data_bin LIKE 'he%']", object, {}).matched).toBe(true);
    expect(run("[process:x_data_bin LIKE '%🦆%' OR process:x_data_bin LIKE '%zz%']", object, {}).matched).toBe(false);
  });
});

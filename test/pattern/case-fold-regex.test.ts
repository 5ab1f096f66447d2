/**
 * The case-insensitive MATCHES fast path (src/pattern/case-fold.ts foldedRegexSource): a
 * lower-cased pattern run on the folded value must match exactly when `(?i)` does.
 */
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { foldCase, foldedRegexSource } from '../../src/pattern/case-fold.js';
import { compilePattern } from '../../src/pattern/compile.js';

const SEED = 1815;

/** Single characters both patterns and subjects use: letters of both cases, digits, punctuation around the letters. */
const CHARACTERS = [...'aAkKsSzZiI09_ @[`-'];

/** Pattern pieces: those characters, classes and ranges, escapes, groups, anchors, quantifiers. */
const PIECES = [
  ...CHARACTERS,
  ...['.', '!', '{', '[a-f]', '[A-F]', '[^a-z]', '[^A-Z]', '[A-Za-z]', '[0-9]', '[!-/]', '[ -~]', '[@-Z]', '[A-z]'],
  ...['[]a]', '[^]A]', '[a-]', '[-Z]', '[\\]A]', '[\\!-Z]', '\\d', '\\D', '\\w', '\\W', '\\s', '\\S', '\\b'],
  ...['\\B', '\\.', '\\x41', '\\pL', '\\p{Lu}', '\\QAb\\E', '(?:Ab)', '(?i)a', '(?-i:A)', '(A|b)', '^', '$'],
  ...['*', '+', '?', '{2}', '{1,2}'],
];

const pattern = fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 6 }).map((p) => p.join(''));
/** Subjects add the characters whose folds are special (ß, KELVIN SIGN, LONG S, İ, ı, É). */
const subject = fc
  .array(fc.constantFrom(...CHARACTERS, 'ß', '\u212a', 'ſ', 'İ', 'ı', 'É', 'é'), { maxLength: 8 })
  .map((c) => c.join(''));

function compiles(source: string): RE2JS | undefined {
  try {
    return RE2JS.compile(source);
  } catch {
    return undefined;
  }
}

describe('case-insensitive MATCHES on folded values', () => {
  it('a lower-cased pattern finds what (?i) finds, on every folded subject (seeded)', () => {
    let rewritten = 0;
    fc.assert(
      fc.property(pattern, fc.array(subject, { minLength: 1, maxLength: 8 }), (source, subjects) => {
        const insensitive = compiles(`(?i)${source}`);
        if (insensitive === undefined) return;
        const lowered = foldedRegexSource(source);
        if (lowered === undefined) return;
        rewritten++;
        const plain = compiles(lowered);
        expect(plain, lowered).toBeDefined();
        for (const s of subjects) {
          const folded = foldCase(s);
          expect(plain!.matcher(folded).find(), `${source} → ${lowered} on ${JSON.stringify(s)}`).toBe(
            insensitive.matcher(folded).find(),
          );
        }
      }),
      { seed: SEED, numRuns: 3000 },
    );
    // Most of the generated patterns take the fast path, so the property says something.
    expect(rewritten).toBeGreaterThan(1000);
  });

  it('keeps (?i) for what it cannot vouch for', () => {
    for (const source of [
      '\\x41',
      '\\p{Lu}',
      '\\QAb\\E',
      '(?i)a',
      '(?-i:A)',
      '[@-Z]',
      '[A-z]',
      '[\\!-Z]',
      'straße',
      '[[:upper:]]',
    ])
      expect(foldedRegexSource(source), source).toBeUndefined();
    expect(foldedRegexSource('^PowerShell[.]EXE -[A-Z]+ \\d{2}$')).toBe('^powershell[.]exe -[a-z]+ \\d{2}$');
    expect(foldedRegexSource('[^]A-F]\\W\\S')).toBe('[^]a-f]\\W\\S');
  });

  it('through a compiled pattern: strings fold, binary data keeps the (?i) match', () => {
    const match = (p: string, object: Record<string, unknown>): boolean =>
      compilePattern(p, { stixVersion: '2.0', caseInsensitive: true }).match([
        {
          type: 'observed-data',
          first_observed: '2026-01-01T00:00:00Z',
          last_observed: '2026-01-01T00:00:00Z',
          number_observed: 1,
          objects: { '0': object },
        },
      ]).matched;
    expect(match("[process:name MATCHES '^POWER[A-Z]+\\\\.exe$']", { type: 'process', name: 'powershell.EXE' })).toBe(
      true,
    );
    expect(match("[process:name MATCHES '^power\\\\w+$']", { type: 'process', name: 'PowerShelL' })).toBe(true);
    expect(match("[process:name MATCHES '^cmd$']", { type: 'process', name: 'CMD.EXE' })).toBe(false);
    // artifact:payload_bin is binary: its bytes are matched by the (?i) regex, unfolded.
    expect(
      match("[artifact:payload_bin MATCHES '^mz']", {
        type: 'artifact',
        payload_bin: Buffer.from('MZ\x90').toString('base64'),
      }),
    ).toBe(true);
  });
});

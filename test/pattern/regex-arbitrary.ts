/** Random regexes for the property tests of what a regex's literal says about its matches. */
import fc from 'fast-check';

/** Regexes of 1 to `maxLength` atoms, each with one of the quantifiers (list '' for none, more times to weight it). */
export function regexArbitrary(
  atoms: readonly string[],
  quantifiers: readonly string[],
  maxLength: number,
): fc.Arbitrary<string> {
  return fc
    .array(
      fc.tuple(fc.constantFrom(...atoms), fc.constantFrom(...quantifiers)).map(([a, q]) => a + q),
      { minLength: 1, maxLength },
    )
    .map((parts) => parts.join(''));
}

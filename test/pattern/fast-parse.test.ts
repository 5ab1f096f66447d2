/**
 * The fast path for `[type:path = 'value']` must give exactly the AST of the ANTLR path (spans
 * included), and give up on whatever it does not read exactly as ANTLR would.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSimpleEquality } from '../../src/pattern/fast-parse.js';
import { parsePattern, parseWithAntlr } from '../../src/pattern/parse.js';

const identifier = fc.oneof(
  fc.constantFrom(
    'ipv4-addr',
    'file',
    'hashes',
    'value',
    'x_custom',
    'name',
    '_a',
    'a1',
    'x-',
    'AND',
    'IN',
    'true',
    'false',
    'LIKEx',
    'START',
    'Stop',
    't',
    'h',
    'b',
  ),
  fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,8}$/),
);
const plainUnit = fc.constantFrom('a', 'Z', '-', ' ', '.', 'é', '\u00a0', '/', ':', '[', ']', '=');
const oddUnit = fc.constantFrom("'", '\\', '\u{1F600}', '\n');
const quoted = fc
  .string({ unit: fc.oneof({ arbitrary: plainUnit, weight: 12 }, { arbitrary: oddUnit, weight: 1 }), maxLength: 6 })
  .map((s) => `'${s}'`);
const key = fc.oneof(identifier, quoted);
const space = fc.oneof(
  { arbitrary: fc.constantFrom('', ' ', '  '), weight: 10 },
  { arbitrary: fc.constantFrom('\t', '\n', '/* c */'), weight: 1 },
);
const operator = fc.oneof(
  { arbitrary: fc.constant('='), weight: 8 },
  { arbitrary: fc.constant('ISSUBSET'), weight: 4 },
  { arbitrary: fc.constantFrom('==', '!=', 'LIKE', 'ISSUPERSET', 'issubset'), weight: 1 },
);
const literal = fc.oneof(
  { arbitrary: quoted, weight: 10 },
  { arbitrary: fc.constantFrom("'10.0.0.0/8'", "'2001:db8::/32'"), weight: 3 },
  { arbitrary: fc.constantFrom("t'2020-01-01T00:00:00Z'", "h'ab'", '5', 'true'), weight: 1 },
);

const candidate = fc
  .tuple(space, identifier, fc.array(key, { minLength: 1, maxLength: 3 }), space, operator, space, literal, space)
  .map(
    ([s1, type, keys, s2, op, s3, value, s4]) =>
      `${s1}[${s1}${type}:${keys.join('.')}${s2}${op}${s3}${value}${s4}]${s4}`,
  );

describe('parseSimpleEquality', () => {
  it('gives the AST of the ANTLR parser, or nothing', () => {
    let fast = 0;
    fc.assert(
      fc.property(candidate, (text) => {
        const simple = parseSimpleEquality(text);
        const full = parseWithAntlr(text);
        if (simple === undefined) return;
        fast++;
        expect(full.diagnostics).toEqual([]);
        expect(simple).toEqual(full.ast);
      }),
      { seed: 20261124, numRuns: 4000 },
    );
    // The fast path is taken often enough for the comparison to mean something.
    expect(fast).toBeGreaterThan(300);
  });

  it('takes the indicator shapes of real feeds', () => {
    for (const text of [
      "[ipv4-addr:value = '198.51.100.7']",
      "[file:hashes.'SHA-256' = 'ab']",
      "[domain-name:value = 'évil.example']",
      " [url:value='http://x/a?b=c'] ",
      "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
      "[network-traffic:dst_ref.value ISSUBSET'10.0.0.0/8']",
    ]) {
      expect(parseSimpleEquality(text), text).toEqual(parseWithAntlr(text).ast);
    }
  });

  it('leaves everything else to ANTLR, so its diagnostics are unchanged', () => {
    for (const text of [
      "[ipv4-addr:valueISSUBSET '10.0.0.0/8']",
      "[file:name = 'a\\'b']",
      "[file:name = 'a' AND file:size = 1]",
      "[file:name = 'a'] OR [file:name = 'b']",
      "[file:name\t= 'a']",
      "[IN:name = 'a']",
      "[file:true = 'a']",
      "[file:name = 'a']]",
    ]) {
      expect(parseSimpleEquality(text), text).toBeUndefined();
    }
    expect(parsePattern("[file:name = 'a' AND]")).toEqual(parseWithAntlr("[file:name = 'a' AND]"));
  });
});

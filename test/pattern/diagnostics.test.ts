/**
 * Syntax and semantic errors: every error a pattern has, each with its code and position.
 */
import { describe, expect, it } from 'vitest';
import { PatternError, StixflowError, type Diagnostic } from '../../src/errors.js';
import { checkPattern, compilePattern } from '../../src/pattern/compile.js';
import { PatternDiagnosticCode as Code } from '../../src/pattern/diagnostics.js';

function errors(pattern: string, stixVersion: '2.0' | '2.1' = '2.1'): Diagnostic[] {
  const result = checkPattern(pattern, { stixVersion });
  const errs = result.diagnostics.filter((d) => d.severity === 'error');
  // a pattern with errors never compiles; one without always does
  expect(result.pattern === undefined).toBe(errs.length > 0);
  return errs;
}

function codes(pattern: string, stixVersion: '2.0' | '2.1' = '2.1'): string[] {
  return errors(pattern, stixVersion).map((d) => d.code);
}

const MD5 = 'a'.repeat(32);
const SHA256 = 'b'.repeat(64);

describe('syntax errors', () => {
  it('report line, 1-based column, the offending token and what was expected', () => {
    const [d, ...rest] = errors('[x:a = ]');
    expect(rest).toEqual([]);
    expect(d).toMatchObject({
      severity: 'error',
      code: Code.syntax,
      line: 1,
      column: 8,
      offset: 7,
      offendingToken: ']',
    });
    expect(d?.expected).toEqual(
      expect.arrayContaining(['StringLiteral', 'IntPosLiteral', 'BoolLiteral', 'TimestampLiteral']),
    );
  });

  it('point into the right line of a multi-line pattern', () => {
    const text = '[x:a = 1]\n  AND [x:b = ]';
    const [d] = errors(text);
    expect(d).toMatchObject({ code: Code.syntax, line: 2, column: 14, offendingToken: ']' });
    expect(text.slice(d!.offset!, d!.offset! + d!.length!)).toBe(']');
  });

  it('on line 3 after a comment-free blank line', () => {
    const [d] = errors("[x:a = 1]\n  AND\n[x:b == 'c' OR]");
    expect(d).toMatchObject({ line: 3, column: 15, offendingToken: ']' });
  });

  it('a missing closing bracket is reported at end of input', () => {
    const [d] = errors('[x:a = 1');
    expect(d).toMatchObject({ code: Code.syntax, line: 1, column: 9, offendingToken: '<EOF>' });
    expect(d?.expected).toContain("']'");
  });

  it('a pattern without brackets', () => {
    const [d] = errors('x:a = 1');
    expect(d).toMatchObject({ code: Code.syntax, line: 1, column: 1, offendingToken: 'x' });
    expect(d?.expected).toEqual(expect.arrayContaining(["'['", "'('"]));
  });

  it('an empty pattern', () => {
    expect(codes('')).toEqual([Code.syntax]);
    expect(codes('   ')).toEqual([Code.syntax]);
  });

  it('a negative WITHIN is a syntax error', () => {
    const [d] = errors('[x:a = 1] WITHIN -1 SECONDS');
    expect(d).toMatchObject({ code: Code.syntax, offendingToken: '-1', column: 18 });
  });

  it('compilePattern throws a PatternError carrying the diagnostics', () => {
    try {
      compilePattern('[x:a = 1]\n  AND [x:b = ]');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(PatternError);
      expect(error).toBeInstanceOf(StixflowError);
      const e = error as PatternError;
      expect(e.code).toBe(Code.syntax);
      expect(e.diagnostics).toHaveLength(1);
      expect(e.message).toContain('2:14');
    }
  });
});

describe('keywords are upper case only; null is not a literal', () => {
  it.each([
    '[x:a = 1] and [x:b = 2]',
    '[x:a = 1] Or [x:b = 2]',
    '[x:a = 1] followedby [x:b = 2]',
    '[x:a = 1] within 5 seconds',
    '[x:a = 1] WITHIN 5 seconds',
    '[x:a = 1] repeats 2 times',
    "[x:a like 'a']",
    "[x:a matches 'a']",
    '[x:a in (1, 2)]',
    '[x:a not = 1]',
    '[exists x:a]',
    "[x:a issubset '10.0.0.0/8']",
    '[x:a = 1 and x:b = 2]',
    '[x:a = TRUE]',
    '[x:a = null]',
    '[x:a = NULL]',
    '[x:a = None]',
  ])('%s is a syntax error', (pattern) => {
    const errs = errors(pattern);
    expect(errs.length).toBeGreaterThanOrEqual(1);
    expect(errs[0]?.code).toBe(Code.syntax);
    expect(errs[0]?.line).toBe(1);
    expect(errs[0]?.column).toBeGreaterThanOrEqual(1);
  });

  it('the upper-case forms compile', () => {
    for (const pattern of [
      '[x:a = 1] AND [x:b = 2]',
      '[x:a = 1] WITHIN 5 SECONDS',
      "[x:a LIKE 'a']",
      '[EXISTS x:a]',
      '[x:a NOT IN (1, 2)]',
      '[x:a = true]',
    ]) {
      expect(codes(pattern), pattern).toEqual([]);
    }
  });

  it('the key `null` is still a path step', () => {
    expect(codes("[x:null = 'a']")).toEqual([]);
  });
});

describe('qualifiers', () => {
  it('the same qualifier twice on one observation expression is an error in 2.1', () => {
    const [d] = errors('[x:a = 1] WITHIN 5 SECONDS WITHIN 6 SECONDS');
    expect(d).toMatchObject({ code: Code.qualifierRepeated, line: 1, column: 28 });
    expect(d?.message).toContain('WITHIN');
    expect(codes('[x:a = 1] REPEATS 2 TIMES REPEATS 3 TIMES')).toEqual([Code.qualifierRepeated]);
    const ss = "START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z'";
    expect(codes(`[x:a = 1] ${ss} ${ss}`)).toEqual([Code.qualifierRepeated]);
  });

  it('is allowed in 2.0 mode', () => {
    expect(codes('[x:a = 1] WITHIN 5 SECONDS WITHIN 6 SECONDS', '2.0')).toEqual([]);
    expect(codes('[x:a = 1] REPEATS 2 TIMES REPEATS 3 TIMES', '2.0')).toEqual([]);
  });

  it('is allowed on a parenthesised group', () => {
    expect(codes('([x:a = 1]) WITHIN 5 SECONDS WITHIN 6 SECONDS')).toEqual([]);
    expect(codes('([x:a = 1] AND [x:b = 1]) REPEATS 2 TIMES REPEATS 3 TIMES')).toEqual([]);
  });

  it('different qualifiers on one observation expression are fine', () => {
    expect(codes('[x:a = 1] REPEATS 2 TIMES WITHIN 5 SECONDS')).toEqual([]);
    expect(codes("[x:a = 1] WITHIN 5 SECONDS START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z'")).toEqual([]);
  });

  it('START not before STOP', () => {
    expect(codes("[x:a = 1] START t'2021-01-01T00:00:00Z' STOP t'2020-01-01T00:00:00Z'")).toEqual([
      Code.startNotBeforeStop,
    ]);
    expect(codes("[x:a = 1] START t'2020-01-01T00:00:00Z' STOP t'2020-01-01T00:00:00Z'")).toEqual([
      Code.startNotBeforeStop,
    ]);
    expect(codes("[x:a = 1] START t'2020-01-01T00:00:00Z' STOP t'2020-01-01T00:00:00.001Z'")).toEqual([]);
  });

  it('START/STOP with plain strings needs timestamps in 2.1, not in 2.0', () => {
    const p = "[x:a = 1] START '2020-01-01T00:00:00Z' STOP '2021-01-01T00:00:00Z'";
    expect(codes(p)).toEqual([Code.startStopString, Code.startStopString]);
    expect(codes(p, '2.0')).toEqual([]);
  });

  it('REPEATS 0', () => {
    const [d] = errors('[x:a = 1] REPEATS 0 TIMES');
    expect(d).toMatchObject({ code: Code.repeatsZero, line: 1, column: 19 });
  });

  it('WITHIN 0', () => {
    expect(errors('[x:a = 1] WITHIN 0 SECONDS')[0]).toMatchObject({ code: Code.withinZero, line: 1, column: 18 });
    expect(codes('[x:a = 1] WITHIN 0.0 SECONDS')).toEqual([Code.withinZero]);
    expect(codes('[x:a = 1] WITHIN 0.5 SECONDS')).toEqual([]);
  });
});

describe('literals', () => {
  it.each([
    ['month 13', "t'2020-13-01T00:00:00Z'"],
    ['month 00', "t'2020-00-01T00:00:00Z'"],
    ['day 32', "t'2020-01-32T00:00:00Z'"],
    ['hour 24', "t'2020-01-01T24:00:00Z'"],
    ['minute 60', "t'2020-01-01T00:60:00Z'"],
    ['lowercase z', "t'2020-01-01T00:00:00z'"],
    ['lowercase t', "t'2020-01-01t00:00:00Z'"],
    ['missing Z', "t'2020-01-01T00:00:00'"],
    ['an offset instead of Z', "t'2020-01-01T00:00:00+00:00'"],
    ['no seconds', "t'2020-01-01T00:00Z'"],
    ['empty fraction', "t'2020-01-01T00:00:00.Z'"],
    ['a date only', "t'2020-01-01'"],
  ])('bad timestamp literal: %s', (_name, literal) => {
    const [d, ...rest] = errors(`[x:a = ${literal}]`);
    expect(rest).toEqual([]);
    expect(d).toMatchObject({ code: Code.badTimestamp, line: 1, column: 8 });
  });

  it('good timestamp literals', () => {
    for (const t of [
      '2020-01-01T00:00:00Z',
      '2020-12-31T23:59:59.999999Z',
      '2020-01-01T00:00:00.1Z',
      '2016-12-31T23:59:60Z',
    ]) {
      expect(codes(`[x:a = t'${t}']`), t).toEqual([]);
    }
  });

  it.each([["b'QUJ'"], ["b'QUJDRA'"], ["b'Q*JD'"], ["b'QU=D'"]])('bad base64 %s', (literal) => {
    expect(errors(`[x:a = ${literal}]`)[0]).toMatchObject({ code: Code.badBase64, column: 8 });
  });

  it('good base64', () => {
    expect(codes("[x:a = b'QUJD']")).toEqual([]);
    expect(codes("[x:a = b'QUI=']")).toEqual([]);
    expect(codes("[x:a = b'QQ==']")).toEqual([]);
    expect(codes("[x:a = b'']")).toEqual([]);
  });

  it.each([["h'abc'"], ["h'zz'"], ["h'0x10'"], ["h'a b'"]])('bad hex %s', (literal) => {
    expect(errors(`[x:a = ${literal}]`)[0]).toMatchObject({ code: Code.badHex, column: 8 });
  });

  it('good hex', () => {
    expect(codes("[x:a = h'00ff']")).toEqual([]);
    expect(codes("[x:a = h'ABcd']")).toEqual([]);
  });

  it('bad string escape, pointing at the backslash', () => {
    const [d] = errors(String.raw`[x:a = 'a\nb']`);
    expect(d).toMatchObject({ code: Code.badString, line: 1, column: 10, length: 2 });
    expect(codes(String.raw`[x:a LIKE 'a\%']`)).toEqual([Code.badString]);
    expect(codes(String.raw`[x:a = 'a\"b']`)).toEqual([Code.badString]);
    expect(codes(String.raw`[x:a = 'a\\b\'c']`)).toEqual([]);
  });

  it('an integer that does not compare exactly', () => {
    expect(codes('[x:a = 99999999999999999999]')).toEqual([Code.badNumber]);
    expect(codes('[x:a = 9007199254740991]')).toEqual([]);
  });
});

describe('regular expressions', () => {
  it('an invalid regex', () => {
    const [d] = errors("[x:a MATCHES '(']");
    expect(d).toMatchObject({ code: Code.badRegex, line: 1, column: 2 });
    expect(codes("[x:a MATCHES '[a-']")).toEqual([Code.badRegex]);
    expect(codes("[x:a MATCHES 'a{2,1}']")).toEqual([Code.badRegex]);
  });

  it.each([
    ['lookahead', String.raw`[x:a MATCHES 'a(?=b)']`, 'lookahead'],
    ['negative lookahead', String.raw`[x:a MATCHES 'a(?!b)']`, 'lookahead'],
    ['lookbehind', String.raw`[x:a MATCHES '(?<=a)b']`, 'lookbehind'],
    ['backreference', String.raw`[x:a MATCHES '(a)\\1']`, 'backreference'],
    ['named backreference', String.raw`[x:a MATCHES '(?<n>a)\\k<n>']`, 'backreference'],
    ['atomic group', String.raw`[x:a MATCHES '(?>a)']`, 'atomic'],
    ['possessive quantifier', String.raw`[x:a MATCHES 'a*+']`, 'possessive'],
  ])('an unsupported construct is named: %s', (_name, pattern, construct) => {
    const [d, ...rest] = errors(pattern);
    expect(rest).toEqual([]);
    expect(d?.code).toBe(Code.unsupportedRegex);
    expect(d?.message).toContain(construct);
  });

  it('supported regex features compile', () => {
    for (const re of ['^a+$', '(?i)abc', '[[:alpha:]]+', String.raw`\\d{3}-\\d{4}`, '(?P<name>a)', 'a|b|c', '(?s).']) {
      expect(codes(`[x:a MATCHES '${re}']`), re).toEqual([]);
    }
  });
});

describe('hash lengths', () => {
  it.each([
    [`[file:hashes.MD5 = 'abc']`, 'MD5'],
    [`[file:hashes.MD5 = '${MD5}0']`, 'MD5'],
    [`[file:hashes.MD5 = '${'z'.repeat(32)}']`, 'MD5'],
    [`[file:hashes.'SHA-256' = '${MD5}']`, 'SHA-256'],
    [`[file:hashes.'SHA-256' = '${SHA256.slice(1)}']`, 'SHA-256'],
    [`[file:hashes.sha256 = '${MD5}']`, 'SHA-256'],
    [`[file:hashes.SHA256 = '${MD5}']`, 'SHA-256'],
    [`[file:hashes.'SHA-1' = '${MD5}']`, 'SHA-1'],
    [`[file:hashes.'SHA-256' != '${MD5}']`, 'SHA-256'],
    [`[file:hashes.'SHA-256' IN ('${SHA256}', 'abc')]`, 'SHA-256'],
  ])('%s → hash-length (%s)', (pattern, algorithm) => {
    const [d, ...rest] = errors(pattern);
    expect(rest).toEqual([]);
    expect(d?.code).toBe(Code.hashLength);
    expect(d?.message).toContain(algorithm);
  });

  it('hashes of the right length compile', () => {
    expect(codes(`[file:hashes.MD5 = '${MD5}']`)).toEqual([]);
    expect(codes(`[file:hashes.MD5 = '${MD5.toUpperCase()}']`)).toEqual([]);
    expect(codes(`[file:hashes.'SHA-256' = '${SHA256}']`)).toEqual([]);
    expect(codes(`[file:hashes.sha256 = '${SHA256}']`)).toEqual([]);
    expect(codes(`[file:hashes.'SHA-1' = '${'c'.repeat(40)}']`)).toEqual([]);
    // an unknown algorithm is not checked; nor are LIKE and MATCHES on a hash
    expect(codes(`[file:hashes.'x-custom' = 'abc']`)).toEqual([]);
    expect(codes(`[file:hashes.MD5 LIKE 'abc%']`)).toEqual([]);
    // a property named like an algorithm outside `hashes` is not a hash
    expect(codes(`[file:MD5 = 'abc']`)).toEqual([]);
  });
});

describe('IN lists and CIDR constants', () => {
  it('a mixed-type IN list', () => {
    expect(errors("[x:a IN ('a', true)]")[0]).toMatchObject({ code: Code.inMixedTypes, line: 1, column: 2 });
    expect(codes("[x:a IN (1, 'a')]")).toEqual([Code.inMixedTypes]);
    expect(codes('[x:a IN (1, 2.2, true)]')).toEqual([Code.inMixedTypes]);
    expect(codes("[x:a IN ('a', h'00')]")).toEqual([Code.inMixedTypes]);
    expect(codes("[x:a IN ('a', t'2020-01-01T00:00:00Z')]")).toEqual([Code.inMixedTypes]);
  });

  it('ints and floats may mix', () => {
    expect(codes('[x:a IN (1, 2.5, -3)]')).toEqual([]);
  });

  it.each([
    "'foo'",
    "'10.0.0.0/33'",
    "'256.0.0.0/8'",
    "'10.0.0/8'",
    "'2001:db8::/129'",
    "'1::2::3'",
    "'10.0.0.0/-1'",
    "''",
  ])('bad CIDR constant %s', (cidr) => {
    expect(codes(`[x:a ISSUBSET ${cidr}]`)).toEqual([Code.badCidr]);
    expect(codes(`[x:a ISSUPERSET ${cidr}]`)).toEqual([Code.badCidr]);
  });

  it('good CIDR constants', () => {
    for (const cidr of [
      '10.0.0.0/8',
      '10.1.2.3',
      '0.0.0.0/0',
      '::/0',
      '::1',
      '2001:db8::/32',
      'fe80::1/128',
      '::ffff:192.0.2.1',
    ]) {
      expect(codes(`[x:a ISSUBSET '${cidr}']`), cidr).toEqual([]);
    }
  });
});

describe('all errors of a pattern are collected', () => {
  it('two bad literals give two diagnostics', () => {
    const errs = errors("[x:a = t'2020-13-01T00:00:00Z' AND x:b = b'abc']");
    expect(errs.map((d) => [d.code, d.column])).toEqual([
      [Code.badTimestamp, 8],
      [Code.badBase64, 42],
    ]);
  });

  it('across observation expressions', () => {
    const errs = errors("[x:a = 1] AND [x:a = t'2020-13-01T00:00:00Z'] AND [x:b = h'1']");
    expect(errs.map((d) => d.code)).toEqual([Code.badTimestamp, Code.badHex]);
  });

  it('semantic checks of several comparisons', () => {
    const errs = errors(`[file:hashes.MD5 = 'abc' OR x:ip ISSUBSET 'nope' OR x:v IN (1, 'a') OR x:r MATCHES '(']`);
    expect(errs.map((d) => d.code).sort()).toEqual(
      [Code.badCidr, Code.badRegex, Code.hashLength, Code.inMixedTypes].sort(),
    );
  });

  it('a repeated qualifier and a bad literal', () => {
    const errs = errors("[x:a = h'1'] WITHIN 5 SECONDS WITHIN 6 SECONDS");
    expect(errs.map((d) => d.code).sort()).toEqual([Code.badHex, Code.qualifierRepeated].sort());
  });

  it('compilePattern throws them all', () => {
    try {
      compilePattern("[x:a = t'2020-13-01T00:00:00Z' AND x:b = b'abc']");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(PatternError);
      expect((error as PatternError).diagnostics).toHaveLength(2);
      expect((error as PatternError).message.split('\n')).toHaveLength(2);
    }
  });

  it('warnings do not stop compilation', () => {
    const result = checkPattern('[x:a = 1 AND y:b = 1]');
    expect(result.pattern).toBeDefined();
    expect(result.diagnostics).toEqual([
      expect.objectContaining({ severity: 'warning', code: Code.differentRootTypes, line: 1, column: 1 }),
    ]);
  });
});

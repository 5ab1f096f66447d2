/**
 * Comparison operators (STIX 2.1, 9.5), constants (9.4) and their cross-type rules, each
 * checked with a case that matches and one that does not.
 */
import { describe, expect, it } from 'vitest';
import { MatchError, PatternError } from '../../src/errors.js';
import { compilePattern } from '../../src/pattern/compile.js';
import { b64, matches, one } from './fixtures.js';

/** A test object of type `t` with one value of each JSON type. */
const T = {
  int: 5,
  neg: -3,
  float: 12.658,
  float_int: 12.0,
  bool: true,
  off: false,
  string: 'hello',
  mixed: 'Hello World',
  empty: '',
  ts: '2020-06-15T12:30:45Z',
  ts_frac: '2020-06-15T12:30:45.123456Z',
  list: ['a', 'b'],
  ip4: '192.168.1.77',
  cidr4: '192.168.0.0/16',
  ip6: '2001:db8::1',
  ip6_full: '2001:0db8:0000:0000:0000:0000:0000:0001',
  cidr6: '2001:db8::/32',
  quote: "it's \\ here",
  data_hex: '4d5a9000',
  data_bin: b64([0x4d, 0x5a, 0x00, 0xff, 0x41]),
};
const data = one('t', T);

function check(pattern: string): boolean {
  return matches(pattern, data);
}

function cases(rows: [string, boolean][]): void {
  it.each(rows)('%s → %s', (pattern, expected) => {
    expect(check(pattern)).toBe(expected);
  });
}

describe('= and !=', () => {
  cases([
    ["[t:string = 'hello']", true],
    ["[t:string = 'hellO']", false],
    ["[t:string = 'hell']", false],
    ["[t:string != 'world']", true],
    ["[t:string != 'hello']", false],
    ["[t:string NOT = 'hello']", false],
    ["[t:string NOT = 'world']", true],
    ["[t:string NOT != 'hello']", true],
    ["[t:string NOT != 'world']", false],
    ["[t:string == 'hello']", true],
    ["[t:string <> 'hello']", false],
    ["[t:string <> 'world']", true],
    ["[t:empty = '']", true],
    ['[t:int = 5]', true],
    ['[t:int = 6]', false],
    ['[t:int != 6]', true],
    ['[t:int != 5]', false],
    ['[t:bool = true]', true],
    ['[t:bool = false]', false],
    ['[t:off = false]', true],
    ['[t:off != true]', true],
    ['[t:bool NOT = true]', false],
  ]);
});

describe('ordering operators', () => {
  cases([
    ['[t:int < 6]', true],
    ['[t:int < 5]', false],
    ['[t:int <= 5]', true],
    ['[t:int <= 4]', false],
    ['[t:int > 4]', true],
    ['[t:int > 5]', false],
    ['[t:int >= 5]', true],
    ['[t:int >= 6]', false],
    ['[t:int NOT < 5]', true],
    ['[t:int NOT < 6]', false],
    ['[t:int NOT <= 4]', true],
    ['[t:int NOT <= 5]', false],
    ['[t:int NOT > 5]', true],
    ['[t:int NOT > 4]', false],
    ['[t:int NOT >= 6]', true],
    ['[t:int NOT >= 5]', false],
    ["[t:string > 'alice']", true],
    ["[t:string > 'zelda']", false],
    ["[t:string < 'hellp']", true],
    ["[t:string < 'hell']", false],
    ["[t:string >= 'hello']", true],
    ["[t:string <= 'hello']", true],
    // Code point order: upper case sorts before lower case.
    ["[t:mixed < 'hello']", true],
    ["[t:mixed > 'hello']", false],
  ]);
});

describe('ints and floats compare as numbers', () => {
  cases([
    ['[t:float_int = 12]', true],
    ['[t:int = 5.0]', true],
    ['[t:int = 5.000001]', false],
    ['[t:int > 4.9]', true],
    ['[t:int < 5.1]', true],
    ['[t:int > 5.1]', false],
    ['[t:float > 12.65799]', true],
    ['[t:float < 12.65801]', true],
    ['[t:float > 12.65801]', false],
    ['[t:float = 12.658]', true],
    ['[t:float != 12.658]', false],
    ['[t:float_int IN (11, 12, 13)]', true],
    ['[t:float_int IN (11.5, 12, 13)]', true],
    ['[t:int IN (4.5, 5.0)]', true],
    ['[t:neg = -3]', true],
    ['[t:neg < -2]', true],
    ['[t:neg > -2]', false],
    ['[t:neg >= -3.0]', true],
    ['[t:neg = +3]', false],
    ['[t:int = +5]', true],
    ['[t:float > .5]', true],
    ['[t:neg > -.5]', false],
  ]);
});

describe('type mismatches', () => {
  cases([
    ["[t:int = '5']", false],
    ['[t:string = 5]', false],
    ['[t:bool = 1]', false],
    ["[t:bool = 'true']", false],
    ['[t:int = true]', false],
    ["[t:int < 'zzz']", false],
    ["[t:int > 'a']", false],
    ['[t:string < 100]', false],
    ['[t:bool > 0]', false],
    ["[t:int LIKE '5']", false],
    ["[t:int MATCHES '5']", false],
    ["[t:int IN ('5', 'a')]", false],
    ["[t:int ISSUBSET '0.0.0.0/0']", false],
    ["[t:list = 'a']", false],
    // `!=` is the negation of `=` on a present value (the reference matcher agrees).
    ["[t:int != 'world']", true],
    ['[t:string != 1]', true],
  ]);
});

describe('IN', () => {
  cases([
    ["[t:string IN ('goodbye', 'hello')]", true],
    ["[t:string IN ('goodbye', 'world')]", false],
    ["[t:string NOT IN ('goodbye', 'world')]", true],
    ["[t:string NOT IN ('goodbye', 'hello')]", false],
    ['[t:int IN (-4, 5, 6)]', true],
    ['[t:int IN (-4, 6)]', false],
    ['[t:int NOT IN (-4, 5, 6)]', false],
    ['[t:bool IN (true)]', true],
    ['[t:bool IN (false)]', false],
    ["[t:string IN ('hello')]", true],
    ['[t:string IN ()]', false],
    ['[t:string NOT IN ()]', true],
    ["[t:ts IN (t'2020-06-15T12:30:45Z', t'2021-01-01T00:00:00Z')]", true],
    ["[t:ts IN (t'2021-01-01T00:00:00Z')]", false],
  ]);
});

describe('LIKE', () => {
  cases([
    ["[t:string LIKE 'he%']", true],
    ["[t:string LIKE '%lo']", true],
    ["[t:string LIKE '%ll%']", true],
    ["[t:string LIKE '%']", true],
    ["[t:string LIKE 'h%o']", true],
    ["[t:string LIKE 'he__o']", true],
    ["[t:string LIKE 'he_o']", false],
    ["[t:string LIKE 'h_llo']", true],
    ["[t:string LIKE '_ello']", true],
    ["[t:string LIKE '_____']", true],
    ["[t:string LIKE '______']", false],
    // anchored to the whole string
    ["[t:string LIKE 'ell']", false],
    ["[t:string LIKE 'ell%']", false],
    ["[t:string LIKE '%ell']", false],
    ["[t:string LIKE 'hello']", true],
    // case sensitive
    ["[t:string LIKE 'HE%']", false],
    ["[t:mixed LIKE 'Hello%']", true],
    ["[t:mixed LIKE 'hello%']", false],
    ["[t:string NOT LIKE 'he%']", false],
    ["[t:string NOT LIKE 'wo%']", true],
    // regex metacharacters in a LIKE pattern are literal
    ["[t:string LIKE 'h.llo']", false],
    ["[t:string LIKE 'he.*']", false],
  ]);

  it('compares after Unicode NFC normalisation, both ways', () => {
    const decomposed = one('t', { name: 'cafe\u0301' }); // e + combining acute
    const composed = one('t', { name: 'caf\u00e9' });
    expect(matches("[t:name LIKE 'caf\u00e9']", decomposed)).toBe(true);
    expect(matches("[t:name LIKE 'cafe\u0301']", composed)).toBe(true);
    expect(matches("[t:name LIKE 'caf_']", decomposed)).toBe(true);
    expect(matches("[t:name LIKE 'caf__']", decomposed)).toBe(false);
    expect(matches("[t:name LIKE 'cafe']", decomposed)).toBe(false);
  });

  it('=, != and IN compare code points exactly: only LIKE and MATCHES normalise', () => {
    const decomposed = one('t', { name: 'cafe\u0301' });
    expect(matches("[t:name = 'caf\u00e9']", decomposed)).toBe(false);
    expect(matches("[t:name != 'caf\u00e9']", decomposed)).toBe(true);
    expect(matches("[t:name IN ('caf\u00e9')]", decomposed)).toBe(false);
    expect(matches("[t:name = 'cafe\u0301']", decomposed)).toBe(true);
  });

  it('% and _ match across line breaks', () => {
    const d = one('t', { text: 'a\nb' });
    expect(matches("[t:text LIKE 'a%b']", d)).toBe(true);
    expect(matches("[t:text LIKE 'a_b']", d)).toBe(true);
  });
});

describe('MATCHES', () => {
  cases([
    // an unanchored search
    ["[t:string MATCHES 'ell']", true],
    ["[t:string MATCHES 'l+']", true],
    ["[t:string MATCHES 'xyz']", false],
    ["[t:string MATCHES '^ell']", false],
    ["[t:string MATCHES '^hel']", true],
    ["[t:string MATCHES 'llo$']", true],
    ["[t:string MATCHES 'll$']", false],
    ["[t:string MATCHES '^hello$']", true],
    ["[t:string MATCHES '^h.l+o$']", true],
    ["[t:string MATCHES 'HELLO']", false],
    ["[t:string MATCHES '(?i)HELLO']", true],
    ["[t:string NOT MATCHES 'ell']", false],
    ["[t:string NOT MATCHES 'xyz']", true],
    ["[t:mixed MATCHES '^Hello\\\\sWorld$']", true],
    ["[t:mixed MATCHES '\\\\d']", false],
  ]);

  it('searches binary (_bin) data as bytes', () => {
    // data_bin holds 4d 5a 00 ff 41
    expect(check(String.raw`[t:data_bin MATCHES '^MZ']`)).toBe(true);
    expect(check(String.raw`[t:data_bin MATCHES '^\\x4d\\x5a\\x00\\xff']`)).toBe(true);
    expect(check(String.raw`[t:data_bin MATCHES '\\xffA$']`)).toBe(true);
    expect(check(String.raw`[t:data_bin MATCHES '^\\xff']`)).toBe(false);
    expect(check(String.raw`[t:data_bin MATCHES '^4d5a']`)).toBe(false); // not the encoded text
    expect(check(String.raw`[t:data_bin MATCHES 'TVo']`)).toBe(false); // nor its base64
  });

  it('searches hex (_hex) data as bytes', () => {
    // data_hex is 4d 5a 90 00
    expect(check(String.raw`[t:data_hex MATCHES '^MZ\\x90\\x00$']`)).toBe(true);
    expect(check(String.raw`[t:data_hex MATCHES '^4d5a']`)).toBe(false);
  });

  it('normalises to NFC before matching', () => {
    expect(matches("[t:name MATCHES '^caf\u00e9$']", one('t', { name: 'cafe\u0301' }))).toBe(true);
  });
});

describe('ISSUBSET / ISSUPERSET, IPv4', () => {
  cases([
    ["[t:ip4 ISSUBSET '192.168.0.0/16']", true],
    ["[t:ip4 ISSUBSET '192.168.1.0/24']", true],
    ["[t:ip4 ISSUBSET '192.168.2.0/24']", false],
    ["[t:ip4 ISSUBSET '192.168.1.77/32']", true],
    ["[t:ip4 ISSUBSET '192.168.1.77']", true],
    ["[t:ip4 ISSUBSET '192.168.1.78/32']", false],
    ["[t:ip4 ISSUBSET '0.0.0.0/0']", true],
    ["[t:ip4 NOT ISSUBSET '10.0.0.0/8']", true],
    ["[t:ip4 NOT ISSUBSET '192.168.0.0/16']", false],
    // the constant may have host bits set: the network is what counts
    ["[t:ip4 ISSUBSET '192.168.200.1/16']", true],
    ["[t:cidr4 ISSUBSET '192.0.0.0/8']", true],
    ["[t:cidr4 ISSUBSET '192.168.0.0/24']", false],
    ["[t:cidr4 ISSUPERSET '192.168.5.5']", true],
    ["[t:cidr4 ISSUPERSET '192.168.5.0/24']", true],
    ["[t:cidr4 ISSUPERSET '192.169.0.1']", false],
    ["[t:cidr4 ISSUPERSET '192.0.0.0/8']", false],
    ["[t:cidr4 NOT ISSUPERSET '192.169.0.1']", true],
    ["[t:cidr4 ISSUPERSET '192.168.0.0/16']", true],
    ["[t:cidr4 ISSUBSET '192.168.0.0/16']", true],
  ]);
});

describe('ISSUBSET / ISSUPERSET, IPv6', () => {
  cases([
    ["[t:ip6 ISSUBSET '2001:db8::/32']", true],
    ["[t:ip6 ISSUBSET '2001:db9::/32']", false],
    ["[t:ip6_full ISSUBSET '2001:db8::/32']", true],
    // :: compression on either side, any case of hex digits
    ["[t:ip6 ISSUBSET '2001:0DB8:0:0:0:0:0:0/32']", true],
    ["[t:ip6_full ISSUBSET '2001:db8::1/128']", true],
    ["[t:ip6 ISSUBSET '2001:db8::1/128']", true],
    ["[t:ip6 ISSUBSET '2001:db8::2/128']", false],
    ["[t:ip6 ISSUBSET '2001:db8::1']", true],
    ["[t:ip6 ISSUBSET '::/0']", true],
    ["[t:ip6 ISSUBSET '2001:db8::/127']", true],
    ["[t:ip6 ISSUBSET '2001:db8::2/127']", false],
    ["[t:ip6 NOT ISSUBSET '2001:db8::/32']", false],
    ["[t:ip6 NOT ISSUBSET 'fe80::/10']", true],
    ["[t:cidr6 ISSUPERSET '2001:db8:ffff::1']", true],
    ["[t:cidr6 ISSUPERSET '2001:db8:ffff::/48']", true],
    ["[t:cidr6 ISSUPERSET '2001:db8::/16']", false],
    ["[t:cidr6 ISSUPERSET '2001:db9::1']", false],
    // mismatched address families never contain each other
    ["[t:ip6 ISSUBSET '0.0.0.0/0']", false],
    ["[t:ip4 ISSUBSET '::/0']", false],
    ["[t:cidr6 ISSUPERSET '192.168.1.1']", false],
    ["[t:cidr4 ISSUPERSET '::1']", false],
  ]);

  it('accepts an IPv4-mapped IPv6 tail', () => {
    expect(matches("[t:v ISSUBSET '::ffff:0:0/96']", one('t', { v: '::ffff:192.0.2.1' }))).toBe(true);
  });

  it('does not match values that are not addresses', () => {
    expect(matches("[t:v ISSUBSET '0.0.0.0/0']", one('t', { v: 'not an ip' }))).toBe(false);
    expect(matches("[t:v ISSUBSET '0.0.0.0/0']", one('t', { v: '300.1.1.1' }))).toBe(false);
    expect(matches("[t:v ISSUBSET '::/0']", one('t', { v: '1::2::3' }))).toBe(false);
  });
});

describe('EXISTS / NOT EXISTS', () => {
  cases([
    ['[EXISTS t:string]', true],
    ['[EXISTS t:missing]', false],
    ['[NOT EXISTS t:missing]', true],
    ['[NOT EXISTS t:string]', false],
    ['[EXISTS t:empty]', true],
    ['[EXISTS t:off]', true],
    ['[EXISTS t:list[1]]', true],
    ['[EXISTS t:list[2]]', false],
    ['[EXISTS t:list[*]]', true],
    ["[NOT EXISTS t:missing AND t:string = 'hello']", true],
  ]);
});

describe('an absent property makes every comparison false, negated or not', () => {
  cases([
    ["[t:missing = 'x']", false],
    ["[t:missing != 'x']", false],
    ["[t:missing NOT = 'x']", false],
    ["[t:missing NOT != 'x']", false],
    ['[t:missing < 1]', false],
    ['[t:missing NOT < 1]', false],
    ['[t:missing NOT >= 1]', false],
    ["[t:missing IN ('x')]", false],
    ["[t:missing NOT IN ('x')]", false],
    ["[t:missing LIKE '%']", false],
    ["[t:missing NOT LIKE 'x']", false],
    ["[t:missing MATCHES '.*']", false],
    ["[t:missing NOT MATCHES 'x']", false],
    ["[t:missing NOT ISSUBSET '10.0.0.0/8']", false],
    ["[t:missing NOT ISSUPERSET '10.0.0.0/8']", false],
    ["[t:string.sub != 'x']", false],
    ["[t:list[5] != 'x']", false],
  ]);
});

describe('constants', () => {
  it("string escapes: only \\' and \\\\", () => {
    // T.quote is: it's \ here
    expect(check(String.raw`[t:quote = 'it\'s \\ here']`)).toBe(true);
    expect(() => check(String.raw`[t:quote = 'it''s \\ here']`)).toThrow(PatternError); // no SQL-style ''
    expect(check(String.raw`[t:quote LIKE 'it\'s%']`)).toBe(true);
    expect(matches(String.raw`[t:v = '\\\\']`, one('t', { v: '\\\\' }))).toBe(true);
    expect(matches(String.raw`[t:v = '\\']`, one('t', { v: '\\\\' }))).toBe(false);
    expect(matches(String.raw`[t:v = '\'']`, one('t', { v: "'" }))).toBe(true);
  });

  it('booleans are lower case only', () => {
    expect(check('[t:bool = true]')).toBe(true);
    expect(() => compilePattern('[t:bool = TRUE]')).toThrow(PatternError);
    expect(() => compilePattern('[t:bool = True]')).toThrow(PatternError);
  });

  it('binary constants: base64 and hex compare with binary data as bytes', () => {
    // data_bin = 4d 5a 00 ff 41, data_hex = 4d 5a 90 00
    expect(check(`[t:data_bin = b'${b64([0x4d, 0x5a, 0x00, 0xff, 0x41])}']`)).toBe(true);
    expect(check(`[t:data_bin = b'${b64([0x4d, 0x5a, 0x00, 0xff, 0x42])}']`)).toBe(false);
    expect(check("[t:data_bin = h'4d5a00ff41']")).toBe(true);
    expect(check("[t:data_bin = h'4D5A00FF41']")).toBe(true);
    expect(check("[t:data_bin = h'4d5a00ff']")).toBe(false);
    expect(check("[t:data_hex = h'4d5a9000']")).toBe(true);
    expect(check(`[t:data_hex = b'${b64([0x4d, 0x5a, 0x90, 0x00])}']`)).toBe(true);
    expect(check("[t:data_hex != h'4d5a9000']")).toBe(false);
    expect(check("[t:data_hex > h'4d5a']")).toBe(true);
    expect(check("[t:data_hex < h'4d5a']")).toBe(false);
    expect(check("[t:data_hex < h'4e']")).toBe(true);
  });

  it('a binary constant equals a string when every character is a byte and the bytes agree', () => {
    expect(check("[t:string = h'68656c6c6f']")).toBe(true);
    expect(check("[t:string = b'aGVsbG8=']")).toBe(true);
    expect(check("[t:string = h'68656c6c6e']")).toBe(false);
    expect(check("[t:string = h'68656c6c']")).toBe(false);
    // Latin-1 character as one byte
    expect(matches("[t:v = h'e9']", one('t', { v: '\u00e9' }))).toBe(true);
    // a character above 255 is not a byte: never equal
    expect(matches("[t:v = h'2603']", one('t', { v: '\u2603' }))).toBe(false);
    expect(matches("[t:v = h'03']", one('t', { v: '\u2603' }))).toBe(false);
    // and a string constant equals binary data with the same bytes
    expect(check("[t:data_hex = 'MZ\u0090\u0000']")).toBe(true);
  });

  it('timestamps, with and without fractional seconds', () => {
    expect(check("[t:ts = t'2020-06-15T12:30:45Z']")).toBe(true);
    expect(check("[t:ts = t'2020-06-15T12:30:45.000Z']")).toBe(true);
    expect(check("[t:ts = t'2020-06-15T12:30:46Z']")).toBe(false);
    expect(check("[t:ts > t'2020-06-15T12:30:44.999Z']")).toBe(true);
    expect(check("[t:ts < t'2020-06-15T12:30:45.001Z']")).toBe(true);
    expect(check("[t:ts < t'2020-06-15T12:30:45Z']")).toBe(false);
    expect(check("[t:ts_frac = t'2020-06-15T12:30:45.123456Z']")).toBe(true);
    expect(check("[t:ts_frac = t'2020-06-15T12:30:45.123Z']")).toBe(false);
    expect(check("[t:ts_frac > t'2020-06-15T12:30:45.123Z']")).toBe(true);
    expect(check("[t:ts_frac < t'2020-06-15T12:30:45.1235Z']")).toBe(true);
    expect(check("[t:ts NOT = t'2020-06-15T12:30:45Z']")).toBe(false);
    expect(check("[t:ts != t'2021-06-15T12:30:45Z']")).toBe(true);
    // Data with a different but equivalent written form is the same instant.
    expect(matches("[t:v = t'2020-06-15T12:30:45.5Z']", one('t', { v: '2020-06-15T12:30:45.500000Z' }))).toBe(true);
    // A timestamp constant is not a string constant: a string compared as a string does not parse.
    expect(check("[t:ts = '2020-06-15T12:30:45Z']")).toBe(true);
    expect(check("[t:ts = '2020-06-15T12:30:45.000Z']")).toBe(false);
  });

  // Fails today: src/pattern/literals.ts parseStixTimestamp() builds the instant with
  // Date.UTC(year, …), which maps years 0–99 to 1900–1999, so t'0050-…' is the instant of
  // 1950. STIX timestamps (RFC 3339) have four-digit years 0000–9999: these differ.
  it('years below 100 are not read as 19xx', () => {
    expect(matches("[t:v = t'0050-01-01T00:00:00Z']", one('t', { v: '1950-01-01T00:00:00Z' }))).toBe(false);
    expect(matches("[t:v < t'1000-01-01T00:00:00Z']", one('t', { v: '0099-06-01T00:00:00Z' }))).toBe(true);
  });

  it('years from 100 on are read as written', () => {
    expect(matches("[t:v = t'0150-01-01T00:00:00Z']", one('t', { v: '2150-01-01T00:00:00Z' }))).toBe(false);
    expect(matches("[t:v < t'1000-01-01T00:00:00Z']", one('t', { v: '0999-12-31T23:59:59Z' }))).toBe(true);
  });

  it('a timestamp constant against a timestamp value that is not a number or string compares false', () => {
    expect(check("[t:int = t'2020-06-15T12:30:45Z']")).toBe(false);
    expect(check("[t:int > t'2020-06-15T12:30:45Z']")).toBe(false);
  });

  it('a malformed timestamp in the data compared with a timestamp constant throws MatchError', () => {
    for (const pattern of [
      "[t:string = t'2020-06-15T12:30:45Z']",
      "[t:string != t'2020-06-15T12:30:45Z']",
      "[t:string > t'2020-06-15T12:30:45Z']",
    ]) {
      expect(() => check(pattern), pattern).toThrow(MatchError);
    }
    // lower-case z, a missing Z and month 13 are all malformed
    for (const bad of ['2020-06-15T12:30:45z', '2020-06-15T12:30:45', '2020-13-15T12:30:45Z', '2020-06-15 12:30:45Z']) {
      expect(() => matches("[t:v = t'2020-06-15T12:30:45Z']", one('t', { v: bad })), bad).toThrow(MatchError);
    }
  });

  it('the MatchError for a malformed data timestamp is typed and carries a diagnostic', () => {
    try {
      check("[t:string < t'2020-06-15T12:30:45Z']");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(MatchError);
      expect((error as MatchError).diagnostics.length).toBeGreaterThan(0);
      expect((error as MatchError).message).toContain('hello');
    }
  });
});

describe('comparison expressions inside one observation', () => {
  cases([
    ["[t:string = 'hello' AND t:int = 5]", true],
    ["[t:string = 'hello' AND t:int = 6]", false],
    ["[t:string = 'nope' OR t:int = 5]", true],
    ["[t:string = 'nope' OR t:int = 6]", false],
    // AND binds tighter than OR
    ["[t:string = 'nope' AND t:int = 6 OR t:bool = true]", true],
    ["[t:string = 'nope' AND (t:int = 6 OR t:bool = true)]", false],
    ["[t:bool = true OR t:int = 6 AND t:string = 'nope']", true],
    ["[(t:bool = true OR t:int = 6) AND t:string = 'nope']", false],
  ]);
});

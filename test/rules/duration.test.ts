import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Duration, type DurationError } from '../../src/rules/duration.js';

const parse = (input: string | number, options = {}): Duration => {
  const d = Duration.parse(input, options);
  if (Duration.isError(d)) throw new Error(d.message);
  return d;
};
const error = (input: string | number, options = {}): DurationError => {
  const d = Duration.parse(input, options);
  if (!Duration.isError(d)) throw new Error(`${String(input)} parsed as ${d.toString()}`);
  return d;
};

describe('Duration', () => {
  it('reads a number with a unit, and a number as seconds', () => {
    expect((['30s', '10m', '2h', '1d', '0s'] as const).map((text) => parse(text).seconds)).toEqual([
      30, 600, 7200, 86_400, 0,
    ]);
    expect(parse(45).seconds).toBe(45);
    expect(parse('300', { bareSeconds: true }).seconds).toBe(300);
    expect(parse('1.5m', { fractions: true }).seconds).toBe(90);
    expect(parse('0.25', { bareSeconds: true, fractions: true }).milliseconds).toBe(250);
  });

  it('says what is wrong and where in the text', () => {
    expect(error('5w')).toEqual({ message: expect.stringContaining("'w' is not a unit"), offset: 1, length: 1 });
    expect(error('10 minutes')).toMatchObject({ offset: 2, length: 8 });
    expect(error('10mins')).toMatchObject({
      message: expect.stringContaining("unexpected 'ins'"),
      offset: 3,
      length: 3,
    });
    expect(error('abc')).toMatchObject({ message: expect.stringContaining('starts with a number'), offset: 0 });
    expect(error('')).toMatchObject({ offset: 0, length: 1 });
    expect(error('-3s')).toMatchObject({ offset: 0 });
    // A bare number is seconds only where the caller says so (a rule file's string needs a unit).
    expect(error('30')).toMatchObject({ message: expect.stringContaining('a unit follows'), offset: 2, length: 0 });
    // Fractions only where allowed.
    expect(error('1.5m')).toMatchObject({ offset: 1 });
    expect(error(1.5).message).toContain('whole number');
    expect(error(-1).message).toContain('not negative');
    expect(error(Number.NaN).message).toContain('not negative');
  });

  it('prints itself in the largest unit that is exact, and reads that back', () => {
    expect([0, 1, 59, 60, 90, 3600, 5400, 86_400, 172_800].map((s) => Duration.ofSeconds(s).toString())).toEqual([
      '0s',
      '1s',
      '59s',
      '1m',
      '90s',
      '1h',
      '90m',
      '1d',
      '2d',
    ]);
    expect(JSON.stringify({ lateness: Duration.ofSeconds(300) })).toBe('{"lateness":"5m"}');
    fc.assert(
      fc.property(fc.nat({ max: 10 ** 9 }), (seconds) => {
        const printed = Duration.ofSeconds(seconds).toString();
        expect(parse(printed).equals(Duration.ofSeconds(seconds)), printed).toBe(true);
      }),
      { seed: 12, numRuns: 500 },
    );
    expect(parse(Duration.ofSeconds(1.5).toString(), { fractions: true }).seconds).toBe(1.5);
  });

  it('refuses a negative or infinite length built from code', () => {
    expect(() => Duration.ofSeconds(-1)).toThrow(RangeError);
    expect(() => Duration.ofSeconds(Infinity)).toThrow(RangeError);
  });
});

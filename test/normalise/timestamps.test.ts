import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareStixTimestamps, isStixTimestamp, parseTimestamp } from '../../src/normalise/timestamps.js';

describe('parseTimestamp: C asctime text (osquery calendarTime)', () => {
  it.each([
    ['Tue Sep 30 17:37:30 2014', '2014-09-30T17:37:30Z'],
    ['Mon May  2 22:27:32 2016 UTC', '2016-05-02T22:27:32Z'],
    ['Fri Nov  7 09:42:42 2014', '2014-11-07T09:42:42Z'],
  ])('%s -> %s', (input, expected) => {
    expect(parseTimestamp(input)).toBe(expected);
  });
  it.each(['collision', 'Fri Feb 30 10:00:00 2015', 'Tue Sep 30 17:37:30 2014 CEST', 'Tue Sept 30 17:37:30 2014'])(
    'rejects %s',
    (input) => {
      expect(parseTimestamp(input)).toBeUndefined();
    },
  );
});

describe('parseTimestamp: ISO 8601', () => {
  it.each([
    ['2017-10-16T17:15:48Z', '2017-10-16T17:15:48Z'],
    ['2017-10-16T17:15:48.030123', '2017-10-16T17:15:48.030123Z'], // no zone means UTC
    ['2017-10-16 17:15:48', '2017-10-16T17:15:48Z'],
    ['2017-10-16t17:15:48.5z', '2017-10-16T17:15:48.5Z'],
    ['2017-10-16T17:15:48.123456789Z', '2017-10-16T17:15:48.123456789Z'],
    ['2017-10-16T17:15:48,25Z', '2017-10-16T17:15:48.25Z'],
    ['2017-10-16T19:15:48+02:00', '2017-10-16T17:15:48Z'],
    ['2017-10-16T19:15:48.001+0200', '2017-10-16T17:15:48.001Z'],
    ['2017-10-16T19:15:48+02', '2017-10-16T17:15:48Z'],
    ['2017-10-16T12:45:48-05:30', '2017-10-16T18:15:48Z'],
    ['2017-12-31T23:30:00-01:00', '2018-01-01T00:30:00Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00Z'],
    ['0050-06-01T10:00:00+01:00', '0050-06-01T09:00:00Z'], // two-digit years are not 19xx
  ])('%s -> %s', (input, expected) => {
    expect(parseTimestamp(input)).toBe(expected);
  });

  it.each([
    '2017-10-16', // date only: no time of day
    '2017-02-30T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2017-10-16T24:00:00Z',
    '2017-10-16T23:59:60Z', // leap seconds are not representable
    '2017-13-01T00:00:00Z',
    '2017-10-16T17:15:48.1234567890Z', // more than nanoseconds
    '2017-10-16T17:15:48.Z',
    '2017-10-16T17:15:48+25:00',
    '2017-10-16T17:15:48 UTC',
    '2017/10/16 17:15:48',
    'yesterday',
    '',
  ])('refuses %j', (input) => {
    expect(parseTimestamp(input)).toBeUndefined();
  });
});

describe('parseTimestamp: epoch numbers', () => {
  it.each([
    [1508174148, '2017-10-16T17:15:48Z'],
    ['1508174148', '2017-10-16T17:15:48Z'],
    [1508174148.5, '2017-10-16T17:15:48.5Z'],
    ['1508174148.030123', '2017-10-16T17:15:48.030123Z'],
    [1508174148030, '2017-10-16T17:15:48.030Z'],
    ['1508174148030', '2017-10-16T17:15:48.030Z'],
    [1508174148030123, '2017-10-16T17:15:48.030123Z'],
    ['1508174148030123456', '2017-10-16T17:15:48.030123456Z'],
    [0, '1970-01-01T00:00:00Z'],
    [-1.25, '1969-12-31T23:59:58.75Z'],
    [99999999999, '5138-11-16T09:46:39Z'], // largest value read as seconds
    [100000000000, '1973-03-03T09:46:40.000Z'], // smallest value read as milliseconds
  ])('%s -> %s', (input, expected) => {
    expect(parseTimestamp(input)).toBe(expected);
  });

  it.each([NaN, Infinity, 1e300, '12abc', '1.', '.5', '--1', null, true, {}, []])('refuses %j', (input) => {
    expect(parseTimestamp(input)).toBeUndefined();
  });

  it('agrees with Date for any epoch milliseconds in range (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100_000_000_000, max: 99_999_999_999_999 }), (ms) => {
        expect(parseTimestamp(ms)).toBe(new Date(ms).toISOString());
      }),
      { seed: 4242, numRuns: 500 },
    );
  });

  it('agrees with Date for ISO strings with offsets (property)', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1000-01-01T00:00:00Z'), max: new Date('9000-01-01T00:00:00Z'), noInvalidDate: true }),
        fc.integer({ min: -14 * 60, max: 14 * 60 }),
        (date, offsetMinutes) => {
          const local = new Date(date.getTime() + offsetMinutes * 60_000).toISOString().slice(0, 23);
          const sign = offsetMinutes < 0 ? '-' : '+';
          const abs = Math.abs(offsetMinutes);
          const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
          expect(parseTimestamp(`${local}${zone}`)).toBe(date.toISOString());
        },
      ),
      { seed: 7, numRuns: 500 },
    );
  });
});

describe('STIX timestamp helpers', () => {
  it('isStixTimestamp accepts only the STIX form', () => {
    expect(isStixTimestamp('2017-10-16T17:15:48Z')).toBe(true);
    expect(isStixTimestamp('2017-10-16T17:15:48.123456789123Z')).toBe(true);
    expect(isStixTimestamp('2017-10-16T17:15:48')).toBe(false);
    expect(isStixTimestamp('2017-10-16 17:15:48Z')).toBe(false);
    expect(isStixTimestamp('2017-10-16T17:15:48+00:00')).toBe(false);
    expect(isStixTimestamp('2017-02-30T17:15:48Z')).toBe(false);
    expect(isStixTimestamp('2017-10-16T17:15:48.Z')).toBe(false);
    expect(isStixTimestamp(1508174148)).toBe(false);
  });

  it('compareStixTimestamps orders by time, not by text', () => {
    expect(compareStixTimestamps('2017-10-16T17:15:48Z', '2017-10-16T17:15:48.5Z')).toBe(-1);
    expect(compareStixTimestamps('2017-10-16T17:15:48.50Z', '2017-10-16T17:15:48.5Z')).toBe(0);
    expect(compareStixTimestamps('2017-10-16T17:15:49Z', '2017-10-16T17:15:48.999Z')).toBe(1);
  });
});

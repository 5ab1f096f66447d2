/**
 * parseStixTimestamp has a hand-written fast path for the usual shape; it must agree with a
 * plain reading of the STIX timestamp grammar on every input, valid or not.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatStixTimestamp, parseStixTimestamp } from '../../src/pattern/literals.js';

const GRAMMAR = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z$/;

function reference(text: string): number | undefined {
  const m = GRAMMAR.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i])) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  const fraction = m[7] ?? '';
  const micros = fraction ? Number((fraction + '000000').slice(0, 6)) : 0;
  const proleptic = new Date(0);
  proleptic.setUTCFullYear(y, mo - 1, d);
  proleptic.setUTCHours(h, mi, s, 0);
  return proleptic.getTime() * 1000 + micros;
}

const two = (x: number): string => String(x).padStart(2, '0');

describe('parseStixTimestamp', () => {
  it('agrees with the grammar on random near-valid timestamps', () => {
    fc.assert(
      fc.property(
        fc.tuple(
          fc.integer({ min: 0, max: 9999 }),
          fc.integer({ min: 0, max: 13 }),
          fc.integer({ min: 0, max: 32 }),
          fc.integer({ min: 0, max: 24 }),
          fc.integer({ min: 0, max: 60 }),
          fc.integer({ min: 0, max: 61 }),
          fc.option(fc.stringMatching(/^[0-9]{1,12}$/)),
          fc.constantFrom('Z', 'z', '', '+00:00'),
        ),
        ([y, mo, d, h, mi, s, f, zone]) => {
          const text = `${String(y).padStart(4, '0')}-${two(mo)}-${two(d)}T${two(h)}:${two(mi)}:${two(s)}${f ? `.${f}` : ''}${zone}`;
          expect(parseStixTimestamp(text)).toBe(reference(text));
        },
      ),
      { seed: 20261124, numRuns: 5000 },
    );
  });

  it('round-trips through formatStixTimestamp', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4102444800 * 1_000_000 }), (micros) => {
        expect(parseStixTimestamp(formatStixTimestamp(micros))).toBe(micros);
      }),
      { seed: 7, numRuns: 2000 },
    );
  });

  it('formats as the ISO text of Date does, over every year 0000–9999 that microseconds hold exactly', () => {
    const viaDate = (micros: number): string => {
      const millis = Math.floor(micros / 1000);
      const iso = new Date(millis).toISOString();
      const fraction = (iso.slice(20, 23) + String(micros - millis * 1000).padStart(3, '0')).replace(/0+$/, '');
      return `${iso.slice(0, 19)}${fraction ? `.${fraction}` : ''}Z`;
    };
    fc.assert(
      fc.property(
        fc.integer({ min: -62167219200 * 1_000_000, max: Number.MAX_SAFE_INTEGER }),
        fc.boolean(),
        (m, whole) => {
          const micros = whole ? Math.floor(m / 1_000_000) * 1_000_000 : m;
          expect(formatStixTimestamp(micros)).toBe(viaDate(micros));
        },
      ),
      { seed: 20261203, numRuns: 20000 },
    );
  });

  it('formats the shortest fraction that says the instant, and no fraction for whole seconds', () => {
    const second = Date.UTC(2026, 11, 3, 14, 5, 9) * 1000;
    expect(formatStixTimestamp(second)).toBe('2026-12-03T14:05:09Z');
    expect(formatStixTimestamp(second + 500_000)).toBe('2026-12-03T14:05:09.5Z');
    expect(formatStixTimestamp(second + 120)).toBe('2026-12-03T14:05:09.00012Z');
    expect(formatStixTimestamp(second + 999_999)).toBe('2026-12-03T14:05:09.999999Z');
    expect(formatStixTimestamp(second + 1)).toBe('2026-12-03T14:05:09.000001Z');
    // Asked again (the last answer is kept), and before the epoch (the fraction counts up from the second).
    expect(formatStixTimestamp(second + 1)).toBe('2026-12-03T14:05:09.000001Z');
    expect(formatStixTimestamp(-1)).toBe('1969-12-31T23:59:59.999999Z');
  });

  it('rejects strings that are not timestamps at all', () => {
    for (const text of [
      '',
      'Z',
      '2026-01-01',
      '2026-01-01T00:00:00',
      '2026-01-01T00:00:00.Z',
      '2026-01-01t00:00:00Z',
      '2026/01/01T00:00:00Z',
      '2026-01-01T00:00:0aZ',
    ]) {
      expect(parseStixTimestamp(text)).toBeUndefined();
    }
  });
});

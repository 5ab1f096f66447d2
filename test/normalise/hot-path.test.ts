/**
 * The shortcuts of the normaliser's hot path give the answers the long way would: the recent-values memory of
 * timestamp reading, the length test before the null-placeholder lookup, and the ids of repeated objects.
 */
import { describe, expect, it } from 'vitest';
import { createNormaliser, loadMapping } from '../../src/normalise/index.js';
import { canonicalJson, deterministicScoId, STIX_SCO_NAMESPACE, uuidv5 } from '../../src/normalise/ids.js';
import { parseTimestamp } from '../../src/normalise/timestamps.js';
import { ofType, single } from './helpers.js';

/** A seeded order of picks (a linear congruential generator), so that every run checks the same sequence. */
function seededPicks(seed: number): (count: number) => number {
  let state = seed >>> 0;
  return (count) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return Math.floor((state / 4294967296) * count);
  };
}

describe('timestamp reading remembers recent values without mixing them up', () => {
  const cases: [unknown, string | undefined][] = [
    [1717327200, '2024-06-02T11:20:00Z'],
    ['1717327200', '2024-06-02T11:20:00Z'],
    [1717327260, '2024-06-02T11:21:00Z'],
    ['1717327260.5', '2024-06-02T11:21:00.5Z'],
    ['2024-06-03T11:00:00.250Z', '2024-06-03T11:00:00.250Z'],
    ['2024-06-03 13:00:00+02:00', '2024-06-03T11:00:00Z'],
    ['Tue Sep 30 17:37:30 2014', '2014-09-30T17:37:30Z'],
    ['not a time', undefined],
    ['', undefined],
    [Number.NaN, undefined],
    [true, undefined],
    [undefined, undefined],
    [{ t: 1717327200 }, undefined],
  ];

  it('gives every value its own answer in any order, repeats and all', () => {
    const pick = seededPicks(13);
    for (let i = 0; i < 2000; i++) {
      const [value, expected] = cases[pick(cases.length)] as [unknown, string | undefined];
      expect(parseTimestamp(value)).toBe(expected);
    }
  });
});

describe('null placeholders', () => {
  const n = createNormaliser({
    mappings: [
      loadMapping(
        `mapping: 1\nname: t\ndetect: { any: [ { present: t } ] }\ntime: { start: t }\n` +
          `null_values: ["-", "N/A"]\nfields:\n  user: user-account:account_login\n`,
        't.yaml',
      ),
    ],
    includeBuiltIns: false,
  });
  const T = '2024-06-01T00:00:00Z';

  it('drops exactly the placeholders, and keeps strings longer than any of them', () => {
    for (const placeholder of ['-', 'N/A']) {
      const result = n.normalise({ t: T, user: placeholder, other: placeholder });
      // The placeholder is not a value: nothing maps, so the event has nothing observable.
      expect(result.ok).toBe(false);
    }
    for (const value of ['--', 'N/A ', 'N/AX', 'n/a']) {
      const event = single(n.normalise({ t: T, user: value }));
      expect(ofType(event, 'user-account')[0]?.account_login).toBe(value);
    }
  });
});

describe('ids of repeated objects', () => {
  it('are the STIX 2.1 ids of their content, however often and in whatever order they come', () => {
    const pick = seededPicks(7);
    const objects: [Record<string, unknown>, string][] = [];
    for (let i = 0; i < 300; i++) {
      objects.push([{ type: 'ipv4-addr', value: `10.0.${i % 7}.${i % 251}` }, 'ipv4-addr']);
      objects.push([{ type: 'user-account', user_id: `u${i % 11}`, account_login: `l${i % 13}` }, 'user-account']);
      objects.push([{ type: 'file', name: `f${i % 17}`, hashes: { 'SHA-256': `h${i % 5}` } }, 'file']);
    }
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < objects.length; k++) {
        const [sco, type] = objects[pick(objects.length)] as [Record<string, unknown>, string];
        const content = { ...sco };
        delete content.type;
        const expected = `${type}--${uuidv5(STIX_SCO_NAMESPACE, canonicalJson(content))}`;
        expect(deterministicScoId(sco, type)).toBe(expected);
      }
    }
  });
});

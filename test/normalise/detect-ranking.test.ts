/**
 * The normaliser scores candidates in order of the highest score each can reach and stops once none left can
 * outrank the best; these tests hold it to the ranking that scores every mapping (own mappings first, then by
 * score, then by position) and runs them in turn until one accepts the event.
 */
import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventRecords } from '../../src/normalise/envelopes.js';
import type { JsonRecord } from '../../src/normalise/fields.js';
import { createNormaliser, loadMapping, type Mapping, type Normaliser } from '../../src/normalise/index.js';
import { fixtureEvents } from './fixtures.js';

/** What normalise returns, decided by scoring every mapping. */
function reference(normaliser: Normaliser, ownCount: number, event: JsonRecord): unknown {
  const mappings = normaliser.mappings as readonly Mapping[];
  const scores = mappings.map((m) => m.compiled.detect.score(event));
  const order = mappings
    .map((_, i) => i)
    .filter((i) => (scores[i] as number) >= 0)
    .sort(
      (a, b) => Number(b < ownCount) - Number(a < ownCount) || (scores[b] as number) - (scores[a] as number) || a - b,
    );
  if (order.length === 0) return { ok: false, code: 'unrecognised-format' };
  let first: unknown;
  for (const i of order) {
    const mapping = mappings[i] as Mapping;
    const outcome = mapping.compiled.run(event, { tenant: 't' });
    if (outcome.ok) return { ok: true, events: outcome.events, mapping: mapping.name };
    first ??= { ok: false, code: outcome.code, message: `${mapping.name}: ${outcome.message}` };
  }
  return first;
}

function actual(normaliser: Normaliser, event: JsonRecord): unknown {
  const result = normaliser.normalise(event);
  if (result.ok) return result;
  const { code, message } = result.diagnostic;
  return code === 'unrecognised-format' ? { ok: false, code } : { ok: false, code, message };
}

const ownMapping = (name: string, detect: string): Mapping =>
  loadMapping(
    `mapping: 1\nname: ${name}\ndetect: ${detect}\ntime: { start: ts }\nfields:\n  uid: process:x_entity_id\n`,
    `${name}.yaml`,
  );
/**
 * Own mappings that fit many fixture events at once (Zeek's `ts` and `uid`), tie with each other, and reject
 * events whose `ts` is no time, so that ties, the bound and the hand-over to the next mapping are all exercised.
 */
const own = [
  // Highest reachable score 2, reached on events with both keys: ties with own-wide there, and wins by position.
  ownMapping('own-pair', '{ all: [ { present: ts }, { present: uid } ] }'),
  // Highest reachable score 5, but 2 on those events: scored first, then beaten by own-pair.
  ownMapping(
    'own-wide',
    '{ any: [ { present: ts }, { present: uid }, { present: eventName }, { present: EventID }, { present: _path } ] }',
  ),
  // own-pair's twin, later: loses every tie with it.
  ownMapping('own-pair-twin', '{ all: [ { present: ts }, { present: uid } ] }'),
];
const builtInOnly = createNormaliser({ tenant: 't' });
const withOwn = createNormaliser({ tenant: 't', mappings: own });

function fixtureRecords(): JsonRecord[] {
  const records: JsonRecord[] = [];
  for (const source of readdirSync(new URL('../fixtures/', import.meta.url))) {
    const entries = readdirSync(new URL(`../fixtures/${source}/`, import.meta.url), { withFileTypes: true });
    for (const file of entries.filter((e) => e.isFile() && !/\.ya?ml$/.test(e.name)).map((e) => e.name)) {
      for (const value of fixtureEvents(source, file)) records.push(...(eventRecords(value) as JsonRecord[]));
    }
  }
  return records;
}

describe('choosing the best mapping without scoring them all', () => {
  const records = fixtureRecords();

  it('chooses as scoring every mapping would, on every fixture event', () => {
    expect(records.length).toBeGreaterThan(100);
    for (const record of records) {
      expect(actual(builtInOnly, record)).toEqual(reference(builtInOnly, 0, record));
      expect(actual(withOwn, record)).toEqual(reference(withOwn, own.length, record));
    }
  });

  it('chooses as scoring every mapping would, on events mixing the keys the mappings look for (property)', () => {
    // Top-level keys of fixture events, so that several mappings fit at once, with values of every kind.
    const keys = [...new Set(records.flatMap((r) => Object.keys(r)))].sort().slice(0, 400);
    const sample = fc.constantFrom(...records);
    const value = fc.oneof(
      fc.constantFrom('2024-05-01T10:00:00Z', 1714557600, '', '-', 'x', '10.0.0.1'),
      fc.string({ maxLength: 6 }),
      fc.integer(),
      fc.constant(null),
    );
    fc.assert(
      fc.property(sample, sample, fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 8 }), (a, b, extra) => {
        // Two fixture events merged, then some keys added or overwritten.
        const event: JsonRecord = { ...a, ...b, ...extra };
        expect(actual(builtInOnly, event)).toEqual(reference(builtInOnly, 0, event));
        expect(actual(withOwn, event)).toEqual(reference(withOwn, own.length, event));
      }),
      { seed: 20261203, numRuns: 600 },
    );
  });
});

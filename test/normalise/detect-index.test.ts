import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { builtInMappings } from '../../src/normalise/builtin.js';
import { createDetectPrefilter } from '../../src/normalise/detect-index.js';
import { eventRecords } from '../../src/normalise/envelopes.js';
import type { JsonRecord } from '../../src/normalise/fields.js';
import { fixtureEvents } from './fixtures.js';

const mappings = builtInMappings();
const prefilter = createDetectPrefilter(mappings.map((m) => m.compiled.detect.gates));

/** Every mapping the prefilter dismisses is one whose own score rejects the event. */
function dismissedOnlyWhenRejected(event: JsonRecord): void {
  const candidates = prefilter(event);
  mappings.forEach((mapping, i) => {
    if (candidates[i] === 0) expect([mapping.name, mapping.compiled.detect.score(event)]).toEqual([mapping.name, -1]);
    // The gates the prefilter found open, handed to the score, change nothing.
    else
      expect([mapping.name, mapping.compiled.detect.score(event, prefilter.opened(i))]).toEqual([
        mapping.name,
        mapping.compiled.detect.score(event),
      ]);
  });
}

describe('the detection prefilter', () => {
  it('dismisses no mapping that fits a fixture event, and some that do not', () => {
    let dismissed = 0;
    for (const source of readdirSync(new URL('../fixtures/', import.meta.url))) {
      // Event files only: some fixture folders also hold the rule files (YAML) run on their events.
      const entries = readdirSync(new URL(`../fixtures/${source}/`, import.meta.url), { withFileTypes: true });
      for (const file of entries.filter((e) => e.isFile() && !/\.ya?ml$/.test(e.name)).map((e) => e.name)) {
        for (const value of fixtureEvents(source, file)) {
          for (const record of eventRecords(value) as JsonRecord[]) {
            dismissedOnlyWhenRejected(record);
            dismissed += prefilter(record).filter((c) => c === 0).length;
          }
        }
      }
    }
    expect(dismissed).toBeGreaterThan(0);
  });

  it('dismisses no mapping that fits events made of the keys the mappings look for (property)', () => {
    // The top-level keys the built-in gates name, plus some no mapping names.
    const keys = [
      ...new Set(
        mappings
          .flatMap((m) => [...(m.compiled.detect.gates?.all ?? []), ...(m.compiled.detect.gates?.any ?? [])])
          .flatMap((gate) => gate ?? [])
          .concat(['constructor', 'unrelated', 'x.y']),
      ),
    ];
    const value = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.constant(null),
      fc.dictionary(fc.constantFrom(...keys), fc.string()),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 12 }), (event) => {
        dismissedOnlyWhenRejected(event);
      }),
      { seed: 1213, numRuns: 2000 },
    );
  });
});

/**
 * Regexes with many unescaped `.` (issue #11, item 15): each `.` stands for exactly one
 * character, so a generated value must give it one. Sampling a filler word for a `.` broke
 * every regex with six or more of them (`'a.b.c.d.e.f'`), on every seed.
 */
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { generateEvents, parseRegex, Prng, sampleRegex } from '../../src/generate/index.js';
import type { Bundle, StixObject } from '../../src/stix/types.js';
import { roots } from './helpers.js';

/** A regex of literal runs joined by `.`, some escaped (`\.`), some dots quantified. */
const manyDots = fc
  .record({
    segments: fc.array(fc.stringMatching(/^[a-z0-9_-]{0,3}$/), { minLength: 7, maxLength: 40 }),
    joints: fc.array(fc.constantFrom('.', '.', '.', '\\.', '.?', '.{2}', '.{3,}', '.*', '.+'), {
      minLength: 39,
      maxLength: 39,
    }),
    start: fc.boolean(),
    end: fc.boolean(),
  })
  .map(
    ({ segments, joints, start, end }) =>
      `${start ? '^' : ''}${segments.map((s, i) => (i === 0 ? s : `${joints[i - 1] as string}${s}`)).join('')}${end ? '$' : ''}`,
  );

describe('the generator and regexes with many `.`', () => {
  it.each(['a.b.c.d.e.f', 'a.b.c.d.e.f.g', '^a.b.c.d.e.f.g.h.i.j.k.l$', '10.0.0.1.2.3.4', '^.{5,}x$'])(
    '%s generates on every seed',
    (regex) => {
      const re = RE2JS.compile(regex);
      for (const seed of [1, 2, 3, 4, 5]) {
        const [set] = generateEvents(`[x-test:value MATCHES '${regex.replace(/\\/g, '\\\\')}']`, { seed });
        const root = roots(set as Bundle[])[0] as StixObject;
        expect(re.matcher(root.value as string).find(), `${regex} ⇐ ${JSON.stringify(root.value)}`).toBe(true);
      }
    },
  );

  it('property (fast-check, seeded): every sample of a many-dot regex matches it', () => {
    fc.assert(
      fc.property(manyDots, fc.integer({ min: 0, max: 10_000 }), (regex, seed) => {
        const parsed = parseRegex(regex);
        expect(parsed.ok).toBe(true);
        if (!parsed.ok) return;
        const re = RE2JS.compile(regex);
        const prng = new Prng(seed);
        for (let i = 0; i < 5; i++) {
          const sample = sampleRegex(parsed.node, prng, () => 'filler words');
          expect(re.matcher(sample).find(), `${regex} ⇐ ${JSON.stringify(sample)}`).toBe(true);
        }
      }),
      { seed: 1115, numRuns: 300 },
    );
  });

  it('property (fast-check, seeded): the generator produces a matching event for a many-dot regex', () => {
    fc.assert(
      fc.property(manyDots, fc.integer({ min: 0, max: 10_000 }), (regex, seed) => {
        const sets = generateEvents(`[process:command_line MATCHES '${regex.replace(/\\/g, '\\\\')}']`, { seed });
        const value = roots(sets[0] as Bundle[])[0]?.command_line;
        expect(typeof value).toBe('string');
        expect(
          RE2JS.compile(regex)
            .matcher(value as string)
            .find(),
          `${regex} ⇐ ${JSON.stringify(value)}`,
        ).toBe(true);
      }),
      { seed: 1511, numRuns: 150 },
    );
  });
});

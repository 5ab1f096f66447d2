/**
 * Issue #11, item 12: the satisfiability verdict is about the whole pattern. An observation
 * expression that never matches does not make a pattern unsatisfiable when an
 * observation-level OR keeps it alive (a warning then, not an error); regexes whose anchors can
 * never hold are unsatisfiable; and a pattern past the 64-alternative cap is still decided.
 * Soundness is property-tested against brute force over small domains and against re2js.
 */
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { findUnsatisfiable, generateEvents, GenerationError } from '../../src/generate/index.js';
import { satisfiabilityDiagnostics } from '../../src/generate/unsat.js';
import { satisfiability } from '../../src/generate/analysis.js';
import { evidentlySatisfiable } from '../../src/generate/evident.js';
import { neverMatches } from '../../src/generate/regex.js';
import { compilePattern } from '../../src/pattern/compile.js';
import { prepareObservations } from '../../src/pattern/observation.js';
import type { Bundle, StixObject } from '../../src/stix/types.js';
import { matches, roots } from './helpers.js';

describe('an observation-level OR keeps a pattern satisfiable', () => {
  const ISSUE =
    "[network-traffic:some_invalid_attribute = 'x'] OR [file:name = 'a.exe' AND url:value = 'www.example.com']";

  it("the issue's pattern: no error, a warning on the dead branch, and generated events match", () => {
    expect(findUnsatisfiable(ISSUE)).toEqual([]);
    // The unknown property is a warning of the type checker; the dead branch is the solver's.
    const [unknown, ...ds] = satisfiabilityDiagnostics(ISSUE);
    expect(unknown).toMatchObject({ severity: 'warning', code: 'unknown-property' });
    expect(ds).toHaveLength(1);
    expect(ds[0]).toMatchObject({
      severity: 'warning',
      code: 'observation-never-matches',
      column: ISSUE.indexOf('url:value') + 1,
    });
    expect(ds[0]?.message).toBe(
      'observation expression 2 can never match (the pattern still can, through OR): url:value: comparisons on different root types (file, url) are joined by AND; they can never hold on the same object',
    );
    const [set] = generateEvents(ISSUE, { seed: 3 });
    expect(matches(ISSUE, set as Bundle[])).toBe(true);
    expect(roots(set as Bundle[])[0]?.type).toBe('network-traffic');
  });

  // Shapes met in converted indicator feeds and tool test suites: a dead branch under
  // qualifiers, beside AND, inside parentheses, on either side of OR.
  it.each([
    "([x-cluster:ns = 'a' AND x-deployment:name = 'b'] AND [mac-addr:value = '00:11:22:33:44:55']) OR [x-asset:repo = 'r'] START t'2023-01-01T00:00:00Z' STOP t'2023-02-01T00:00:00Z'",
    "[x-cluster:ns != 'd' OR x-deployment:name = 'b'] OR [mac-addr:value IN ('00:aa:dd:99:77:99') AND x-finding:name = 'f'] AND [x-asset:repo = 'r']",
    "[ipv4-addr:value = '192.0.2.1' AND network-traffic:src_port = 37020] OR [user-account:user_id = 'root'] AND [url:value = 'www.example.com']",
    "([network-traffic:dst_port IN (443, 3389)] OR [network-traffic:src_ref.value = '198.51.100.6' AND user-account:account_login = 'admin']) START t'2020-06-18T14:20:00Z' STOP t'2020-06-18T14:30:00Z'",
    "[process:name MATCHES 'Windows^'] OR [process:name = 'cmd.exe'] REPEATS 2 TIMES",
    "[file:name = 'a' AND file:name = 'b'] OR ([process:pid = 1] FOLLOWEDBY [process:pid = 2]) WITHIN 60 SECONDS",
  ])('%s', (pattern) => {
    expect(findUnsatisfiable(pattern)).toEqual([]);
    const ds = satisfiabilityDiagnostics(pattern);
    expect(ds.length).toBeGreaterThan(0);
    for (const d of ds) expect(d).toMatchObject({ severity: 'warning', code: 'observation-never-matches' });
    const sets = generateEvents(pattern, { seed: 11, count: 3 });
    for (const set of sets) expect(matches(pattern, set)).toBe(true);
  });

  it.each([
    ["[a:x = 1] AND [b:y = 'p' AND b:y = 'q']", ["b:y: no value satisfies = 'p' and = 'q'"]],
    [
      "[b:y = 'p' AND c:z = 1] FOLLOWEDBY [a:x = 1]",
      ['c:z: comparisons on different root types (b, c) are joined by AND; they can never hold on the same object'],
    ],
    [
      "([a:x IN ()] OR [process:name MATCHES '$cd']) AND [c:z = 1]",
      [
        'a:x: no value satisfies IN ()',
        "process:name: no value satisfies MATCHES '$cd' (the regex can never match: $ at offset 0 holds only at the end of the text, which the rest of the regex rules out)",
      ],
    ],
    ['[a:x = 1 AND a:x = 2] REPEATS 3 TIMES WITHIN 10 SECONDS', ['a:x: no value satisfies = 1 and = 2']],
  ])('a pattern that needs a dead observation is still an error: %s', (pattern, messages) => {
    const ds = findUnsatisfiable(pattern);
    expect(ds.map((d) => d.message)).toEqual(messages);
    for (const d of ds) expect(d).toMatchObject({ severity: 'error', code: 'unsatisfiable' });
    expect(satisfiabilityDiagnostics(pattern)).toEqual(ds);
    expect(() => generateEvents(pattern)).toThrow(GenerationError);
  });
});

describe('regexes that can never match', () => {
  it.each([
    ['Windows^', '^ at offset 7 holds only at the start of the text'],
    ['$cd', '$ at offset 0 holds only at the end of the text'],
    ['a\\zb', '\\z at offset 1 holds only at the end of the text'],
    ['x\\Ay', '\\A at offset 1 holds only at the start of the text'],
    ['(?m)a$b', '$ at offset 5 holds only at the end of the text or of a line'],
    ['(?m)a^b', '^ at offset 5 holds only at the start of the text or of a line'],
    ['(a|b)^c', '^ at offset 5 holds only at the start of the text'],
    ['[^\\x00-\\x{10FFFF}]', 'a character class in it matches no character'],
  ])('%s is unsatisfiable (%s)', (regex, why) => {
    expect(neverMatches(regex)).toBe(
      `${why}, which the rest of the regex rules out`.replace(
        /^a character class in it matches no character, which the rest of the regex rules out$/,
        'a character class in it matches no character',
      ),
    );
    const pattern = `[process:command_line MATCHES '${regex.replace(/\\/g, '\\\\')}']`;
    const [d] = findUnsatisfiable(pattern);
    expect(d).toMatchObject({ severity: 'error', code: 'unsatisfiable' });
    expect(d?.message).toContain('(the regex can never match: ');
  });

  it.each(['^abc$', '(?m)a$\\nb', '(?m)\\n^x', '(a|$)b', '(a$|b)c', '(?ms).^', '$^', '\\A\\z', 'a(^b)*', 'x$\\z'])(
    '%s may match',
    (regex) => {
      expect(neverMatches(regex)).toBeUndefined();
      expect(findUnsatisfiable(`[process:command_line MATCHES '${regex.replace(/\\/g, '\\\\')}']`)).toEqual([]);
    },
  );

  /** Regexes over a two-letter alphabet and a line break, with anchors anywhere and flags. */
  const regexArb = fc
    .letrec((tie) => ({
      atom: fc.constantFrom('a', 'b', '\\n', '.', '[ab]', '[^a]', '^', '$', '\\A', '\\z', '[^\\x00-\\x{10FFFF}]'),
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        tie('atom'),
        fc.tuple(tie('node'), tie('node')).map(([l, r]) => `${l as string}${r as string}`),
        fc.tuple(tie('node'), tie('node')).map(([l, r]) => `(?:${l as string}|${r as string})`),
        fc
          .tuple(tie('atomNoAnchor'), fc.constantFrom('*', '+', '?', '{2}', '{0,2}'))
          .map(([a, q]) => `${a as string}${q}`),
      ),
      atomNoAnchor: fc.constantFrom('a', 'b', '\\n', '.', '(?:ab)', '[^b]'),
    }))
    .node.chain((body) =>
      fc.constantFrom('', '(?m)', '(?s)', '(?ms)', '(?i)').map((flags) => `${flags}${body as string}`),
    );

  /** Every string over {a, b, \n} up to a length: a regex of these atoms that matches anything matches one of them. */
  const SMALL: string[] = [''];
  for (let length = 1; length <= 6; length++)
    for (const s of SMALL.filter((x) => x.length === length - 1)) for (const c of ['a', 'b', '\n']) SMALL.push(s + c);

  it('property (fast-check, seeded): a regex called unmatchable matches no string, by brute force and on random strings', () => {
    let unmatchable = 0;
    fc.assert(
      fc.property(
        regexArb,
        fc.array(fc.string({ unit: fc.constantFrom('a', 'b', '\n', 'x', 'é') }), { minLength: 20, maxLength: 20 }),
        (regex, randoms) => {
          const re = RE2JS.compile(regex);
          if (neverMatches(regex) === undefined) return;
          unmatchable++;
          for (const s of [...SMALL, ...randoms])
            expect(re.matcher(s).find(), `${JSON.stringify(regex)} matches ${JSON.stringify(s)}`).toBe(false);
        },
      ),
      { seed: 2024_11_12, numRuns: 800 },
    );
    // Not vacuous: anchors in the middle are common in this distribution.
    expect(unmatchable).toBeGreaterThan(30);
  });

  it('property (fast-check, seeded): when the regex is not called unmatchable, the generated witness matches it', () => {
    let generated = 0;
    fc.assert(
      fc.property(regexArb, fc.integer({ min: 0, max: 1000 }), (regex, seed) => {
        if (neverMatches(regex) !== undefined) return;
        const pattern = `[process:command_line MATCHES '${regex.replace(/\\/g, '\\\\')}']`;
        let sets;
        try {
          sets = generateEvents(pattern, { seed });
        } catch (error) {
          // The sampler may fail to find a witness; it must never claim the regex is empty.
          expect((error as GenerationError).code, regex).toBe('unsupported-generation');
          return;
        }
        generated++;
        const value = roots(sets[0] as Bundle[])[0]?.command_line as string;
        expect(RE2JS.compile(regex).matcher(value).find(), `${JSON.stringify(regex)} ⇐ ${JSON.stringify(value)}`).toBe(
          true,
        );
      }),
      { seed: 2024_11_13, numRuns: 400 },
    );
    expect(generated).toBeGreaterThan(150);
  });
});

describe('past the 64-alternative cap', () => {
  const ors = (n: number, path: string, value = (i: number) => `'v${i}'`): string =>
    `(${Array.from({ length: n }, (_, i) => `${path} = ${value(i)}`).join(' OR ')})`;

  it('a contradiction beside many alternatives is found (2^7 alternatives)', () => {
    const p = `[${[1, 2, 3, 4, 5, 6, 7].map((k) => ors(2, `a:x${k}`)).join(' AND ')} AND a:z = 1 AND a:z = 2]`;
    const ds = findUnsatisfiable(p);
    expect(ds.map((d) => [d.code, d.severity, d.message])).toEqual([
      ['unsatisfiable', 'error', 'a:z: no value satisfies = 1 and = 2'],
    ]);
    expect(ds[0]?.column).toBe(p.indexOf('a:z = 2') + 1);
  });

  it('an OR of 70 alternatives joined by AND with another root type', () => {
    const p = `[${ors(70, 'file:name')} AND url:value = 'x']`;
    expect(findUnsatisfiable(p).map((d) => d.message)).toEqual([
      'url:value: comparisons on different root types (file, url) are joined by AND; they can never hold on the same object',
    ]);
  });

  it('dependent operands are decided together: a:x is one of 9 values, and also w', () => {
    const dead = `[${ors(9, 'a:x')} AND ${ors(9, 'a:y')} AND a:x = 'w']`;
    expect(findUnsatisfiable(dead).length).toBeGreaterThan(0);
    const alive = `[${ors(9, 'a:x')} AND ${ors(9, 'a:y')} AND a:x = 'v3']`;
    expect(findUnsatisfiable(alive)).toEqual([]);
    // 81 alternatives, the satisfiable ones late: the generator still finds one.
    const late = `[${ors(9, 'a:x')} AND ${ors(9, 'a:y')} AND a:x = 'v8' AND a:y = 'v8']`;
    const [set] = generateEvents(late, { seed: 2 });
    expect(roots(set as Bundle[])[0]).toMatchObject({ x: 'v8', y: 'v8' });
  });

  /**
   * Brute force: every object of types a and b with properties x, y, z absent or 1, 2, 3 (128
   * objects) is tried against random expressions with far more than 64 alternatives; when the
   * analysis calls one unsatisfiable, none may match.
   */
  it('property (fast-check, seeded): an expression called unsatisfiable past the cap matches no object of a complete small domain', () => {
    const objects: StixObject[] = [];
    for (const type of ['a', 'b']) {
      for (let m = 0; m < 64; m++) {
        const o: StixObject = { type, id: `${type}--${m}` };
        (['x', 'y', 'z'] as const).forEach((k, i) => {
          const v = (m >> (2 * i)) & 3;
          if (v > 0) o[k] = v;
        });
        objects.push(o);
      }
    }
    const prepared = prepareObservations(
      objects.map((o, i) => ({
        type: 'observed-data',
        id: `observed-data--${i}`,
        first_observed: '2024-01-01T00:00:00Z',
        last_observed: '2024-01-01T00:00:00Z',
        number_observed: 1,
        objects: { 0: o },
      })),
    );
    const leaf = fc.oneof(
      fc
        .tuple(
          fc.constantFrom('a', 'a', 'b'),
          fc.constantFrom('x', 'y', 'z'),
          fc.constantFrom('=', '!=', '<', '>', '<=', '>='),
          fc.integer({ min: 0, max: 4 }),
        )
        .map(([t, k, op, v]) => `${t}:${k} ${op} ${v}`),
      fc
        .tuple(
          fc.constantFrom('a', 'b'),
          fc.constantFrom('x', 'y', 'z'),
          fc.uniqueArray(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
        )
        .map(([t, k, vs]) => `${t}:${k} IN (${vs.join(', ')})`),
      fc.tuple(fc.constantFrom('', 'NOT '), fc.constantFrom('x', 'y', 'z')).map(([not, k]) => `${not}EXISTS a:${k}`),
    );
    const or = fc.array(leaf, { minLength: 2, maxLength: 3 }).map((ls) => `(${ls.join(' OR ')})`);
    const expr = fc
      .tuple(fc.array(or, { minLength: 5, maxLength: 8 }), fc.array(leaf, { maxLength: 3 }))
      .map(([os, ls]) => [...os, ...ls].join(' AND '));
    let proven = 0;
    fc.assert(
      fc.property(expr, (text) => {
        const pattern = compilePattern(`[${text}]`);
        if (findUnsatisfiable(pattern).length === 0) return;
        proven++;
        const observation = pattern.observations[0] as (typeof pattern.observations)[number];
        for (const o of prepared)
          expect(observation.test(o), `[${text}] matches ${JSON.stringify(o.roots[0]?.object)}`).toBe(false);
      }),
      { seed: 64_64, numRuns: 250 },
    );
    expect(proven).toBeGreaterThan(40);
  });
});

describe('the evident-satisfiability shortcut agrees with the solver', () => {
  it('property (fast-check, seeded): an expression called evidently satisfiable is never unsatisfiable for the full analysis, and generates', () => {
    const path = fc.constantFrom(
      'name',
      'pid',
      'x_a',
      'x_b.c',
      'x_b.d',
      'parent_ref.name',
      'parent_ref.pid',
      'hashes.MD5',
      'x_list[*]',
      'type',
    );
    const value = fc.oneof(
      fc.constantFrom("'a'", "'b'", '1', '2', 'true', '2.5'),
      fc.constantFrom("'%a%'", "'^x'", "'Windows^'", "'10.0.0.0/8'"),
    );
    const op = fc.constantFrom(
      '=',
      '!=',
      'NOT =',
      '>',
      '<',
      'NOT >',
      'IN',
      'NOT IN',
      'LIKE',
      'NOT LIKE',
      'MATCHES',
      'NOT MATCHES',
      'ISSUBSET',
      'NOT ISSUPERSET',
      'EXISTS',
      'NOT EXISTS',
    );
    const leaf = fc
      .tuple(fc.constantFrom('process', 'process', 'file'), path, op, value)
      .map(([t, p, o, v]) =>
        o.endsWith('EXISTS') ? `${o} ${t}:${p}` : o.endsWith('IN') ? `${t}:${p} ${o} (${v})` : `${t}:${p} ${o} ${v}`,
      );
    const expr = fc.letrec((tie) => ({
      e: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc
          .tuple(tie('e'), fc.constantFrom('AND', 'AND', 'OR'), tie('e'))
          .map(([l, o, r]) => `(${l as string} ${o} ${r as string})`),
      ),
    })).e;
    let evident = 0;
    fc.assert(
      fc.property(expr, fc.integer({ min: 0, max: 100 }), (text, seed) => {
        let pattern;
        try {
          pattern = compilePattern(`[${text as string}]`);
        } catch {
          return; // a literal of the wrong kind for its operator, say
        }
        if (
          !evidentlySatisfiable(
            (pattern.observations[0] as (typeof pattern.observations)[number]).expression.comparison,
          )
        )
          return;
        evident++;
        expect(satisfiability(pattern), text as string).toEqual([]);
        try {
          const [set] = generateEvents(pattern, { seed });
          expect(matches(pattern, set as Bundle[])).toBe(true);
        } catch (error) {
          expect((error as GenerationError).code, text as string).toBe('unsupported-generation');
        }
      }),
      { seed: 777, numRuns: 400 },
    );
    expect(evident).toBeGreaterThan(80);
  });
});

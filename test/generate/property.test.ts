/**
 * Property: for random patterns (every comparison operator, NOT forms, paths with references
 * and lists, AND/OR inside observations, AND/OR/FOLLOWEDBY between them, WITHIN, START/STOP,
 * REPEATS), every generated set matches under the batch matcher and no near miss does.
 * Patterns the generator reports unsatisfiable or unsupported are skipped, and counted.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GenerationError, generateEvents } from '../../src/generate/index.js';
import { compilePattern } from '../../src/pattern/compile.js';

type Kind = 'str' | 'int' | 'float' | 'bool' | 'ip4' | 'ip6' | 'hash' | 'ts' | 'bin';

const PROPS: Record<string, [string, Kind][]> = {
  process: [
    ['name', 'str'],
    ['command_line', 'str'],
    ['pid', 'int'],
    ['parent_ref.name', 'str'],
    ['parent_ref.pid', 'int'],
    ['image_ref.name', 'str'],
    ['x_tags[*]', 'str'],
    ['x_args[1]', 'str'],
  ],
  'network-traffic': [
    ['dst_port', 'int'],
    ['src_port', 'int'],
    ['protocols[*]', 'str'],
    ['dst_ref.value', 'ip4'],
    ['src_ref.value', 'ip6'],
  ],
  file: [
    ['name', 'str'],
    ['size', 'int'],
    ["hashes.'SHA-256'", 'hash'],
    ["extensions.'windows-pebinary-ext'.sections[*].entropy", 'float'],
    ['created', 'ts'],
  ],
  'email-message': [
    ['to_refs[*].value', 'str'],
    ['from_ref.value', 'str'],
    ['is_multipart', 'bool'],
    ['subject', 'str'],
  ],
  artifact: [
    ['payload_bin', 'bin'],
    ['x_data_hex', 'bin'],
    ['mime_type', 'str'],
  ],
};
const TYPES = Object.keys(PROPS);

const STRINGS = ["'cmd.exe'", "'powershell.exe'", "'a'", "'bob@example.com'", "'x.y'", "'it\\'s'", "'C:\\\\Windows'"];
const LIKES = ["'%.exe'", "'power%'", "'%shell%'", "'c_d.exe'", "'%@example.com'", "'a%b'"];
const REGEXES = [
  "'^power'",
  "'\\\\.exe$'",
  "'[a-z]+\\\\d{2,3}'",
  "'^(cmd|bash)( -c)?$'",
  "'e.e'",
  "'^\\\\w+@\\\\w+\\\\.com$'",
];
const HASH = "'" + 'ab'.repeat(32) + "'";

const not = fc.boolean().map((b) => (b ? 'NOT ' : ''));

function valueTest(kind: Kind): fc.Arbitrary<string> {
  const int = fc.integer({ min: -5, max: 70000 });
  switch (kind) {
    case 'str':
      return fc.oneof(
        fc.tuple(not, fc.constantFrom('=', '!='), fc.constantFrom(...STRINGS)).map(([n, op, v]) => `${n}${op} ${v}`),
        fc
          .tuple(not, fc.subarray(STRINGS, { minLength: 1, maxLength: 3 }))
          .map(([n, vs]) => `${n}IN (${vs.join(', ')})`),
        fc.tuple(not, fc.constantFrom(...LIKES)).map(([n, v]) => `${n}LIKE ${v}`),
        fc.tuple(not, fc.constantFrom(...REGEXES)).map(([n, v]) => `${n}MATCHES ${v}`),
        fc
          .tuple(not, fc.constantFrom('<', '<=', '>', '>='), fc.constantFrom("'m'", "'cmd'", "'z'"))
          .map(([n, op, v]) => `${n}${op} ${v}`),
      );
    case 'int':
      return fc.oneof(
        fc.tuple(not, fc.constantFrom('=', '!=', '<', '<=', '>', '>='), int).map(([n, op, v]) => `${n}${op} ${v}`),
        fc.tuple(not, fc.array(int, { minLength: 1, maxLength: 4 })).map(([n, vs]) => `${n}IN (${vs.join(', ')})`),
      );
    case 'float':
      return fc
        .tuple(not, fc.constantFrom('<', '<=', '>', '>=', '=', '!='), fc.constantFrom('7.5', '0.25', '3.0', '8'))
        .map(([n, op, v]) => `${n}${op} ${v}`);
    case 'bool':
      return fc
        .tuple(not, fc.constantFrom('=', '!='), fc.constantFrom('true', 'false'))
        .map(([n, op, v]) => `${n}${op} ${v}`);
    case 'ip4':
      return fc.oneof(
        fc
          .tuple(
            not,
            fc.constantFrom('ISSUBSET', 'ISSUPERSET'),
            fc.constantFrom("'10.0.0.0/8'", "'192.168.1.0/24'", "'10.1.2.3'", "'0.0.0.0/0'"),
          )
          .map(([n, op, v]) => `${n}${op} ${v}`),
        fc
          .tuple(not, fc.constantFrom('=', '!='), fc.constantFrom("'10.1.2.3'", "'8.8.8.8'"))
          .map(([n, op, v]) => `${n}${op} ${v}`),
      );
    case 'ip6':
      return fc
        .tuple(
          not,
          fc.constantFrom('ISSUBSET', 'ISSUPERSET', '=', '!='),
          fc.constantFrom("'2001:db8::/32'", "'2001:db8::1'", "'fe80::/10'"),
        )
        .map(([n, op, v]) => `${n}${op} ${v}`);
    case 'hash':
      return fc.oneof(
        fc.tuple(not, fc.constantFrom('=', '!='), fc.constant(HASH)).map(([n, op, v]) => `${n}${op} ${v}`),
        fc.tuple(not, fc.constantFrom("'ab%'", "'%00'", "'a_b%'")).map(([n, v]) => `${n}LIKE ${v}`),
      );
    case 'ts':
      return fc
        .tuple(
          not,
          fc.constantFrom('<', '<=', '>', '>=', '=', '!='),
          fc.constantFrom("t'2023-01-01T00:00:00Z'", "t'2024-06-01T12:30:00.25Z'"),
        )
        .map(([n, op, v]) => `${n}${op} ${v}`);
    case 'bin':
      return fc.oneof(
        fc
          .tuple(not, fc.constantFrom('=', '!='), fc.constantFrom("b'TVqQAA=='", "h'4d5a'", "'MZ'"))
          .map(([n, op, v]) => `${n}${op} ${v}`),
        fc.tuple(not, fc.constantFrom("'^MZ'", "'Z'")).map(([n, v]) => `${n}MATCHES ${v}`),
      );
  }
}

function comparison(type: string): fc.Arbitrary<string> {
  const props = PROPS[type] as [string, Kind][];
  return fc
    .constantFrom(...props)
    .chain(([path, kind]) =>
      fc.oneof(
        { weight: 8, arbitrary: valueTest(kind).map((t) => `${type}:${path} ${t}`) },
        { weight: 1, arbitrary: not.map((n) => `${n}EXISTS ${type}:${path}`) },
      ),
    );
}

const comparisonExpression: fc.Arbitrary<string> = fc.constantFrom(...TYPES).chain((type) =>
  fc
    .tuple(
      fc.array(comparison(type), { minLength: 1, maxLength: 3 }),
      fc.array(fc.constantFrom('AND', 'AND', 'OR'), { minLength: 2, maxLength: 2 }),
      fc.boolean(),
      fc.constantFrom(...TYPES).chain((t) => comparison(t)),
    )
    .map(([leaves, ops, other, otherLeaf]) => {
      let text = leaves[0] as string;
      for (let i = 1; i < leaves.length; i++) text = `${text} ${ops[i - 1]} ${leaves[i]}`;
      if (other && leaves.length > 1) text = `(${text}) OR ${otherLeaf}`;
      return text;
    }),
);

const qualifier = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 120 }).map((n) => ` WITHIN ${n} SECONDS`) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map((n) => ` REPEATS ${n} TIMES`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      " START t'2023-03-01T00:00:00Z' STOP t'2023-03-01T01:00:00Z'",
      " START t'2023-03-01T00:30:00Z' STOP t'2023-03-02T00:00:00Z'",
    ),
  },
);

const observation = fc.tuple(comparisonExpression, qualifier).map(([c, q]) => `[${c}]${q}`);

const pattern: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(observation, { minLength: 1, maxLength: 3 }),
    fc.array(fc.constantFrom('AND', 'OR', 'FOLLOWEDBY'), { minLength: 2, maxLength: 2 }),
    qualifier,
  )
  .map(([obs, ops, q]) => {
    let text = obs[0] as string;
    for (let i = 1; i < obs.length; i++) text = `${text} ${ops[i - 1]} ${obs[i]}`;
    return q && obs.length > 1 ? `(${text})${q}` : text;
  });

describe('generated events satisfy random patterns; near misses do not', () => {
  it('property (fast-check, seeded)', () => {
    let runs = 0;
    let skipped = 0;
    const reasons: string[] = [];
    fc.assert(
      fc.property(pattern, fc.integer({ min: 0, max: 1000 }), (text, seed) => {
        runs++;
        const compiled = compilePattern(text);
        let sets;
        try {
          sets = generateEvents(compiled, { count: 2, seed });
        } catch (error) {
          if (!(error instanceof GenerationError)) throw error;
          skipped++;
          reasons.push(`${error.code}: ${text} :: ${error.diagnostics[0]?.message}`);
          return;
        }
        expect(sets).toHaveLength(2);
        for (const set of sets) expect(compiled.match(set).matched, `${text}\n${JSON.stringify(set)}`).toBe(true);
        const misses = generateEvents(compiled, { seed, miss: true });
        for (const m of misses) expect(compiled.match(m.events).matched, `${text}\n${m.description}`).toBe(false);
      }),
      { seed: 20240601, numRuns: 300 },
    );
    if (process.env.GEN_VERBOSE) console.log(`${skipped}/${runs} skipped\n${reasons.join('\n')}`);
    expect(runs).toBeGreaterThanOrEqual(300);
    expect(skipped / runs).toBeLessThan(0.1);
  });
});

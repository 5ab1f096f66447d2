/**
 * Property tests (fast-check, seeded): the compiler never crashes on any input, and the
 * printer and parser are inverse on every valid AST.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MatchError, PatternError } from '../../src/errors.js';
import {
  type ComparisonExpression,
  type Literal,
  type ObjectPath,
  type ObservationExpression,
  type PathStep,
  type PatternAst,
  type Qualifier,
} from '../../src/pattern/ast.js';
import { checkPattern, compilePattern } from '../../src/pattern/compile.js';
import { parsePattern } from '../../src/pattern/parse.js';
import { printPattern } from '../../src/pattern/print.js';
import { parseStixTimestamp } from '../../src/pattern/literals.js';
import { observed21 } from './fixtures.js';

const SEED = 42;

/** A deep copy without `span` properties (Uint8Array values kept as they are). */
function stripSpans<T>(value: T): T {
  if (Array.isArray(value)) return value.map(stripSpans) as T;
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (k !== 'span') out[k] = stripSpans(v);
  return out as T;
}

// ------------------------------------------------------------------ (a) robustness

const TOKENS = [
  '[',
  ']',
  '(',
  ')',
  ':',
  '.',
  ',',
  '[*]',
  '[0]',
  '[-1]',
  'x',
  'file',
  'x-a',
  'hashes',
  "'SHA-256'",
  'name',
  'src_ref',
  'value',
  '=',
  '!=',
  '==',
  '<>',
  '<',
  '<=',
  '>',
  '>=',
  'IN',
  'LIKE',
  'MATCHES',
  'ISSUBSET',
  'ISSUPERSET',
  'EXISTS',
  'NOT',
  'AND',
  'OR',
  'FOLLOWEDBY',
  'WITHIN',
  'SECONDS',
  'REPEATS',
  'TIMES',
  'START',
  'STOP',
  '1',
  '0',
  '-1',
  '2.5',
  '.5',
  '+3',
  "'a'",
  "'%b_'",
  "'^a+$'",
  "'(?=x)'",
  "'('",
  "'10.0.0.0/8'",
  "'::/0'",
  "'bad\\q'",
  "''",
  'true',
  'false',
  'null',
  "t'2020-01-01T00:00:00Z'",
  "t'2020-13-01T00:00:00Z'",
  "t'2021-01-01T00:00:00.5Z'",
  "h'00ff'",
  "h'abc'",
  "b'AQID'",
  "b'AQI'",
  '/* c */',
  '// c\n',
  '\n',
  '$',
  '"',
  "'",
  '\\',
  'and',
  'within',
];

const tokenSoup = fc
  .tuple(fc.array(fc.constantFrom(...TOKENS), { maxLength: 30 }), fc.constantFrom(' ', ''))
  .map(([tokens, sep]) => tokens.join(sep));

/** Near-valid patterns: a valid skeleton with one token replaced, dropped or duplicated. */
const SKELETON =
  "[file:hashes.'SHA-256' LIKE 'a%' AND file:size IN (1, 2)] FOLLOWEDBY ([x:w MATCHES '^a' OR x:y ISSUBSET '10.0.0.0/8'] REPEATS 2 TIMES) WITHIN 5 SECONDS".split(
    ' ',
  );
const mutatedSkeleton = fc
  .tuple(fc.nat(SKELETON.length - 1), fc.constantFrom('drop', 'dup', 'replace'), fc.constantFrom(...TOKENS))
  .map(([i, how, token]) => {
    const tokens = [...SKELETON];
    if (how === 'drop') tokens.splice(i, 1);
    else if (how === 'dup') tokens.splice(i, 0, tokens[i] as string);
    else tokens[i] = token;
    return tokens.join(' ');
  });

const SAMPLE = [
  observed21([{ type: 'x', v: 1, w: 'abc', y: '10.1.2.3' }], { first: 0 }),
  observed21([{ type: 'file', name: 'a', hashes: { 'SHA-256': 'a' } }], { first: 1 }),
];

function checkNeverThrows(text: string): void {
  const result = checkPattern(text);
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  if (result.pattern) {
    expect(errors).toEqual([]);
  } else {
    expect(errors.length).toBeGreaterThanOrEqual(1);
  }
  for (const d of result.diagnostics) {
    expect(typeof d.code).toBe('string');
    expect(d.code.length).toBeGreaterThan(0);
    expect(typeof d.message).toBe('string');
    expect(d.line).toBeGreaterThanOrEqual(1);
    expect(d.column).toBeGreaterThanOrEqual(1);
  }
  let compiled;
  try {
    compiled = compilePattern(text);
  } catch (error) {
    expect(error).toBeInstanceOf(PatternError);
    expect((error as PatternError).diagnostics.length).toBeGreaterThanOrEqual(1);
    expect(result.pattern).toBeUndefined();
    return;
  }
  expect(result.pattern).toBeDefined();
  // a compiled pattern evaluates without crashing: a result, or a typed MatchError
  try {
    expect(typeof compiled.match(SAMPLE).matched).toBe('boolean');
  } catch (error) {
    expect(error).toBeInstanceOf(MatchError);
  }
}

describe('(a) the compiler never crashes', () => {
  it('on random strings', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 60 }),
          fc.string({ unit: 'binary', maxLength: 40 }),
          fc.string({
            unit: fc.constantFrom('[', ']', "'", '\\', 'x', ':', '=', ' ', '(', ')', '1', '.'),
            maxLength: 40,
          }),
        ),
        (text) => {
          checkNeverThrows(text);
        },
      ),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('on token soups', () => {
    fc.assert(
      fc.property(tokenSoup, (text) => {
        checkNeverThrows(text);
      }),
      { seed: SEED, numRuns: 1500 },
    );
  });

  it('on near-valid patterns', () => {
    fc.assert(
      fc.property(mutatedSkeleton, (text) => {
        checkNeverThrows(text);
      }),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('the skeleton itself compiles', () => {
    expect(checkPattern(SKELETON.join(' ')).diagnostics).toEqual([]);
  });

  // Not a STIX rule: the API contract of checkPattern / compilePattern. Fails today: deep
  // nesting overflows the stack of the recursive parser / AST builder and a RangeError escapes.
  it('on deeply nested parentheses: a diagnostic, not a RangeError', () => {
    const depth = 5000;
    for (const text of [
      '('.repeat(depth) + '[x:a = 1]' + ')'.repeat(depth),
      '[' + '('.repeat(depth) + 'x:a = 1' + ')'.repeat(depth) + ']',
    ]) {
      expect(() => checkPattern(text)).not.toThrow();
      try {
        compilePattern(text);
      } catch (error) {
        expect(error).toBeInstanceOf(PatternError);
      }
    }
  });
});

// ------------------------------------------------------------------ (b)/(c) AST round trip

const LOWER_KEYWORDS = new Set(['true', 'false']);
const UPPER_KEYWORDS = new Set([
  'AND',
  'OR',
  'NOT',
  'FOLLOWEDBY',
  'LIKE',
  'MATCHES',
  'ISSUPERSET',
  'ISSUBSET',
  'EXISTS',
  'IN',
  'START',
  'STOP',
  'SECONDS',
  'WITHIN',
  'REPEATS',
  'TIMES',
]);

const objectType = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/).filter((s) => !LOWER_KEYWORDS.has(s));
const bareKey = fc
  .stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,6}$/)
  .filter((s) => !LOWER_KEYWORDS.has(s) && !UPPER_KEYWORDS.has(s));
const anyKey = fc.oneof(
  bareKey,
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.constantFrom('SHA-256', 'windows-pebinary-ext', "it's", 'a\\b', '', 'AND', 'true', '0', 'x y', 'ключ'),
);
const step: fc.Arbitrary<PathStep> = fc.oneof(
  anyKey.map((name) => ({ kind: 'key' as const, name })),
  fc.integer({ min: -1000, max: 1000 }).map((index) => ({ kind: 'index' as const, index })),
  fc.constant({ kind: 'anyIndex' as const }),
);
const objectPath: fc.Arbitrary<ObjectPath> = fc
  .tuple(objectType, anyKey, fc.array(step, { maxLength: 4 }))
  .map(([type, first, rest]) => ({ objectType: type, steps: [{ kind: 'key', name: first }, ...rest] }));

const stringLiteral = fc
  .oneof(
    fc.string({ unit: 'grapheme', maxLength: 12 }),
    fc.string({ unit: fc.constantFrom("'", '\\', 'a', '%', '_', ' ', '\n', '\u00e9'), maxLength: 10 }),
  )
  .map((value): Literal => ({ type: 'string', value }));
const intLiteral = fc
  .integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER })
  .map((value): Literal => ({ type: 'int', value }));
// -0 prints as 0.0 (equal as a number, not Object.is-equal); sub-1e-100 magnitudes are covered
// by a test of their own below.
const floatLiteral = fc
  .double({ min: -1e30, max: 1e30, noNaN: true, noDefaultInfinity: true })
  .filter((v) => !Object.is(v, -0) && (v === 0 || Math.abs(v) > 1e-60))
  .map((value): Literal => ({ type: 'float', value }));
const boolLiteral = fc.boolean().map((value): Literal => ({ type: 'bool', value }));
const binaryLiteral = fc
  .tuple(fc.uint8Array({ maxLength: 12 }), fc.constantFrom('base64' as const, 'hex' as const))
  .map(([bytes, encoding]): Literal => ({ type: 'binary', value: new Uint8Array(bytes), encoding }));

const pad = (n: number, width: number) => String(n).padStart(width, '0');
const timestampText = fc
  .record({
    year: fc.integer({ min: 1000, max: 9999 }),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 28 }),
    hour: fc.integer({ min: 0, max: 23 }),
    minute: fc.integer({ min: 0, max: 59 }),
    second: fc.integer({ min: 0, max: 59 }),
    fraction: fc.option(fc.stringMatching(/^[0-9]{1,9}$/), { nil: undefined }),
  })
  .map(
    (t) =>
      `${pad(t.year, 4)}-${pad(t.month, 2)}-${pad(t.day, 2)}T${pad(t.hour, 2)}:${pad(t.minute, 2)}:${pad(t.second, 2)}${t.fraction ? '.' + t.fraction : ''}Z`,
  );
const timestampLiteral = timestampText.map((text) => ({
  type: 'timestamp' as const,
  value: parseStixTimestamp(text) as number,
  text,
}));

const orderable = fc.oneof(stringLiteral, intLiteral, floatLiteral, binaryLiteral, timestampLiteral);
const primitive = fc.oneof(orderable, boolLiteral);

const comparisonLeaf: fc.Arbitrary<ComparisonExpression> = fc.oneof(
  fc.record({
    kind: fc.constant('comparison' as const),
    path: objectPath,
    operator: fc.constantFrom('=' as const, '!=' as const),
    negated: fc.boolean(),
    value: primitive,
  }),
  fc.record({
    kind: fc.constant('comparison' as const),
    path: objectPath,
    operator: fc.constantFrom('<' as const, '<=' as const, '>' as const, '>=' as const),
    negated: fc.boolean(),
    value: orderable,
  }),
  fc.record({
    kind: fc.constant('comparison' as const),
    path: objectPath,
    operator: fc.constantFrom('LIKE' as const, 'MATCHES' as const, 'ISSUBSET' as const, 'ISSUPERSET' as const),
    negated: fc.boolean(),
    value: stringLiteral,
  }),
  fc.record({
    kind: fc.constant('in' as const),
    path: objectPath,
    negated: fc.boolean(),
    values: fc.array(primitive, { maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant('exists' as const), path: objectPath, negated: fc.boolean() }),
);

const { comparison } = fc.letrec<{ comparison: ComparisonExpression }>((tie) => ({
  comparison: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    comparisonLeaf,
    fc.record({
      kind: fc.constantFrom('and' as const, 'or' as const),
      left: tie('comparison'),
      right: tie('comparison'),
    }),
  ),
}));

const qualifier: fc.Arbitrary<Qualifier> = fc.oneof(
  fc
    .oneof(fc.integer({ min: 1, max: 1_000_000 }), fc.double({ min: 1e-6, max: 1e6, noNaN: true }))
    .filter((s) => s > 0)
    .map((seconds) => ({ kind: 'within' as const, seconds })),
  fc.integer({ min: 1, max: 100_000 }).map((times) => ({ kind: 'repeats' as const, times })),
  fc
    .tuple(timestampLiteral, timestampLiteral)
    .filter(([a, b]) => a.value !== b.value)
    .map(([a, b]) =>
      a.value < b.value
        ? { kind: 'startStop' as const, start: a, stop: b }
        : { kind: 'startStop' as const, start: b, stop: a },
    ),
);

const { observation } = fc.letrec<{ observation: ObservationExpression }>((tie) => ({
  observation: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    comparison.map((c): ObservationExpression => ({ kind: 'observation', comparison: c })),
    fc.record({
      kind: fc.constantFrom('and' as const, 'or' as const, 'followedBy' as const),
      left: tie('observation'),
      right: tie('observation'),
    }),
    fc.record({ kind: fc.constant('qualified' as const), qualifier, expression: tie('observation') }),
  ),
}));

const patternAst: fc.Arbitrary<PatternAst> = observation.map((root) => ({ root }));

describe('(b) printPattern → parsePattern gives back the same AST', () => {
  it('for arbitrary valid ASTs', () => {
    fc.assert(
      fc.property(patternAst, (ast) => {
        const text = printPattern(ast);
        const parsed = parsePattern(text, { stixVersion: '2.1' });
        expect(parsed.diagnostics, text).toEqual([]);
        expect(stripSpans(parsed.ast)).toEqual(ast);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('the generator reaches every node kind', () => {
    const kinds = new Set<string>();
    const visitC = (c: ComparisonExpression): void => {
      if (c.kind === 'and' || c.kind === 'or') {
        kinds.add(`c-${c.kind}`);
        visitC(c.left);
        visitC(c.right);
      } else kinds.add(c.kind === 'comparison' ? `op-${c.operator}-${c.value.type}` : c.kind);
    };
    const visitO = (o: ObservationExpression): void => {
      if (o.kind === 'observation') visitC(o.comparison);
      else if (o.kind === 'qualified') {
        kinds.add(`q-${o.qualifier.kind}`);
        visitO(o.expression);
      } else {
        kinds.add(`o-${o.kind}`);
        visitO(o.left);
        visitO(o.right);
      }
    };
    for (const ast of fc.sample(patternAst, { seed: SEED, numRuns: 400 })) visitO(ast.root);
    for (const k of [
      'c-and',
      'c-or',
      'o-and',
      'o-or',
      'o-followedBy',
      'q-within',
      'q-repeats',
      'q-startStop',
      'in',
      'exists',
      'op-=-bool',
      'op-<-timestamp',
      'op-=-binary',
      'op-MATCHES-string',
      'op->=-float',
      'op-!=-int',
    ]) {
      expect(kinds, k).toContain(k);
    }
  });

  it('for the qualifier chains that need parentheses', () => {
    const obs: ObservationExpression = {
      kind: 'observation',
      comparison: { kind: 'exists', path: { objectType: 'x', steps: [{ kind: 'key', name: 'a' }] }, negated: false },
    };
    const twice: ObservationExpression = {
      kind: 'qualified',
      qualifier: { kind: 'within', seconds: 6 },
      expression: { kind: 'qualified', qualifier: { kind: 'within', seconds: 5 }, expression: obs },
    };
    const text = printPattern({ root: twice });
    expect(checkPattern(text).diagnostics).toEqual([]);
    expect(stripSpans(parsePattern(text).ast)).toEqual({ root: twice });
  });

  // Fails today: print.ts formatNumber() prints a float below 1e-100 in magnitude via
  // toFixed(100) with trailing zeros stripped, giving `0.`, which is not a STIX float literal
  // (the STIX 2.1 grammar needs digits after the point): the printed pattern does not parse.
  it('for floats smaller than 1e-100 (comparison constant and WITHIN)', () => {
    const source = `[x:a = 0.${'0'.repeat(200)}1] WITHIN 0.${'0'.repeat(120)}1 SECONDS`;
    const parsed = parsePattern(source);
    expect(parsed.diagnostics).toEqual([]);
    const printed = printPattern(parsed.ast!);
    const again = parsePattern(printed);
    expect(again.diagnostics).toEqual([]);
    expect(stripSpans(again.ast)).toEqual(stripSpans(parsed.ast));
  });
});

describe('(c) printing is stable', () => {
  it('print(parse(print(ast))) === print(ast)', () => {
    fc.assert(
      fc.property(patternAst, (ast) => {
        const once = printPattern(ast);
        const reparsed = parsePattern(once);
        expect(reparsed.ast, once).toBeDefined();
        expect(printPattern(reparsed.ast!)).toBe(once);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('on hand-written patterns with redundant parentheses and spacing', () => {
    for (const text of [
      "(([x:a = 1]))  AND\n([x:b = 'b' OR (x:c = 2 AND x:d = 3)])",
      '[x:a = 1] OR [x:b = 2] AND [x:c = 3] FOLLOWEDBY [x:d = 4] WITHIN 5 SECONDS',
      "[file:hashes.'SHA-256' NOT IN ('a', 'b')] REPEATS 2 TIMES START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00Z'",
      "[x:a.'b c'[*].d[-1] == h'00FF' AND NOT EXISTS x:e] WITHIN 0.5 SECONDS",
    ]) {
      const once = printPattern(parsePattern(text).ast!);
      expect(printPattern(parsePattern(once).ast!)).toBe(once);
      expect(stripSpans(parsePattern(once).ast)).toEqual(stripSpans(parsePattern(text).ast));
    }
  });
});

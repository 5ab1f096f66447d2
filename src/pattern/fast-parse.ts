/**
 * A fast path for the shapes most indicator feeds are made of, `[type:path = 'value']` and
 * `[type:path ISSUBSET 'cidr']`: one comparison with a string. ANTLR builds a parse tree of a dozen contexts for it (some 14 µs, most
 * of the time it takes to load a million indicators); this reads it with one regular
 * expression. It yields exactly the AST the ANTLR path builds, spans included (a property test
 * compares the two), and gives up, returning undefined, on anything else: escapes, whitespace
 * other than spaces, comments, keywords used as names, characters outside the BMP (whose
 * positions ANTLR counts differently), any other operator or literal.
 */
import type { PatternAst, PathStep, Span } from './ast.js';
import { STIXPatternLexer } from './generated/STIXPatternLexer.js';

/** Words the lexer reads as keywords or booleans, never as names. */
const RESERVED = new Set<string>([
  'true',
  'false',
  ...STIXPatternLexer.literalNames.flatMap((name) =>
    name !== null && /^'[A-Z]+'$/.test(name) ? [name.slice(1, -1)] : [],
  ),
]);

const NAME = "[A-Za-z_][A-Za-z0-9_]*|'[^'\\\\\\r\\n]*'";
// ISSUBSET needs a space before it: glued to a bare name, the lexer would read one longer name.
const SHAPE = new RegExp(
  `^ *\\[ *([A-Za-z_][A-Za-z0-9_-]*):(${NAME})((?:\\.(?:${NAME}))*)(?: *(=)| +(ISSUBSET)) *('[^'\\\\\\r\\n]*') *\\] *$`,
  'd',
);
const STEP = new RegExp(`\\.(${NAME})`, 'g');
const OUTSIDE_BMP = /[\uD800-\uDFFF]/;

function span(start: number, end: number): Span {
  return { offset: start, length: end - start, line: 1, column: start + 1 };
}

/** A path key as the AST holds it: a quoted one without its quotes, a bare one unless reserved. */
function key(text: string): string | undefined {
  if (text.startsWith("'")) return text.slice(1, -1);
  return RESERVED.has(text) ? undefined : text;
}

export function parseSimpleEquality(text: string): PatternAst | undefined {
  if (text.length > 4096 || OUTSIDE_BMP.test(text)) return undefined;
  const match = SHAPE.exec(text);
  if (!match?.indices) return undefined;
  const [, type, first, rest, equals, , literal] = match as unknown as [
    string,
    string,
    string,
    string,
    string | undefined,
    string | undefined,
    string,
  ];
  if (RESERVED.has(type)) return undefined;
  const steps: PathStep[] = [];
  const firstName = key(first);
  if (firstName === undefined) return undefined;
  steps.push({ kind: 'key', name: firstName });
  for (const step of rest.matchAll(STEP)) {
    const name = key(step[1] as string);
    if (name === undefined) return undefined;
    steps.push({ kind: 'key', name });
  }
  const [typeStart] = match.indices[1] as [number, number];
  const pathEnd =
    rest.length > 0 ? (match.indices[3] as [number, number])[1] : (match.indices[2] as [number, number])[1];
  const literalEnd = (match.indices[6] as [number, number])[1];
  const open = text.indexOf('[');
  const close = text.lastIndexOf(']');
  return {
    root: {
      kind: 'observation',
      comparison: {
        kind: 'comparison',
        path: { objectType: type, steps, span: span(typeStart, pathEnd) },
        operator: equals !== undefined ? '=' : 'ISSUBSET',
        negated: false,
        value: { type: 'string', value: literal.slice(1, -1) },
        span: span(typeStart, literalEnd),
      },
      span: span(open, close + 1),
    },
  };
}

/**
 * AST → canonical pattern text. Parsing the printed text gives back the same AST (a property
 * test checks this), so tools can rewrite patterns safely; a field reference (compiled Sigma
 * `fieldref`, no STIX) prints in an internal form that does not parse.
 */
import {
  isComparisonJunction,
  type ComparisonExpression,
  type FieldReference,
  type Literal,
  type ObjectPath,
  type ObservationExpression,
  type PatternAst,
  type Qualifier,
} from './ast.js';
import { encodeBase64, encodeHex } from './literals.js';

const KEYWORDS = new Set([
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
  'true',
  'false',
]);

export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function formatNumber(value: number, asFloat: boolean): string {
  if (!asFloat) return String(value);
  if (Number.isInteger(value)) return `${Math.abs(value) >= 1e21 ? BigInt(value).toString() : value.toFixed(0)}.0`;
  const text = String(value);
  if (!text.includes('e')) return text;
  return expandExponent(text);
}

/** `1.5e-7` → `0.00000015`, `-2e+25` → `-20000000000000000000000000.0`: the grammar has no exponents. */
function expandExponent(text: string): string {
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!m) return text;
  const [, sign, lead, rest = '', exp] = m as unknown as [string, string, string, string | undefined, string];
  const digits = lead + rest;
  const point = 1 + Number(exp);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}.0`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

export function printLiteral(literal: Literal): string {
  switch (literal.type) {
    case 'string':
      return quoteString(literal.value);
    case 'int':
      return formatNumber(literal.value, false);
    case 'float':
      return formatNumber(literal.value, true);
    case 'bool':
      return literal.value ? 'true' : 'false';
    case 'binary':
      return literal.encoding === 'hex' ? `h'${encodeHex(literal.value)}'` : `b'${encodeBase64(literal.value)}'`;
    case 'timestamp':
      return `t'${literal.text}'`;
  }
}

function printKey(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !KEYWORDS.has(name) ? name : quoteString(name);
}

export function printPath(path: ObjectPath): string {
  let out = `${path.objectType}:`;
  path.steps.forEach((step, i) => {
    if (step.kind === 'key') out += (i === 0 ? '' : '.') + printKey(step.name);
    else if (step.kind === 'index') out += `[${step.index}]`;
    else out += '[*]';
  });
  return out;
}

const COMPARISON_PRECEDENCE = { or: 1, and: 2 } as const;

function printComparison(expr: ComparisonExpression, parentPrecedence: number): string {
  if (isComparisonJunction(expr)) {
    // A left-deep chain of one operator (a rule with thousands of alternatives, such as a Sigma
    // hash list) is walked in a loop: recursing once per term would overflow the stack.
    const kind = expr.kind;
    const p = COMPARISON_PRECEDENCE[kind];
    const rights: ComparisonExpression[] = [];
    let left: ComparisonExpression = expr;
    while (isComparisonJunction(left) && left.kind === kind) {
      rights.push(left.right);
      left = left.left;
    }
    let text = printComparison(left, p);
    for (let i = rights.length - 1; i >= 0; i--)
      text += ` ${kind.toUpperCase()} ${printComparison(rights[i] as ComparisonExpression, p + 1)}`;
    return p < parentPrecedence ? `(${text})` : text;
  }
  const not = expr.negated ? 'NOT ' : '';
  if (expr.kind === 'exists') return `${not}EXISTS ${printPath(expr.path)}`;
  if (expr.kind === 'in') return `${printPath(expr.path)} ${not}IN (${expr.values.map(printLiteral).join(', ')})`;
  if (expr.kind === 'fieldref') return printFieldReference(expr);
  return `${printPath(expr.path)} ${not}${expr.operator} ${printLiteral(expr.value)}`;
}

const RELATION_TEXT = { equals: '=', startswith: 'STARTSWITH', endswith: 'ENDSWITH', contains: 'CONTAINS' } as const;

/** A field reference has no STIX text: its internal form, `a = FIELD(b)` (`STARTSWITH`, …), which no parser reads. */
export function printFieldReference(expr: FieldReference): string {
  return `${printPath(expr.path)} ${expr.negated ? 'NOT ' : ''}${RELATION_TEXT[expr.relation]} FIELD(${printPath(expr.other)})`;
}

function printQualifier(q: Qualifier): string {
  if (q.kind === 'within') return `WITHIN ${formatNumber(q.seconds, !Number.isInteger(q.seconds))} SECONDS`;
  if (q.kind === 'repeats') return `REPEATS ${q.times} TIMES`;
  return `START ${printLiteral(q.start)} STOP ${printLiteral(q.stop)}`;
}

const OBSERVATION_PRECEDENCE = { followedBy: 1, or: 2, and: 3 } as const;
const OPERATOR_TEXT = { followedBy: 'FOLLOWEDBY', or: 'OR', and: 'AND' } as const;

function printObservation(expr: ObservationExpression, parentPrecedence: number): string {
  switch (expr.kind) {
    case 'observation':
      return `[${printComparison(expr.comparison, 0)}]`;
    case 'and':
    case 'or':
    case 'followedBy': {
      const p = OBSERVATION_PRECEDENCE[expr.kind];
      const text = `${printObservation(expr.left, p)} ${OPERATOR_TEXT[expr.kind]} ${printObservation(expr.right, p + 1)}`;
      return p < parentPrecedence ? `(${text})` : text;
    }
    case 'qualified': {
      // Collect the chain of qualifiers; a kind repeated directly on a bracketed observation is
      // only valid when that observation is parenthesised, so print it that way.
      const chain: Qualifier[] = [];
      let base: ObservationExpression = expr;
      while (base.kind === 'qualified') {
        chain.unshift(base.qualifier);
        base = base.expression;
      }
      const kinds = chain.map((q) => q.kind);
      const repeatedKind = new Set(kinds).size !== kinds.length;
      const baseText =
        base.kind === 'observation' && !repeatedKind ? printObservation(base, 0) : `(${printObservation(base, 0)})`;
      return `${baseText} ${chain.map(printQualifier).join(' ')}`;
    }
  }
}

/** One observation expression (or any sub-expression), as printPattern would print it. */
export function printObservationExpression(expr: ObservationExpression): string {
  return printObservation(expr, 0);
}

export function printPattern(ast: PatternAst): string {
  return printObservation(ast.root, 0);
}

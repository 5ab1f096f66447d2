/**
 * Semantic checks that need no data: hash lengths, homogeneous IN lists, CIDR constants, and
 * the warning for observation expressions that can never match. Regex checks live with the
 * regex compiler (./regex.ts), which is the only judge of what the engine can run.
 */
import type { Diagnostic } from '../errors.js';
import {
  comparisonLeaves,
  isComparisonJunction,
  observationLeaves,
  type ComparisonExpression,
  type ComparisonLeaf,
  type Literal,
  type PatternAst,
} from './ast.js';
import { parseNetwork } from './cidr.js';
import { diagnosticAt, PatternDiagnosticCode as Code } from './diagnostics.js';
import { differentRootTypesHint } from './root-type-hint.js';
import { canonicalHashAlgorithm } from './stix-model.js';

/** Hash algorithms of the STIX hash-algorithm vocabulary with a fixed-length hex form. */
const HASH_FORMATS: Record<string, RegExp> = {
  MD5: /^[a-fA-F0-9]{32}$/,
  MD6: /^[a-fA-F0-9]{32}$|^[a-fA-F0-9]{40}$|^[a-fA-F0-9]{56}$|^[a-fA-F0-9]{64}$|^[a-fA-F0-9]{96}$|^[a-fA-F0-9]{128}$/,
  'RIPEMD-160': /^[a-fA-F0-9]{40}$/,
  'SHA-1': /^[a-fA-F0-9]{40}$/,
  'SHA-224': /^[a-fA-F0-9]{56}$/,
  'SHA-256': /^[a-fA-F0-9]{64}$/,
  'SHA-384': /^[a-fA-F0-9]{96}$/,
  'SHA-512': /^[a-fA-F0-9]{128}$/,
  'SHA3-224': /^[a-fA-F0-9]{56}$/,
  'SHA3-256': /^[a-fA-F0-9]{64}$/,
  'SHA3-384': /^[a-fA-F0-9]{96}$/,
  'SHA3-512': /^[a-fA-F0-9]{128}$/,
  WHIRLPOOL: /^[a-fA-F0-9]{128}$/,
  TLSH: /^(?:T1)?[a-fA-F0-9]{70}$/,
};

/** The algorithm a hash name names (`sha256` → SHA-256), when its hex form has a fixed length. */
function canonicalHashName(name: string): string | undefined {
  const algorithm = canonicalHashAlgorithm(name);
  return algorithm !== undefined && algorithm in HASH_FORMATS ? algorithm : undefined;
}

function hashAlgorithmOf(leaf: ComparisonLeaf): string | undefined {
  const steps = leaf.path.steps;
  const last = steps[steps.length - 1];
  const parent = steps[steps.length - 2];
  if (last?.kind === 'key' && (parent?.kind === 'key' ? parent.name === 'hashes' : false))
    return canonicalHashName(last.name);
  return undefined;
}

function literalTypeName(lit: Literal): string {
  return lit.type === 'int' || lit.type === 'float' ? 'number' : lit.type;
}

export function validatePattern(ast: PatternAst): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const observation of observationLeaves(ast.root)) {
    for (const leaf of comparisonLeaves(observation.comparison)) checkComparison(leaf, diagnostics);
    checkSingleRootType(observation.comparison, observation.span, diagnostics);
  }
  return diagnostics;
}

function checkComparison(leaf: ComparisonLeaf, out: Diagnostic[]): void {
  if (leaf.kind === 'in') {
    const types = new Set(leaf.values.map(literalTypeName));
    if (types.size > 1) {
      out.push(
        diagnosticAt(
          'error',
          Code.inMixedTypes,
          `the IN list mixes value types (${[...types].join(', ')}); all elements must have one type`,
          leaf.span,
        ),
      );
    }
  }
  const algorithm = hashAlgorithmOf(leaf);
  if (algorithm) {
    const values =
      leaf.kind === 'in'
        ? leaf.values
        : leaf.kind === 'comparison' && (leaf.operator === '=' || leaf.operator === '!=')
          ? [leaf.value]
          : [];
    for (const value of values) {
      if (value.type === 'string' && !(HASH_FORMATS[algorithm] as RegExp).test(value.value)) {
        out.push(
          diagnosticAt(
            'error',
            Code.hashLength,
            `'${value.value}' is not a valid ${algorithm} hash (expected ${describeHash(algorithm)})`,
            leaf.span,
          ),
        );
      }
    }
  }
  if (leaf.kind === 'comparison' && (leaf.operator === 'ISSUBSET' || leaf.operator === 'ISSUPERSET')) {
    if (leaf.value.type === 'string' && !parseNetwork(leaf.value.value)) {
      out.push(
        diagnosticAt(
          'error',
          Code.badCidr,
          `'${leaf.value.value}' is not an IPv4 or IPv6 address or CIDR block`,
          leaf.span,
        ),
      );
    }
  }
}

function describeHash(algorithm: string): string {
  const lengths: Record<string, string> = {
    MD5: '32',
    'SHA-1': '40',
    'RIPEMD-160': '40',
    'SHA-224': '56',
    'SHA3-224': '56',
    'SHA-256': '64',
    'SHA3-256': '64',
    'SHA-384': '96',
    'SHA3-384': '96',
    'SHA-512': '128',
    'SHA3-512': '128',
    WHIRLPOOL: '128',
    TLSH: '70 (optionally prefixed by T1)',
  };
  return `${lengths[algorithm] ?? 'a fixed number of'} hex digits`;
}

/**
 * Comparisons joined by AND inside one observation expression must hold on the same root
 * object, so `[file:name = 'a' AND ipv4-addr:value = '1.2.3.4']` can never match. Computes the
 * root types for which the expression can be true; none means it never matches.
 */
export function possibleRootTypes(expr: ComparisonExpression): Set<string> | 'any' {
  if (!isComparisonJunction(expr)) return new Set([expr.path.objectType]);
  if (expr.kind === 'or') {
    const l = possibleRootTypes(expr.left);
    const r = possibleRootTypes(expr.right);
    if (l === 'any' || r === 'any') return 'any';
    return new Set([...l, ...r]);
  }
  {
    const l = possibleRootTypes(expr.left);
    const r = possibleRootTypes(expr.right);
    if (l === 'any') return r;
    if (r === 'any') return l;
    return new Set([...l].filter((t) => r.has(t)));
  }
}

function checkSingleRootType(
  expr: ComparisonExpression,
  span: Diagnostic | undefined | { line: number; column: number; offset: number; length: number },
  out: Diagnostic[],
): void {
  const types = possibleRootTypes(expr);
  if (types !== 'any' && types.size === 0) {
    const all = [...new Set(comparisonLeaves(expr).map((l) => l.path.objectType))];
    out.push(
      diagnosticAt(
        'warning',
        Code.differentRootTypes,
        `comparisons on different object types (${all.join(', ')}) are joined by AND in one observation expression; they must hold on the same object, so this can never match; ${differentRootTypesHint(expr)}`,
        span as never,
      ),
    );
  }
}

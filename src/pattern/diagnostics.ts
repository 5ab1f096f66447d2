import type { Diagnostic } from '../errors.js';
import type { Span } from './ast.js';

/** Diagnostic codes produced by the pattern compiler, for callers that branch on them. */
export const PatternDiagnosticCode = {
  syntax: 'syntax',
  badTimestamp: 'bad-timestamp',
  badBase64: 'bad-base64',
  badHex: 'bad-hex',
  badString: 'bad-string-escape',
  badNumber: 'bad-number',
  badPathStep: 'bad-path-step',
  qualifierRepeated: 'qualifier-repeated',
  startNotBeforeStop: 'start-not-before-stop',
  startStopString: 'start-stop-needs-timestamp',
  repeatsZero: 'repeats-not-positive',
  withinZero: 'within-not-positive',
  badRegex: 'bad-regex',
  unsupportedRegex: 'unsupported-regex',
  hashLength: 'hash-length',
  inMixedTypes: 'in-mixed-types',
  badCidr: 'bad-cidr',
  differentRootTypes: 'different-root-types',
  tooComplex: 'pattern-too-complex',
  // Type checking against the STIX data model (./type-check.ts).
  unknownObjectType: 'unknown-object-type',
  unknownProperty: 'unknown-property',
  hashName: 'hash-name',
  typeMismatch: 'type-mismatch',
  comparesObject: 'compares-object',
  listNeedsIndex: 'list-needs-index',
  notAList: 'not-a-list',
  notAnObject: 'not-an-object',
} as const;

export function diagnosticAt(
  severity: Diagnostic['severity'],
  code: string,
  message: string,
  span: Span | undefined,
): Diagnostic {
  return span
    ? { severity, code, message, line: span.line, column: span.column, offset: span.offset, length: span.length }
    : { severity, code, message };
}

/**
 * Type checking of object paths against the STIX 2.1 data model (./stix-model.ts): a path that
 * names no property of its object is reported with a did-you-mean, and a comparison that can
 * never hold because of types (`network-traffic:dst_port = '80'`, a reference compared with a
 * string, a list compared without an index) is an error. Custom types and properties (`x-…`,
 * `x_…`), dictionaries and unknown extensions are allowed and not checked: the checker only
 * reports what it knows can never match.
 *
 * The judgements follow the engine's evaluator (./evaluate.ts): a `_ref` step resolves to the
 * referenced object, a `_refs` step to the list of referenced objects, and a property step on a
 * list selects nothing.
 */
import { closest, distance } from 'fastest-levenshtein';
import type { Diagnostic } from '../errors.js';
import {
  comparisonLeaves,
  observationLeaves,
  type ComparisonLeaf,
  type Literal,
  type ObjectPath,
  type PathStep,
  type PatternAst,
  type Span,
} from './ast.js';
import { diagnosticAt, PatternDiagnosticCode as Code } from './diagnostics.js';
import { printPath } from './print.js';
import { canonicalHashAlgorithm, isCustomName, STIX_OBJECT_TYPES, type PropertyType } from './stix-model.js';

/** What a path prefix denotes: objects of known types, a typed value, or something unchecked. */
type Node =
  { kind: 'objects'; types: readonly string[] } | { kind: 'value'; type: PropertyType } | { kind: 'unchecked' };

const UNCHECKED: Node = { kind: 'unchecked' };

/** Type-checks every comparison of a pattern. */
export function typeCheckPattern(ast: PatternAst): Diagnostic[] {
  return observationLeaves(ast.root).flatMap((o) => comparisonLeaves(o.comparison).flatMap(typeCheckComparison));
}

/** Checks one comparison's path and its constant(s); returns the diagnostics found. */
export function typeCheckComparison(leaf: ComparisonLeaf): Diagnostic[] {
  const out: Diagnostic[] = [];
  const node = resolvePath(leaf.path, leaf.span, out);
  // A field reference compares two properties, no constant: only its paths are checked.
  if (leaf.kind === 'fieldref') {
    resolvePath(leaf.other, leaf.span, out);
    return out;
  }
  if (leaf.kind === 'exists' || node.kind === 'unchecked') return out;
  const where = printPath(leaf.path);
  if (node.kind === 'objects') {
    out.push(
      diagnosticAt(
        'error',
        Code.comparesObject,
        `${where} refers to ${article(node.types)} object, which is never equal to a constant; compare one of its properties (for example ${where}.${exampleProperty(node.types)})`,
        leaf.span,
      ),
    );
    return out;
  }
  const type = node.type;
  if (type.kind === 'list') {
    out.push(
      diagnosticAt(
        'error',
        Code.listNeedsIndex,
        `${where} is a list, and a list is never equal to a constant; compare its elements with ${where}[*]`,
        leaf.span,
      ),
    );
    return out;
  }
  if (!isScalar(type)) {
    out.push(
      diagnosticAt(
        'error',
        Code.comparesObject,
        `${where} is ${describeType(type)}, which is never equal to a constant; compare one of its keys`,
        leaf.span,
      ),
    );
    return out;
  }
  const operator = leaf.kind === 'in' ? 'IN' : leaf.operator;
  if (operator === 'LIKE' || operator === 'MATCHES' || operator === 'ISSUBSET' || operator === 'ISSUPERSET') {
    if (type.kind === 'integer' || type.kind === 'float' || type.kind === 'boolean') {
      out.push(
        diagnosticAt(
          'error',
          Code.typeMismatch,
          `${operator} compares text, but ${where} is ${describeType(type)}; it can never match`,
          leaf.span,
        ),
      );
    }
    return out;
  }
  const values = leaf.kind === 'in' ? leaf.values : [leaf.value];
  for (const value of values) {
    if (comparable(type, value)) continue;
    out.push(
      diagnosticAt(
        'error',
        Code.typeMismatch,
        `${where} is ${describeType(type)}, and ${describeLiteral(value)} is never equal to it${suggestion(type, value)}`,
        leaf.span,
      ),
    );
    break;
  }
  return out;
}

function resolvePath(path: ObjectPath, span: Span | undefined, out: Diagnostic[]): Node {
  const at = path.span ?? span;
  if (!STIX_OBJECT_TYPES.has(path.objectType)) {
    // A type near a known one is a slip; one far from all of them is taken for a custom type
    // (the specification asks custom types to start with 'x-', but 2.0-era feeds often do not).
    const near = isCustomName(path.objectType) ? '' : didYouMean(path.objectType, [...STIX_OBJECT_TYPES.keys()]);
    if (near) {
      out.push(
        diagnosticAt(
          'warning',
          Code.unknownObjectType,
          `'${path.objectType}' is not a STIX 2.1 cyber-observable type${near}; custom types start with 'x-'`,
          at,
        ),
      );
    }
    return UNCHECKED;
  }
  let node: Node = { kind: 'objects', types: [path.objectType] };
  for (const [index, step] of path.steps.entries()) {
    // The path up to this step, as the messages show it.
    const written = printPath({ objectType: path.objectType, steps: path.steps.slice(0, index) });
    const next = resolveStep(node, step, written, at, out);
    if (next.kind === 'unchecked') return next;
    node = next;
  }
  return node;
}

function resolveStep(node: Node, step: PathStep, written: string, at: Span | undefined, out: Diagnostic[]): Node {
  if (node.kind === 'unchecked') return node;
  if (step.kind !== 'key') {
    if (node.kind === 'value' && node.type.kind === 'list') return dereference(node.type.of);
    out.push(
      diagnosticAt(
        'error',
        Code.notAList,
        `${written.replace(/[:.]$/, '')} is not a list, so an index selects nothing; remove the [${step.kind === 'index' ? step.index : '*'}]`,
        at,
      ),
    );
    return UNCHECKED;
  }
  const name = step.name;
  if (node.kind === 'objects') {
    const properties = node.types.map((t) => STIX_OBJECT_TYPES.get(t) as ReadonlyMap<string, PropertyType>);
    for (const props of properties) {
      const found = props.get(name);
      if (found) return dereference(found);
    }
    if (isCustomName(name)) return UNCHECKED;
    const known = [...new Set(properties.flatMap((p) => [...p.keys()]))];
    out.push(
      diagnosticAt(
        'warning',
        Code.unknownProperty,
        `${node.types.join(' or ')} has no property '${name}'${didYouMean(name, known)}; custom properties start with 'x_'`,
        at,
      ),
    );
    return UNCHECKED;
  }
  const type = node.type;
  switch (type.kind) {
    case 'object': {
      const found = type.properties.get(name);
      if (found) return dereference(found);
      if (isCustomName(name)) return UNCHECKED;
      out.push(
        diagnosticAt(
          'warning',
          Code.unknownProperty,
          `${type.name} has no property '${name}'${didYouMean(name, [...type.properties.keys()])}; custom properties start with 'x_'`,
          at,
        ),
      );
      return UNCHECKED;
    }
    case 'extensions': {
      const found = type.known.get(name);
      if (found) return { kind: 'value', type: found };
      // Custom extensions (`x-…`, extension-definition ids) are the open end of the model.
      if (isCustomName(name) || name.startsWith('extension-definition--') || type.known.size === 0) return UNCHECKED;
      const near = didYouMean(name, [...type.known.keys()]);
      if (near) out.push(diagnosticAt('warning', Code.unknownProperty, `unknown extension '${name}'${near}`, at));
      return UNCHECKED;
    }
    case 'hashes': {
      const canonical = canonicalHashAlgorithm(name);
      if (canonical === undefined) {
        if (!isCustomName(name))
          out.push(
            diagnosticAt(
              'warning',
              Code.hashName,
              `'${name}' is not a hash algorithm of the STIX vocabulary (MD5, SHA-1, SHA-256, SHA-512, SHA3-256, SHA3-512, SSDEEP, TLSH); custom ones start with 'x_'`,
              at,
            ),
          );
      } else if (canonical !== name) {
        out.push(
          diagnosticAt(
            'warning',
            Code.hashName,
            `the hash name '${name}' is spelled '${canonical}' in STIX data (the normaliser writes hashes.'${canonical}'); write ${written}.'${canonical}'`,
            at,
          ),
        );
      }
      return { kind: 'value', type: { kind: 'string' } };
    }
    case 'dictionary':
      return UNCHECKED;
    case 'list':
      out.push(
        diagnosticAt(
          'error',
          Code.listNeedsIndex,
          `${written.replace(/[:.]$/, '')} is a list, so a property of it selects nothing; select its elements first: ${written.replace(/[:.]$/, '')}[*].${name}`,
          at,
        ),
      );
      return UNCHECKED;
    default:
      out.push(
        diagnosticAt(
          'error',
          Code.notAnObject,
          `${written.replace(/[:.]$/, '')} is ${describeType(type)}, which has no property '${name}'`,
          at,
        ),
      );
      return UNCHECKED;
  }
}

/** A reference resolves to the objects it may point at; other types are values. */
function dereference(type: PropertyType): Node {
  if (type.kind === 'ref') return type.targets === 'any' ? UNCHECKED : { kind: 'objects', types: type.targets };
  return { kind: 'value', type };
}

function isScalar(type: PropertyType): boolean {
  return ['string', 'integer', 'float', 'boolean', 'timestamp', 'hex', 'binary'].includes(type.kind);
}

/** Whether the evaluator can ever find the property's values equal to (or ordered with) the constant. */
function comparable(type: PropertyType, value: Literal): boolean {
  switch (type.kind) {
    case 'string':
      return value.type === 'string' || value.type === 'binary' || value.type === 'timestamp';
    case 'integer':
    case 'float':
      return value.type === 'int' || value.type === 'float';
    case 'boolean':
      return value.type === 'bool';
    case 'timestamp':
      return value.type === 'timestamp' || value.type === 'string';
    case 'hex':
    case 'binary':
      return value.type === 'binary' || value.type === 'string';
    default:
      return true;
  }
}

function suggestion(type: PropertyType, value: Literal): string {
  if (
    (type.kind === 'integer' || type.kind === 'float') &&
    value.type === 'string' &&
    /^-?\d+(\.\d+)?$/.test(value.value)
  )
    return `; write ${value.value} without quotes`;
  if (type.kind === 'string' && (value.type === 'int' || value.type === 'float')) return `; write '${value.value}'`;
  if (type.kind === 'boolean' && value.type === 'string' && /^(true|false)$/i.test(value.value))
    return `; write ${value.value.toLowerCase()} without quotes`;
  return '';
}

function describeType(type: PropertyType): string {
  switch (type.kind) {
    case 'integer':
      return 'an integer';
    case 'ref':
      return 'a reference';
    case 'object':
      return `an object (${type.name})`;
    case 'extensions':
      return 'a dictionary of extensions';
    case 'hashes':
      return 'a dictionary of hashes';
    case 'list':
      return 'a list';
    default:
      return `a ${type.kind}`;
  }
}

function describeLiteral(value: Literal): string {
  switch (value.type) {
    case 'string':
      return `the string '${value.value}'`;
    case 'int':
    case 'float':
      return `the number ${value.value}`;
    case 'bool':
      return `the boolean ${value.value}`;
    case 'timestamp':
      return `the timestamp t'${value.text}'`;
    case 'binary':
      return 'the binary constant';
  }
}

function article(types: readonly string[]): string {
  return types.length === 1 ? `a ${types[0]}` : `an ${types.join(' or ')}`;
}

function exampleProperty(types: readonly string[]): string {
  const props = STIX_OBJECT_TYPES.get(types[0] as string);
  for (const candidate of ['name', 'value', 'key', 'path', 'command_line'])
    if (props?.get(candidate)?.kind === 'string') return candidate;
  return 'id';
}

function didYouMean(name: string, known: readonly string[]): string {
  if (known.length === 0) return '';
  const best = closest(name, known as string[]);
  // Close enough to be a slip (two letters swapped is two edits), not another word.
  const edits = distance(name, best);
  return edits <= Math.max(2, Math.floor(name.length / 3)) && edits < name.length / 2 + 1
    ? `; did you mean '${best}'?`
    : '';
}

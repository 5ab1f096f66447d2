/**
 * Comparison expressions → predicates over one root object. Each comparison is compiled once
 * into a closure chain: a path walker (keys, indexes, `[*]`, `_ref`/`_refs`, `_hex`/`_bin`)
 * feeding a value test with its constant pre-decoded, so evaluating an event runs no parser,
 * no tree walk and no per-event allocation on the common paths.
 */
import type { Diagnostic } from '../errors.js';
import { MatchError } from '../errors.js';
import {
  isComparisonJunction,
  junctionOperands,
  type ComparisonExpression,
  type ComparisonLeaf,
  type FieldReference,
  type Literal,
  type ObjectPath,
  type PathStep,
} from './ast.js';
import { ipv4Contains, networkContains, parseIPv4Fast, parseNetwork } from './cidr.js';
import { diagnosticAt, PatternDiagnosticCode as Code } from './diagnostics.js';
import {
  bytesCompare,
  bytesEqual,
  bytesToLatin1,
  decodeBase64,
  decodeHex,
  latin1Bytes,
  parseStixTimestamp,
} from './literals.js';
import { foldCase, foldedRegexSource } from './case-fold.js';
import type { PreparedObservation } from './observation.js';
import { pathTreeOf } from './path-table.js';
import { compileLikeSet } from './like-set.js';
import { compileLike, compileRegex } from './regex.js';

/** A test of one value; `observation` (the event being evaluated) is told when a value was cut. */
export type ValueTest = (value: unknown, observation?: PreparedObservation) => boolean;
export type ObjectPredicate = (object: unknown, observation: PreparedObservation) => boolean;
type Walker = (value: unknown, observation: PreparedObservation, test: ValueTest) => boolean;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const hasOwn = Object.prototype.hasOwnProperty;

/** Reads a property; own properties only, so `constructor` or `__proto__` never reach the prototype. */
function propertyReader(name: string): (v: Record<string, unknown>) => unknown {
  if (name in Object.prototype) return (v) => (hasOwn.call(v, name) ? v[name] : undefined);
  return (v) => v[name];
}

function compileStep(step: PathStep, next: Walker): Walker {
  if (step.kind === 'index') {
    const i = step.index;
    if (i < 0) return () => false; // parses, but a negative index never selects anything
    return (v, obs, test) => Array.isArray(v) && i < v.length && next(v[i], obs, test);
  }
  if (step.kind === 'anyIndex') {
    return (v, obs, test) => {
      if (!Array.isArray(v)) return false;
      for (const element of v) if (next(element, obs, test)) return true;
      return false;
    };
  }
  const name = step.name;
  const read = propertyReader(name);
  if (name.endsWith('_refs')) {
    // A list of references becomes the list of the objects they resolve to (in the same
    // observed-data); later `[*]` or `[n]` steps select among them.
    return (v, obs, test) => {
      if (!isPlainObject(v)) return false;
      const refs = read(v);
      if (!Array.isArray(refs)) return false;
      const resolved: unknown[] = [];
      for (const ref of refs) {
        if (typeof ref !== 'string') continue;
        const target = obs.resolve(ref);
        if (target !== undefined) resolved.push(target);
      }
      return resolved.length > 0 && next(resolved, obs, test);
    };
  }
  if (name.endsWith('_ref')) {
    return (v, obs, test) => {
      if (!isPlainObject(v)) return false;
      const ref = read(v);
      if (typeof ref !== 'string') return false;
      const target = obs.resolve(ref);
      return target !== undefined && next(target, obs, test);
    };
  }
  if (name.endsWith('_hex') || name.endsWith('_bin')) {
    const decode = name.endsWith('_hex') ? decodeHex : decodeBase64;
    return (v, obs, test) => {
      if (!isPlainObject(v)) return false;
      const raw = read(v);
      if (typeof raw !== 'string') return raw !== undefined && next(raw, obs, test);
      const bytes = decode(raw);
      return bytes !== undefined && next(bytes, obs, test);
    };
  }
  return (v, obs, test) => {
    if (!isPlainObject(v)) return false;
    const child = read(v);
    return child !== undefined && next(child, obs, test);
  };
}

/** Compiles an object path (after its type) into a walker from the root object. */
export function compilePath(steps: PathStep[]): Walker {
  // The most common shape, one plain property, gets a walker of its own.
  const only = steps[0];
  if (
    steps.length === 1 &&
    only?.kind === 'key' &&
    !/_(refs?|hex|bin)$/.test(only.name) &&
    !(only.name in Object.prototype)
  ) {
    const name = only.name;
    return (v, obs, test) => {
      const child = (v as Record<string, unknown>)[name];
      return child !== undefined && test(child, obs);
    };
  }
  let walker: Walker = (v, obs, test) => test(v, obs);
  for (let i = steps.length - 1; i >= 0; i--) walker = compileStep(steps[i] as PathStep, walker);
  return walker;
}

/**
 * Compiles an object path into a walker from a root object of the path's type. A path of
 * single values is read from the observed-data's table of its object's values (./path-table.ts),
 * shared by every comparison and the rule index; others, and observations without a table,
 * are walked.
 */
export function compileRootPath(path: ObjectPath): Walker {
  const walk = compilePath(path.steps);
  const tree = pathTreeOf(path.objectType);
  const id = tree.idOf(path.steps);
  if (id === undefined) return walk;
  return (v, obs, test) => {
    if (obs.pathTable === undefined || !tree.usesTable) return walk(v, obs, test);
    const value = obs.pathTable(v as object, tree).values[id];
    return value !== undefined && test(value, obs);
  };
}

function dataTimestamp(value: string): number {
  const parsed = parseStixTimestamp(value);
  if (parsed === undefined) {
    throw new MatchError('bad-timestamp-in-data', `invalid timestamp in the data: ${JSON.stringify(value)}`, [
      {
        severity: 'error',
        code: 'bad-timestamp-in-data',
        message: `invalid timestamp in the data: ${JSON.stringify(value)}`,
      },
    ]);
  }
  return parsed;
}

/** Equality of a data value with a constant, with the STIX cross-type rules. */
function equalityTest(constant: Literal): ValueTest {
  switch (constant.type) {
    case 'string': {
      const c = constant.value;
      const bytes = latin1Bytes(c);
      return (v) => v === c || (v instanceof Uint8Array && bytes !== undefined && bytesEqual(v, bytes));
    }
    case 'int':
    case 'float': {
      const c = constant.value;
      return (v) => v === c;
    }
    case 'bool': {
      const c = constant.value;
      return (v) => v === c;
    }
    case 'binary': {
      const c = constant.value;
      return (v) => {
        if (v instanceof Uint8Array) return bytesEqual(v, c);
        if (typeof v === 'string') {
          const b = latin1Bytes(v);
          return b !== undefined && bytesEqual(b, c);
        }
        return false;
      };
    }
    case 'timestamp': {
      const c = constant.value;
      return (v) => typeof v === 'string' && dataTimestamp(v) === c;
    }
  }
}

/** Ordering of a data value against a constant: a number, or undefined when they do not compare. */
function orderComparator(constant: Literal): (v: unknown) => number | undefined {
  switch (constant.type) {
    case 'string': {
      const c = constant.value;
      const bytes = latin1Bytes(c);
      return (v) => {
        if (typeof v === 'string') return compareCodePoints(v, c);
        if (v instanceof Uint8Array && bytes !== undefined) return bytesCompare(v, bytes);
        return undefined;
      };
    }
    case 'int':
    case 'float': {
      const c = constant.value;
      return (v) => (typeof v === 'number' ? v - c : undefined);
    }
    case 'binary': {
      const c = constant.value;
      return (v) => {
        if (v instanceof Uint8Array) return bytesCompare(v, c);
        if (typeof v === 'string') {
          const b = latin1Bytes(v);
          return b === undefined ? undefined : bytesCompare(b, c);
        }
        return undefined;
      };
    }
    case 'timestamp': {
      const c = constant.value;
      return (v) => (typeof v === 'string' ? dataTimestamp(v) - c : undefined);
    }
    case 'bool':
      return () => undefined;
  }
}

/** Orders strings by code point, as the specification's reference does (not UTF-16 units). */
function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (astral code points) sort above all BMP code points in code point order.
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1;
      return x - y;
    }
  }
  return a.length - b.length;
}

/** The last text nfc saw, and its form: the comparisons of a rule mostly test one value in turn. */
let lastNfcText = '';
let lastNfc = '';

function nfc(text: string): string {
  if (text === lastNfcText) return lastNfc;
  let normal = text;
  // Most data is ASCII, which is already NFC; skip the normaliser then.
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      normal = text.normalize('NFC');
      break;
    }
  }
  lastNfcText = text;
  lastNfc = normal;
  return normal;
}

/**
 * LIKE and MATCHES see at most this many characters of a value (UTF-16 code units; bytes of
 * binary data): their cost grows with the length of what they search, and one event must not
 * hold a batch past its function's time. 32,768 covers the longest Windows command line
 * (32,767). A longer value is cut there and compared as if it ended there (docs/regex.md);
 * each such comparison is counted on the event (`valuesCut`).
 */
export const MAX_SEARCHED_LENGTH = 32_768;

function noteCut(observation: PreparedObservation | undefined): void {
  if (observation) observation.valuesCut = (observation.valuesCut ?? 0) + 1;
}

/** The first MAX_SEARCHED_LENGTH code units of a string, never ending inside a surrogate pair. */
function searchedText(text: string, observation: PreparedObservation | undefined): string {
  if (text.length <= MAX_SEARCHED_LENGTH) return text;
  noteCut(observation);
  const last = text.charCodeAt(MAX_SEARCHED_LENGTH - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? MAX_SEARCHED_LENGTH - 1 : MAX_SEARCHED_LENGTH);
}

function searchedBytes(bytes: Uint8Array, observation: PreparedObservation | undefined): Uint8Array {
  if (bytes.length <= MAX_SEARCHED_LENGTH) return bytes;
  noteCut(observation);
  return bytes.subarray(0, MAX_SEARCHED_LENGTH);
}

type ConstantLeaf = Exclude<ComparisonLeaf, { kind: 'exists' | 'fieldref' }>;

function compileValueTest(leaf: ConstantLeaf, diagnostics: Diagnostic[]): ValueTest {
  let test: ValueTest;
  if (leaf.kind === 'in') {
    const tests = leaf.values.map(equalityTest);
    const strings = leaf.values.every((l) => l.type === 'string')
      ? new Set(leaf.values.map((l) => l.value as string))
      : undefined;
    const numbers = leaf.values.every((l) => l.type === 'int' || l.type === 'float')
      ? new Set(leaf.values.map((l) => l.value as number))
      : undefined;
    if (strings)
      test = (v) => (typeof v === 'string' ? strings.has(v) : v instanceof Uint8Array && tests.some((t) => t(v)));
    else if (numbers) test = (v) => typeof v === 'number' && numbers.has(v);
    else test = (v) => tests.some((t) => t(v));
  } else {
    const c = leaf.value;
    switch (leaf.operator) {
      case '=':
        test = equalityTest(c);
        break;
      case '!=': {
        const eq = equalityTest(c);
        test = (v) => !eq(v);
        break;
      }
      case '<':
      case '<=':
      case '>':
      case '>=': {
        const cmp = orderComparator(c);
        const op = leaf.operator;
        const accept =
          op === '<'
            ? (d: number) => d < 0
            : op === '<='
              ? (d: number) => d <= 0
              : op === '>'
                ? (d: number) => d > 0
                : (d: number) => d >= 0;
        // A value that does not compare with the constant fails the comparison, NOT or not.
        const base: ValueTest = (v) => {
          const d = cmp(v);
          return d !== undefined && accept(d);
        };
        if (leaf.negated) {
          return (v) => {
            const d = cmp(v);
            return d !== undefined && !accept(d);
          };
        }
        return base;
      }
      case 'LIKE': {
        const likeSource = nfc(c.value as string);
        const like = compileLike(likeSource);
        // Binary data matches as bytes, when the LIKE text is itself all bytes.
        const binaryOk = latin1Bytes(likeSource) !== undefined;
        test = (v, obs) => {
          if (typeof v === 'string') return like(nfc(searchedText(v, obs)));
          return v instanceof Uint8Array && binaryOk && like(bytesToLatin1(searchedBytes(v, obs)));
        };
        break;
      }
      case 'MATCHES': {
        const source = nfc(c.value as string);
        const compiled = compileRegex(source);
        if (!compiled.ok) {
          diagnostics.push(
            diagnosticAt(
              'error',
              compiled.unsupported ? Code.unsupportedRegex : Code.badRegex,
              compiled.message,
              leaf.span,
            ),
          );
          return () => false;
        }
        const regex = compiled.regex;
        // Binary data is searched as bytes: only a regex whose characters are all bytes can.
        const binaryOk = latin1Bytes(source) !== undefined;
        test = (v, obs) => {
          if (typeof v === 'string') return regex.test(nfc(searchedText(v, obs)));
          if (v instanceof Uint8Array) return binaryOk && regex.test(bytesToLatin1(searchedBytes(v, obs)));
          return false;
        };
        break;
      }
      case 'ISSUBSET':
      case 'ISSUPERSET': {
        const network = parseNetwork(c.value as string);
        if (!network) return () => false; // reported by validatePattern
        const subset = leaf.operator === 'ISSUBSET';
        if (network.family === 4) {
          const constant = { address: Number(network.address), prefix: network.prefix };
          const scratch = { address: 0, prefix: 0 };
          if (subset) {
            // The rule's block is fixed: its network number is worked out once, not per value.
            const hostScale = 2 ** (32 - constant.prefix);
            const networkNumber = Math.floor(constant.address / hostScale);
            test = (v) =>
              typeof v === 'string' &&
              parseIPv4Fast(v, scratch) &&
              scratch.prefix >= constant.prefix &&
              Math.floor(scratch.address / hostScale) === networkNumber;
            break;
          }
          test = (v) => {
            if (typeof v !== 'string' || !parseIPv4Fast(v, scratch)) return false;
            return ipv4Contains(scratch.address, scratch.prefix, constant.address, constant.prefix);
          };
          break;
        }
        test = (v) => {
          if (typeof v !== 'string') return false;
          const other = parseNetwork(v);
          if (!other) return false;
          return subset ? networkContains(network, other) : networkContains(other, network);
        };
        break;
      }
    }
  }
  if (leaf.negated) {
    const positive = test;
    return (v, obs) => !positive(v, obs);
  }
  return test;
}

/**
 * A case-insensitive value test, and the same test for a value whose strings are folded
 * already (`onFolded`: its fold is shared by the comparisons on its path, see
 * foldedPathPredicate), when the test folds string values at all.
 */
interface FoldedValueTest {
  test: ValueTest;
  onFolded: ValueTest | undefined;
}

/** A test that folds string values before `onFolded` sees them. */
function folding(onFolded: ValueTest): FoldedValueTest {
  return { test: (v, obs) => onFolded(typeof v === 'string' ? foldCase(v) : v, obs), onFolded };
}

/**
 * The case-insensitive form of a comparison: string constants are folded once here, string
 * values when tested; other values (numbers, binary, timestamps) compare as they would anyway.
 */
function compileFoldedValueTest(leaf: ConstantLeaf, diagnostics: Diagnostic[]): FoldedValueTest {
  const foldLiteral = (l: Literal): Literal => (l.type === 'string' ? { type: 'string', value: foldCase(l.value) } : l);
  if (leaf.kind === 'in')
    return folding(compileValueTest({ ...leaf, values: leaf.values.map(foldLiteral) }, diagnostics));
  // A binary or numeric constant compares with the value as it is (a text's bytes, unfolded).
  if (leaf.value.type !== 'string') return { test: compileValueTest(leaf, diagnostics), onFolded: undefined };
  if (leaf.operator === 'MATCHES') {
    // The regex engine folds (simple Unicode folding) with its own (?i) flag; the value is
    // folded too, so that full folds (ß against SS) agree with the other operators.
    const folded = { ...leaf, value: { type: 'string' as const, value: `(?i)${leaf.value.value}` } };
    const test = compileValueTest(folded, diagnostics);
    // Most patterns can instead be lower-cased and run case-sensitively on the folded value,
    // which re2js does several times faster (./case-fold.ts says when that is exact). Binary
    // data is never folded, so it keeps the (?i) regex.
    const lowered = foldedRegexSource(leaf.value.value);
    const loweredDiagnostics: Diagnostic[] = [];
    const plain =
      lowered === undefined
        ? undefined
        : compileValueTest({ ...leaf, value: { type: 'string', value: lowered } }, loweredDiagnostics);
    if (plain === undefined || loweredDiagnostics.length > 0) return folding(test);
    return folding((v, obs) => (typeof v === 'string' ? plain(v, obs) : test(v, obs)));
  }
  if (leaf.operator === 'ISSUBSET' || leaf.operator === 'ISSUPERSET')
    return { test: compileValueTest(leaf, diagnostics), onFolded: undefined };
  return folding(compileValueTest({ ...leaf, value: foldLiteral(leaf.value) }, diagnostics));
}

/**
 * A predicate on the value at a root path: `test` for a value as it is, `onFolded` for the case
 * fold of a string value. A tabled path (./path-table.ts) takes the fold from the observed-data's
 * table, folded once for every comparison on the path; others fold as `test` does.
 */
function foldedPathPredicate(path: ObjectPath, walk: Walker, test: ValueTest, onFolded: ValueTest): ObjectPredicate {
  const tree = pathTreeOf(path.objectType);
  const id = tree.idOf(path.steps);
  if (id === undefined) return (o, obs) => walk(o, obs, test);
  return (o, obs) => {
    if (obs.pathTable === undefined || !tree.usesTable) return walk(o, obs, test);
    const table = obs.pathTable(o as object, tree);
    const value = table.values[id];
    if (value === undefined) return false;
    return typeof value === 'string' ? onFolded(table.folded(id, value), obs) : test(value, obs);
  };
}

/**
 * Compiles one comparison into a predicate on root objects. With `caseInsensitive`, string
 * comparisons (=, !=, IN, LIKE, MATCHES, ordering) see both sides case-folded (./case-fold.ts).
 */
export function compileComparison(
  leaf: ComparisonLeaf,
  diagnostics: Diagnostic[],
  caseInsensitive = false,
): ObjectPredicate {
  const walk = compileRootPath(leaf.path);
  if (leaf.kind === 'exists') {
    const any: ValueTest = () => true;
    return leaf.negated ? (o, obs) => !walk(o, obs, any) : (o, obs) => walk(o, obs, any);
  }
  if (leaf.kind === 'fieldref') return compileFieldReference(leaf, walk, caseInsensitive);
  let predicate: ObjectPredicate;
  if (caseInsensitive) {
    const { test, onFolded } = compileFoldedValueTest(leaf, diagnostics);
    predicate =
      onFolded === undefined ? (o, obs) => walk(o, obs, test) : foldedPathPredicate(leaf.path, walk, test, onFolded);
  } else {
    const test = compileValueTest(leaf, diagnostics);
    predicate = (o, obs) => walk(o, obs, test);
  }
  if (leaf.kind === 'comparison' && leaf.operator === 'LIKE' && !leaf.negated && leaf.value.type === 'string') {
    const source = nfc(caseInsensitive ? foldCase(leaf.value.value) : leaf.value.value);
    likeLeaves.set(predicate, {
      key: `${caseInsensitive ? 'i' : 's'}${JSON.stringify(leaf.path.steps)}`,
      path: leaf.path,
      walk,
      caseInsensitive,
      source,
    });
  }
  return predicate;
}

/**
 * A (not negated) LIKE comparison's parts, so that an OR of LIKEs on one path (a Sigma
 * contains/startswith/endswith list) walks the path and prepares each value (folded, cut,
 * NFC) once for all its patterns rather than once per pattern.
 */
interface LikeLeaf {
  /** Path and case folding: LIKEs with the same key test the same prepared values. */
  key: string;
  path: ObjectPath;
  walk: Walker;
  caseInsensitive: boolean;
  /**
   * The pattern as compared (folded, NFC). Compiled again only when the leaf joins a group: the
   * comparison compiled its own matcher already, and most LIKEs never join one (a cold start
   * with SigmaHQ's rules would compile each LIKE twice).
   */
  source: string;
}

function hasNonAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return true;
  return false;
}

const likeLeaves = new WeakMap<ObjectPredicate, LikeLeaf>();

/**
 * One predicate for consecutive OR-ed LIKEs on one path: some value at the path matches some
 * pattern, as the OR of the comparisons each holding of some value is. The patterns are tested
 * together (./like-set.ts). A value that was cut is counted once per pattern tested on it, as
 * each comparison would count it: such a value (and binary data) is tested pattern by pattern.
 */
function likeGroup(group: LikeLeaf[]): ObjectPredicate {
  const first = group[0] as LikeLeaf;
  const together = compileLikeSet(group.map((g) => g.source));
  let each: ((t: string) => boolean)[] | undefined;
  const binary = group.map((g) => latin1Bytes(g.source) !== undefined);
  // A pattern with a character above U+007F cannot match an all-ASCII text (every character of
  // a LIKE pattern but `%` and `_` must be in it, as NFC and folding have left it; the emoji
  // lists of SigmaHQ's command-line rules are hundreds of them).
  const nonAscii = group.map((g) => hasNonAscii(g.source));
  const someNonAscii = nonAscii.includes(true);
  const n = group.length;
  const { caseInsensitive, walk } = first;
  /** Pattern by pattern, counting the cut value for each pattern tested. */
  const oneByOne = (text: string, cut: boolean, obs: PreparedObservation | undefined, bytes: boolean): boolean => {
    const likes = (each ??= group.map((g) => compileLike(g.source)));
    const ascii = someNonAscii && !hasNonAscii(text);
    for (let i = 0; i < n; i++) {
      if (cut) noteCut(obs);
      if ((!bytes || binary[i]) && !(ascii && nonAscii[i]) && (likes[i] as (t: string) => boolean)(text)) return true;
    }
    return false;
  };
  /** The patterns on a text as its comparisons see it (folded already when they fold case). */
  const testText = (subject: string, obs: PreparedObservation | undefined): boolean => {
    if (subject.length <= MAX_SEARCHED_LENGTH) return together(nfc(subject));
    return oneByOne(nfc(searchedText(subject, undefined)), true, obs, false);
  };
  const test: ValueTest = (v, obs) => {
    if (typeof v === 'string') return testText(caseInsensitive ? foldCase(v) : v, obs);
    if (!(v instanceof Uint8Array)) return false;
    return oneByOne(bytesToLatin1(searchedBytes(v, undefined)), v.length > MAX_SEARCHED_LENGTH, obs, true);
  };
  if (caseInsensitive) return foldedPathPredicate(first.path, walk, test, (v, obs) => testText(v as string, obs));
  return (o, obs) => walk(o, obs, test);
}

/** A scalar's text, as a field reference compares it (a number 4 and a text '4' are one value); else undefined. */
function referenceText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

const RELATIONS: Record<FieldReference['relation'], (a: string, b: string) => boolean> = {
  equals: (a, b) => a === b,
  startswith: (a, b) => a.startsWith(b),
  endswith: (a, b) => a.endsWith(b),
  contains: (a, b) => a.includes(b),
};

/**
 * A field reference (not STIX: compiled Sigma `fieldref`): some scalar at `path` relates to some scalar at
 * `other` of the same root object; negated, some pair of scalars does not (as STIX's `NOT =` needs a value).
 */
function compileFieldReference(leaf: FieldReference, walk: Walker, caseInsensitive: boolean): ObjectPredicate {
  const walkOther = compileRootPath(leaf.other);
  const relate = RELATIONS[leaf.relation];
  const text = caseInsensitive
    ? (v: unknown) => {
        const t = referenceText(v);
        return t === undefined ? undefined : foldCase(nfc(t));
      }
    : (v: unknown) => {
        const t = referenceText(v);
        return t === undefined ? undefined : nfc(t);
      };
  const negated = leaf.negated;
  return (o, obs) =>
    walk(o, obs, (a) => {
      const left = text(a);
      if (left === undefined) return false;
      return walkOther(o, obs, (b) => {
        const right = text(b);
        return right !== undefined && relate(left, right) !== negated;
      });
    });
}

/**
 * Compiles a comparison expression for root objects of one type: comparisons on another type
 * are false there (AND needs the same root object), and drop out of the predicate.
 * Returns undefined when the expression can never hold on that type.
 */
export function compileForRootType(
  expr: ComparisonExpression,
  type: string,
  compiled: Map<ComparisonLeaf, ObjectPredicate>,
): ObjectPredicate | undefined {
  if (isComparisonJunction(expr))
    return (expr.kind === 'or' ? compileOr : compileAnd)(junctionOperands(expr), type, compiled);
  return expr.path.objectType === type ? compiled.get(expr) : undefined;
}

/**
 * An AND for root objects of one type, left to right as written: a chain of ANDs is one loop,
 * not a closure per junction. Undefined when some operand can never hold on the type.
 */
function compileAnd(
  operands: ComparisonExpression[],
  type: string,
  compiled: Map<ComparisonLeaf, ObjectPredicate>,
): ObjectPredicate | undefined {
  const predicates: ObjectPredicate[] = [];
  for (const operand of operands) {
    const p = compileForRootType(operand, type, compiled);
    if (!p) return undefined;
    predicates.push(p);
  }
  if (predicates.length === 1) return predicates[0];
  if (predicates.length === 2) {
    const [l, r] = predicates as [ObjectPredicate, ObjectPredicate];
    return (o, obs) => l(o, obs) && r(o, obs);
  }
  return (o, obs) => {
    for (let i = 0; i < predicates.length; i++) if (!(predicates[i] as ObjectPredicate)(o, obs)) return false;
    return true;
  };
}

/**
 * An OR for root objects of one type, left to right as written; runs of LIKEs on one path
 * become one predicate (likeGroup). Only neighbours merge: a LIKE never throws, but moving it
 * before a comparison that can (a bad timestamp in the data) could change the outcome.
 */
function compileOr(
  operands: ComparisonExpression[],
  type: string,
  compiled: Map<ComparisonLeaf, ObjectPredicate>,
): ObjectPredicate | undefined {
  const predicates: ObjectPredicate[] = [];
  let run: LikeLeaf[] = [];
  let runPredicate: ObjectPredicate | undefined;
  const flush = (): void => {
    if (run.length === 1) predicates.push(runPredicate as ObjectPredicate);
    else if (run.length > 1) predicates.push(likeGroup(run));
    run = [];
    runPredicate = undefined;
  };
  for (const operand of operands) {
    const p = compileForRootType(operand, type, compiled);
    if (!p) continue; // false on this type: drops out, as it would of l || r
    const like = isComparisonJunction(operand) ? undefined : likeLeaves.get(p);
    if (like && (run.length === 0 || (run[0] as LikeLeaf).key === like.key)) {
      if (run.length === 0) runPredicate = p;
      run.push(like);
      continue;
    }
    flush();
    if (like) {
      runPredicate = p;
      run.push(like);
    } else predicates.push(p);
  }
  flush();
  if (predicates.length === 0) return undefined;
  if (predicates.length === 1) return predicates[0];
  if (predicates.length === 2) {
    const [l, r] = predicates as [ObjectPredicate, ObjectPredicate];
    return (o, obs) => l(o, obs) || r(o, obs);
  }
  return (o, obs) => {
    for (let i = 0; i < predicates.length; i++) if ((predicates[i] as ObjectPredicate)(o, obs)) return true;
    return false;
  };
}

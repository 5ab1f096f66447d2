/**
 * A Sigma detection → one STIX comparison expression over x-oca-event (printed as pattern text),
 * with the comparisons that fold case marked by their index. Fields resolve through the
 * SigmaTaxonomy; values and modifiers through ./values.ts; the condition through ./condition.ts.
 * What STIX cannot say is a problem naming the construct, never a pattern that says something else.
 */
import { isRecord } from '../../util/records.js';
import { StixflowBaseError } from '../../errors.js';
import type { ComparisonExpression, ComparisonLeaf, FieldRelation, Literal, ObjectPath } from '../../pattern/ast.js';
import { comparisonLeaves } from '../../pattern/ast.js';
import { parseObjectPath } from '../../pattern/object-path.js';
import { printObservationExpression } from '../../pattern/print.js';
import { compileRegex } from '../../pattern/regex.js';
import type { ValuePath } from '../read.js';
import { parseCondition, type ConditionNode } from './condition.js';
import type { FieldBinding, SigmaLogsource, SigmaTaxonomy } from './taxonomy-types.js';
import {
  anchorValue,
  base64,
  base64Offsets,
  MAX_WINDASH_PLACES,
  parseSigmaString,
  plainText,
  stringTest,
  utf16Bytes,
  utf8Bytes,
  windashAlternatives,
  type ByteString,
  type SigmaString,
} from './values.js';

/** The Sigma diagnostic codes the detection compiler reports (catalogued in ../diagnostics.ts). */
export type SigmaProblemCode =
  | 'sigma-condition'
  | 'sigma-selection-shape'
  | 'sigma-keyword-selection'
  | 'sigma-unknown-modifier'
  | 'sigma-unsupported-modifier'
  | 'sigma-bad-value'
  | 'sigma-unsupported-regex'
  | 'sigma-bad-regex'
  | 'sigma-unknown-field'
  | 'sigma-empty-detection';

export interface SigmaProblem {
  code: SigmaProblemCode;
  message: string;
  /** Where in the rule document: a value's path, and for a field key the key itself. */
  path: ValuePath;
  key?: string;
  /** For the condition: the offset in its text. */
  offset?: number;
}

export interface CompiledDetection {
  /** The comparison expression, as STIX text (no brackets); with field references, their internal form. */
  text: string;
  /** The comparison expression itself. */
  expression: ComparisonExpression;
  /** Whether it compares fields with fields (`fieldref`): then it has no STIX text, and compiles from `expression`. */
  fieldReferences: boolean;
  /** Indices (left to right) of the comparisons that fold case. */
  folded: ReadonlySet<number>;
  /** Indices of the string comparisons that compare case-sensitively (`|cased`, regexes without `i`). */
  caseSensitive: number[];
  /** Fields the taxonomy had no path for, read from the raw-field fallback. */
  unmappedFields: string[];
}

/** The value modifiers of the Sigma specification v2. */
export const SIGMA_MODIFIERS = [
  'contains',
  'startswith',
  'endswith',
  'all',
  'cased',
  're',
  'i',
  'm',
  's',
  'base64',
  'base64offset',
  'utf16le',
  'utf16be',
  'utf16',
  'wide',
  'windash',
  'cidr',
  'exists',
  'fieldref',
  'lt',
  'lte',
  'gt',
  'gte',
  'expand',
] as const;
type Modifier = (typeof SIGMA_MODIFIERS)[number];
const MODIFIERS: ReadonlySet<string> = new Set(SIGMA_MODIFIERS);

// ---------------------------------------------------------------- the boolean tree

/** A condition before negations are pushed down to STIX's negated comparisons. */
type Condition =
  | { kind: 'leaf'; leaf: ComparisonLeaf; fold: boolean }
  | { kind: 'and' | 'or'; items: Condition[] }
  | { kind: 'not'; item: Condition }
  | { kind: 'const'; value: boolean };

const FALSE: Condition = { kind: 'const', value: false };

function junction(kind: 'and' | 'or', items: Condition[]): Condition {
  const unit = kind === 'and';
  const kept: Condition[] = [];
  for (const item of items) {
    if (item.kind === 'const') {
      if (item.value === unit) continue;
      return { kind: 'const', value: !unit };
    }
    if (item.kind === kind) kept.push(...item.items);
    else kept.push(item);
  }
  if (kept.length === 0) return { kind: 'const', value: unit };
  return kept.length === 1 ? (kept[0] as Condition) : { kind, items: kept };
}

/**
 * To a STIX comparison expression, negations pushed to the comparisons. STIX's `p NOT = v`
 * fails when p is absent, where Sigma's `not (p = v)` holds: a negated comparison is
 * `p NOT = v OR NOT EXISTS p`.
 */
function toStix(condition: Condition, negated: boolean, folded: Set<ComparisonLeaf>): ComparisonExpression | boolean {
  switch (condition.kind) {
    case 'const':
      return condition.value !== negated;
    case 'not':
      return toStix(condition.item, !negated, folded);
    case 'leaf': {
      const { leaf, fold } = condition;
      if (!negated) {
        if (fold) folded.add(leaf);
        return leaf;
      }
      if (leaf.kind === 'exists') return { ...leaf, negated: !leaf.negated };
      const flipped: ComparisonLeaf = { ...leaf, negated: !leaf.negated };
      if (fold) folded.add(flipped);
      const absent: ComparisonExpression = { kind: 'exists', path: leaf.path, negated: true };
      if (leaf.kind !== 'fieldref') return { kind: 'or', left: flipped, right: absent };
      // A field reference needs both values: without either, Sigma's `not` holds.
      return {
        kind: 'or',
        left: { kind: 'or', left: flipped, right: absent },
        right: { kind: 'exists', path: leaf.other, negated: true },
      };
    }
    case 'and':
    case 'or': {
      const kind = (condition.kind === 'and') !== negated ? 'and' : 'or';
      const parts: ComparisonExpression[] = [];
      for (const item of condition.items) {
        const part = toStix(item, negated, folded);
        if (typeof part === 'boolean') {
          if (part === (kind === 'and')) continue;
          return kind !== 'and';
        }
        parts.push(part);
      }
      if (parts.length === 0) return kind === 'and';
      return parts.reduce((left, right) => ({ kind, left, right }));
    }
  }
}

// ---------------------------------------------------------------- values → comparisons

/** One value after the modifiers: how it compares, whatever path it is compared on. */
type ValueTest =
  | { kind: 'string'; value: SigmaString; fold: boolean }
  | { kind: 'regex'; source: string; fold: boolean }
  | { kind: 'literal'; operator: '=' | '<' | '<=' | '>' | '>='; value: Literal }
  | { kind: 'cidr'; value: string }
  | { kind: 'exists'; exists: boolean }
  /** A value the field's type cannot hold (`Signed: ''` on a boolean field): no event has it. */
  | { kind: 'never' };

class ProblemSignal extends StixflowBaseError {
  constructor(readonly problem: Omit<SigmaProblem, 'path'> & { path?: ValuePath }) {
    super(problem.message);
  }
}

function fail(code: SigmaProblemCode, message: string, path?: ValuePath): never {
  throw new ProblemSignal({ code, message, ...(path ? { path } : {}) });
}

/** The text of a scalar value as Sigma reads it (numbers and booleans as written). */
function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** Values for `|expand` placeholders (`%name%`), by name: each a Sigma string (wildcards allowed). */
export type SigmaPlaceholders = Readonly<Record<string, readonly string[]>>;

/** More alternatives than this from one value's placeholders is a diagnostic. */
const MAX_PLACEHOLDER_ALTERNATIVES = 1000;

/**
 * `expand`: the value with each `%name%` replaced by each of the placeholder's values (every
 * combination, when there are several placeholders). A placeholder without values is
 * `sigma-unsupported-modifier`: running the rule with the placeholder text would be wrong.
 */
function expandPlaceholders(text: string, placeholders: SigmaPlaceholders, path: ValuePath): string[] {
  let out = [''];
  let from = 0;
  for (const m of text.matchAll(/%([A-Za-z0-9_.-]+)%/g)) {
    const name = m[1] as string;
    const values = Object.hasOwn(placeholders, name) ? placeholders[name] : undefined;
    if (!values || values.length === 0)
      fail(
        'sigma-unsupported-modifier',
        `'expand': the placeholder %${name}% has no values (give them with the loader's sigmaPlaceholders)`,
        path,
      );
    const before = text.slice(from, m.index);
    out = out.flatMap((prefix) => values.map((value) => prefix + before + value));
    if (out.length > MAX_PLACEHOLDER_ALTERNATIVES)
      fail('sigma-unsupported-modifier', `'expand' makes more than ${MAX_PLACEHOLDER_ALTERNATIVES} alternatives`, path);
    from = m.index + m[0].length;
  }
  return out.map((prefix) => prefix + text.slice(from));
}

/**
 * How rules write "the field is empty" (`Signed: ''`, `'-'`): a typed property never holds it (the mappings drop
 * such "no value" texts, so the field reads as absent), so the comparison never holds.
 */
const EMPTY_TEXT = /^\s*-?\s*$/;

const ORDER_OPERATORS = { lt: '<', lte: '<=', gt: '>', gte: '>=' } as const;

/**
 * The tests one value of a field item stands for (OR of alternatives: base64offset and
 * windash give several), or null's "the field is absent".
 */
function valueTests(
  raw: unknown,
  modifiers: readonly Modifier[],
  binding: FieldBinding,
  path: ValuePath,
  placeholders: SigmaPlaceholders = {},
): ValueTest[] {
  const has = (m: Modifier): boolean => modifiers.includes(m);
  const fold = !has('cased');
  if (has('exists')) {
    if (typeof raw !== 'boolean' && raw !== 'true' && raw !== 'false')
      fail('sigma-bad-value', `'exists' takes true or false, not ${JSON.stringify(raw)}`, path);
    return [{ kind: 'exists', exists: raw === true || raw === 'true' }];
  }
  if (raw === null || raw === undefined) return [{ kind: 'exists', exists: false }];
  if (typeof raw === 'object') fail('sigma-bad-value', 'a value is a string, a number, a boolean or null', path);
  const order = (['lt', 'lte', 'gt', 'gte'] as const).find(has);
  if (order) {
    const n = typeof raw === 'number' ? raw : Number(raw);
    if (typeof raw === 'boolean' || !Number.isFinite(n) || String(raw).trim() === '')
      fail('sigma-bad-value', `'${order}' compares numbers, not ${JSON.stringify(raw)}`, path);
    const value: Literal = Number.isInteger(n) ? { type: 'int', value: n } : { type: 'float', value: n };
    return [{ kind: 'literal', operator: ORDER_OPERATORS[order], value }];
  }
  const text = scalarText(raw) as string;
  if (has('cidr')) return [{ kind: 'cidr', value: text }];
  if (has('re')) {
    const flags = (['m', 's'] as const).filter(has).join('');
    const source = flags ? `(?${flags})${text}` : text;
    const compiled = compileRegex(source);
    if (!compiled.ok)
      fail(compiled.unsupported ? 'sigma-unsupported-regex' : 'sigma-bad-regex', compiled.message, path);
    // Sigma regexes are case-sensitive unless `i` is given.
    return [{ kind: 'regex', source, fold: has('i') }];
  }
  // A number or boolean without string modifiers compares as the property's type.
  const transforming = modifiers.some((m) =>
    [
      'contains',
      'startswith',
      'endswith',
      'base64',
      'base64offset',
      'utf16le',
      'utf16be',
      'utf16',
      'wide',
      'windash',
    ].includes(m),
  );
  if (!transforming && binding.type !== 'string') {
    if (binding.type === 'integer') {
      const n = typeof raw === 'number' ? raw : Number(raw);
      if (EMPTY_TEXT.test(text)) return [{ kind: 'never' }];
      if (typeof raw === 'boolean' || !Number.isInteger(n))
        fail('sigma-bad-value', `the field holds integers; ${JSON.stringify(raw)} is not one`, path);
      return [{ kind: 'literal', operator: '=', value: { type: 'int', value: n } }];
    }
    if (raw === true || raw === false || /^(true|false)$/i.test(text))
      return [{ kind: 'literal', operator: '=', value: { type: 'bool', value: /^true$/i.test(text) } }];
    if (EMPTY_TEXT.test(text)) return [{ kind: 'never' }];
    fail('sigma-bad-value', `the field holds booleans; ${JSON.stringify(raw)} is not one`, path);
  }

  // Strings: the transformations in the order written.
  let alternatives: SigmaString[] = has('expand')
    ? expandPlaceholders(text, placeholders, path).map(parseSigmaString)
    : [parseSigmaString(text)];
  let bytes: ByteString[] | undefined; // after utf16*/wide, before base64
  const literal = (value: SigmaString, modifier: string): string => {
    const plain = plainText(value);
    if (plain === undefined)
      fail('sigma-bad-value', `'${modifier}' encodes a plain value; this one has wildcards`, path);
    return plain;
  };
  for (const modifier of modifiers) {
    switch (modifier) {
      case 'utf16le':
      case 'wide':
      case 'utf16be':
      case 'utf16': {
        const order = modifier === 'utf16be' ? 'be' : 'le';
        bytes = alternatives.map((a) => utf16Bytes(literal(a, modifier), order, modifier === 'utf16'));
        break;
      }
      case 'base64':
      case 'base64offset': {
        const input = bytes ?? alternatives.map((a) => utf8Bytes(literal(a, modifier)));
        const encoded = modifier === 'base64' ? input.map(base64) : input.flatMap(base64Offsets);
        alternatives = encoded.map((e) => [{ text: e }]);
        bytes = undefined;
        break;
      }
      case 'windash': {
        const expanded = alternatives.map(windashAlternatives);
        if (expanded.some((e) => e === undefined))
          fail(
            'sigma-unsupported-modifier',
            `'windash' on a value with more than ${MAX_WINDASH_PLACES} option dashes makes too many alternatives`,
            path,
          );
        alternatives = expanded.flatMap((e) => e as SigmaString[]);
        break;
      }
      case 'contains':
      case 'startswith':
      case 'endswith':
        if (bytes) alternatives = bytes.map((b) => [{ text: b }]);
        bytes = undefined;
        alternatives = alternatives.map((a) => anchorValue(a, modifier));
        break;
      default:
        break;
    }
  }
  if (bytes)
    fail(
      'sigma-unsupported-modifier',
      'utf16/wide without base64 compares encoded bytes, but normalised events hold decoded text',
      path,
    );
  return alternatives.map((value) => ({ kind: 'string', value, fold }));
}

function pathOf(text: string): ObjectPath {
  const path = parseObjectPath(text);
  if (typeof path === 'string') throw new Error(`the Sigma taxonomy gave '${text}', which is no object path: ${path}`);
  return path;
}

function leafOn(path: ObjectPath, test: ValueTest): Condition {
  switch (test.kind) {
    case 'never':
      return FALSE;
    case 'exists':
      return { kind: 'leaf', leaf: { kind: 'exists', path, negated: !test.exists }, fold: false };
    case 'cidr':
      return {
        kind: 'leaf',
        leaf: {
          kind: 'comparison',
          path,
          operator: 'ISSUBSET',
          negated: false,
          value: { type: 'string', value: test.value },
        },
        fold: false,
      };
    case 'literal':
      return {
        kind: 'leaf',
        leaf: { kind: 'comparison', path, operator: test.operator, negated: false, value: test.value },
        fold: false,
      };
    case 'regex':
      return {
        kind: 'leaf',
        leaf: {
          kind: 'comparison',
          path,
          operator: 'MATCHES',
          negated: false,
          value: { type: 'string', value: test.source },
        },
        fold: test.fold,
      };
    case 'string': {
      const { operator, value } = stringTest(test.value);
      return {
        kind: 'leaf',
        leaf: { kind: 'comparison', path, operator, negated: false, value: { type: 'string', value } },
        fold: test.fold,
      };
    }
  }
}

/** The tests of one value list on one path (OR, or AND with `all`); plain equalities OR-ed become one IN. */
function onPath(path: ObjectPath, tests: ValueTest[][], all: boolean): Condition {
  if (all)
    return junction(
      'and',
      tests.map((alternatives) =>
        junction(
          'or',
          alternatives.map((t) => leafOn(path, t)),
        ),
      ),
    );
  const flat = tests.flat();
  const equalities = new Map<boolean, Literal[]>();
  const others: Condition[] = [];
  for (const test of flat) {
    if (test.kind === 'string' && plainText(test.value) !== undefined) {
      const list = equalities.get(test.fold) ?? [];
      list.push({ type: 'string', value: plainText(test.value) as string });
      equalities.set(test.fold, list);
    } else if (test.kind === 'literal' && test.operator === '=') {
      const list = equalities.get(false) ?? [];
      list.push(test.value);
      equalities.set(false, list);
    } else others.push(leafOn(path, test));
  }
  const items: Condition[] = [];
  for (const [fold, values] of equalities) {
    if (values.length === 1)
      items.push({
        kind: 'leaf',
        leaf: { kind: 'comparison', path, operator: '=', negated: false, value: values[0] as Literal },
        fold,
      });
    else items.push({ kind: 'leaf', leaf: { kind: 'in', path, negated: false, values }, fold });
  }
  return junction('or', [...items, ...others]);
}

// ---------------------------------------------------------------- selections

interface Context {
  logsource: SigmaLogsource;
  taxonomy: SigmaTaxonomy;
  unmapped: Set<string>;
  placeholders: SigmaPlaceholders;
  rewrite?: ValueRewrite;
}

/** One `field|modifiers: values` item of a selection map. */
function compileFieldItem(key: string, raw: unknown, path: ValuePath, context: Context): Condition {
  const [field = '', ...names] = key.split('|');
  const keyProblem = (code: SigmaProblemCode, message: string): never => {
    throw new ProblemSignal({ code, message, path: path.slice(0, -1), key });
  };
  const modifiers: Modifier[] = [];
  for (const name of names) {
    if (!MODIFIERS.has(name)) keyProblem('sigma-unknown-modifier', `'${name}' is not a Sigma value modifier`);
    modifiers.push(name as Modifier);
  }
  if (field === '') {
    // `'|all': [a, b]`: keywords that must all occur in the event's text.
    const text = context.taxonomy.keywords?.(context.logsource);
    if (!text || modifiers.some((m) => m !== 'all'))
      keyProblem(
        'sigma-keyword-selection',
        `'${key}' has no field: a value-only (keyword) search over the whole event has no STIX form${text ? ' with modifiers other than all' : ' in this logsource'}`,
      );
    const known = { ...(text as FieldBinding), type: 'string' as const };
    const values = Array.isArray(raw) ? raw : [raw];
    if (values.length === 0) return FALSE;
    const paths = known.paths.map(pathOf);
    return junction(
      modifiers.includes('all') ? 'and' : 'or',
      values.map((value, i) => {
        const tests = [valueTests(value, ['contains'], known, Array.isArray(raw) ? [...path, i] : path)];
        return junction(
          'or',
          paths.map((p) => onPath(p, tests, false)),
        );
      }),
    );
  }
  const binding = context.taxonomy.field(context.logsource, field);
  if (!binding) keyProblem('sigma-unknown-field', `no path for the field '${field}' in this logsource`);
  const known = binding as FieldBinding;
  if (!known.mapped) context.unmapped.add(field);
  if (modifiers.includes('fieldref')) return compileFieldReferences(known, modifiers, raw, path, context, keyProblem);
  const values = Array.isArray(raw) ? raw : [raw];
  if (values.length === 0) return FALSE;
  const rewrite = context.rewrite;
  const tests = values.map((value, i) =>
    valueTests(
      rewrite !== undefined && typeof value === 'string' ? rewrite(field, value) : value,
      modifiers,
      known,
      Array.isArray(raw) ? [...path, i] : path,
      context.placeholders,
    ),
  );
  const all = modifiers.includes('all');
  const paths = known.paths.map(pathOf);
  // Several paths: the comparison holds when it holds on one of them.
  return junction(
    'or',
    paths.map((p) => onPath(p, tests, all)),
  );
}

/** The modifiers a field reference takes besides `fieldref`; the others transform constants, and a reference has none. */
const FIELD_REFERENCE_MODIFIERS: ReadonlySet<string> = new Set([
  'fieldref',
  'contains',
  'startswith',
  'endswith',
  'cased',
  'all',
]);

/**
 * `Field|fieldref: Other` (and a list of fields, ORed or with `all` ANDed): the field's value equals the other
 * field's, in the same event; with `startswith` / `endswith` / `contains`, it starts with (…) the other's.
 * Case-insensitive unless `cased`. Both fields resolve through the taxonomy; with several paths, any pair.
 */
function compileFieldReferences(
  known: FieldBinding,
  modifiers: readonly Modifier[],
  raw: unknown,
  path: ValuePath,
  context: Context,
  keyProblem: (code: SigmaProblemCode, message: string) => never,
): Condition {
  const others = modifiers.filter((m) => !FIELD_REFERENCE_MODIFIERS.has(m));
  if (others.length > 0)
    keyProblem(
      'sigma-unsupported-modifier',
      `'${others[0] as string}' transforms a constant, and 'fieldref' compares with another field's value instead`,
    );
  const anchors = (['contains', 'startswith', 'endswith'] as const).filter((m) => modifiers.includes(m));
  if (anchors.length > 1)
    keyProblem(
      'sigma-unsupported-modifier',
      `'fieldref' takes one of contains, startswith, endswith, not ${anchors.join(' and ')}`,
    );
  const relation: FieldRelation = anchors[0] ?? 'equals';
  const fold = !modifiers.includes('cased');
  const values = Array.isArray(raw) ? raw : [raw];
  if (values.length === 0) return FALSE;
  const paths = known.paths.map(pathOf);
  const references = values.map((value, i) => {
    const at = Array.isArray(raw) ? [...path, i] : path;
    if (typeof value !== 'string' || value === '')
      fail('sigma-bad-value', "'fieldref' takes the name of another field", at);
    const other = context.taxonomy.field(context.logsource, value);
    if (!other) fail('sigma-unknown-field', `no path for the referenced field '${value}' in this logsource`, at);
    if (!other.mapped) context.unmapped.add(value);
    const otherPaths = other.paths.map(pathOf);
    return junction(
      'or',
      paths.flatMap((p) =>
        otherPaths.map((q): Condition => ({
          kind: 'leaf',
          leaf: { kind: 'fieldref', path: p, other: q, relation, negated: false },
          fold,
        })),
      ),
    );
  });
  return junction(modifiers.includes('all') ? 'and' : 'or', references);
}

/**
 * A keyword (value-only) selection: any of the values, each as a substring (wildcards kept),
 * of the text the taxonomy says keywords search in this logsource.
 */
function compileKeywords(value: unknown, path: ValuePath, context: Context): Condition {
  const values = Array.isArray(value) ? value : [value];
  const binding = context.taxonomy.keywords?.(context.logsource);
  if (!binding)
    fail(
      'sigma-keyword-selection',
      'a value-only (keyword) selection searches the whole event, and the taxonomy names no event text for this logsource',
      path,
    );
  const known = binding as FieldBinding;
  const tests = values.map((value, i) =>
    valueTests(value, ['contains'], { ...known, type: 'string' }, Array.isArray(value) ? [...path, i] : path),
  );
  return junction(
    'or',
    known.paths.map((p) => onPath(pathOf(p), tests, false)),
  );
}

/** A search identifier's value: a map (AND of its items), a list of maps (OR), or keywords. */
function compileSelection(value: unknown, path: ValuePath, context: Context): Condition {
  if (isRecord(value)) {
    return junction(
      'and',
      Object.entries(value).map(([key, item]) => compileFieldItem(key, item, [...path, key], context)),
    );
  }
  if (Array.isArray(value) && value.length > 0 && value.every(isRecord))
    return junction(
      'or',
      value.map((entry, i) => compileSelection(entry, [...path, i], context)),
    );
  if (Array.isArray(value) ? value.every((v) => typeof v !== 'object' || v === null) : typeof value !== 'object')
    return compileKeywords(value, path, context);
  return fail(
    'sigma-selection-shape',
    'a search identifier holds a map of fields, a list of such maps, or a list of values',
    path,
  );
}

/** Whether case can matter to a comparison: one of a string with a string (not a CIDR subnet). */
function comparesStrings(leaf: ComparisonLeaf): boolean {
  if (leaf.kind === 'exists') return false;
  if (leaf.kind === 'fieldref') return true;
  if (leaf.kind === 'in') return leaf.values.some((v) => v.type === 'string');
  return leaf.value.type === 'string' && leaf.operator !== 'ISSUBSET';
}

/**
 * A detection ANDed into a rule's (a Sigma filter's, a pipeline's added condition): its search identifiers and
 * condition, at `path` in its own document; its problems go to `problems`, not the rule's.
 */
export interface ExtraDetection {
  detection: Record<string, unknown>;
  path: ValuePath;
  problems: SigmaProblem[];
}

/** How a pipeline changes values as written before they compile (`replace_string`). */
export type ValueRewrite = (field: string, text: string) => string;

/** A detection's search identifiers and condition as one boolean tree; undefined when it has problems. */
function detectionCondition(
  detection: Record<string, unknown>,
  base: ValuePath,
  context: Context,
  problems: SigmaProblem[],
): Condition | undefined {
  const before = problems.length;
  const identifiers = Object.keys(detection).filter((key) => key !== 'condition' && key !== 'timeframe');
  const selections = new Map<string, Condition>();
  for (const name of identifiers) {
    try {
      selections.set(name, compileSelection(detection[name], [...base, name], context));
    } catch (error) {
      if (!(error instanceof ProblemSignal)) throw error;
      problems.push({ path: [...base, name], ...error.problem });
    }
  }
  const conditionValue = detection.condition;
  const conditions = Array.isArray(conditionValue) ? conditionValue : [conditionValue];
  const parsed: ConditionNode[] = [];
  conditions.forEach((text, i) => {
    const at: ValuePath = Array.isArray(conditionValue) ? [...base, 'condition', i] : [...base, 'condition'];
    if (typeof text !== 'string') {
      problems.push({ code: 'sigma-condition', message: 'the detection needs a condition (a string)', path: at });
      return;
    }
    const result = parseCondition(text, identifiers);
    if (result.ok) parsed.push(result.node);
    else
      problems.push({
        code: 'sigma-condition',
        message: `condition: ${result.message}`,
        path: at,
        offset: result.offset,
      });
  });
  if (problems.length > before) return undefined;

  const resolve = (node: ConditionNode): Condition => {
    switch (node.kind) {
      case 'identifier':
        return selections.get(node.name) as Condition;
      case 'of':
        return junction(
          node.quantifier === 'all' ? 'and' : 'or',
          node.names.map((n) => selections.get(n) as Condition),
        );
      case 'not':
        return { kind: 'not', item: resolve(node.item) };
      case 'and':
      case 'or':
        return junction(node.kind, node.items.map(resolve));
    }
  };
  // A list of conditions (Sigma v1) means any of them.
  return junction('or', parsed.map(resolve));
}

/**
 * Compiles a Sigma rule's `detection` for a logsource, ANDed with the `extras` (filters, added conditions).
 * Problems are returned, each with its place (an extra's in its own `problems`); with any, there is no detection.
 */
export function compileDetection(
  detection: Record<string, unknown>,
  logsource: SigmaLogsource,
  taxonomy: SigmaTaxonomy,
  placeholders: SigmaPlaceholders = {},
  extras: readonly ExtraDetection[] = [],
  rewrite?: ValueRewrite,
): { detection?: CompiledDetection; problems: SigmaProblem[] } {
  const problems: SigmaProblem[] = [];
  const context: Context = {
    logsource,
    taxonomy,
    unmapped: new Set(),
    placeholders,
    ...(rewrite ? { rewrite } : {}),
  };
  const own = detectionCondition(detection, ['detection'], context, problems);
  const added = extras.map((extra) => detectionCondition(extra.detection, extra.path, context, extra.problems));
  if (own === undefined || added.some((c) => c === undefined)) return { problems };
  const whole = junction('and', [own, ...(added as Condition[])]);
  const foldedLeaves = new Set<ComparisonLeaf>();
  const expression = toStix(whole, false, foldedLeaves);
  if (typeof expression === 'boolean') {
    problems.push({
      code: 'sigma-empty-detection',
      message: `the detection is always ${String(expression)} (an empty value list, or a condition that cancels out)`,
      path: ['detection', 'condition'],
    });
    return { problems };
  }
  const leaves = comparisonLeaves(expression);
  const folded = new Set<number>();
  const caseSensitive: number[] = [];
  leaves.forEach((leaf, i) => {
    if (foldedLeaves.has(leaf)) folded.add(i);
    else if (comparesStrings(leaf)) caseSensitive.push(i);
  });
  const printed = printObservationExpression({ kind: 'observation', comparison: expression });
  return {
    detection: {
      text: printed.slice(1, -1),
      expression,
      fieldReferences: leaves.some((leaf) => leaf.kind === 'fieldref'),
      folded,
      caseSensitive,
      unmappedFields: [...context.unmapped],
    },
    problems,
  };
}

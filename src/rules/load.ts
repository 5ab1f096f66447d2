/**
 * Rule loading in stages, Falco-style: read (YAML/JSON with positions) → collect (one raw rule
 * per entry, STIX indicator bundles included) → validate (JSON Schema and semantic checks) →
 * compile (patterns, group_by paths, filters). Every problem is a typed diagnostic with file,
 * line and column; an invalid rule is reported and skipped, the valid ones still load.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  type Document,
  type Node as YamlNode,
  type Scalar,
} from 'yaml';
import type { Diagnostic } from '../errors.js';
import type { ObjectPath } from '../pattern/ast.js';
import { checkPattern, type CompiledPattern } from '../pattern/compile.js';
import { parseSimpleEquality } from '../pattern/fast-parse.js';
import type { StixVersion } from '../pattern/parse.js';
import { evidentlySatisfiable } from '../generate/evident.js';
import { satisfiabilityDiagnostics } from '../generate/unsat.js';
import { parseObjectPath } from '../pattern/object-path.js';
import { streamingLimitError } from './limits.js';
import type { Rule, Severity } from './model.js';
import { RULE_SCHEMA } from './schema.js';
import { IndicatorSet } from './indicators.js';

export interface RuleSource {
  file: string;
  text: string;
}

export interface LoadOptions {
  /**
   * Keep rules whose pattern can never match (reported as a warning instead of an error).
   * By default such a rule is invalid and skipped, in every shell alike.
   */
  allowUnsatisfiable?: boolean;
}

export interface LoadResult {
  rules: Rule[];
  /** Single-observation STIX indicators, indexed by value (compiled on a hit). */
  indicators: IndicatorSet;
  /** Files that put indicators in `indicators`, with how many each (for listings such as GET /rules). */
  indicatorSources: { file: string; indicators: number }[];
  /** Errors (the rule was skipped) and warnings (it loaded). */
  diagnostics: Diagnostic[];
}

interface Position {
  line: number;
  column: number;
}

interface RawRule {
  value: Record<string, unknown>;
  file: string;
  position: Position;
  /** Position of a field's value, for diagnostics. */
  at(path: (string | number)[]): Position;
  /** Position of a character of a string field's value (offset into the parsed string). */
  locate?(path: (string | number)[], valueOffset: number): Position | undefined;
  /** Position of a field's key (for unknown fields). */
  atKey?(path: (string | number)[], key: string): Position | undefined;
  /** Offset of the pattern text inside the file, when the scalar maps 1:1 (plain or quoted on one line). */
  fromIndicator?: boolean;
}

const ajv = new Ajv2020({ allErrors: true, strict: false });
const validateRuleSchema = ajv.compile(RULE_SCHEMA);

function durationSeconds(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+)(s|m|h|d)$/.exec(value);
  if (!m) return undefined;
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

function parseTime(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

// ---------------------------------------------------------------- read + collect

/**
 * Maps an offset in a scalar's parsed value back to the source text, following the scalar's
 * style: plain, single-quoted ('' is one quote), double-quoted (backslash escapes), or a
 * block scalar (indented lines after the header). Undefined when it cannot be mapped.
 */
function sourceOffsetOf(text: string, start: number, type: Scalar['type'], valueOffset: number): number | undefined {
  if (type === 'BLOCK_LITERAL' || type === 'BLOCK_FOLDED') {
    const headerEnd = text.indexOf('\n', start);
    if (headerEnd < 0) return undefined;
    let remaining = valueOffset;
    let lineStart = headerEnd + 1;
    let indent: number | undefined;
    while (lineStart < text.length) {
      const lineEnd = text.indexOf('\n', lineStart) < 0 ? text.length : text.indexOf('\n', lineStart);
      const line = text.slice(lineStart, lineEnd);
      if (indent === undefined && line.trim()) indent = line.length - line.trimStart().length;
      const content = indent === undefined ? '' : line.slice(indent);
      if (remaining <= content.length) return lineStart + (indent ?? 0) + remaining;
      remaining -= content.length + 1;
      lineStart = lineEnd + 1;
    }
    return undefined;
  }
  let i = start;
  if (type === 'QUOTE_SINGLE' || type === 'QUOTE_DOUBLE') i++;
  for (let consumed = 0; consumed < valueOffset; consumed++) {
    if (i >= text.length || text[i] === '\n') return undefined;
    if (type === 'QUOTE_SINGLE' && text[i] === "'" && text[i + 1] === "'") i += 2;
    else if (type === 'QUOTE_DOUBLE' && text[i] === '\\') {
      const e = text[i + 1];
      i += e === 'x' ? 4 : e === 'u' ? 6 : e === 'U' ? 10 : 2;
    } else i++;
  }
  return i;
}

function positionOf(node: YamlNode | null | undefined, lines: LineCounter, fallback: Position): Position {
  const offset = node?.range?.[0];
  if (offset === undefined) return fallback;
  const p = lines.linePos(offset);
  return { line: p.line, column: p.col };
}

function collectFromDocument(
  doc: Document,
  file: string,
  text: string,
  lines: LineCounter,
  out: RawRule[],
  diagnostics: Diagnostic[],
): void {
  const value: unknown = doc.toJS();
  const docStart = positionOf(doc.contents, lines, { line: 1, column: 1 });
  const makeRaw = (entry: Record<string, unknown>, basePath: (string | number)[]): RawRule => {
    const node = doc.getIn(basePath, true) as YamlNode | undefined;
    return {
      value: entry,
      file,
      position: positionOf(node, lines, docStart),
      at: (path) =>
        positionOf(
          doc.getIn([...basePath, ...path], true) as YamlNode | undefined,
          lines,
          positionOf(node, lines, docStart),
        ),
      locate: (path, valueOffset) => {
        const scalar = doc.getIn([...basePath, ...path], true);
        if (!isScalar(scalar) || !scalar.range) return undefined;
        const offset = sourceOffsetOf(text, scalar.range[0], scalar.type, valueOffset);
        if (offset === undefined) return undefined;
        const p = lines.linePos(offset);
        return { line: p.line, column: p.col };
      },
      atKey: (path, key) => {
        const map = doc.getIn([...basePath, ...path], true);
        if (!isMap(map)) return undefined;
        const pair = map.items.find((item) => isScalar(item.key) && item.key.value === key);
        const keyNode = pair?.key as YamlNode | undefined;
        return keyNode?.range ? positionOf(keyNode, lines, docStart) : undefined;
      },
    };
  };
  if (value === null || value === undefined) return;
  if (typeof value === 'object' && !Array.isArray(value) && (value as { type?: unknown }).type === 'bundle') {
    collectIndicators(value as { objects?: unknown }, file, docStart, out, diagnostics);
    return;
  }
  let entries: unknown[];
  let basePath: (string | number)[];
  if (Array.isArray(value)) {
    entries = value;
    basePath = [];
  } else if (typeof value === 'object' && Array.isArray((value as { rules?: unknown }).rules)) {
    entries = (value as { rules: unknown[] }).rules;
    basePath = ['rules'];
    warnUnknownTopLevelKeys(doc, file, lines, diagnostics);
  } else if (typeof value === 'object' && value !== null && 'id' in value) {
    out.push(makeRaw(value as Record<string, unknown>, []));
    return;
  } else {
    diagnostics.push({
      severity: 'error',
      code: 'rule-file-shape',
      message:
        'a rule file holds a rule, a list of rules, a mapping with a `rules:` list, or a STIX bundle of indicators',
      file,
      ...docStart,
    });
    return;
  }
  entries.forEach((entry, i) => {
    const path = [...basePath, i];
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      const p = positionOf(doc.getIn(path, true) as YamlNode | undefined, lines, docStart);
      diagnostics.push({
        severity: 'error',
        code: 'rule-not-a-mapping',
        message: `entry ${i} is not a rule (a mapping of fields)`,
        file,
        ...p,
      });
      return;
    }
    out.push(makeRaw(entry as Record<string, unknown>, path));
  });
}

/** The keys a rule file's top-level mapping may hold besides a single rule's fields. */
const TOP_LEVEL_KEYS = new Set(['rules']);

/**
 * A mapping with a `rules:` list holds nothing else: any other key (a misplaced rule field, a
 * typo such as `rule:` beside `rules:`) would be ignored, so it is a warning at the key.
 */
function warnUnknownTopLevelKeys(doc: Document, file: string, lines: LineCounter, diagnostics: Diagnostic[]): void {
  if (!isMap(doc.contents)) return;
  for (const item of doc.contents.items) {
    const key = isScalar(item.key) ? item.key.value : item.key;
    if (typeof key === 'string' && TOP_LEVEL_KEYS.has(key)) continue;
    const at = positionOf(item.key as YamlNode | null, lines, { line: 1, column: 1 });
    diagnostics.push({
      severity: 'warning',
      code: 'unknown-top-level-key',
      message: `unknown top-level key '${String(key)}' is ignored: a file with \`rules:\` holds only that list (rule fields go inside each rule)`,
      file,
      ...at,
    });
  }
}

/** The keys of a rule's `tests:` entry (what `stixflow test` reads). */
const TEST_KEYS = new Set(['name', 'description', 'events', 'expect', 'alerts', 'tenant']);

/** STIX indicators with `pattern_type: stix` become rules; validity comes from valid_from/valid_until. */
function collectIndicators(
  bundle: { objects?: unknown },
  file: string,
  position: Position,
  out: RawRule[],
  diagnostics: Diagnostic[],
): void {
  const objects = Array.isArray(bundle.objects) ? bundle.objects : [];
  objects.forEach((object, i) => {
    if (typeof object !== 'object' || object === null) return;
    const indicator = object as Record<string, unknown>;
    if (indicator.type !== 'indicator') return;
    if (indicator.pattern_type !== undefined && indicator.pattern_type !== 'stix') {
      diagnostics.push({
        severity: 'warning',
        code: 'indicator-pattern-type',
        message: `indicator ${String(indicator.id)} has pattern_type ${String(indicator.pattern_type)}; only stix patterns are matched`,
        file,
        ...position,
        ruleId: String(indicator.id),
      });
      return;
    }
    const severity =
      typeof indicator.x_severity === 'string' && ['low', 'medium', 'high', 'critical'].includes(indicator.x_severity)
        ? indicator.x_severity
        : 'medium';
    const value: Record<string, unknown> = {
      id: typeof indicator.id === 'string' ? indicator.id : `indicator-${i}`,
      name: typeof indicator.name === 'string' && indicator.name ? indicator.name : `Indicator ${String(indicator.id)}`,
      description: typeof indicator.description === 'string' ? indicator.description : '',
      severity,
      category: 'indicator',
      tags: Array.isArray(indicator.indicator_types)
        ? indicator.indicator_types.filter((t) => typeof t === 'string')
        : [],
      pattern: indicator.pattern,
      ...(typeof indicator.spec_version === 'string' && indicator.spec_version === '2.0'
        ? { stix_version: '2.0' }
        : {}),
      ...(typeof indicator.valid_from === 'string' ? { valid_from: indicator.valid_from } : {}),
      ...(typeof indicator.valid_until === 'string' ? { valid_until: indicator.valid_until } : {}),
    };
    out.push({ value, file, position, at: () => position, fromIndicator: true });
  });
}

/**
 * A STIX bundle in JSON (an indicator feed, possibly millions of objects) is read with
 * JSON.parse: the YAML document model, with a position for every node, would need gigabytes.
 * Diagnostics then name the indicator id rather than a line.
 */
function readJsonBundle(source: RuleSource): { raw: RawRule[]; diagnostics: Diagnostic[] } | undefined {
  const head = source.text.trimStart();
  if (!head.startsWith('{') || !/^\{\s*"type"\s*:\s*"bundle"|"type"\s*:\s*"bundle"/.test(head.slice(0, 4096)))
    return undefined;
  let value: unknown;
  try {
    value = JSON.parse(source.text);
  } catch {
    return undefined; // not plain JSON: let the YAML reader report it with a position
  }
  if (typeof value !== 'object' || value === null || (value as { type?: unknown }).type !== 'bundle') return undefined;
  const raw: RawRule[] = [];
  const diagnostics: Diagnostic[] = [];
  collectIndicators(value as { objects?: unknown }, source.file, { line: 1, column: 1 }, raw, diagnostics);
  return { raw, diagnostics };
}

/**
 * A rule file in plain JSON (how deployments ship rules, converted at synth) is read with
 * JSON.parse; positions are worked out through the YAML reader only if a diagnostic needs one.
 * That keeps a Lambda cold start with a thousand rules from paying for a document model.
 */
function readJsonRules(source: RuleSource): { raw: RawRule[]; diagnostics: Diagnostic[] } | undefined {
  const head = source.text.trimStart();
  if (!head.startsWith('{') && !head.startsWith('[')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(source.text);
  } catch {
    return undefined;
  }
  const entries = Array.isArray(value)
    ? value
    : typeof value === 'object' && value !== null && Array.isArray((value as { rules?: unknown }).rules)
      ? (value as { rules: unknown[] }).rules
      : undefined;
  if (!entries || entries.some((e) => typeof e !== 'object' || e === null || Array.isArray(e))) return undefined;
  // Keys beside `rules:` are reported with their position: the positioned reader does that.
  if (!Array.isArray(value) && Object.keys(value as object).some((key) => !TOP_LEVEL_KEYS.has(key))) return undefined;
  let positioned: RawRule[] | undefined;
  const precise = (i: number): RawRule | undefined => {
    positioned ??= readWithPositions(source).raw;
    return positioned[i];
  };
  const raw = entries.map((entry, i): RawRule => ({
    value: entry as Record<string, unknown>,
    file: source.file,
    get position() {
      return precise(i)?.position ?? { line: 1, column: 1 };
    },
    at: (path) => precise(i)?.at(path) ?? { line: 1, column: 1 },
    locate: (path, offset) => precise(i)?.locate?.(path, offset),
    atKey: (path, key) => precise(i)?.atKey?.(path, key),
  }));
  return { raw, diagnostics: [] };
}

export function readRuleSource(source: RuleSource): { raw: RawRule[]; diagnostics: Diagnostic[] } {
  return readJsonBundle(source) ?? readJsonRules(source) ?? readWithPositions(source);
}

function readWithPositions(source: RuleSource): { raw: RawRule[]; diagnostics: Diagnostic[] } {
  const lines = new LineCounter();
  const diagnostics: Diagnostic[] = [];
  const raw: RawRule[] = [];
  const documents = parseAllDocuments(source.text, { lineCounter: lines, prettyErrors: false });
  const list = Array.isArray(documents) ? documents : [documents];
  for (const doc of list) {
    if (doc.errors.length > 0) {
      for (const error of doc.errors) {
        const p = lines.linePos(error.pos[0]);
        diagnostics.push({
          severity: 'error',
          code: 'yaml-syntax',
          message: error.message.split('\n')[0] ?? error.message,
          file: source.file,
          line: p.line,
          column: p.col,
        });
      }
      continue;
    }
    for (const warning of doc.warnings) {
      const p = lines.linePos(warning.pos[0]);
      diagnostics.push({
        severity: 'warning',
        code: 'yaml-warning',
        message: warning.message.split('\n')[0] ?? warning.message,
        file: source.file,
        line: p.line,
        column: p.col,
      });
    }
    if (doc.contents && !isMap(doc.contents) && !isSeq(doc.contents) && doc.contents.toJSON() !== null) {
      const p = positionOf(doc.contents, lines, { line: 1, column: 1 });
      diagnostics.push({
        severity: 'error',
        code: 'rule-file-shape',
        message:
          'a rule file holds a rule, a list of rules, a mapping with a `rules:` list, or a STIX bundle of indicators',
        file: source.file,
        ...p,
      });
      continue;
    }
    collectFromDocument(doc, source.file, source.text, lines, raw, diagnostics);
  }
  return { raw, diagnostics };
}

// ---------------------------------------------------------------- validate + compile

function pointerToPath(pointer: string): (string | number)[] {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

function compileRule(raw: RawRule, diagnostics: Diagnostic[], options: LoadOptions): Rule | undefined {
  const v = raw.value;
  const id = typeof v.id === 'string' ? v.id : undefined;
  const where = (path: (string | number)[]): { file: string; line: number; column: number; ruleId?: string } => ({
    file: raw.file,
    ...raw.at(path),
    ...(id ? { ruleId: id } : {}),
  });
  const before = diagnostics.length;

  if (!validateRuleSchema(v)) {
    for (const error of validateRuleSchema.errors ?? []) {
      const path = pointerToPath(error.instancePath);
      const field = error.instancePath || '(rule)';
      const unknown =
        error.keyword === 'additionalProperties'
          ? (error.params as { additionalProperty?: string }).additionalProperty
          : undefined;
      const keyAt = unknown !== undefined ? raw.atKey?.(path, unknown) : undefined;
      const detail =
        error.keyword === 'additionalProperties'
          ? `unknown field '${String((error.params as { additionalProperty?: string }).additionalProperty)}'`
          : error.keyword === 'enum'
            ? `${error.message}: ${(error.params as { allowedValues?: unknown[] }).allowedValues?.join(', ')}`
            : error.message;
      diagnostics.push({
        severity: 'error',
        code: 'rule-schema',
        message: `${field}: ${detail ?? 'invalid'}`,
        ...where(path),
        ...(keyAt ?? {}),
      });
    }
    return undefined;
  }
  const stixVersion = v.stix_version === '2.0' ? '2.0' : '2.1';
  // The schema leaves a test entry open (events may be in any format); a key `stixflow test`
  // does not read (`expected:` for `expect:`) would silently change the test: warn at it.
  ((v.tests as Record<string, unknown>[] | undefined) ?? []).forEach((test, i) => {
    for (const key of Object.keys(test)) {
      if (TEST_KEYS.has(key)) continue;
      diagnostics.push({
        severity: 'warning',
        code: 'unknown-test-key',
        message: `tests[${i}]: unknown key '${key}' is ignored (a test has ${[...TEST_KEYS].join(', ')})`,
        ...where(['tests', i]),
        ...(raw.atKey?.(['tests', i], key) ?? {}),
      });
    }
  });

  // The pattern: map its diagnostics into the file. For a scalar on one line the column maps
  // exactly (plus one for the opening quote); otherwise we point at the field.
  const patternText = v.pattern as string;
  const checked = checkPattern(patternText, { stixVersion });
  const inPattern = (path: (string | number)[], d: Diagnostic, fallback: Position): Position =>
    (d.offset !== undefined ? raw.locate?.(path, d.offset) : undefined) ?? fallback;
  for (const d of checked.diagnostics) {
    diagnostics.push({
      ...d,
      file: raw.file,
      ...inPattern(['pattern'], d, raw.at(['pattern'])),
      ...(id ? { ruleId: id } : {}),
      message: `pattern: ${d.message}`,
    });
  }
  if (checked.pattern && !checked.diagnostics.some((d) => d.severity === 'error')) {
    for (const d of unsatisfiability(checked.pattern, options))
      diagnostics.push({
        ...d,
        file: raw.file,
        ...inPattern(['pattern'], d, raw.at(['pattern'])),
        ...(id ? { ruleId: id } : {}),
        message: `pattern: ${d.message}`,
      });
  }
  const limit = checked.pattern
    ? streamingLimitError(checked.pattern.tree, checked.pattern.observations.length)
    : undefined;
  if (limit)
    diagnostics.push({
      severity: 'error',
      code: 'too-many-observations',
      message: `pattern: ${limit}`,
      ...where(['pattern']),
      ...(id ? { ruleId: id } : {}),
    });

  const groupByText =
    v.group_by === undefined ? [] : Array.isArray(v.group_by) ? (v.group_by as string[]) : [v.group_by as string];
  const groupBy: ObjectPath[] = [];
  groupByText.forEach((text, i) => {
    const path = parseObjectPath(text);
    if (typeof path === 'string')
      diagnostics.push({
        severity: 'error',
        code: 'bad-group-by',
        message: `group_by '${text}' is not an object path (type:property…): ${path}`,
        ...where(['group_by', ...(Array.isArray(v.group_by) ? [i] : [])]),
      });
    else groupBy.push(path);
  });

  const filters: Rule['filters'] = [];
  ((v.filters as unknown[] | undefined) ?? []).forEach((entry, i) => {
    const spec =
      typeof entry === 'string'
        ? { pattern: entry }
        : (entry as { pattern: string; reason?: string; expires?: string });
    const filterCheck = checkPattern(spec.pattern, { stixVersion });
    const expires = spec.expires === undefined ? undefined : parseTime(spec.expires);
    if (spec.expires !== undefined && expires === undefined)
      diagnostics.push({
        severity: 'error',
        code: 'bad-filter-expiry',
        message: `filter expires '${spec.expires}' is not an ISO 8601 date or date-time`,
        ...where(['filters', i, 'expires']),
      });
    const filterPath = typeof entry === 'string' ? ['filters', i] : ['filters', i, 'pattern'];
    for (const d of filterCheck.diagnostics)
      diagnostics.push({
        ...d,
        ...where(filterPath),
        ...inPattern(filterPath, d, raw.at(filterPath)),
        message: `filter ${i}: ${d.message}`,
      });
    if (filterCheck.pattern)
      filters.push({
        text: spec.pattern,
        pattern: filterCheck.pattern,
        ...(spec.reason ? { reason: spec.reason } : {}),
        ...(expires !== undefined ? { expires } : {}),
      });
  });

  const validFrom = parseTime(v.valid_from);
  const validUntil = parseTime(v.valid_until);
  if (v.valid_from !== undefined && validFrom === undefined)
    diagnostics.push({
      severity: 'error',
      code: 'bad-validity',
      message: `valid_from '${String(v.valid_from)}' is not a timestamp`,
      ...where(['valid_from']),
    });
  if (v.valid_until !== undefined && validUntil === undefined)
    diagnostics.push({
      severity: 'error',
      code: 'bad-validity',
      message: `valid_until '${String(v.valid_until)}' is not a timestamp`,
      ...where(['valid_until']),
    });

  if (diagnostics.slice(before).some((d) => d.severity === 'error') || !checked.pattern) return undefined;
  const rateLimit = v.rate_limit as
    { max_alerts: number; period?: number | string; throttle_for?: number | string } | undefined;
  const scope = v.scope as { tenants?: string[]; hosts?: string[] } | undefined;
  return {
    id: v.id as string,
    name: v.name as string,
    description: (v.description as string | undefined) ?? '',
    severity: v.severity as Severity,
    ...(typeof v.category === 'string' ? { category: v.category } : {}),
    ...(typeof v.type === 'string' ? { type: v.type } : {}),
    tags: (v.tags as string[] | undefined) ?? [],
    enabled: v.enabled !== false,
    patternText,
    pattern: checked.pattern as CompiledPattern,
    groupBy,
    groupByText,
    filters,
    ...(v.suppress !== undefined ? { suppressSeconds: durationSeconds(v.suppress) as number } : {}),
    ...(rateLimit
      ? {
          rateLimit: {
            maxAlerts: rateLimit.max_alerts,
            periodSeconds: durationSeconds(rateLimit.period ?? 60) as number,
            throttleSeconds: durationSeconds(rateLimit.throttle_for ?? 600) as number,
          },
        }
      : {}),
    ...(scope
      ? {
          scope: {
            ...(scope.tenants ? { tenants: scope.tenants } : {}),
            ...(scope.hosts ? { hosts: scope.hosts } : {}),
          },
        }
      : {}),
    ...(validFrom !== undefined ? { validFrom } : {}),
    ...(validUntil !== undefined ? { validUntil } : {}),
    tests: (v.tests as Record<string, unknown>[] | undefined) ?? [],
    source: lazySource(raw),
  };
}

/** Where a rule came from; the line is resolved only when something reads it. */
function lazySource(raw: RawRule): NonNullable<Rule['source']> {
  return {
    file: raw.file,
    get line() {
      return raw.position.line;
    },
  };
}

/** Loads rules from in-memory sources. Duplicate ids: the first wins, later ones are errors. */
export function loadRules(sources: RuleSource[], options: LoadOptions = {}): LoadResult {
  const diagnostics: Diagnostic[] = [];
  const rules: Rule[] = [];
  const indicators = new IndicatorSet();
  const seen = new Map<string, RawRule>();
  const indicatorSources: LoadResult['indicatorSources'] = [];
  for (const source of sources) {
    const read = readRuleSource(source);
    diagnostics.push(...read.diagnostics);
    const indicatorsBefore = indicators.size;
    for (const raw of read.raw) {
      if (raw.fromIndicator && indicatorFitsSet(raw, indicators, diagnostics, options)) continue;
      const rule = compileRule(raw, diagnostics, options);
      if (!rule) continue;
      const previous = seen.get(rule.id);
      if (previous) {
        diagnostics.push({
          severity: 'error',
          code: 'duplicate-rule-id',
          message: `rule id '${rule.id}' is already defined at ${previous.file}:${previous.position.line}`,
          file: raw.file,
          ...raw.position,
          ruleId: rule.id,
        });
        continue;
      }
      seen.set(rule.id, raw);
      rules.push(rule);
    }
    if (indicators.size > indicatorsBefore)
      indicatorSources.push({ file: source.file, indicators: indicators.size - indicatorsBefore });
  }
  return { rules, indicators, indicatorSources, diagnostics };
}

/**
 * Files a STIX indicator in the compact indicator set when it is a single observation
 * expression. Returns false when it must load as an ordinary rule (or was rejected there).
 */
function indicatorFitsSet(
  raw: RawRule,
  indicators: IndicatorSet,
  diagnostics: Diagnostic[],
  options: LoadOptions,
): boolean {
  const v = raw.value;
  if (typeof v.pattern !== 'string' || typeof v.id !== 'string') return false;
  const validFrom = parseTime(v.valid_from);
  const validUntil = parseTime(v.valid_until);
  if (
    (v.valid_from !== undefined && validFrom === undefined) ||
    (v.valid_until !== undefined && validUntil === undefined)
  )
    return false;
  const verdict = indicatorUnsatisfiability(v.pattern, v.stix_version === '2.0' ? '2.0' : '2.1', options);
  const where = { file: raw.file, line: raw.position.line, column: raw.position.column, ruleId: v.id };
  for (const d of verdict) diagnostics.push({ ...d, ...where, message: `indicator pattern: ${d.message}` });
  if (verdict.some((d) => d.severity === 'error')) return true;
  const outcome = indicators.add({
    id: v.id,
    name: v.name as string,
    description: (v.description as string | undefined) ?? '',
    severity: v.severity as Severity,
    tags: (v.tags as string[] | undefined) ?? [],
    patternText: v.pattern,
    stixVersion: v.stix_version === '2.0' ? '2.0' : '2.1',
    ...(validFrom !== undefined ? { validFrom } : {}),
    ...(validUntil !== undefined ? { validUntil } : {}),
  });
  if (outcome === 'added') return true;
  if (outcome === 'rule') return false;
  for (const d of outcome)
    diagnostics.push({
      ...d,
      file: raw.file,
      line: raw.position.line,
      column: raw.position.column,
      ruleId: v.id,
      message: `indicator pattern: ${d.message}`,
    });
  return true;
}

// ---------------------------------------------------------------- satisfiability verdict

/**
 * The one verdict on patterns that can never match, for every shell that loads rules: an error
 * (the rule is skipped), or a warning when the caller keeps such rules. An observation
 * expression kept alive only by an observation-level OR is a warning either way.
 */
function unsatisfiability(pattern: CompiledPattern, options: LoadOptions): Diagnostic[] {
  return satisfiabilityDiagnostics(pattern).map((d) =>
    d.severity === 'error' && options.allowUnsatisfiable
      ? { ...d, severity: 'warning', message: `${d.message} (kept: unsatisfiable rules allowed)` }
      : d,
  );
}

/**
 * The same verdict for an indicator, before it is filed in the indicator set. Feed shapes
 * (`[ipv4-addr:value = '…']`) are read by the parser's fast path and are evidently
 * satisfiable; anything else is compiled and analysed. Patterns with several observation
 * expressions, or that do not compile, are left to the rule path (or to the set's own report).
 */
function indicatorUnsatisfiability(text: string, stixVersion: StixVersion, options: LoadOptions): Diagnostic[] {
  const simple = parseSimpleEquality(text);
  if (simple && simple.root.kind === 'observation' && evidentlySatisfiable(simple.root.comparison)) return [];
  const checked = checkPattern(text, { stixVersion });
  if (!checked.pattern || !checked.pattern.isSingleObservation) return [];
  return unsatisfiability(checked.pattern, options);
}

const RULE_FILE = /\.(ya?ml|json)$/i;

/**
 * Reads rule files and directories (recursively: *.yaml, *.yml, *.json), in name order. A path
 * that cannot be read (a dangling symbolic link, no permission, a symbolic link loop) is a
 * diagnostic for that path; the rest still loads. Directories reached twice through symbolic
 * links are read once.
 */
export function readRuleSources(paths: string[]): { sources: RuleSource[]; diagnostics: Diagnostic[] } {
  const sources: RuleSource[] = [];
  const diagnostics: Diagnostic[] = [];
  const visitedDirectories = new Set<string>();
  const visit = (path: string, listed: boolean): void => {
    let stat;
    try {
      stat = statSync(path);
    } catch (error) {
      diagnostics.push(unreadablePath(path, error, listed));
      return;
    }
    if (stat.isDirectory()) {
      let real: string;
      let entries: string[];
      try {
        real = realpathSync(path);
        entries = readdirSync(path).sort();
      } catch (error) {
        diagnostics.push(unreadablePath(path, error, listed));
        return;
      }
      if (visitedDirectories.has(real)) return;
      visitedDirectories.add(real);
      for (const entry of entries) {
        const child = join(path, entry);
        if (RULE_FILE.test(entry) || isDirectoryOrBroken(child)) visit(child, true);
      }
      return;
    }
    try {
      sources.push({ file: path, text: readFileSync(path, 'utf8') });
    } catch (error) {
      diagnostics.push(unreadablePath(path, error, listed));
    }
  };
  for (const path of paths) visit(path, false);
  return { sources, diagnostics };
}

/**
 * True for a directory (to descend into) and for an entry that cannot be examined (a dangling
 * link may have pointed at a directory of rules: it is reported rather than skipped unseen).
 */
function isDirectoryOrBroken(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return true;
  }
}

/** The diagnostic for a path that cannot be read. */
function unreadablePath(path: string, error: unknown, listed: boolean): Diagnostic {
  const code = (error as NodeJS.ErrnoException).code;
  let target: string | undefined;
  try {
    if (lstatSync(path).isSymbolicLink()) target = readlinkSync(path);
  } catch {
    // not there at all: no link to describe
  }
  if (target !== undefined && code === 'ENOENT') {
    // A dangling link whose name is no rule file (README, notes): worth a warning, not an error.
    const severity = RULE_FILE.test(path) || !listed ? 'error' : 'warning';
    return {
      severity,
      code: 'rule-file-dangling-link',
      message: `${path} is a symbolic link to ${target}, which does not exist; skipped`,
      file: path,
    };
  }
  if (code === 'ENOENT' && !listed)
    return { severity: 'error', code: 'rule-file-missing', message: `no such file or directory: ${path}`, file: path };
  const reason =
    code === 'ELOOP'
      ? 'a loop of symbolic links'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : error instanceof Error
          ? error.message
          : String(error);
  return {
    severity: 'error',
    code: 'rule-file-unreadable',
    message: `cannot read ${path}: ${reason}; skipped`,
    file: path,
  };
}

export function loadRulesFromPaths(paths: string[], options: LoadOptions = {}): LoadResult {
  const { sources, diagnostics } = readRuleSources(paths);
  const loaded = loadRules(sources, options);
  return { ...loaded, diagnostics: [...diagnostics, ...loaded.diagnostics] };
}

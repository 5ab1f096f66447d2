/**
 * Alert content (issue #14, item 4): the `title` and `description` templates of a rule, its
 * `context:` paths and its `severity_overrides`, compiled once at load and evaluated per alert
 * over the event that completed the match.
 *
 * A template is text with placeholders, each an object path as a pattern writes it:
 * `{process:name} on {x-oca-asset:hostname}`, `{x-oca-event:process_ref.command_line}`.
 * `{{` and `}}` stand for literal braces. A path that does not parse is an error; the STIX type
 * checker's verdicts on it (unknown property with a did-you-mean, a list read without an index)
 * are reported as they are for a pattern, at the placeholder's place.
 *
 * Values are read from the completing event: first from the objects that satisfied the rule's
 * observation expressions (so `{process:name}` of `[process:name = 'powershell.exe']` is the
 * powershell process, not its parent, although both are `process` objects), then from the
 * event's other objects of the path's type. A correlation rule's earlier events are not kept in
 * its state (only their ids are), so their objects are not available here.
 */
import type { Diagnostic, Severity as DiagnosticSeverity } from '../errors.js';
import type { ObjectPath, Span } from '../pattern/ast.js';
import type { CompiledPattern } from '../pattern/compile.js';
import { compilePath } from '../pattern/evaluate.js';
import { encodeHex } from '../pattern/literals.js';
import { parseObjectPath } from '../pattern/object-path.js';
import type { PreparedObservation } from '../pattern/observation.js';
import { printPath } from '../pattern/print.js';
import { typeCheckComparison, typeCheckPattern } from '../pattern/type-check.js';
import type { Severity } from './model.js';

/** The event an alert's content is read from, and the keys of its objects that satisfied the rule. */
export interface ContentSource {
  observation: PreparedObservation;
  /** Root object keys (2.1: ids) that satisfied some observation expression of the rule. */
  matched: ReadonlySet<string>;
}

/** The keys of the objects of `observation` that satisfy some observation expression of `pattern`. */
export function matchedObjectKeys(pattern: CompiledPattern, observation: PreparedObservation): Set<string> {
  const keys = new Set<string>();
  for (const o of pattern.observations) for (const key of o.matchingObjects(observation)) keys.add(key);
  return keys;
}

/** A value read from an event: what the path selects, or undefined when the event has none. */
export type ContentValue = unknown;

/** An object path that reads values out of an event, compiled once. */
export class ContentPath {
  private readonly walk: ReturnType<typeof compilePath>;
  /** `[*]` in the path: every selected value is kept (a list), not only the first. */
  private readonly many: boolean;

  constructor(
    readonly text: string,
    readonly path: ObjectPath,
  ) {
    this.walk = compilePath(path.steps);
    this.many = path.steps.some((s) => s.kind === 'anyIndex');
  }

  /** The value in the first object (matched objects first) that has one; undefined when none has. */
  read(source: ContentSource): ContentValue {
    const roots = source.observation.objectsOfType(this.path.objectType);
    if (roots === undefined) return undefined;
    for (const wantMatched of [true, false]) {
      for (const root of roots) {
        if (source.matched.has(root.key) !== wantMatched) continue;
        const found = this.readObject(root.object, source.observation);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  }

  private readObject(object: unknown, observation: PreparedObservation): ContentValue {
    const values: unknown[] = [];
    this.walk(object, observation, (value) => {
      // `_hex`/`_bin` steps hand over decoded bytes; an alert is JSON, so they are written as hex.
      values.push(value instanceof Uint8Array ? encodeHex(value) : value);
      return !this.many;
    });
    if (values.length === 0) return undefined;
    return this.many ? values : values[0];
  }
}

export type TemplatePart = string | ContentPath;

/** A title or description template: literal text and placeholders, in order. */
export interface Template {
  text: string;
  parts: readonly TemplatePart[];
}

/** A problem in a template or a path, at an offset into its text. */
export interface ContentProblem {
  severity: DiagnosticSeverity;
  /** A rule-loading code (`bad-template`, `bad-context-path`) or the type checker's code. */
  code: string;
  message: string;
  offset: number;
  length: number;
}

/** What a missing value renders as: says which path had no value, never "undefined". */
export function missingValueText(path: string): string {
  return `(no ${path})`;
}

/**
 * Checks a path against the STIX model as a pattern's `EXISTS` would be checked, plus what only
 * alert content needs: a reference names an object, which has no text of its own.
 */
function checkContentPath(
  path: ObjectPath,
  text: string,
  offset: number,
  badCode: string,
  what: string,
): ContentProblem[] {
  const span: Span = { offset, length: text.length, line: 1, column: offset + 1 };
  const unplaced: ObjectPath = { objectType: path.objectType, steps: path.steps };
  const problems: ContentProblem[] = typeCheckComparison({ kind: 'exists', path: unplaced, negated: false, span }).map(
    (d) => ({
      severity: d.severity,
      code: d.code,
      message: d.message,
      offset: d.offset ?? offset,
      length: d.length ?? text.length,
    }),
  );
  const lastKey = [...path.steps].reverse().find((s) => s.kind === 'key');
  if (lastKey?.kind === 'key' && /_refs?$/.test(lastKey.name))
    problems.push({
      severity: 'error',
      code: badCode,
      message: `${what} '${text}' names a reference, which resolves to an object; name one of its properties (for example ${printPath(path)}.name)`,
      offset,
      length: text.length,
    });
  return problems;
}

/** Parses a path written in a rule field (`context:`), with the checks templates make. */
export function parseContentPath(text: string, what: string): { path?: ContentPath; problems: ContentProblem[] } {
  const parsed = parseObjectPath(text.trim());
  if (typeof parsed === 'string')
    return {
      problems: [
        {
          severity: 'error',
          code: 'bad-context-path',
          message: `${what} '${text}' is not an object path (type:property…): ${parsed}`,
          offset: 0,
          length: text.length,
        },
      ],
    };
  const problems = checkContentPath(parsed, text, 0, 'bad-context-path', what);
  return { path: new ContentPath(text.trim(), parsed), problems };
}

/** Parses a template; placeholders whose path does not parse are left out (and reported). */
export function parseTemplate(text: string): { template: Template; problems: ContentProblem[] } {
  const parts: TemplatePart[] = [];
  const problems: ContentProblem[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if ((c === '{' || c === '}') && text[i + 1] === c) {
      literal += c;
      i += 2;
      continue;
    }
    if (c === '}') {
      problems.push({
        severity: 'error',
        code: 'bad-template',
        message: "a '}' outside a placeholder; write '}}' for a literal brace",
        offset: i,
        length: 1,
      });
      i++;
      continue;
    }
    if (c !== '{') {
      literal += c;
      i++;
      continue;
    }
    const end = text.indexOf('}', i + 1);
    const nested = text.indexOf('{', i + 1);
    if (end === -1 || (nested !== -1 && nested < end)) {
      problems.push({
        severity: 'error',
        code: 'bad-template',
        message: "a '{' that opens no placeholder (a placeholder is {type:property}); write '{{' for a literal brace",
        offset: i,
        length: 1,
      });
      literal += c;
      i++;
      continue;
    }
    const inner = text.slice(i + 1, end);
    const trimmed = inner.trim();
    const at = i + 1 + inner.indexOf(trimmed);
    const path = parseObjectPath(trimmed);
    if (typeof path === 'string') {
      problems.push({
        severity: 'error',
        code: 'bad-template',
        message: `placeholder {${inner}} is not an object path (type:property…): ${path}`,
        offset: at,
        length: Math.max(1, trimmed.length),
      });
    } else {
      problems.push(...checkContentPath(path, trimmed, at, 'bad-template', 'placeholder'));
      if (literal) parts.push(literal);
      literal = '';
      parts.push(new ContentPath(trimmed, path));
    }
    i = end + 1;
  }
  if (literal) parts.push(literal);
  return { template: { text, parts }, problems };
}

/** Whether a template has placeholders (one without is plain text, rendered once). */
export function hasPlaceholders(template: Template): boolean {
  return template.parts.some((p) => typeof p !== 'string');
}

/** A value as template text: lists joined with commas, objects as JSON, each cut to `maxChars`. */
function valueText(value: ContentValue, maxChars: number): string {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else if (Array.isArray(value)) text = value.map((v) => valueText(v, maxChars)).join(', ');
  else text = JSON.stringify(value) ?? String(value);
  if (text.length <= maxChars) return text;
  const end =
    text.charCodeAt(maxChars - 1) >= 0xd800 && text.charCodeAt(maxChars - 1) <= 0xdbff ? maxChars - 1 : maxChars;
  return `${text.slice(0, end)}…`;
}

/** The template filled from the event: each value cut to `maxValueChars`, a missing one named. */
export function renderTemplate(template: Template, source: ContentSource, maxValueChars: number): string {
  let out = '';
  for (const part of template.parts) {
    if (typeof part === 'string') out += part;
    else {
      const value = part.read(source);
      out += value === undefined || value === null ? missingValueText(part.text) : valueText(value, maxValueChars);
    }
  }
  return out;
}

/** One `context:` entry: a name in the alert's `context` and the path its value comes from. */
export interface ContextField {
  name: string;
  path: ContentPath;
}

/** The rule's context over the event: every name present, null where the event has no value. */
export function readContext(fields: readonly ContextField[], source: ContentSource): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const value = field.path.read(source);
    out[field.name] = value === undefined ? null : value;
  }
  return out;
}

/** One `severity_overrides` entry: the severity an alert gets when the event satisfies `when`. */
export interface SeverityOverride {
  /** The condition as written. */
  when: string;
  /** A single observation expression without qualifiers, evaluated on the completing event. */
  pattern: CompiledPattern;
  severity: Severity;
}

/**
 * The first override whose condition the event satisfies, if any. A condition that cannot be
 * evaluated on this event (a malformed timestamp in the data, say) does not apply: the alert,
 * already decided by the rule's own pattern, keeps being raised.
 */
export function severityOverrideFor(
  overrides: readonly SeverityOverride[],
  observation: PreparedObservation,
): SeverityOverride | undefined {
  for (const override of overrides) {
    try {
      if (override.pattern.observations[0]?.test(observation)) return override;
    } catch {
      continue;
    }
  }
  return undefined;
}

/** A content problem as a rule diagnostic: the caller places the offset in the file. */
export function contentDiagnostic(problem: ContentProblem, prefix: string): Diagnostic {
  return {
    severity: problem.severity,
    code: problem.code,
    message: `${prefix}: ${problem.message}`,
    offset: problem.offset,
    length: problem.length,
  };
}

// ---------------------------------------------------------------- loading

/** The alert-content fields of a rule, compiled (each absent when the rule does not set it). */
export interface AlertContent {
  title?: Template;
  descriptionTemplate?: Template;
  context?: ContextField[];
  severityOverrides?: SeverityOverride[];
}

/** How compileAlertContent places a diagnostic in the rule file and compiles a condition. */
export interface AlertContentSite {
  /** A diagnostic at a field of the rule (offset: into the field's string value, when known). */
  at(field: (string | number)[], diagnostic: Diagnostic): Diagnostic;
  /** Compiles a condition as the rule's own pattern is compiled (its STIX version and case folding). */
  check(text: string): { pattern?: CompiledPattern; diagnostics: Diagnostic[] };
}

/**
 * Compiles `title`, the description's placeholders, `context` and `severity_overrides` of a rule
 * the schema has accepted, appending problems to `diagnostics` at their places.
 */
export function compileAlertContent(
  fields: Readonly<Record<string, unknown>>,
  site: AlertContentSite,
  diagnostics: Diagnostic[],
): AlertContent {
  const content: AlertContent = {};
  const template = (field: 'title' | 'description'): Template | undefined => {
    const text = fields[field];
    if (typeof text !== 'string') return undefined;
    const { template, problems } = parseTemplate(text);
    for (const p of problems) diagnostics.push(site.at([field], contentDiagnostic(p, field)));
    return template;
  };
  const title = template('title');
  if (title) content.title = title;
  const description = template('description');
  if (description && hasPlaceholders(description)) content.descriptionTemplate = description;

  if (fields.context !== undefined) {
    const context: ContextField[] = [];
    for (const [name, text] of Object.entries(fields.context as Record<string, string>)) {
      const { path, problems } = parseContentPath(text, `context ${name}`);
      for (const p of problems) diagnostics.push(site.at(['context', name], contentDiagnostic(p, `context.${name}`)));
      if (path) context.push({ name, path });
    }
    content.context = context;
  }

  if (fields.severity_overrides !== undefined) {
    const overrides: SeverityOverride[] = [];
    (fields.severity_overrides as { when: string; severity: Severity }[]).forEach((entry, i) => {
      // A bare comparison (`process:pid = 4`) is one observation expression: bracket it.
      const bare = !entry.when.trimStart().startsWith('[');
      const text = bare ? `[${entry.when}]` : entry.when;
      const checked = site.check(text);
      // The type checker's verdicts (a condition that can never hold) as for the rule's pattern.
      const found = checked.pattern
        ? [...checked.diagnostics, ...typeCheckPattern(checked.pattern.ast)]
        : checked.diagnostics;
      const where = ['severity_overrides', i, 'when'];
      for (const d of found)
        diagnostics.push(
          site.at(where, {
            ...d,
            ...(d.offset !== undefined ? { offset: Math.max(0, d.offset - (bare ? 1 : 0)) } : {}),
            message: `severity_overrides[${i}].when: ${d.message}`,
          }),
        );
      if (!checked.pattern || found.some((d) => d.severity === 'error')) return;
      if (!checked.pattern.isSingleObservation) {
        diagnostics.push(
          site.at(where, {
            severity: 'error',
            code: 'bad-severity-override',
            message: `severity_overrides[${i}].when is evaluated on the one event that completed the match: write one observation expression without qualifiers (a comparison such as process:name = 'x', or [ … ]), not '${entry.when}'`,
          }),
        );
        return;
      }
      overrides.push({ when: entry.when, pattern: checked.pattern, severity: entry.severity });
    });
    content.severityOverrides = overrides;
  }
  return content;
}

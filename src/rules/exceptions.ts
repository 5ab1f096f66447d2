/**
 * Shared exceptions (#14.5): allowlists a rule file declares once under `exceptions:`, each with
 * a pattern, the rules it applies to (`all`, or by tag, category or rule id glob), a reason and
 * an expiry. Loading hands each one to the rules it selects as one more of their filters, so
 * the engine mutes and counts it per rule exactly as a rule's own filters (`filtered`, explain,
 * `stixflow test`). An expired exception is a warning and applies nowhere; one that selects no
 * loaded rule is a warning.
 */
import { isRecord } from '../util/records.js';
import type { Diagnostic } from '../errors.js';
import { satisfiabilityDiagnostics } from '../generate/unsat.js';
import { checkPattern, type CompiledPattern } from '../pattern/compile.js';
import type { BlockLibrary, Expansion } from './blocks.js';
import { ruleDiagnostic } from './diagnostics.js';
import type { Rule } from './model.js';
import type { Position, RuleDocument, ValuePath } from './read.js';
import { validateExceptionEntry } from './rule-validators.js';

/** Which rules an exception applies to. */
export type AppliesTo = 'all' | { tags?: string[]; categories?: string[]; rules?: string[] };

interface ExceptionFields {
  id: string;
  pattern: string;
  applies_to: AppliesTo;
  reason: string;
  expires: string;
}

/** An `exceptions:` entry of a document, and where its fields are. */
export class ExceptionCandidate {
  constructor(
    readonly value: ExceptionFields,
    private readonly document: RuleDocument,
    private readonly path: ValuePath,
  ) {}

  get file(): string {
    return this.document.file;
  }

  get id(): string {
    return this.value.id;
  }

  get position(): Position {
    return this.document.positions?.at(this.path) ?? this.document.start;
  }

  at(field: ValuePath): Position {
    return this.document.positions?.at([...this.path, ...field]) ?? this.position;
  }

  locate(field: ValuePath, offset: number): Position | undefined {
    return this.document.positions?.locate([...this.path, ...field], offset);
  }

  describePlace(): string {
    return `${this.file}:${this.position.line}`;
  }
}

/** The entries of a document's `exceptions:`; those that do not fit the schema are `bad-exception`. */
export function collectExceptions(
  value: Record<string, unknown>,
  document: RuleDocument,
  out: ExceptionCandidate[],
  diagnostics: Diagnostic[],
): void {
  const section = value.exceptions;
  if (section === undefined || section === null) return;
  const at = (path: ValuePath): Position => document.positions?.at(path) ?? document.start;
  if (!Array.isArray(section)) {
    diagnostics.push(
      ruleDiagnostic(
        'bad-exception',
        { file: document.file, ...at(['exceptions']) },
        '`exceptions:` is a list of { id, pattern, applies_to, reason, expires }',
      ),
    );
    return;
  }
  section.forEach((entry, i) => {
    const path = ['exceptions', i];
    if (!validateExceptionEntry(entry)) {
      const id = isRecord(entry) && typeof entry.id === 'string' ? entry.id : undefined;
      for (const error of validateExceptionEntry.errors ?? []) {
        const field = error.instancePath
          .split('/')
          .slice(1)
          .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
        const unknown =
          error.keyword === 'additionalProperties'
            ? (error.params as { additionalProperty?: string }).additionalProperty
            : undefined;
        const detail =
          unknown !== undefined
            ? `unknown field '${[...field, unknown].join('.')}'`
            : `${error.instancePath || '(exception)'}: ${error.message ?? 'invalid'}`;
        diagnostics.push(
          ruleDiagnostic(
            'bad-exception',
            {
              file: document.file,
              ...(unknown !== undefined
                ? (document.positions?.atKey([...path, ...field], unknown) ?? at([...path, ...field]))
                : at([...path, ...field])),
            },
            `exception ${id ?? i}: ${detail}`,
          ),
        );
        // oneOf failures of applies_to repeat themselves: one is enough.
        if (error.instancePath === '/applies_to') break;
      }
      return;
    }
    out.push(new ExceptionCandidate(entry as ExceptionFields, document, path));
  });
}

/** `word-*` → /^word-.*$/: `*` any run of characters, `?` one. */
function globMatcher(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

function selector(appliesTo: AppliesTo): (rule: Rule) => boolean {
  if (appliesTo === 'all') return () => true;
  const tags = new Set(appliesTo.tags ?? []);
  const categories = new Set(appliesTo.categories ?? []);
  const ids = (appliesTo.rules ?? []).map(globMatcher);
  return (rule) =>
    rule.tags.some((t) => tags.has(t)) ||
    (rule.category !== undefined && categories.has(rule.category)) ||
    ids.some((re) => re.test(rule.id));
}

/** An ISO 8601 date (`2027-03-31`: the end of that UTC day) or date-time, as epoch ms. */
function expiryOf(text: string): number | undefined {
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const day = Date.parse(`${text}T00:00:00Z`);
    return Number.isNaN(day) ? undefined : day + 86_400_000;
  }
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** What applying the exceptions did, for listings: each exception and the rules it applies to. */
export interface AppliedException {
  id: string;
  file: string;
  line: number;
  reason: string;
  expires: string;
  rules: string[];
}

/**
 * Hands every exception in force to the rules it selects, as a filter of theirs (compiled with
 * each rule's pattern options, so it compares as the rule does). Reports bad and repeated
 * exceptions, expired ones and ones that select no rule. `now` decides what has expired; the
 * filter keeps the expiry, so a long-running process stops applying it on time too.
 */
export function applyExceptions(
  exceptions: readonly ExceptionCandidate[],
  rules: readonly Rule[],
  library: BlockLibrary,
  now: number,
  diagnostics: Diagnostic[],
): AppliedException[] {
  const applied: AppliedException[] = [];
  const first = new Map<string, ExceptionCandidate>();
  for (const exception of exceptions) {
    const { id, reason } = exception.value;
    const place = (field: ValuePath) => ({ file: exception.file, ...exception.at(field) });
    const earlier = first.get(id);
    if (earlier) {
      diagnostics.push(
        ruleDiagnostic(
          'bad-exception',
          { ...place([]), related: [{ file: earlier.file, ...earlier.position }] },
          `exception id '${id}' is already defined at ${earlier.describePlace()}; this one applies nowhere`,
        ),
      );
      continue;
    }
    first.set(id, exception);
    const expires = expiryOf(exception.value.expires);
    if (expires === undefined) {
      diagnostics.push(
        ruleDiagnostic(
          'bad-exception',
          place(['expires']),
          `exception ${id}: expires '${exception.value.expires}' is not an ISO 8601 date or date-time`,
        ),
      );
      continue;
    }
    if (expires <= now) {
      diagnostics.push(
        ruleDiagnostic(
          'exception-expired',
          place(['expires']),
          `exception ${id} expired on ${exception.value.expires} and no longer applies (reason was: ${reason}); renew or remove it`,
        ),
      );
      continue;
    }
    const written = exception.value.pattern;
    const expanded = library.expand(written, (offset, length) => ({
      file: exception.file,
      ...(exception.locate(['pattern'], offset) ?? exception.at(['pattern'])),
      length,
    }));
    if (!expanded.expansion) {
      diagnostics.push(...expanded.diagnostics.map((d) => ({ ...d, message: `exception ${id}: ${d.message}` })));
      continue;
    }
    const expansion = expanded.expansion;
    const selected = rules.filter(selector(exception.value.applies_to));
    if (selected.length === 0) {
      diagnostics.push(
        ruleDiagnostic(
          'exception-unused',
          place(['applies_to']),
          `exception ${id} applies to none of the loaded rules (${rules.length === 1 ? 'one rule' : `${rules.length} rules`})`,
        ),
      );
      continue;
    }
    const patterns = compiledFor(selected, exception, expansion, diagnostics);
    if (!patterns) continue;
    selected.forEach((rule, i) =>
      rule.filters.push({
        text: expansion.text,
        pattern: patterns[i] as CompiledPattern,
        reason,
        expires,
        exception: id,
      }),
    );
    applied.push({
      id,
      file: exception.file,
      line: exception.position.line,
      reason,
      expires: exception.value.expires,
      rules: selected.map((r) => r.id),
    });
  }
  return applied;
}

/**
 * The exception's pattern for each rule: compiled once per distinct way of comparing (STIX
 * version and case folding) among the rules, so that it compares as each rule does. Its problems
 * are reported once, from the first compile; undefined when it does not compile.
 */
function compiledFor(
  rules: readonly Rule[],
  exception: ExceptionCandidate,
  expansion: Expansion,
  diagnostics: Diagnostic[],
): CompiledPattern[] | undefined {
  const byMode = new Map<string, CompiledPattern | undefined>();
  const patterns: CompiledPattern[] = [];
  for (const rule of rules) {
    const options = rule.patternOptions ?? { stixVersion: '2.1', caseInsensitive: false };
    const key = JSON.stringify(options);
    if (!byMode.has(key)) {
      const checked = checkPattern(expansion.text, options);
      // An exception that can never match mutes nothing: judged as rule patterns are (once).
      if (byMode.size === 0 && checked.pattern && !checked.diagnostics.some((d) => d.severity === 'error'))
        checked.diagnostics.push(...satisfiabilityDiagnostics(checked.pattern));
      if (byMode.size === 0)
        for (const found of checked.diagnostics) {
          const d = expansion.mapDiagnostic(found);
          diagnostics.push({
            ...d,
            file: exception.file,
            ...((d.offset !== undefined ? exception.locate(['pattern'], d.offset) : undefined) ??
              exception.at(['pattern'])),
            message: `exception ${exception.id}: ${d.message}`,
          });
        }
      const failed = !checked.pattern || checked.diagnostics.some((d) => d.severity === 'error');
      byMode.set(key, failed ? undefined : checked.pattern);
    }
    const pattern = byMode.get(key);
    if (!pattern) return undefined;
    patterns.push(pattern);
  }
  return patterns;
}

/**
 * Named building blocks of rule files (#14.2): `lists:` (named value lists, written `$name` where
 * a STIX `IN (…)` list goes) and `macros:` (named comparison expressions, written `$name` or
 * `$name(arg, …)` where a comparison goes inside `[ ]`). A file may hold only lists and macros;
 * the definitions of every source are collected before any rule compiles, so a directory shares
 * them. Each definition is checked once, where it is written (unknown names, cycles, a macro
 * without parameters that does not parse); a rule's pattern is then expanded into standard STIX
 * at load time, keeping a map from the expanded text back to the text as written.
 *
 * Why `$`: the STIX patterning grammar has no `$` outside a quoted string, so `$office_apps`
 * can never be read as STIX, and the scanner skips quoted strings (`'$HOME'` stays a string).
 */
import { isRecord } from '../util/records.js';
import { closest } from 'fastest-levenshtein';
import type { Diagnostic, SourceLocation } from '../errors.js';
import { parsePattern } from '../pattern/parse.js';
import { ruleDiagnostic, type RuleLoadCode } from './diagnostics.js';
import type { Position, RuleDocument, ValuePath } from './read.js';

/** The top-level keys of a rule file that hold building blocks. */
export const BLOCK_KEYS = ['lists', 'macros'] as const;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NAME_CHAR = /[A-Za-z0-9_]/;

type ListValue = string | number;

/** A definition under `lists:` or `macros:`, and where it is written. */
export class BlockDefinition {
  constructor(
    readonly kind: 'list' | 'macro',
    readonly name: string,
    private readonly document: RuleDocument,
    /** The path of the definition's value in its document: ['lists', name] or ['macros', name]. */
    private readonly path: ValuePath,
    /** A list: its values as a STIX set, `('a', 'b')`. A macro: its comparison expression. */
    readonly text: string,
    /** A macro's parameter names, in order. */
    readonly params: readonly string[] = [],
    /** For a macro written as a mapping, the key its expression is under. */
    private readonly textKey?: string,
  ) {}

  get file(): string {
    return this.document.file;
  }

  /** Where the definition's name is. */
  get position(): Position {
    const parent = this.path.slice(0, -1);
    return this.document.positions?.atKey(parent, this.name) ?? this.document.start;
  }

  /** Where a character of the macro's expression is; the definition itself when it cannot be told. */
  locate(offset: number): Position {
    if (this.kind === 'macro') {
      const path = this.textKey === undefined ? this.path : [...this.path, this.textKey];
      const at = this.document.positions?.locate(path, offset);
      if (at) return at;
    }
    return this.document.positions?.at(this.path) ?? this.position;
  }

  /** `list 'office_apps'`, `macro 'child_of'`. */
  get label(): string {
    return `${this.kind} '${this.name}'`;
  }

  describePlace(): string {
    const p = this.position;
    return `${this.file}:${p.line}:${p.column}`;
  }

  location(): SourceLocation {
    return { file: this.file, ...this.position };
  }
}

/** A STIX string literal: `'` and `\` escaped with a backslash. */
function stixString(value: string): string {
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** The definitions under a document's `lists:` and `macros:`; their shape problems go to `diagnostics`. */
export function collectDefinitions(
  value: Record<string, unknown>,
  document: RuleDocument,
  out: BlockDefinition[],
  diagnostics: Diagnostic[],
): void {
  const at = (path: ValuePath, key?: string): Position =>
    (key !== undefined ? document.positions?.atKey(path, key) : document.positions?.at(path)) ?? document.start;
  const bad = (where: Position, message: string): void => {
    diagnostics.push(ruleDiagnostic('bad-block-definition', { file: document.file, ...where }, message));
  };
  for (const key of BLOCK_KEYS) {
    const section = value[key];
    if (section === undefined || section === null) continue;
    if (!isRecord(section)) {
      bad(at([key]), `\`${key}:\` holds a mapping of names to ${key === 'lists' ? 'value lists' : 'expressions'}`);
      continue;
    }
    for (const [name, definition] of Object.entries(section)) {
      const path = [key, name];
      if (!NAME.test(name)) {
        bad(at([key], name), `'${name}' is not a block name (letters, digits and _, not starting with a digit)`);
        continue;
      }
      const made = key === 'lists' ? listDefinition(definition) : macroDefinition(definition);
      if (typeof made === 'string') {
        bad(at(path), `${key === 'lists' ? 'list' : 'macro'} '${name}': ${made}`);
        continue;
      }
      out.push(new BlockDefinition(made.kind, name, document, path, made.text, made.params, made.textKey));
    }
  }
}

interface Made {
  kind: 'list' | 'macro';
  text: string;
  params: string[];
  textKey?: string;
}

/** `[a, b]` or `{ values: [a, b], description }`: all strings or all numbers, at least one. */
function listDefinition(definition: unknown): Made | string {
  let values: unknown = definition;
  if (isRecord(definition)) {
    const unknown = Object.keys(definition).filter((k) => k !== 'values' && k !== 'description');
    if (unknown.length > 0) return `unknown key '${unknown[0] as string}' (a list has values and description)`;
    values = definition.values;
  }
  if (!Array.isArray(values)) return 'a list is a sequence of values, or { values: [...] }';
  if (values.length === 0) return 'a list needs at least one value (STIX has no empty IN list)';
  const strings = values.every((v) => typeof v === 'string');
  const numbers = values.every((v) => typeof v === 'number' && Number.isFinite(v));
  if (!strings && !numbers)
    return `the values are all strings or all numbers (a STIX set holds one type); found ${[...new Set(values.map((v) => (v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v)))].join(' and ')}`;
  const text = (values as ListValue[]).map((v) => (typeof v === 'string' ? stixString(v) : String(v))).join(', ');
  return { kind: 'list', text: `(${text})`, params: [] };
}

/** `"<comparison expression>"` or `{ expression, params: [names], description }`. */
function macroDefinition(definition: unknown): Made | string {
  if (typeof definition === 'string')
    return checkExpression(definition) ?? { kind: 'macro', text: definition, params: [] };
  if (!isRecord(definition)) return 'a macro is a comparison expression, or { expression, params, description }';
  const unknown = Object.keys(definition).filter((k) => !['expression', 'params', 'description'].includes(k));
  if (unknown.length > 0)
    return `unknown key '${unknown[0] as string}' (a macro has expression, params and description)`;
  const expression = definition.expression;
  if (typeof expression !== 'string') return 'a macro needs an `expression:` (a comparison expression, as inside [ ])';
  const problem = checkExpression(expression);
  if (problem) return problem;
  const params = definition.params ?? [];
  if (!Array.isArray(params) || params.some((p) => typeof p !== 'string' || !NAME.test(p)))
    return '`params:` is a list of names (letters, digits and _)';
  const names = params as string[];
  const twice = names.find((p, i) => names.indexOf(p) !== i);
  if (twice !== undefined) return `parameter '${twice}' is listed twice`;
  return { kind: 'macro', text: expression, params: names, textKey: 'expression' };
}

function checkExpression(expression: string): string | undefined {
  const trimmed = expression.trim();
  if (!trimmed) return 'the expression is empty';
  if (trimmed.startsWith('[') && trimmed.endsWith(']'))
    return 'a macro is a comparison expression, written without the [ ] of an observation (the rule writes [$name])';
  return undefined;
}

// ---------------------------------------------------------------- scanning

/** A `$name` or `$name(arg, …)` in a text, outside quoted strings. */
interface Reference {
  name: string;
  start: number;
  end: number;
  args?: { start: number; end: number }[];
  /** Why the argument list could not be read (unclosed parenthesis). */
  argsProblem?: string;
}

/** The end of the quoted string starting at `i` (just past its closing quote), or the text's end. */
function skipQuoted(text: string, i: number, end: number): number {
  for (let j = i + 1; j < end; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === "'") return j + 1;
  }
  return end;
}

/** The references in text[from, to), outside quoted strings, in order. */
function scanReferences(text: string, from: number, to: number): Reference[] {
  const found: Reference[] = [];
  let i = from;
  while (i < to) {
    const c = text[i];
    if (c === "'") {
      i = skipQuoted(text, i, to);
      continue;
    }
    if (c !== '$') {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < to && NAME_CHAR.test(text[j] as string)) j++;
    const name = text.slice(i + 1, j);
    if (!NAME.test(name)) {
      i = j > i + 1 ? j : i + 1; // a lone `$` or `$1`: left for the parser to report
      continue;
    }
    const reference: Reference = { name, start: i, end: j };
    if (text[j] === '(') {
      const args: { start: number; end: number }[] = [];
      let depth = 0;
      let argStart = j + 1;
      let k = j;
      for (; k < to; k++) {
        const ch = text[k];
        if (ch === "'") {
          k = skipQuoted(text, k, to) - 1;
        } else if (ch === '(') depth++;
        else if (ch === ')') {
          depth--;
          if (depth === 0) {
            args.push({ start: argStart, end: k });
            break;
          }
        } else if (ch === ',' && depth === 1) {
          args.push({ start: argStart, end: k });
          argStart = k + 1;
        }
      }
      if (k >= to) {
        reference.argsProblem = `the arguments of $${name}( are not closed with )`;
        reference.end = to;
      } else {
        reference.end = k + 1;
        // `$m()` is a call without arguments.
        reference.args = args.length === 1 && text.slice(args[0]!.start, args[0]!.end).trim() === '' ? [] : args;
      }
    }
    found.push(reference);
    i = reference.end;
  }
  return found;
}

/** True when a text has a `$name` outside quoted strings (most patterns have none: no expansion). */
export function hasReferences(text: string): boolean {
  return text.includes('$') && scanReferences(text, 0, text.length).length > 0;
}

// ---------------------------------------------------------------- expansion

/** A reference site an expanded piece came through: in `source` (undefined: the text being expanded), to `target`. */
interface Frame {
  source: BlockDefinition | undefined;
  start: number;
  length: number;
  target: BlockDefinition;
}

/** A run of the expanded text: copied from `source` at `offset` (or made for it: a list's set), through `frames`. */
interface Piece {
  text: string;
  source: BlockDefinition | undefined;
  offset: number;
  /** Whether `text` is `source`'s own text at `offset` (false: made, like a list's set or a macro's parentheses). */
  copied: boolean;
  frames: Frame[];
}

/** Where the reference a piece was built from (or the piece itself) is written. */
function rootOf(piece: Piece): BlockDefinition | undefined {
  return piece.frames.length > 0 ? piece.frames[0]!.source : piece.source;
}

interface ExpansionProblem {
  code: RuleLoadCode;
  message: string;
  /** In which text, and where in it. */
  source: BlockDefinition | undefined;
  start: number;
  length: number;
  related: BlockDefinition[];
}

/** A pattern (or filter, or exception) after expansion: standard STIX, with the way back. */
export class Expansion {
  constructor(
    /** The text as written. */
    readonly written: string,
    /** The standard STIX text. */
    readonly text: string,
    private readonly pieces: readonly (Piece & { at: number })[],
    /** Every list and macro the text uses, directly or through other macros, by name. */
    readonly lists: readonly string[],
    readonly macros: readonly string[],
  ) {}

  get expanded(): boolean {
    return this.text !== this.written;
  }

  /**
   * A diagnostic about the expanded text, moved to the text as written: an offset in text copied
   * from it stays exact; one inside an expansion points at the `$reference` (its whole length),
   * names the definition in the message and gives the place inside the definition (and every
   * macro between) as `related`.
   */
  mapDiagnostic(d: Diagnostic): Diagnostic {
    if (!this.expanded || d.offset === undefined) return d;
    const piece = this.pieceAt(d.offset);
    if (!piece) return d;
    // Line and column were counted in the expanded text; the caller places the new offset.
    const { line: _line, column: _column, ...rest } = d;
    if (piece.frames.length === 0) return { ...rest, offset: piece.offset + (d.offset - piece.at) };
    const use = piece.frames[0]!;
    const related: SourceLocation[] = piece.frames.slice(1).map((f) => ({
      file: f.source!.file,
      ...f.source!.locate(f.start),
    }));
    const inside = piece.source;
    if (inside)
      related.push({ file: inside.file, ...inside.locate(piece.copied ? piece.offset + (d.offset - piece.at) : 0) });
    const innermost = piece.frames[piece.frames.length - 1]!.target;
    return {
      ...rest,
      offset: use.start,
      length: use.length,
      message: `${d.message} (in ${innermost.label}, defined at ${innermost.describePlace()})`,
      related: [...(d.related ?? []), ...related],
    };
  }

  private pieceAt(offset: number): (Piece & { at: number }) | undefined {
    let found: (Piece & { at: number }) | undefined;
    for (const piece of this.pieces) {
      if (piece.at > offset) break;
      found = piece;
    }
    return found;
  }
}

/** What a text expanded to, and what went wrong. */
interface Expanded {
  pieces: Piece[];
  problems: ExpansionProblem[];
}

/** The lists and macros of every loaded source, by name (one namespace for both). */
export class BlockLibrary {
  private readonly byName = new Map<string, BlockDefinition>();
  /** Definitions in error (their own problems, or a block they use has them): a use is `block-invalid`. */
  private readonly invalid = new Set<BlockDefinition>();
  private readonly problems = new Map<BlockDefinition, Diagnostic[]>();

  constructor(definitions: readonly BlockDefinition[]) {
    for (const definition of definitions) {
      const first = this.byName.get(definition.name);
      if (first) {
        this.report(
          definition,
          ruleDiagnostic(
            'duplicate-block-name',
            { file: definition.file, ...definition.position, related: [first.location()] },
            `${definition.label} is already defined as ${first.label} at ${first.describePlace()} (lists and macros share one namespace); this one is ignored`,
          ),
        );
        continue;
      }
      this.byName.set(definition.name, definition);
    }
    this.checkDefinitions();
  }

  get size(): number {
    return this.byName.size;
  }

  /** What checking a definition found, reported once at the definition. */
  diagnosticsOf(definition: BlockDefinition): Diagnostic[] {
    return this.problems.get(definition) ?? [];
  }

  private report(definition: BlockDefinition, diagnostic: Diagnostic): void {
    this.problems.set(definition, [...(this.problems.get(definition) ?? []), diagnostic]);
  }

  /**
   * Every macro is expanded on its own (its parameters left as they are): unknown names and
   * cycles are reported at the definition; a macro without parameters must parse as the
   * inside of an observation. A macro that uses one in error is in error too.
   */
  private checkDefinitions(): void {
    const macros = [...this.byName.values()].filter((d) => d.kind === 'macro');
    const expandOwn = (macro: BlockDefinition, opaque: boolean): Expanded => {
      const params = new Map(macro.params.map((p) => [p, [] as Piece[]]));
      return this.expandText(macro.text, 0, macro.text.length, macro, params, [macro], false, opaque);
    };
    // Names, arguments and cycles.
    for (const macro of macros) {
      // A member of a cycle already reported (where the cycle closes, once for the cycle).
      if (this.invalid.has(macro)) continue;
      for (const problem of expandOwn(macro, false).problems) {
        this.invalid.add(macro);
        if (problem.code === 'block-cycle') for (const member of problem.related) this.invalid.add(member);
        this.report(macro, this.diagnosticOf(problem, undefined));
      }
    }
    // Syntax of a macro without parameters, each on its own: a macro it uses stands in as one
    // comparison (its own text is checked where it is written).
    for (const macro of macros) {
      if (this.invalid.has(macro) || macro.params.length > 0) continue;
      const { pieces, problems } = expandOwn(macro, true);
      if (problems.length > 0) continue; // it uses a macro in error: reported below
      const text = pieces.map((p) => p.text).join('');
      const syntax = parsePattern(`[${text}]`).diagnostics.find((d) => d.severity === 'error');
      if (!syntax) continue;
      this.invalid.add(macro);
      const offset = syntax.offset === undefined ? 0 : Math.max(0, syntax.offset - 1);
      const mapped = this.expansionOf(macro.text, text, pieces).mapDiagnostic({ ...syntax, offset });
      this.report(
        macro,
        ruleDiagnostic(
          'bad-block-definition',
          { file: macro.file, ...macro.locate(mapped.offset ?? 0) },
          `${macro.label}: ${syntax.message}`,
        ),
      );
    }
    // A macro that uses one in error is in error, at its reference (until nothing changes).
    let changed = true;
    while (changed) {
      changed = false;
      for (const macro of macros) {
        if (this.invalid.has(macro)) continue;
        const { problems } = expandOwn(macro, false);
        if (problems.length === 0) continue;
        this.invalid.add(macro);
        for (const problem of problems) this.report(macro, this.diagnosticOf(problem, undefined));
        changed = true;
      }
    }
  }

  /** A problem as a diagnostic at its place: in a definition (exact), or in the text being expanded (`at`). */
  private diagnosticOf(
    problem: ExpansionProblem,
    at: ((offset: number, length: number) => Omit<Diagnostic, 'severity' | 'code' | 'message'>) | undefined,
  ): Diagnostic {
    const related = problem.related.map((d) => d.location());
    const where =
      problem.source || !at
        ? { file: problem.source?.file, ...problem.source?.locate(problem.start), related }
        : { ...at(problem.start, problem.length), related };
    return ruleDiagnostic(problem.code, where, problem.message);
  }

  /**
   * Expands a pattern written in a rule (or a filter, an exception): its `$references`, and
   * theirs, into standard STIX. Problems are diagnostics placed by `at` (an offset and length in
   * `text` → where that is in the file); the expansion is undefined when there are any.
   */
  expand(
    text: string,
    at: (offset: number, length: number) => Omit<Diagnostic, 'severity' | 'code' | 'message'>,
  ): { expansion?: Expansion; diagnostics: Diagnostic[] } {
    const { pieces, problems } = this.expandText(text, 0, text.length, undefined, new Map(), [], false);
    if (problems.length > 0) return { diagnostics: problems.map((p) => this.diagnosticOf(p, at)) };
    return { expansion: this.expansionOf(text, pieces.map((p) => p.text).join(''), pieces), diagnostics: [] };
  }

  private expansionOf(written: string, text: string, pieces: Piece[]): Expansion {
    const lists = new Set<string>();
    const macros = new Set<string>();
    let at = 0;
    const placed = pieces.map((piece) => {
      for (const frame of piece.frames) (frame.target.kind === 'list' ? lists : macros).add(frame.target.name);
      const p = { ...piece, at };
      at += piece.text.length;
      return p;
    });
    return new Expansion(written, text, placed, [...lists].sort(), [...macros].sort());
  }

  /**
   * Expands text[from, to) of `source` (undefined: the rule's own text). `params` binds a macro's
   * parameters to the pieces of its arguments (already expanded where the call is); `stack` is
   * the macros being expanded, outermost first; `argument` says the text is a macro argument
   * (where a list may stand alone).
   */
  private expandText(
    text: string,
    from: number,
    to: number,
    source: BlockDefinition | undefined,
    params: ReadonlyMap<string, Piece[]>,
    stack: readonly BlockDefinition[],
    argument: boolean,
    /** Check a macro's own text only: each macro it uses becomes one placeholder comparison. */
    opaque = false,
  ): Expanded {
    const out: Expanded = { pieces: [], problems: [] };
    const problem = (reference: Reference, code: RuleLoadCode, message: string, related: BlockDefinition[] = []) =>
      out.problems.push({
        code,
        message,
        source,
        start: reference.start,
        length: reference.end - reference.start,
        related,
      });
    let position = from;
    for (const reference of scanReferences(text, from, to)) {
      if (reference.start > position)
        out.pieces.push({
          text: text.slice(position, reference.start),
          source,
          offset: position,
          copied: true,
          frames: [],
        });
      position = reference.end;
      const bound = params.get(reference.name);
      if (bound) {
        if (reference.args !== undefined || reference.argsProblem)
          problem(
            reference,
            'block-misuse',
            `$${reference.name} is a parameter of ${source?.label ?? 'the macro'}; it takes no arguments`,
          );
        else out.pieces.push(...bound);
        continue;
      }
      const definition = this.byName.get(reference.name);
      if (!definition) {
        const known = [...this.byName.keys(), ...params.keys()];
        const best = known.length > 0 ? closest(reference.name, known) : undefined;
        problem(
          reference,
          'unknown-block',
          `$${reference.name} is no list or macro${source ? ` or parameter of ${source.label}` : ''} of the loaded rule files${best !== undefined ? `; did you mean $${best}?` : ''}`,
        );
        continue;
      }
      const before = text.slice(from, reference.start);
      const afterIn = /(^|[^A-Za-z0-9_:.-])IN\s*$/.test(before);
      const alone = argument && before.trim() === '' && text.slice(reference.end, to).trim() === '';
      if (definition.kind === 'list') {
        if (reference.args !== undefined || reference.argsProblem) {
          problem(reference, 'block-misuse', `$${reference.name} is a list; it takes no arguments`, [definition]);
          continue;
        }
        if (!afterIn && !alone) {
          problem(
            reference,
            'block-misuse',
            `$${reference.name} is a list: it goes where an IN list goes (process:name IN $${reference.name})`,
            [definition],
          );
          continue;
        }
        out.pieces.push({
          text: definition.text,
          source: definition,
          offset: 0,
          copied: false,
          frames: [{ source, start: reference.start, length: reference.end - reference.start, target: definition }],
        });
        continue;
      }
      if (afterIn) {
        problem(
          reference,
          'block-misuse',
          `$${reference.name} is a macro (a comparison expression), not a list: IN takes a list`,
          [definition],
        );
        continue;
      }
      if (stack.includes(definition)) {
        const cycle = [...stack.slice(stack.indexOf(definition)), definition];
        problem(
          reference,
          'block-cycle',
          `${definition.label} uses itself: ${cycle.map((d) => d.name).join(' → ')}`,
          cycle.slice(0, -1),
        );
        continue;
      }
      if (this.invalid.has(definition)) {
        problem(
          reference,
          'block-invalid',
          `${definition.label} has errors (reported at ${definition.describePlace()}); what uses it is skipped`,
          [definition],
        );
        continue;
      }
      if (reference.argsProblem) {
        problem(reference, 'block-misuse', reference.argsProblem, [definition]);
        continue;
      }
      const args = reference.args ?? [];
      if (args.length !== definition.params.length) {
        const wanted = definition.params.length;
        problem(
          reference,
          'block-misuse',
          `${definition.label} takes ${wanted === 0 ? 'no arguments' : `${wanted} argument${wanted === 1 ? '' : 's'} (${definition.params.join(', ')})`}, got ${args.length}`,
          [definition],
        );
        continue;
      }
      const frame: Frame = {
        source,
        start: reference.start,
        length: reference.end - reference.start,
        target: definition,
      };
      const made = (t: string): Piece => ({ text: t, source: definition, offset: 0, copied: false, frames: [frame] });
      if (opaque) {
        out.pieces.push(made('(x:x = 1)'));
        continue;
      }
      const bindings = new Map<string, Piece[]>();
      let failed = false;
      args.forEach((arg, i) => {
        const expanded = this.expandText(text, arg.start, arg.end, source, params, stack, true, opaque);
        out.problems.push(...expanded.problems);
        if (expanded.problems.length > 0) failed = true;
        bindings.set(definition.params[i] as string, trimPieces(expanded.pieces));
      });
      if (failed) continue;
      const body = this.expandText(
        definition.text,
        0,
        definition.text.length,
        definition,
        bindings,
        [...stack, definition],
        false,
      );
      if (body.problems.length > 0) {
        // A cycle through the text being expanded is its own problem (reported once, where the
        // cycle closes); anything else inside the definition is reported there, and this use
        // only says that it depends on a definition in error.
        const cycles = body.problems.filter((p) => p.code === 'block-cycle' && source && p.related.includes(source));
        if (cycles.length > 0) out.problems.push(...cycles);
        else
          problem(
            reference,
            'block-invalid',
            `${definition.label} has errors (reported at ${definition.describePlace()}); what uses it is skipped`,
            [definition],
          );
        continue;
      }
      out.pieces.push(made('('));
      for (const piece of body.pieces)
        out.pieces.push(rootOf(piece) === definition ? { ...piece, frames: [frame, ...piece.frames] } : piece);
      out.pieces.push(made(')'));
    }
    if (position < to)
      out.pieces.push({ text: text.slice(position, to), source, offset: position, copied: true, frames: [] });
    return out;
  }
}

/** An argument's pieces without the blanks around it (`$m( 'a' )` binds `'a'`). */
function trimPieces(pieces: Piece[]): Piece[] {
  const out = pieces.map((p) => ({ ...p }));
  const first = out[0];
  if (first && first.frames.length === 0) {
    const trimmed = first.text.trimStart();
    first.offset += first.text.length - trimmed.length;
    first.text = trimmed;
  }
  const last = out[out.length - 1];
  if (last && last.frames.length === 0) last.text = last.text.trimEnd();
  return out.filter((p) => p.text.length > 0);
}

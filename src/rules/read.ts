/**
 * Stage 1 of rule loading, read: paths → rule sources (files, directories, links), and a source's
 * text → documents, each a JSON value with the positions of its parts. YAML is read with a
 * position for every node; plain JSON (rules converted at synth, indicator feeds) with
 * JSON.parse, its positions worked out only if a diagnostic asks for one.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  isMap,
  isScalar,
  LineCounter,
  parseAllDocuments,
  type Document,
  type Node as YamlNode,
  type Scalar,
} from 'yaml';
import type { Diagnostic } from '../errors.js';
import { ruleDiagnostic } from './diagnostics.js';

export interface RuleSource {
  file: string;
  text: string;
}

/** 1-based line and column in a file. */
export interface Position {
  line: number;
  column: number;
}

/** A path into a document's value: keys and list indices. */
export type ValuePath = readonly (string | number)[];

/** Where the parts of one document are in its file; undefined where the part is not there. */
export interface DocumentPositions {
  /** Where the value at `path` starts. */
  at(path: ValuePath): Position | undefined;
  /** Where a character of the string at `path` is (an offset into the parsed string). */
  locate(path: ValuePath, valueOffset: number): Position | undefined;
  /** Where the key `key` of the mapping at `path` is. */
  atKey(path: ValuePath, key: string): Position | undefined;
}

export interface RuleDocument {
  file: string;
  /** The document's value; undefined when it did not parse (see diagnostics). */
  value: unknown;
  /** Where the document's content starts. */
  readonly start: Position;
  /**
   * Positions of its parts. Absent for a JSON indicator bundle, which can hold millions of
   * objects: a position for each would need gigabytes, so its diagnostics name the entry instead.
   */
  positions?: DocumentPositions;
  /** What reading it reported (YAML errors and warnings), in file order. */
  diagnostics: Diagnostic[];
}

const FILE_START: Position = { line: 1, column: 1 };

/** The documents of one source, in file order. */
export function readDocuments(source: RuleSource): RuleDocument[] {
  return readJsonBundle(source) ?? readJsonRules(source) ?? readYaml(source);
}

// ---------------------------------------------------------------- YAML

function positionOf(node: YamlNode | null | undefined, lines: LineCounter): Position | undefined {
  const offset = node?.range?.[0];
  if (offset === undefined) return undefined;
  const p = lines.linePos(offset);
  return { line: p.line, column: p.col };
}

/** Positions read off a YAML document model. */
class YamlPositions implements DocumentPositions {
  constructor(
    private readonly doc: Document,
    private readonly text: string,
    private readonly lines: LineCounter,
  ) {}

  at(path: ValuePath): Position | undefined {
    return positionOf(this.doc.getIn(path, true) as YamlNode | undefined, this.lines);
  }

  locate(path: ValuePath, valueOffset: number): Position | undefined {
    const scalar = this.doc.getIn(path, true);
    if (!isScalar(scalar) || !scalar.range) return undefined;
    const offset = sourceOffsetOf(this.text, scalar.range[0], scalar.type, valueOffset);
    if (offset === undefined) return undefined;
    const p = this.lines.linePos(offset);
    return { line: p.line, column: p.col };
  }

  atKey(path: ValuePath, key: string): Position | undefined {
    const map = path.length === 0 ? this.doc.contents : this.doc.getIn(path, true);
    if (!isMap(map)) return undefined;
    const pair = map.items.find((item) => isScalar(item.key) && String(item.key.value) === key);
    return positionOf(pair?.key as YamlNode | undefined, this.lines);
  }
}

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

function yamlMessage(message: string): string {
  return message.split('\n')[0] ?? message;
}

/** Every YAML document of the source, each with its positions; one that does not parse carries its errors. */
function readYaml(source: RuleSource): RuleDocument[] {
  const lines = new LineCounter();
  const parsed = parseAllDocuments(source.text, { lineCounter: lines, prettyErrors: false });
  const documents = Array.isArray(parsed) ? parsed : [parsed];
  return documents.map((doc): RuleDocument => {
    const at = (offset: number): Position => {
      const p = lines.linePos(offset);
      return { line: p.line, column: p.col };
    };
    const start = positionOf(doc.contents, lines) ?? FILE_START;
    if (doc.errors.length > 0)
      return {
        file: source.file,
        value: undefined,
        start,
        diagnostics: doc.errors.map((error) =>
          ruleDiagnostic('yaml-syntax', { file: source.file, ...at(error.pos[0]) }, yamlMessage(error.message)),
        ),
      };
    return {
      file: source.file,
      value: doc.toJS(),
      start,
      positions: new YamlPositions(doc, source.text, lines),
      diagnostics: doc.warnings.map((warning) =>
        ruleDiagnostic('yaml-warning', { file: source.file, ...at(warning.pos[0]) }, yamlMessage(warning.message)),
      ),
    };
  });
}

// ---------------------------------------------------------------- JSON

/** The keys a rule file's top-level mapping may hold besides a single rule's fields. */
export const TOP_LEVEL_KEYS: ReadonlySet<string> = new Set([
  'rules',
  // named lists and macros, shared exceptions (#14.2, #14.5)
  'lists',
  'macros',
  'exceptions',
]);

/**
 * A STIX bundle in JSON (an indicator feed, possibly millions of objects) is read with
 * JSON.parse: the YAML document model, with a position for every node, would need gigabytes.
 */
function readJsonBundle(source: RuleSource): RuleDocument[] | undefined {
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
  return [{ file: source.file, value, start: FILE_START, diagnostics: [] }];
}

/**
 * A rule file in plain JSON (how deployments ship rules, converted at synth) is read with
 * JSON.parse; positions are worked out through the YAML reader only if a diagnostic needs one.
 * That keeps a Lambda cold start with a thousand rules from paying for a document model. Only
 * files whose shape collecting accepts as they are take this path (a list of mappings, or a
 * mapping holding just that list under `rules:`); the positioned reader reports the rest.
 */
function readJsonRules(source: RuleSource): RuleDocument[] | undefined {
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
  if (!Array.isArray(value) && Object.keys(value as object).some((key) => !TOP_LEVEL_KEYS.has(key))) return undefined;
  return [{ file: source.file, value, start: FILE_START, positions: new LazyPositions(source), diagnostics: [] }];
}

/** The positions of a JSON document, from the YAML reader, read the first time one is asked for. */
class LazyPositions implements DocumentPositions {
  private positions: DocumentPositions | undefined | null = null;

  constructor(private readonly source: RuleSource) {}

  private get resolved(): DocumentPositions | undefined {
    // A JSON text the YAML reader rejects (duplicate keys, say) has no positions: callers fall back.
    if (this.positions === null) this.positions = readYaml(this.source)[0]?.positions;
    return this.positions;
  }

  at(path: ValuePath): Position | undefined {
    return this.resolved?.at(path);
  }

  locate(path: ValuePath, valueOffset: number): Position | undefined {
    return this.resolved?.locate(path, valueOffset);
  }

  atKey(path: ValuePath, key: string): Position | undefined {
    return this.resolved?.atKey(path, key);
  }
}

// ---------------------------------------------------------------- files and directories

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
    return ruleDiagnostic(
      'rule-file-dangling-link',
      { file: path },
      `${path} is a symbolic link to ${target}, which does not exist; skipped`,
      severity,
    );
  }
  if (code === 'ENOENT' && !listed)
    return ruleDiagnostic('rule-file-missing', { file: path }, `no such file or directory: ${path}`);
  const reason =
    code === 'ELOOP'
      ? 'a loop of symbolic links'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : error instanceof Error
          ? error.message
          : String(error);
  return ruleDiagnostic('rule-file-unreadable', { file: path }, `cannot read ${path}: ${reason}; skipped`);
}

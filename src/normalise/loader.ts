/**
 * Loading a mapping file: YAML (or JSON, which YAML 1.2 reads) → JSON Schema validation → compilation.
 * Every problem is reported with file, line and column, taken from the YAML document's source ranges.
 */
import Ajv2020Module from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { isMap, isScalar, isSeq, LineCounter, parse, parseDocument, type Document } from 'yaml';
import { formatDiagnostics, InputError, type Diagnostic } from '../errors.js';
import { compileMapping, type CompileIssue } from './compiler.js';
import { compileDetect } from './fields.js';
import { normaliseStix } from './passthrough.js';
import { readResource } from './resources.js';
import type { CompiledMapping, Mapping, MappingDefinition } from './types.js';

// ajv is CommonJS: under NodeNext the default import is module.exports, which is the class itself.
const Ajv2020 = Ajv2020Module as unknown as typeof Ajv2020Module.default;

let validator: ValidateFunction | undefined;
let schemaText: string | undefined;

/** The mapping JSON Schema (schemas/mapping.schema.json), parsed. */
export function mappingSchema(): Record<string, unknown> {
  schemaText ??= readResource('schemas/mapping.schema.json');
  return JSON.parse(schemaText) as Record<string, unknown>;
}

/** Supplies the schema text (e.g. inlined by a bundler) instead of reading `schemas/`. */
export function setMappingSchemaText(text: string): void {
  schemaText = text;
  validator = undefined;
}

function validate(): ValidateFunction {
  if (validator === undefined) {
    const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
    validator = ajv.compile(mappingSchema());
  }
  return validator;
}

type Locate = (path: (string | number)[], atKey?: boolean) => { line?: number; column?: number };

type Ranged = { range?: [number, number, number] | null } | null | undefined;

/** Finds the source position of a path in the document: the value there, or its key when `atKey`. */
function locator(doc: Document, lineCounter: LineCounter): Locate {
  return (path, atKey = false) => {
    let node: unknown = doc.contents;
    let offset: number | undefined = (node as Ranged)?.range?.[0];
    for (let i = 0; i < path.length; i++) {
      const segment = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
        if (pair === undefined) break;
        const keyOffset = (pair.key as Ranged)?.range?.[0];
        const valueOffset = (pair.value as Ranged)?.range?.[0];
        offset = last && atKey ? (keyOffset ?? offset) : (valueOffset ?? keyOffset ?? offset);
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        const item: unknown = node.items[segment];
        if (item === undefined) break;
        node = item;
        offset = (item as Ranged)?.range?.[0] ?? offset;
      } else {
        break;
      }
    }
    if (offset === undefined) return {};
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
}

function pointerToPath(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

const COMBINATORS = new Set(['oneOf', 'anyOf', 'if', 'then', 'else', 'not']);

function isBelowOrAt(path: string, other: string): boolean {
  return other === path || other.startsWith(`${path}/`);
}

/**
 * Ajv reports every failed oneOf branch ("must be string", "must be array", "must match exactly one schema").
 * Keep what says what is actually wrong: combinator summaries and type mismatches go when a more specific error
 * exists at the same place or deeper.
 */
function relevantErrors(errors: ErrorObject[]): ErrorObject[] {
  const specific = errors.filter((e) => !COMBINATORS.has(e.keyword) && e.keyword !== 'type');
  const kept = errors.filter((e) => {
    if (COMBINATORS.has(e.keyword)) {
      return !errors.some((o) => o !== e && !COMBINATORS.has(o.keyword) && isBelowOrAt(e.instancePath, o.instancePath));
    }
    if (e.keyword === 'type') return !specific.some((o) => isBelowOrAt(e.instancePath, o.instancePath));
    return true;
  });
  const seen = new Set<string>();
  return kept.filter((e) => {
    const key = `${e.instancePath}\u0000${e.message ?? ''}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function describe(error: ErrorObject): { path: string[]; message: string; atKey: boolean } {
  const path = pointerToPath(error.instancePath);
  const where = path.length === 0 ? 'mapping' : path.join('.');
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties') {
    const extra = String(params.additionalProperty);
    return { path: [...path, extra], message: `${where}: unknown property "${extra}"`, atKey: true };
  }
  if (error.keyword === 'enum') {
    const allowed = (params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ');
    return { path, message: `${where}: must be one of ${allowed}`, atKey: false };
  }
  if (error.keyword === 'propertyNames') {
    const name = String(params.propertyName);
    return { path: [...path, name], message: `${where}: "${name}" is not a valid key here`, atKey: true };
  }
  return { path, message: `${where}: ${error.message ?? 'is invalid'}`, atKey: false };
}

/**
 * Parses, validates and compiles a mapping. Throws InputError whose diagnostics (code `mapping-syntax`,
 * `mapping-schema` or `mapping-invalid`) carry file, line and column.
 */
export function loadMapping(text: string, file?: string, options: { trusted?: boolean } = {}): Mapping {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const diagnostic = (code: string, message: string, pos: { line?: number; column?: number }): Diagnostic => {
    const d: Diagnostic = { severity: 'error', code, message, ...pos };
    if (file !== undefined) d.file = file;
    return d;
  };
  if (doc.errors.length > 0) {
    // After the first error the parser often reports follow-on noise; the first few are what helps.
    const diagnostics = doc.errors.slice(0, 5).map((error) => {
      const pos = lineCounter.linePos(error.pos[0]);
      return diagnostic('mapping-syntax', error.message.split('\n')[0] ?? error.message, {
        line: pos.line,
        column: pos.col,
      });
    });
    throw new InputError('mapping-syntax', formatDiagnostics(diagnostics), diagnostics);
  }
  const locate = locator(doc, lineCounter);
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  // The built-in mappings are checked against the schema by the test suite; skipping the
  // schema compiler for them saves a Lambda cold start about 60 ms.
  const check = options.trusted ? undefined : validate();
  if (check && !check(value)) {
    const diagnostics = relevantErrors(check.errors ?? []).map((error) => {
      const { path, message, atKey } = describe(error);
      return diagnostic('mapping-schema', message, locate(path, atKey));
    });
    throw new InputError('mapping-schema', formatDiagnostics(diagnostics), diagnostics);
  }
  const definition = value as MappingDefinition;
  const mode = definition.mode ?? 'fields';
  let compiled: CompiledMapping;
  if (mode === 'stix-passthrough') {
    compiled = { detect: compileDetect(definition.detect), run: normaliseStix };
  } else {
    const issues: CompileIssue[] = [];
    compiled = compileMapping(definition, issues);
    if (issues.length > 0) {
      const diagnostics = issues.map((issue) => diagnostic('mapping-invalid', issue.message, locate(issue.at)));
      throw new InputError('mapping-invalid', formatDiagnostics(diagnostics), diagnostics);
    }
  }
  return { name: definition.name, description: definition.description, file, mode, definition, compiled };
}

/** The top-level keys detection needs: compileDetect's inputs, and what names the mapping. */
const HEADER_KEYS: ReadonlySet<string> = new Set([
  'mapping',
  'name',
  'description',
  'mode',
  'detect',
  'case_insensitive',
  'aliases',
  'roots',
]);

/**
 * The text of a mapping's top-level sections that detection needs, cut out of the file by its
 * lines (a section runs from its key at column 0 to the next key at column 0); undefined when
 * the file is written so that cutting could change what a section says (anchors and aliases,
 * several documents, a top level that is not a block mapping).
 */
export function mappingHeaderText(text: string): string | undefined {
  if (/[&*][A-Za-z0-9_-]/.test(text.replace(/(["']).*?\1|#.*$/gm, ''))) return undefined;
  const kept: string[] = [];
  let keep = false;
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('---') || line.startsWith('...') || line.startsWith('{')) return undefined;
    const key = /^([A-Za-z_][A-Za-z0-9_-]*)\s*:/.exec(line);
    if (key) keep = HEADER_KEYS.has(key[1] as string);
    else if (line !== '' && !/^[\s#-]/.test(line)) return undefined;
    if (keep) kept.push(line);
  }
  return kept.join('\n');
}

/**
 * A trusted mapping (a built-in) loaded as far as detection needs: its name, description, mode
 * and compiled `detect` come from its header sections (mappingHeaderText); the whole file is
 * parsed and compiled (loadMapping) the first time an event is normalised with it, or its
 * definition is read. A file the header cannot be cut from is loaded whole at once.
 */
export function lazyMapping(text: string, file: string): Mapping {
  const header = mappingHeaderText(text);
  if (header === undefined) return loadMapping(text, file, { trusted: true });
  const head = parse(header) as MappingDefinition;
  let full: Mapping | undefined;
  const load = (): Mapping => (full ??= loadMapping(text, file, { trusted: true }));
  const mode = head.mode ?? 'fields';
  const detect =
    mode === 'stix-passthrough'
      ? compileDetect(head.detect)
      : compileDetect(head.detect, {
          caseInsensitive: head.case_insensitive === true,
          aliases: head.aliases ?? {},
          roots: head.roots ?? [],
        });
  return {
    name: head.name,
    description: head.description,
    file,
    mode,
    get definition() {
      return load().definition;
    },
    compiled: { detect, run: (event, context) => load().compiled.run(event, context) },
  };
}

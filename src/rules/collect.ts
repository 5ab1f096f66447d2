/**
 * Stage 2 of rule loading, collect: documents → rule and indicator candidates, one per rule
 * entry or STIX indicator, each knowing where its fields are. Then ids are checked across every
 * candidate of every source (rules and indicator feeds alike) before anything is compiled: the
 * first definition of an id takes it, later ones are reported at their place, naming the first.
 */
import { isRecord } from '../util/records.js';
import type { Diagnostic } from '../errors.js';
import { SEVERITIES } from './model.js';
import { ruleDiagnostic } from './diagnostics.js';
import { TOP_LEVEL_KEYS, type Position, type RuleDocument, type ValuePath } from './read.js';
import { BLOCK_KEYS, collectDefinitions, type BlockDefinition } from './blocks.js';
import { collectExceptions, type ExceptionCandidate } from './exceptions.js';
import { isSigmaCorrelation } from './sigma/correlation.js';
import { isSigmaFilter } from './sigma/filter.js';
import { isSigmaPipelineFile } from './sigma/pipeline.js';

/** A stixflow rule entry, a STIX indicator, or a Sigma rule (a document with `logsource` and `detection`). */
export type CandidateKind = 'rule' | 'indicator' | 'sigma' | 'sigma-correlation' | 'sigma-filter' | 'sigma-pipeline';

/** One rule to compile: its fields (an indicator's mapped onto rule fields) and where they are. */
export class RuleCandidate {
  constructor(
    readonly kind: CandidateKind,
    /** The rule's fields as written. */
    readonly value: Record<string, unknown>,
    private readonly document: RuleDocument,
    /** Where the entry is in the document: its path, or for an indicator its index in the bundle's objects. */
    private readonly path: ValuePath,
  ) {}

  get file(): string {
    return this.document.file;
  }

  /** The id it claims, when it has one. */
  get id(): string | undefined {
    return typeof this.value.id === 'string' ? this.value.id : undefined;
  }

  /**
   * Where the entry starts. An indicator is placed at its bundle (its message names it), so that
   * a feed of millions of objects needs no position for each.
   */
  get position(): Position {
    if (this.kind === 'indicator') return this.document.start;
    return this.document.positions?.at(this.path) ?? this.document.start;
  }

  /**
   * `position`, to be read later (a rule's source line): holds the positions, not the document's
   * value, so that a rule from a feed does not keep the whole parsed feed alive.
   */
  positionLater(): () => Position {
    const { positions, start } = this.document;
    const path = this.path;
    if (this.kind === 'indicator' || !positions) return () => start;
    return () => positions.at(path) ?? start;
  }

  /** Where a field's value is (the entry itself when the field is not there). */
  at(field: ValuePath): Position {
    if (this.kind === 'indicator') return this.document.start;
    return this.document.positions?.at([...this.path, ...field]) ?? this.position;
  }

  /** Where a character of a string field's value is (an offset into the parsed string). */
  locate(field: ValuePath, valueOffset: number): Position | undefined {
    if (this.kind === 'indicator') return undefined;
    return this.document.positions?.locate([...this.path, ...field], valueOffset);
  }

  /** Where a key of a mapping field is (for unknown fields). */
  atKey(field: ValuePath, key: string): Position | undefined {
    if (this.kind === 'indicator') return undefined;
    return this.document.positions?.atKey([...this.path, ...field], key);
  }

  /** How a message names an indicator, whose position is its bundle's: `objects[i]`. */
  get entryName(): string | undefined {
    return this.kind === 'indicator' ? `objects[${String(this.path[1])}]` : undefined;
  }

  /** How a message names the place: `file:line`, or for an indicator `file (objects[i])`. */
  describePlace(): string {
    const entry = this.entryName;
    return entry !== undefined ? `${this.file} (${entry})` : `${this.file}:${this.position.line}`;
  }
}

/** The candidates of some documents, and what collecting them reported (in document order). */
export interface Collected {
  candidates: RuleCandidate[];
  diagnostics: Diagnostic[];
  /** Named lists and macros (`lists:`, `macros:`), shared by every source (#14.2). */
  definitions: BlockDefinition[];
  /** Shared exceptions (`exceptions:`), applied across sources (#14.5). */
  exceptions: ExceptionCandidate[];
}

/**
 * The candidates of a source's documents: a rule, a list of rules, a mapping with a `rules:`
 * list, or a STIX bundle whose `indicator` objects with STIX patterns become candidates.
 * Each document's read diagnostics come first, then what collecting it found.
 */
export function collectDocuments(documents: RuleDocument[]): Collected {
  const sigma = new SigmaDocuments();
  const out: Collected = { candidates: [], diagnostics: [], definitions: [], exceptions: [] };
  for (const document of documents) {
    out.diagnostics.push(...document.diagnostics);
    if (document.value === undefined) continue;
    // Sigma correlations compile in load.ts once every Sigma rule of the load has (./sigma/correlation.ts).
    if (isSigmaCorrelation(document.value)) {
      out.candidates.push(new RuleCandidate('sigma-correlation', document.value, document, []));
      continue;
    }
    // Sigma filters and per-directory pipelines shape how the Sigma rules compile (load.ts, ./sigma/filter.ts).
    if (isRecord(document.value) && isSigmaPipelineFile(document.file)) {
      out.candidates.push(new RuleCandidate('sigma-pipeline', document.value, document, []));
      continue;
    }
    if (isSigmaFilter(document.value)) {
      out.candidates.push(new RuleCandidate('sigma-filter', document.value, document, []));
      continue;
    }
    if (sigma.take(document, out)) continue;
    collectDocument(document, out);
  }
  return out;
}

// ---------------------------------------------------------------- Sigma

/** A Sigma rule document: a mapping with `logsource` and `detection`. */
export function isSigmaRule(value: unknown): value is Record<string, unknown> {
  return isRecord(value) && 'detection' in value && 'logsource' in value;
}

/** `base` with `over` merged in, mappings recursively, `over` winning (Sigma's multi-document merge). */
function mergeSigma(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const before = out[key];
    out[key] = isRecord(before) && isRecord(value) ? mergeSigma(before, value) : value;
  }
  return out;
}

/**
 * The Sigma documents of one file, multi-document files included: `action: global` is merged
 * into every later document (until `action: reset`), `action: repeat` is the previous rule
 * with the document merged in. Positions are the document's own (a key that came from the
 * global document is placed at the start of the document that received it).
 */
class SigmaDocuments {
  private global: Record<string, unknown> | undefined;
  private previous: Record<string, unknown> | undefined;

  /** Takes a Sigma document (a candidate, or part of a multi-document rule); false for any other. */
  take(document: RuleDocument, out: Collected): boolean {
    const value = document.value;
    if (!isRecord(value)) return false;
    const action = value.action;
    const multiDocument = action === 'global' || action === 'reset' || action === 'repeat';
    if (!multiDocument && !isSigmaRule(value) && this.global === undefined) return false;
    const rest = { ...value };
    delete rest.action;
    const at = document.positions?.atKey([], 'action') ?? document.start;
    if (action === 'global') {
      this.global = this.global ? mergeSigma(this.global, rest) : rest;
      return true;
    }
    if (action === 'reset') {
      this.global = undefined;
      return true;
    }
    let merged: Record<string, unknown>;
    if (action === 'repeat') {
      if (!this.previous) {
        out.diagnostics.push(
          ruleDiagnostic(
            'sigma-multi-document',
            { file: document.file, ...at },
            '`action: repeat` repeats the previous rule, and there is none before it',
          ),
        );
        return true;
      }
      merged = mergeSigma(this.previous, rest);
    } else if (action !== undefined) {
      out.diagnostics.push(
        ruleDiagnostic(
          'sigma-multi-document',
          { file: document.file, ...at },
          `\`action: ${String(action)}\` is not a Sigma multi-document action (global, reset, repeat)`,
        ),
      );
      return true;
    } else merged = this.global ? mergeSigma(this.global, rest) : rest;
    this.previous = merged;
    out.candidates.push(new RuleCandidate('sigma', merged, document, []));
    return true;
  }
}

/** A top-level mapping holding lists, macros or exceptions (and maybe no rules). */
function hasBlocks(value: Record<string, unknown>): boolean {
  return [...BLOCK_KEYS, 'exceptions'].some((key) => key in value) && !('id' in value);
}

function collectDocument(document: RuleDocument, out: Collected): void {
  const { value, file } = document;
  if (value === null) return;
  if (isRecord(value) && value.type === 'bundle') {
    collectIndicators(value, document, out);
    return;
  }
  let entries: unknown[];
  let base: ValuePath;
  if (Array.isArray(value)) {
    entries = value;
    base = [];
  } else if (isRecord(value) && (Array.isArray(value.rules) || hasBlocks(value))) {
    entries = Array.isArray(value.rules) ? value.rules : [];
    base = ['rules'];
    warnUnknownTopLevelKeys(value, document, out.diagnostics);
    // Lists, macros and shared exceptions, beside `rules:` or alone (#14.2, #14.5).
    collectDefinitions(value, document, out.definitions, out.diagnostics);
    collectExceptions(value, document, out.exceptions, out.diagnostics);
  } else if (isRecord(value) && 'id' in value) {
    out.candidates.push(new RuleCandidate('rule', value, document, []));
    return;
  } else {
    out.diagnostics.push(ruleDiagnostic('rule-file-shape', { file, ...document.start }));
    return;
  }
  entries.forEach((entry, i) => {
    const path = [...base, i];
    if (!isRecord(entry)) {
      const at = document.positions?.at(path) ?? document.start;
      out.diagnostics.push(
        ruleDiagnostic('rule-not-a-mapping', { file, ...at }, `entry ${i} is not a rule (a mapping of fields)`),
      );
      return;
    }
    out.candidates.push(new RuleCandidate('rule', entry, document, path));
  });
}

/**
 * A mapping with a `rules:` list holds nothing else: any other key (a misplaced rule field, a
 * typo such as `rule:` beside `rules:`) would be ignored, so it is a warning at the key.
 */
function warnUnknownTopLevelKeys(
  value: Record<string, unknown>,
  document: RuleDocument,
  diagnostics: Diagnostic[],
): void {
  // In file order (Object.keys puts integer-like keys first).
  const unknown = Object.keys(value)
    .filter((key) => !TOP_LEVEL_KEYS.has(key))
    .map((key) => ({ key, at: document.positions?.atKey([], key) ?? { line: 1, column: 1 } }))
    .sort((a, b) => a.at.line - b.at.line || a.at.column - b.at.column);
  for (const { key, at } of unknown)
    diagnostics.push(
      ruleDiagnostic(
        'unknown-top-level-key',
        { file: document.file, ...at },
        `unknown top-level key '${key}' is ignored: a file with \`rules:\` holds only that list, \`lists:\`, \`macros:\` and \`exceptions:\` (rule fields go inside each rule)`,
      ),
    );
}

/** STIX indicators with `pattern_type: stix` (or none) become candidates; validity comes from valid_from/valid_until. */
function collectIndicators(bundle: Record<string, unknown>, document: RuleDocument, out: Collected): void {
  const objects = Array.isArray(bundle.objects) ? bundle.objects : [];
  objects.forEach((object, i) => {
    if (!isRecord(object) || object.type !== 'indicator') return;
    const indicator = object;
    if (indicator.pattern_type !== undefined && indicator.pattern_type !== 'stix') {
      out.diagnostics.push(
        ruleDiagnostic(
          'indicator-pattern-type',
          { file: document.file, ...document.start, ruleId: String(indicator.id) },
          `indicator ${String(indicator.id)} has pattern_type ${String(indicator.pattern_type)}; only stix patterns are matched`,
        ),
      );
      return;
    }
    const severity =
      typeof indicator.x_severity === 'string' && (SEVERITIES as readonly string[]).includes(indicator.x_severity)
        ? indicator.x_severity
        : 'medium';
    // Assigned field by field rather than spread: a feed has millions of these.
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
    };
    if (indicator.spec_version === '2.0') value.stix_version = '2.0';
    if (typeof indicator.valid_from === 'string') value.valid_from = indicator.valid_from;
    if (typeof indicator.valid_until === 'string') value.valid_until = indicator.valid_until;
    out.candidates.push(new RuleCandidate('indicator', value, document, ['objects', i]));
  });
}

/**
 * Ids across all candidates, in load order: the first candidate with an id takes it (whether it
 * then compiles or not, since two definitions of one id are a mistake either way); each later
 * one gets a `duplicate-rule-id` error at its own place, naming the first, and is not compiled.
 * Returns the diagnostic of each duplicate, by its index in `candidates`.
 */
export function findDuplicateIds(candidates: readonly RuleCandidate[]): Map<number, Diagnostic> {
  const firstIndex = new Map<string, number>();
  const duplicates = new Map<number, Diagnostic>();
  candidates.forEach((candidate, index) => {
    const id = candidate.id;
    if (id === undefined) return;
    const first = firstIndex.get(id);
    if (first === undefined) {
      firstIndex.set(id, index);
      return;
    }
    const original = candidates[first] as RuleCandidate;
    const entry = candidate.entryName === undefined ? '' : ` (${candidate.entryName})`;
    const by = original.kind === candidate.kind ? '' : original.kind === 'rule' ? 'by a rule ' : 'by an indicator ';
    duplicates.set(
      index,
      ruleDiagnostic(
        'duplicate-rule-id',
        {
          file: candidate.file,
          ...candidate.position,
          ruleId: id,
          related: [{ file: original.file, ...original.position, ruleId: id }],
        },
        `${candidate.kind} id '${id}'${entry} is already defined ${by}at ${original.describePlace()}`,
      ),
    );
  });
  return duplicates;
}

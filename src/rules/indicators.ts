/**
 * Indicator feeds at scale. A feed can hold millions of single-observation indicators
 * (`[ipv4-addr:value = '…']`, `[file:hashes.'SHA-256' = '…']`); compiling each into a full rule
 * would cost about 2 KB and 30 µs apiece. Instead each indicator is parsed once at load, filed
 * in a RuleIndex under its (type, path, value) conditions, and kept as a compact record; it is
 * compiled only when an event hits its index entry (then cached). Indicators with several
 * observations or qualifiers are loaded as ordinary rules instead.
 */
import type { Diagnostic } from '../errors.js';
import { comparisonLeaves, observationLeaves, type ComparisonExpression, type PatternAst } from '../pattern/ast.js';
import { compilePattern } from '../pattern/compile.js';
import type { PreparedObservation } from '../pattern/observation.js';
import { diagnosticAt, PatternDiagnosticCode } from '../pattern/diagnostics.js';
import { parsePattern, type StixVersion } from '../pattern/parse.js';
import { compileRegex } from '../pattern/regex.js';
import { possibleRootTypes, validatePattern } from '../pattern/validate.js';
import { RuleIndex } from './rule-index.js';
import { StringPool } from '../util/string-pool.js';
import { SEVERITIES, type Rule, type Severity } from './model.js';

export interface IndicatorRecord {
  id: string;
  name: string;
  description: string;
  severity: Severity;
  tags: string[];
  patternText: string;
  stixVersion: StixVersion;
  validFrom?: number;
  validUntil?: number;
}

/** A record stores its severity as its index in SEVERITIES. */
const SEVERITY_CODES: readonly Severity[] = SEVERITIES;
const NO_TAGS: string[] = [];

/** The strings of one record, in this order, at `FIELDS * i + k` in the pool. */
const FIELDS = 5;
const ID = 0;
const NAME = 1;
const DESCRIPTION = 2;
const PATTERN = 3;
const TAGS = 4;

/**
 * Indicator records stored column-wise: a million indicators are then a few typed arrays and a
 * string pool of a few large strings, not millions of objects for every garbage collection to
 * mark.
 */
class RecordColumns {
  private readonly strings = new StringPool();
  private count = 0;
  severities = new Uint8Array(1024);
  flags = new Uint8Array(1024); // bit 0: STIX 2.0
  validFrom = new Float64Array(1024);
  validUntil = new Float64Array(1024);

  get length(): number {
    return this.count;
  }

  push(r: IndicatorRecord): number {
    const i = this.count++;
    if (i >= this.severities.length) this.grow();
    this.strings.add(r.id);
    this.strings.add(r.name);
    this.strings.add(r.description);
    this.strings.add(r.patternText);
    this.strings.add(r.tags.length > 0 ? JSON.stringify(r.tags) : '');
    this.severities[i] = Math.max(0, SEVERITY_CODES.indexOf(r.severity));
    this.flags[i] = r.stixVersion === '2.0' ? 1 : 0;
    this.validFrom[i] = r.validFrom ?? Number.NaN;
    this.validUntil[i] = r.validUntil ?? Number.NaN;
    return i;
  }

  get(i: number): IndicatorRecord {
    const from = this.validFrom[i] as number;
    const until = this.validUntil[i] as number;
    const field = (k: number): string => this.strings.get(FIELDS * i + k);
    const tags = field(TAGS);
    return {
      id: field(ID),
      name: field(NAME),
      description: field(DESCRIPTION),
      severity: SEVERITY_CODES[this.severities[i] as number] as Severity,
      tags: tags === '' ? NO_TAGS : (JSON.parse(tags) as string[]),
      patternText: field(PATTERN),
      stixVersion: ((this.flags[i] as number) & 1) === 1 ? '2.0' : '2.1',
      ...(Number.isNaN(from) ? {} : { validFrom: from }),
      ...(Number.isNaN(until) ? {} : { validUntil: until }),
    };
  }

  private grow(): void {
    const size = this.severities.length * 2;
    const grow = <T extends Uint8Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(size);
      b.set(a);
      return b;
    };
    this.severities = grow(this.severities, (n) => new Uint8Array(n));
    this.flags = grow(this.flags, (n) => new Uint8Array(n));
    this.validFrom = grow(this.validFrom, (n) => new Float64Array(n));
    this.validUntil = grow(this.validUntil, (n) => new Float64Array(n));
  }
}

/** An indicator's pattern as the set files it: its one comparison expression and the root types it can hold on. */
export interface IndicatorObservation {
  comparison: ComparisonExpression;
  rootTypes: string[];
}

/**
 * Whether a parsed indicator pattern fits the set: one observation expression without
 * qualifiers, on known root types. 'rule' when it must load as an ordinary rule instead; the
 * errors of a pattern that does not validate.
 */
export function indicatorObservation(ast: PatternAst): IndicatorObservation | 'rule' | Diagnostic[] {
  if (ast.root.kind !== 'observation') return 'rule';
  const errors = validatePattern(ast).filter((d) => d.severity === 'error');
  if (errors.length > 0) return errors;
  const leaf = observationLeaves(ast.root)[0];
  if (!leaf) return 'rule';
  // Indicators compile when they first match: a regex the engine cannot run must be reported
  // now, or the indicator would load and silently never match.
  const regexErrors = regexDiagnostics(leaf.comparison);
  if (regexErrors.length > 0) return regexErrors;
  const types = possibleRootTypes(leaf.comparison);
  if (types === 'any') return 'rule';
  return { comparison: leaf.comparison, rootTypes: [...types] };
}

function regexDiagnostics(comparison: ComparisonExpression): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const leaf of comparisonLeaves(comparison)) {
    if (leaf.kind !== 'comparison' || leaf.operator !== 'MATCHES' || leaf.value.type !== 'string') continue;
    const compiled = compileRegex(leaf.value.value.normalize('NFC'));
    if (!compiled.ok)
      out.push(
        diagnosticAt(
          'error',
          compiled.unsupported ? PatternDiagnosticCode.unsupportedRegex : PatternDiagnosticCode.badRegex,
          compiled.message,
          leaf.span,
        ),
      );
  }
  return out;
}

export class IndicatorSet {
  private readonly records = new RecordColumns();
  private readonly index = new RuleIndex();
  private readonly compiled = new Map<number, Rule | null>();

  get size(): number {
    return this.records.length;
  }

  get indexStats(): RuleIndex['stats'] {
    return this.index.stats;
  }

  /**
   * Adds an indicator when its pattern is one observation expression without qualifiers.
   * Returns 'rule' when it must be loaded as an ordinary rule instead, or the diagnostics of a
   * pattern that does not compile.
   */
  add(record: IndicatorRecord): 'added' | 'rule' | Diagnostic[] {
    const parsed = parsePattern(record.patternText, { stixVersion: record.stixVersion });
    if (!parsed.ast) return parsed.diagnostics;
    const observation = indicatorObservation(parsed.ast);
    if (observation === 'rule' || Array.isArray(observation)) return observation;
    this.addObservation(record, observation);
    return 'added';
  }

  /** Adds an indicator whose pattern indicatorObservation() has accepted (the loader parses each pattern once). */
  addObservation(record: IndicatorRecord, observation: IndicatorObservation): void {
    const id = this.records.push(record);
    this.index.add(id, observation.comparison, observation.rootTypes);
  }

  /** Calls `visit` with the rule of every indicator the event matches, valid at its event time. */
  match(observation: PreparedObservation, visit: (rule: Rule) => void): void {
    const eventMs = observation.lastObserved / 1000;
    this.index.candidates(observation, (id) => {
      // NaN (no bound) compares false either way.
      if (eventMs < (this.records.validFrom[id] as number)) return;
      if (eventMs >= (this.records.validUntil[id] as number)) return;
      const rule = this.ruleFor(id);
      if (rule && rule.pattern.observations[0]?.test(observation)) visit(rule);
    });
  }

  private ruleFor(id: number): Rule | null {
    let rule = this.compiled.get(id);
    if (rule === undefined) {
      const r = this.records.get(id);
      try {
        rule = {
          id: r.id,
          name: r.name,
          description: r.description,
          severity: r.severity,
          category: 'indicator',
          tags: r.tags,
          enabled: true,
          patternText: r.patternText,
          pattern: compilePattern(r.patternText, { stixVersion: r.stixVersion }),
          groupBy: [],
          groupByText: [],
          filters: [],
          tests: [],
          ...(r.validFrom !== undefined ? { validFrom: r.validFrom } : {}),
          ...(r.validUntil !== undefined ? { validUntil: r.validUntil } : {}),
        };
      } catch {
        rule = null; // validated at add(); unreachable unless the compiler disagrees with itself
      }
      this.compiled.set(id, rule);
    }
    return rule;
  }
}

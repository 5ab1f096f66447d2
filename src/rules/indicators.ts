/**
 * Indicator feeds at scale. A feed can hold millions of single-observation indicators
 * (`[ipv4-addr:value = '…']`, `[file:hashes.'SHA-256' = '…']`); compiling each into a full rule
 * would cost about 2 KB and 30 µs apiece. Instead each indicator is parsed once at load, filed
 * in a RuleIndex under its (type, path, value) conditions, and kept as a compact record; it is
 * compiled only when an event hits its index entry (then cached). Indicators with several
 * observations or qualifiers are loaded as ordinary rules instead.
 */
import type { Diagnostic } from '../errors.js';
import { observationLeaves } from '../pattern/ast.js';
import { compilePattern } from '../pattern/compile.js';
import type { PreparedObservation } from '../pattern/observation.js';
import { parsePattern, type StixVersion } from '../pattern/parse.js';
import { possibleRootTypes, validatePattern } from '../pattern/validate.js';
import { RuleIndex } from '../engine/rule-index.js';
import type { Rule, Severity } from './model.js';

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

export class IndicatorSet {
  private readonly records: IndicatorRecord[] = [];
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
    if (parsed.ast.root.kind !== 'observation') return 'rule';
    const errors = validatePattern(parsed.ast).filter((d) => d.severity === 'error');
    if (errors.length > 0) return errors;
    const leaf = observationLeaves(parsed.ast.root)[0];
    if (!leaf) return 'rule';
    const types = possibleRootTypes(leaf.comparison);
    if (types === 'any') return 'rule';
    const id = this.records.length;
    this.records.push(record);
    this.index.add(id, leaf.comparison, [...types]);
    return 'added';
  }

  /** Calls `visit` with the rule of every indicator the event matches, valid at its event time. */
  match(observation: PreparedObservation, visit: (rule: Rule) => void): void {
    const eventMs = observation.lastObserved / 1000;
    this.index.candidates(observation, (id) => {
      const record = this.records[id] as IndicatorRecord;
      if (record.validFrom !== undefined && eventMs < record.validFrom) return;
      if (record.validUntil !== undefined && eventMs >= record.validUntil) return;
      const rule = this.ruleFor(id);
      if (rule && rule.pattern.observations[0]?.test(observation)) visit(rule);
    });
  }

  private ruleFor(id: number): Rule | null {
    let rule = this.compiled.get(id);
    if (rule === undefined) {
      const r = this.records[id] as IndicatorRecord;
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

/** The typed rule model: what a rule file declares, with its pattern compiled once. */
import { compilePattern, type CompiledPattern } from '../pattern/compile.js';
import { parseObjectPath } from '../pattern/object-path.js';
import { StixflowError } from '../errors.js';
import type { ObjectPath } from '../pattern/ast.js';
import type { RuleLoadCode } from './diagnostics.js';
import type { ContextField, SeverityOverride, Template } from './templates.js';
import type { Aggregation } from './aggregation.js';

/**
 * Rule severities, lowest first: the one list the rule schema, indicator records and published
 * schemas (a test compares schemas/*.schema.json with it) take their values and order from.
 */
export const SEVERITIES = ['informational', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface RuleFilter {
  text: string;
  pattern: CompiledPattern;
  reason?: string;
  /** Epoch ms after which the filter no longer applies. */
  expires?: number;
  /** The id of the shared exception (`exceptions:` of a rule file) this filter is, when it is one. */
  exception?: string;
}

export interface Rule {
  id: string;
  name: string;
  description: string;
  severity: Severity;
  category?: string;
  /** The rule file's `type` (what the rule is about, e.g. process); carried into alerts as `ruleType`. */
  type?: string;
  tags: string[];
  // OUTPUTS (#19)
  /** Names of the outputs that receive this rule's alerts besides the stack's routes (`outputs:`). */
  outputs?: string[];
  enabled: boolean;
  /** The pattern text (standard STIX, after lists and macros are expanded), and compiled. */
  patternText: string;
  pattern: CompiledPattern;
  /** The pattern as written, when it used lists or macros (`$name`). */
  writtenPattern?: string;
  /** The lists and macros the pattern and filters use, directly or through other macros (rule health). */
  uses?: { lists: string[]; macros: string[] };
  /** How the pattern was compiled: its filters and the shared exceptions it takes compare alike. */
  patternOptions?: { stixVersion: '2.0' | '2.1'; caseInsensitive: boolean | readonly string[] };
  /** Object paths whose values partition the rule's correlation state (empty: one group per tenant). */
  groupBy: ObjectPath[];
  groupByText: string[];
  /** Exclusions: an event matching the rule and a filter raises no alert and is counted as filtered. */
  filters: RuleFilter[];
  /** No second alert for the same rule and group within this many seconds. */
  suppressSeconds?: number;
  /** More than maxAlerts distinct alerts within periodSeconds throttles the rule for throttleSeconds. */
  rateLimit?: { maxAlerts: number; periodSeconds: number; throttleSeconds: number };
  scope?: { tenants?: string[]; hosts?: string[] };
  /** Validity of rules from STIX indicators (epoch ms); outside it the rule matches nothing. */
  validFrom?: number;
  validUntil?: number;
  /** Rule unit tests as written (run by `stixflow test`). */
  tests: Record<string, unknown>[];
  // Alert content (#14.4), compiled at load (./templates.ts) and filled per alert.
  /** The `title:` template; an alert of a rule without one is titled with the rule's name. */
  title?: Template;
  /** The description as a template, when it has placeholders (otherwise `description` is the text). */
  descriptionTemplate?: Template;
  /** `context:`: named object paths whose values the alert carries in `context`. */
  context?: ContextField[];
  /** `severity_overrides:`: the first whose condition the completing event satisfies sets the severity. */
  severityOverrides?: SeverityOverride[];
  /** Where the rule came from, for diagnostics. */
  source?: { file?: string; line?: number };
  /** For a rule compiled from a Sigma rule: the Sigma metadata that has no rule field of its own. */
  sigma?: SigmaMetadata;
  /**
   * An aggregation rule (threshold, distinct_count, new_terms; src/rules/aggregation.ts): its
   * `pattern` is then its `select` (the events it aggregates) and the engine runs it as its kind.
   */
  aggregation?: Aggregation;
  /** What an alert of this rule adds to its entity's risk (risk rules, #16.5). */
  risk?: number;
}

/** A Sigma rule's metadata, as written (tags, title, description and level go to the rule's own fields). */
export interface SigmaMetadata {
  /** The Sigma `level` (the rule's severity is the same word). */
  level?: string;
  status?: string;
  author?: string;
  date?: string;
  modified?: string;
  references: string[];
  falsePositives: string[];
  /** The ATT&CK tags (`attack.t1059.001`, `attack.execution`). */
  attack: string[];
  logsource: { product?: string; category?: string; service?: string };
  /** Fields read from the raw-field fallback because the taxonomy has no STIX path for them. */
  unmappedFields: string[];
  /** The comparisons of the pattern that compare case-sensitively (`|cased`, regexes without `i`), by index. */
  caseSensitiveComparisons: number[];
  /** The Sigma filters ANDed into the detection (their titles or ids), when any (src/rules/sigma/filter.ts). */
  filters?: string[];
  /** The `sigma-pipeline.yml` files that transformed the rule, outermost first (src/rules/sigma/pipeline.ts). */
  pipelines?: string[];
  // Sigma correlations (src/rules/sigma/correlation.ts)
  /** For a correlation rule: its type, the ids of the rules it correlates, its timespan. */
  correlation?: { type: string; rules: string[]; timespanSeconds: number };
  /** For a rule a correlation names: those correlations' ids (with `generate: false` the rule is disabled). */
  correlatedBy?: string[];
}

export interface RuleSpec {
  id: string;
  pattern: string;
  name?: string;
  description?: string;
  severity?: Severity;
  groupBy?: string[];
  enabled?: boolean;
  stixVersion?: '2.0' | '2.1';
  /** Case-insensitive string comparisons: all, or on the listed object paths (see CompileOptions). */
  caseInsensitive?: boolean | readonly string[];
}

/**
 * A rule from code rather than a rule file (tests, benchmarks, embedding): compiles the pattern
 * and the group_by paths, and throws PatternError or StixflowError when one is invalid.
 */
export function createRule(spec: RuleSpec): Rule {
  const groupBy = (spec.groupBy ?? []).map((text) => {
    const path = parseObjectPath(text);
    if (typeof path === 'string')
      throw new StixflowError(
        'bad-group-by' satisfies RuleLoadCode,
        `group_by '${text}' is not an object path: ${path}`,
      );
    return path;
  });
  return {
    id: spec.id,
    name: spec.name ?? spec.id,
    description: spec.description ?? '',
    severity: spec.severity ?? 'medium',
    tags: [],
    enabled: spec.enabled ?? true,
    patternText: spec.pattern,
    pattern: compilePattern(spec.pattern, {
      stixVersion: spec.stixVersion ?? '2.1',
      ...(spec.caseInsensitive !== undefined ? { caseInsensitive: spec.caseInsensitive } : {}),
    }),
    groupBy,
    groupByText: spec.groupBy ?? [],
    filters: [],
    tests: [],
  };
}

/**
 * Every diagnostic code rule loading reports, in one catalogue: the stage that reports it, its
 * default severity and what it means. Each stage makes its diagnostics with ruleDiagnostic(),
 * which takes only a catalogued code; docs/rules.md lists the same table (a test keeps the two in
 * step, and another makes every code here come out of some rule file).
 *
 * Patterns and filters inside a rule are reported with the pattern compiler's own codes
 * (src/pattern/diagnostics.ts), their message prefixed with `pattern: `, `filter <i>: ` or
 * `indicator pattern: `.
 */
import type { Diagnostic, Severity } from '../errors.js';

export type LoadStage = 'read' | 'collect' | 'compile';

export interface RuleCodeEntry {
  stage: LoadStage;
  /** The severity the code has unless the stage says otherwise (documented in the summary). */
  severity: Severity;
  /** What it means, for docs/rules.md; also the message of a diagnostic that has no more to say. */
  summary: string;
}

export const RULE_LOAD_CODES = {
  // read: paths and files → documents
  'rule-file-missing': {
    stage: 'read',
    severity: 'error',
    summary: 'A path given to load (a file or directory) does not exist.',
  },
  'rule-file-unreadable': {
    stage: 'read',
    severity: 'error',
    summary: 'A file or directory cannot be read (permission denied, a loop of symbolic links); it is skipped.',
  },
  'rule-file-dangling-link': {
    stage: 'read',
    severity: 'error',
    summary:
      'A symbolic link points nowhere; it is skipped. A warning when found in a directory under a name that is no rule file (it may have pointed at a directory).',
  },
  'yaml-syntax': {
    stage: 'read',
    severity: 'error',
    summary: 'The YAML (or JSON) does not parse; that document of the file is skipped.',
  },
  'yaml-warning': { stage: 'read', severity: 'warning', summary: 'The YAML parser warns about the document.' },
  'rules-compiled-stale': {
    stage: 'read',
    severity: 'warning',
    summary:
      "A rules directory's precompiled form (`stixflow rules compile`, `cdk synth`) does not match its rule files (or is unreadable, or of another version): the rules are compiled from their files instead.",
  },
  // collect: documents → rule and indicator candidates
  'rule-file-shape': {
    stage: 'collect',
    severity: 'error',
    summary:
      'a rule file holds a rule, a list of rules, a mapping with a `rules:` list, or a STIX bundle of indicators',
  },
  'rule-not-a-mapping': {
    stage: 'collect',
    severity: 'error',
    summary: 'An entry of a list of rules is not a mapping.',
  },
  'unknown-top-level-key': {
    stage: 'collect',
    severity: 'warning',
    summary: 'A key beside `rules:` at the top of a file, which nothing reads.',
  },
  'indicator-pattern-type': {
    stage: 'collect',
    severity: 'warning',
    summary: 'A STIX indicator whose pattern_type is not stix (Sigma, YARA, …); it is skipped.',
  },
  'duplicate-rule-id': {
    stage: 'collect',
    severity: 'error',
    summary:
      'A rule or indicator id already taken by an earlier rule or indicator (in any file, valid or not); the later one is skipped. The diagnostic points at the later one and names the first.',
  },
  // compile: candidates → rules and indicator entries
  'rule-schema': {
    stage: 'compile',
    severity: 'error',
    summary: 'A rule does not fit schemas/rule.schema.json (a missing or unknown field, a bad value).',
  },
  'unknown-test-key': {
    stage: 'compile',
    severity: 'warning',
    summary: 'A key in a `tests:` entry that `stixflow test` does not read.',
  },
  'too-many-observations': {
    stage: 'compile',
    severity: 'error',
    summary: 'A correlation pattern with more observation expressions than the streaming engine can tell apart.',
  },
  'rule-compile-failed': {
    stage: 'compile',
    severity: 'error',
    summary:
      'Compiling the rule failed in a way the compiler did not foresee (a defect, or a Sigma taxonomy that throws); the rule is skipped and the others load.',
  },
  'bad-group-by': { stage: 'compile', severity: 'error', summary: 'A group_by entry is not an object path.' },
  'bad-case-path': {
    stage: 'compile',
    severity: 'error',
    summary: 'An entry of `case_sensitive: { except: [...] }` is not an object path.',
  },
  'bad-filter-expiry': {
    stage: 'compile',
    severity: 'error',
    summary: "A filter's `expires` is not an ISO 8601 date or date-time.",
  },
  'bad-validity': { stage: 'compile', severity: 'error', summary: '`valid_from` or `valid_until` is not a timestamp.' },
  // alert content (#14.4)
  'bad-template': {
    stage: 'compile',
    severity: 'error',
    summary:
      'A `title` or `description` template has a placeholder that is not an object path, names a reference (an object) rather than a property, or a brace that opens or closes nothing (`{{` and `}}` are literal braces).',
  },
  'bad-context-path': {
    stage: 'compile',
    severity: 'error',
    summary: 'A `context:` entry is not an object path, or names a reference (an object) rather than a property.',
  },
  'bad-severity-override': {
    stage: 'compile',
    severity: 'error',
    summary:
      'A `severity_overrides` condition is not one observation expression without qualifiers (it is evaluated on the event that completed the match).',
  },
  unsatisfiable: {
    stage: 'compile',
    severity: 'error',
    summary:
      'The pattern can never match; the rule is skipped (a warning when unsatisfiable rules are allowed, `--allow-unsatisfiable`).',
  },
  'observation-never-matches': {
    stage: 'compile',
    severity: 'warning',
    summary: 'An observation expression that can never match, kept alive only by an observation-level OR.',
  },
  // Sigma rules (src/rules/sigma/, docs/sigma.md)
  'sigma-multi-document': {
    stage: 'collect',
    severity: 'error',
    summary:
      'A Sigma multi-document file (`action: global`, `reset`, `repeat`) that cannot be assembled: an `action` other than those, or a `repeat` with nothing before it.',
  },
  'sigma-rule-shape': {
    stage: 'compile',
    severity: 'error',
    summary:
      'A Sigma rule without an `id` or `title`, whose `logsource` or `detection` is not a mapping, or whose `level` is not a severity.',
  },
  'sigma-status-not-run': {
    stage: 'compile',
    severity: 'warning',
    summary: 'A Sigma rule whose status is `deprecated` or `unsupported`: reported, not run.',
  },
  'sigma-unsupported-logsource': {
    stage: 'compile',
    severity: 'error',
    summary:
      'A Sigma rule whose logsource no built-in mapping produces events of (the Sigma taxonomy does not support it).',
  },
  'sigma-logsource-needs-mapping': {
    stage: 'compile',
    severity: 'warning',
    summary:
      'A Sigma rule whose logsource no built-in mapping produces: it loads and runs only on events whose mapping declares that logsource (`sigma_logsource`), reading their fields from `raw_fields`.',
  },
  'sigma-condition': {
    stage: 'compile',
    severity: 'error',
    summary:
      'A Sigma condition that does not parse, names no search identifier of the detection, or uses a Sigma v1 aggregation (`| count()`).',
  },
  'sigma-selection-shape': {
    stage: 'compile',
    severity: 'error',
    summary: 'A Sigma search identifier that is not a map of fields, a list of such maps, or a list of values.',
  },
  'sigma-keyword-selection': {
    stage: 'compile',
    severity: 'error',
    summary: 'A Sigma keyword (value-only) selection: a search over the whole event, which no STIX comparison says.',
  },
  'sigma-unknown-modifier': {
    stage: 'compile',
    severity: 'error',
    summary: 'A field modifier (`field|name`) that is not a Sigma value modifier.',
  },
  'sigma-unsupported-modifier': {
    stage: 'compile',
    severity: 'error',
    summary:
      'A Sigma value modifier with no form here: `fieldref` with a modifier that transforms a constant (`re`, `base64`, …), `expand` (no placeholder values), `utf16*`/`wide` without `base64`, `windash` on more than 4 dashes.',
  },
  'sigma-bad-value': {
    stage: 'compile',
    severity: 'error',
    summary:
      'A value its modifier or field cannot take: wildcards in an encoded value, a non-number for `lt`/`gt`, a non-boolean for `exists`, a string for an integer field.',
  },
  'sigma-unsupported-regex': {
    stage: 'compile',
    severity: 'error',
    summary:
      'A Sigma `re` value the linear-time regex engine cannot run (lookaround, backreferences, …), naming the construct.',
  },
  'sigma-bad-regex': {
    stage: 'compile',
    severity: 'error',
    summary: 'A Sigma `re` value that is not a regular expression.',
  },
  'sigma-unknown-field': {
    stage: 'compile',
    severity: 'error',
    summary: 'A Sigma field the taxonomy has neither a STIX path nor a raw-field fallback for in the logsource.',
  },
  'sigma-empty-detection': {
    stage: 'compile',
    severity: 'error',
    summary:
      'A Sigma detection that is always true or always false (an empty value list, a condition that cancels out).',
  },
  // Sigma correlations (src/rules/sigma/correlation.ts, docs/sigma.md#correlations)
  'sigma-correlation-shape': {
    stage: 'compile',
    severity: 'error',
    summary:
      'A Sigma correlation without an `id` or `title`, whose `type` is not event_count, value_count, temporal or temporal_ordered, or whose `rules`, `group-by`, `timespan` or `condition` is missing or malformed.',
  },
  'sigma-correlation-rule': {
    stage: 'compile',
    severity: 'error',
    summary:
      'A Sigma correlation names a rule (by id or `name`) that no Sigma rule of the load defines, that did not load, or that is itself a correlation (correlations of correlations are not supported).',
  },
  'sigma-correlation-unsupported': {
    stage: 'compile',
    severity: 'error',
    summary:
      'A Sigma correlation the engine cannot run: a group-by or counted field (or its `aliases`) found at different paths in the correlated rules, a `neq` condition, or more correlated rules than a correlation pattern may hold.',
  },
  // Sigma filters and pipelines (src/rules/sigma/filter.ts, pipeline.ts, docs/sigma.md#filters)
  'sigma-filter-shape': {
    stage: 'compile',
    severity: 'error',
    summary:
      'A Sigma filter (a document with `filter:`) without `rules` (a list of rule ids, names or titles), without a `condition`, without a search identifier, or with a `logsource` that is not a mapping: it is not applied.',
  },
  'sigma-filter-rule': {
    stage: 'compile',
    severity: 'warning',
    summary:
      'A Sigma filter names a rule that no Sigma rule of the load has as its id, `name` or `title`, or a rule whose logsource its own does not cover: the filter is not applied to it.',
  },
  'sigma-pipeline-shape': {
    stage: 'compile',
    severity: 'error',
    summary:
      'A `sigma-pipeline.yml` without a `transformations` list, or with a transformation or `vars` missing or malforming what it needs (a `mapping`, `prefix`, `regex` and `replacement`, `conditions`): the pipeline is not applied, and the Sigma rules of its directories are not run.',
  },
  'sigma-pipeline-transformation': {
    stage: 'compile',
    severity: 'error',
    summary:
      'A `sigma-pipeline.yml` transformation of a type stixflow does not run (it runs field_name_mapping, field_name_prefix, replace_string, add_condition, value_placeholders), or a rule condition other than `type: logsource`: the pipeline is not applied, and the Sigma rules of its directories are not run.',
  },
  // lists, macros and shared exceptions (#14.2, #14.5: blocks.ts, exceptions.ts)
  'bad-block-definition': {
    stage: 'collect',
    severity: 'error',
    summary:
      'A `lists:` or `macros:` entry that is not one: a bad name, a list of mixed or no values, a macro without an expression, or a macro without parameters whose expression does not parse.',
  },
  'duplicate-block-name': {
    stage: 'collect',
    severity: 'error',
    summary:
      'A list or macro name already defined (lists and macros share one namespace, across all loaded files); the later definition is ignored and names the first.',
  },
  'unknown-block': {
    stage: 'compile',
    severity: 'error',
    summary: 'A `$name` that no loaded list, macro or macro parameter defines (with a did-you-mean).',
  },
  'block-cycle': {
    stage: 'compile',
    severity: 'error',
    summary: 'A macro that uses itself, directly or through other macros; the message shows the chain.',
  },
  'block-misuse': {
    stage: 'compile',
    severity: 'error',
    summary:
      'A list used where no IN list goes, a macro used after IN, a macro called with the wrong number of arguments, or arguments given to a list or parameter.',
  },
  'block-invalid': {
    stage: 'compile',
    severity: 'error',
    summary:
      'A rule, filter, exception or macro uses a macro whose definition has errors (reported at the definition); it is skipped.',
  },
  'bad-exception': {
    stage: 'collect',
    severity: 'error',
    summary:
      'An `exceptions:` entry that does not fit the schema (id, pattern, applies_to, reason, expires), repeats an id, or whose pattern does not compile; it applies nowhere.',
  },
  'exception-expired': {
    stage: 'compile',
    severity: 'warning',
    summary: 'A shared exception whose `expires` has passed; it no longer applies.',
  },
  'exception-unused': {
    stage: 'compile',
    severity: 'warning',
    summary: 'A shared exception whose `applies_to` selects none of the loaded rules.',
  },
  // compile: aggregation rule kinds (threshold, distinct_count, new_terms; docs/rule-kinds.md)
  'aggregation-field': {
    stage: 'compile',
    severity: 'error',
    summary:
      "An aggregation rule lacks a field its kind needs (window, condition, distinct, terms, history, bucket), has one of another kind, or has 'pattern' instead of 'select'.",
  },
  'aggregation-select': {
    stage: 'compile',
    severity: 'error',
    summary:
      "An aggregation rule's `select` is not a single observation expression (no FOLLOWEDBY, AND, REPEATS or WITHIN between observations).",
  },
  'bad-aggregation-path': {
    stage: 'compile',
    severity: 'error',
    summary: 'A `sum`, `max`, `distinct` or `terms` entry is not an object path.',
  },
  'aggregation-condition': {
    stage: 'compile',
    severity: 'error',
    summary:
      'An aggregation condition that can never hold or names no bound, a hop that does not divide the window (or more than 60 hops to it), a learning period not shorter than the history, or an outliers history that is not a whole number of buckets (2 to 1,000) or holds fewer than min_buckets.',
  },
} as const satisfies Record<string, RuleCodeEntry>;

export type RuleLoadCode = keyof typeof RULE_LOAD_CODES;

export function isRuleLoadCode(code: string): code is RuleLoadCode {
  return Object.hasOwn(RULE_LOAD_CODES, code);
}

/**
 * A diagnostic of rule loading: the catalogue's severity unless given, the catalogue's summary
 * as the message unless given.
 */
export function ruleDiagnostic(
  code: RuleLoadCode,
  where: Omit<Diagnostic, 'severity' | 'code' | 'message'>,
  message?: string,
  severity?: Severity,
): Diagnostic {
  const entry: RuleCodeEntry = RULE_LOAD_CODES[code];
  return { severity: severity ?? entry.severity, code, message: message ?? entry.summary, ...where };
}

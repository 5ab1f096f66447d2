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

/**
 * One error hierarchy for the whole engine. Every error carries machine-readable diagnostics,
 * so that callers (CLI, Lambda handlers, tests) report what went wrong and where without
 * parsing messages.
 */

export type Severity = 'error' | 'warning';

/** Where a diagnostic points. Lines and columns are 1-based; offsets are 0-based. */
export interface SourceLocation {
  /** File the text came from (a rule file, an events file), when there is one. */
  file?: string;
  line?: number;
  column?: number;
  /** 0-based offset of the start of the offending text in the pattern or file. */
  offset?: number;
  /** Length of the offending text, when known. */
  length?: number;
  /** Index of the event in a batch, for diagnostics about events. */
  eventIndex?: number;
  /** A rule id, for diagnostics about a rule. */
  ruleId?: string;
}

export interface Diagnostic extends SourceLocation {
  severity: Severity;
  /** Stable machine-readable code, for example `syntax`, `bad-timestamp`, `qualifier-repeated`. */
  code: string;
  message: string;
  /** For syntax errors: the token found and what the parser expected instead. */
  offendingToken?: string;
  expected?: string[];
  /** Other places the diagnostic is about: for a duplicate id, where the id was first defined. */
  related?: SourceLocation[];
  /**
   * Set by the code that knows: a retry of the same input can succeed (a state that kept
   * changing under concurrent writers, a store that failed or throttled). Absent: it cannot.
   */
  retryable?: boolean;
}

/**
 * The root of every error class the project defines. It names the error after its class and
 * keeps the error it wraps as `cause`, so a log shows the AWS SDK or parser error underneath.
 * Control-flow signals (the output's reader has gone, a generator search that gave up) extend
 * it directly; errors a caller reports extend `StixflowError`.
 */
export class StixflowBaseError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An error a caller reports: a stable `code` and the diagnostics saying what went wrong where. */
export class StixflowError extends StixflowBaseError {
  readonly code: string;
  readonly diagnostics: Diagnostic[];

  constructor(code: string, message: string, diagnostics: Diagnostic[] = [], options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.diagnostics = diagnostics;
  }
}

/** A pattern that does not compile: syntax or semantic errors, all of them, with positions. */
export class PatternError extends StixflowError {
  constructor(diagnostics: Diagnostic[]) {
    super(diagnostics[0]?.code ?? 'pattern', formatDiagnostics(diagnostics), diagnostics);
  }
}

/** Evaluation failed on this data (a malformed timestamp in an event, for example). */
export class MatchError extends StixflowError {}

/** Input data that is not usable STIX (missing first_observed, both objects and object_refs...). */
export class InputError extends StixflowError {}

export function formatDiagnostic(d: Diagnostic): string {
  const where: string[] = [];
  if (d.file) where.push(d.file);
  if (d.line !== undefined) where.push(String(d.line));
  if (d.column !== undefined) where.push(String(d.column));
  const prefix = where.length ? `${where.join(':')}: ` : d.eventIndex !== undefined ? `event ${d.eventIndex}: ` : '';
  return `${prefix}${d.severity} [${d.code}] ${d.message}`;
}

export function formatDiagnostics(ds: Diagnostic[]): string {
  return ds.map(formatDiagnostic).join('\n');
}

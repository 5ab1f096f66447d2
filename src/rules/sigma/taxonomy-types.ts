/**
 * The contract between the Sigma compiler (src/rules/sigma/compile*.ts) and the Sigma taxonomy
 * (src/rules/sigma/taxonomy.ts): where a Sigma field of a given logsource is found in an event
 * the built-in mappings normalised, and which events a logsource selects.
 *
 * Paths are STIX object paths rooted at `x-oca-event`, the anchor every normalised event carries
 * with references to its process, file, connection, user and host. Rooting every field at the
 * anchor lets a whole Sigma detection compile to one STIX observation expression (STIX requires
 * the comparisons joined by AND in one observation to share their root object type).
 */

/** A Sigma rule's `logsource`, as written (lower-cased by the reader). */
export interface SigmaLogsource {
  product?: string;
  category?: string;
  service?: string;
}

/** The STIX type of the property a field reads: the compiler writes constants of this type. */
export type FieldValueType = 'string' | 'integer' | 'boolean';

/** Where one Sigma field's value is in a normalised event. */
export interface FieldBinding {
  /**
   * The object paths that may hold the field, rooted at x-oca-event (for example
   * `x-oca-event:process_ref.command_line`). With several, a comparison holds when it holds on
   * any of them (OR), and a negated one when it holds on none.
   */
  paths: readonly string[];
  /** The property's type; a constant of another type is converted (`'4688'` → 4688) or is a diagnostic. */
  type: FieldValueType;
  /** Whether the path is the taxonomy's (false: the raw-field fallback, for `sigma convert` and rule health). */
  mapped: boolean;
}

export interface SigmaTaxonomy {
  /**
   * Where a field of rules with this logsource is: the taxonomy's path when it has one, else the
   * raw-field fallback (the source field as the mapping kept it). Undefined only when neither
   * exists, which the compiler reports (`sigma-unknown-field`).
   */
  field(logsource: SigmaLogsource, name: string): FieldBinding | undefined;
  /**
   * What a logsource selects, as a STIX comparison expression over x-oca-event (for example
   * `x-oca-event:code IN ('1') AND x-oca-event:provider = 'Microsoft-Windows-Sysmon'`, in
   * whatever form the mappings write), ANDed into every rule of that logsource; undefined when
   * the logsource adds no condition.
   */
  condition(logsource: SigmaLogsource): string | undefined;
  /** Whether some built-in mapping produces events of this logsource. */
  supports(logsource: SigmaLogsource): boolean;
  /**
   * Optional: for a logsource no built-in mapping produces, whether its rules still run, on the events whose
   * mapping declares that logsource (`sigma_logsource` in the mapping language): `field` and `condition` then
   * answer for it, and the rule loads with the warning `sigma-logsource-needs-mapping`. Absent or false, the rule
   * is `sigma-unsupported-logsource`.
   */
  declares?(logsource: SigmaLogsource): boolean;
  /**
   * Optional: where the text a keyword (value-only) selection searches is in events of this
   * logsource (a log line, a message); each keyword matches as a substring of one of the paths.
   * Absent, or undefined for the logsource: keyword selections are `sigma-keyword-selection`.
   */
  keywords?(logsource: SigmaLogsource): FieldBinding | undefined;
}

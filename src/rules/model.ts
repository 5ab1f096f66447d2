/** The typed rule model: what a rule file declares, with its pattern compiled once. */
import type { CompiledPattern } from '../pattern/compile.js';
import type { ObjectPath } from '../pattern/ast.js';

export type Severity = 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

export interface RuleFilter {
  text: string;
  pattern: CompiledPattern;
  reason?: string;
  /** Epoch ms after which the filter no longer applies. */
  expires?: number;
}

export interface Rule {
  id: string;
  name: string;
  description: string;
  severity: Severity;
  category?: string;
  tags: string[];
  enabled: boolean;
  /** The pattern text as written, and compiled. */
  patternText: string;
  pattern: CompiledPattern;
  /** Object paths whose values partition the rule's correlation state (empty: one group per tenant). */
  groupBy: ObjectPath[];
  groupByText: string[];
  type?: string;
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
  /** Where the rule came from, for diagnostics. */
  source?: { file?: string; line?: number };
}

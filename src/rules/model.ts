/** The typed rule model: what a rule file declares, with its pattern compiled once. */
import type { CompiledPattern } from '../pattern/compile.js';
import type { ObjectPath } from '../pattern/ast.js';

export type Severity = 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

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
  /** Where the rule came from, for diagnostics. */
  source?: { file?: string; line?: number };
}

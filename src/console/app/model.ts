/** The API's shapes as the console reads them (docs: /work contract "Console API", docs/console.md). */

export interface Diagnostic {
  code: string;
  severity: 'error' | 'warning';
  message: string;
  file?: string;
  line?: number;
  column?: number;
  ruleId?: string;
  hint?: string;
}

/** One UTC day of a rule's counters (alerts = raised, filtered, suppressed, rejected, and others). */
export interface DayCounts {
  day: string;
  [name: string]: number | string;
}

export interface RuleSummary {
  id: string;
  name?: string;
  severity?: string;
  kind?: string;
  origin?: 'bundle' | 'store';
  status: 'loaded' | 'invalid';
  enabled: boolean;
  scope?: 'all' | { entities: number; assets: number };
  tags?: string[];
  lastChange?: { by: string; at: string; version?: number };
  override?: { enabled: boolean; updatedAt: string; updatedBy: string };
  counters?: { days: DayCounts[]; totals: Record<string, number> };
  errors?: Diagnostic[];
  warnings?: Diagnostic[];
}

export interface RuleList {
  tenant: string;
  days: string[];
  rules: RuleSummary[];
  diagnostics: Diagnostic[];
}

export interface RuleVersion {
  version: number;
  by: string;
  at: string;
  action: 'create' | 'update' | 'delete' | 'enable' | 'disable';
  summary?: string;
}

export interface RuleDetail {
  rule: RuleSummary;
  source: string;
  diagnostics: Diagnostic[];
  tests?: {
    cases: number;
    lastResult?: { at: string; passed: number; failed: number; failures: unknown[] };
  };
  versions: RuleVersion[];
}

export interface AlertSummary {
  id: string;
  ruleId: string;
  ruleName: string;
  severity: string;
  title?: string;
  tenant: string;
  groupKey: string;
  firstObserved: string;
  lastObserved: string;
  createdAt: string;
  status: AlertStatus;
  statusBy?: string;
  statusAt?: string;
}

export type AlertStatus = 'new' | 'acknowledged' | 'rejected' | 'resolved';

export interface AlertDetail {
  alert: Record<string, unknown> & {
    id: string;
    ruleId: string;
    ruleName: string;
    severity: string;
    title?: string;
    groupKey: string;
    firstObserved: string;
    lastObserved: string;
    description?: string;
    objects?: unknown[];
    sourceEventIds?: string[];
    observedDataIds?: string[];
    sighting?: unknown;
  };
  status: AlertStatus;
  history: { status: AlertStatus; by: string; at: string; note?: string }[];
}

export const SEVERITIES = ['informational', 'low', 'medium', 'high', 'critical'];

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
  tests?: RuleTests;
  versions: RuleVersion[];
}

/** One test of a rule as it ran (src/testing/rule-tests.ts through the API). */
export interface RuleTestCase {
  name: string;
  outcome: 'passed' | 'failed' | 'skipped';
  message?: string;
  durationMs: number;
}

export interface TestTotals {
  passed: number;
  failed: number;
  skipped: number;
}

/** A rule's tests: how many it has, and their last run (absent: no tests, or not run because it does not compile). */
export interface RuleTests {
  cases: number;
  notRun?: string;
  lastRun?: TestTotals & {
    at: string;
    by: string;
    trigger: 'save' | 'read';
    version?: number;
    /** False when the run is of an earlier definition of the rule. */
    current: boolean;
    results: RuleTestCase[];
  };
}

/** What POST /rules/validate answers with `"tests": true`: the draft's tests, run, nothing kept. */
export interface DraftTests extends TestTotals {
  cases: number;
  notRun?: string;
  results?: RuleTestCase[];
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

/**
 * Rule unit tests: a rule may carry `tests:` — events (any supported format, in order, with
 * their own timestamps) and the expected outcome. Each test runs the real pipeline (normalise →
 * engine → gate) with only that rule, on fresh in-memory state, one event at a time. Rules
 * without tests get a generated positive check and near-miss checks from the event generator.
 * Failures are explained: which observation expression no event satisfied.
 */
import { generateEvents, GenerationError } from '../generate/index.js';
import type { Diagnostic } from '../errors.js';
import { StixflowError } from '../errors.js';
import { createNormaliser, type Normaliser } from '../normalise/index.js';
import { prepareEvent } from '../pattern/observation.js';
import { Detector } from '../pipeline/detector.js';
import { InMemoryStateStore } from '../state/memory-store.js';
import type { Rule } from './model.js';

export type TestOutcome = 'passed' | 'failed' | 'skipped';

export interface RuleTestResult {
  ruleId: string;
  file?: string;
  name: string;
  kind: 'written' | 'generated-positive' | 'generated-near-miss';
  outcome: TestOutcome;
  /** Why it failed (or was skipped), for people. */
  message?: string;
  durationMs: number;
}

interface WrittenTest {
  name: string;
  events: unknown[];
  expect: { alerts: number } | { atLeast: number };
  tenant: string;
}

/** Reads a rule's `tests:` entries; a malformed entry becomes a failed result with the reason. */
function writtenTests(rule: Rule): (WrittenTest | { name: string; error: string })[] {
  return rule.tests.map((raw, i) => {
    const name = typeof raw.name === 'string' ? raw.name : `test ${i + 1}`;
    const events = raw.events;
    if (!Array.isArray(events) || events.length === 0) return { name, error: '`events` must be a non-empty list of events' };
    const expect = raw.expect;
    const alerts = raw.alerts;
    let expected: WrittenTest['expect'];
    if (typeof alerts === 'number' && Number.isInteger(alerts) && alerts >= 0) expected = { alerts };
    else if (expect === 'alert') expected = { atLeast: 1 };
    else if (expect === 'no-alert' || expect === 'no alert') expected = { alerts: 0 };
    else return { name, error: "`expect` must be 'alert' or 'no-alert' (or give `alerts: N`)" };
    return { name, events, expect: expected, tenant: typeof raw.tenant === 'string' ? raw.tenant : 'default' };
  });
}

/** Which observation expressions each event satisfies, to explain a failed test. */
function explainMiss(rule: Rule, normaliser: Normaliser, events: unknown[]): string {
  const normalised = normaliser.normaliseBatch(events);
  const lines: string[] = [];
  for (const d of normalised.rejected) lines.push(`event ${d.eventIndex ?? '?'} was rejected: ${d.message}`);
  const satisfied = rule.pattern.observations.map(() => [] as number[]);
  normalised.events.forEach((event, index) => {
    try {
      const observation = prepareEvent(event.observedData as unknown as Record<string, unknown>, event.objects, index);
      rule.pattern.observations.forEach((leaf, i) => {
        if (leaf.test(observation)) (satisfied[i] as number[]).push(index);
      });
    } catch (error) {
      lines.push(`event ${index}: ${(error as Error).message}`);
    }
  });
  rule.pattern.observations.forEach((leaf, i) => {
    const span = leaf.expression.span;
    const text = span ? rule.patternText.slice(span.offset, span.offset + span.length) : `observation ${i}`;
    const by = satisfied[i] as number[];
    lines.push(by.length ? `${text} is satisfied by event${by.length > 1 ? 's' : ''} ${by.join(', ')}` : `${text} is satisfied by no event`);
  });
  if (rule.pattern.observations.length > 1 || !rule.pattern.isSingleObservation) {
    lines.push('each observation expression is satisfied somewhere: check the timing (FOLLOWEDBY order, WITHIN, START/STOP), REPEATS counts, group_by values and filters');
  }
  return lines.join('\n');
}

async function countAlerts(rule: Rule, events: unknown[], tenant: string, normaliser: Normaliser): Promise<{ alerts: number; problems: Diagnostic[] }> {
  const detector = new Detector({ rules: [rule], store: new InMemoryStateStore(), normaliser, engine: { latenessSeconds: 365 * 86_400 } });
  let alerts = 0;
  const problems: Diagnostic[] = [];
  for (let i = 0; i < events.length; i++) {
    const result = await detector.process([events[i]], tenant);
    alerts += result.alerts.filter((a) => a.ruleId === rule.id).length;
    problems.push(...[...result.rejected, ...result.errors].map((d) => ({ ...d, eventIndex: i })));
  }
  return { alerts, problems };
}

export async function runRuleTests(rules: Rule[], options: { seed?: number; generated?: boolean } = {}): Promise<RuleTestResult[]> {
  const results: RuleTestResult[] = [];
  const normaliser = createNormaliser();
  for (const rule of rules) {
    const file = rule.source?.file;
    const base = { ruleId: rule.id, ...(file ? { file } : {}) };
    const tests = writtenTests(rule);
    for (const test of tests) {
      const started = performance.now();
      if ('error' in test) {
        results.push({ ...base, name: test.name, kind: 'written', outcome: 'failed', message: test.error, durationMs: 0 });
        continue;
      }
      const { alerts, problems } = await countAlerts(rule, test.events, test.tenant, normaliser);
      const ok = 'alerts' in test.expect ? alerts === test.expect.alerts : alerts >= test.expect.atLeast;
      const expected = 'alerts' in test.expect ? (test.expect.alerts === 0 ? 'no alert' : `${test.expect.alerts} alert(s)`) : 'an alert';
      results.push({
        ...base,
        name: test.name,
        kind: 'written',
        outcome: ok ? 'passed' : 'failed',
        ...(ok ? {} : { message: [`expected ${expected}, got ${alerts}`, ...problems.map((p) => `event ${p.eventIndex}: ${p.message}`), alerts === 0 ? explainMiss(rule, normaliser, test.events) : ''].filter(Boolean).join('\n') }),
        durationMs: performance.now() - started,
      });
    }
    if (tests.length > 0 || options.generated === false) continue;
    // No written tests: check the pattern with generated events (filters are left out: the
    // generator knows the pattern, not what the filters mute).
    const bare: Rule = { ...rule, filters: [], suppressSeconds: undefined, rateLimit: undefined } as Rule;
    const started = performance.now();
    try {
      const [positive] = generateEvents(rule.pattern, { count: 1, seed: options.seed ?? 1 });
      const { alerts } = await countAlerts(bare, positive ?? [], 'default', normaliser);
      results.push({ ...base, name: 'generated events that satisfy the pattern raise an alert', kind: 'generated-positive', outcome: alerts > 0 ? 'passed' : 'failed', ...(alerts > 0 ? {} : { message: explainMiss(bare, normaliser, positive ?? []) }), durationMs: performance.now() - started });
      for (const miss of generateEvents(rule.pattern, { count: 1, seed: options.seed ?? 1, miss: true })) {
        const t = performance.now();
        const { alerts: missAlerts } = await countAlerts(bare, miss.events, 'default', normaliser);
        results.push({ ...base, name: `near miss stays quiet: ${miss.description}`, kind: 'generated-near-miss', outcome: missAlerts === 0 ? 'passed' : 'failed', ...(missAlerts === 0 ? {} : { message: `the near miss raised ${missAlerts} alert(s)` }), durationMs: performance.now() - t });
      }
    } catch (error) {
      const skipped = error instanceof GenerationError || error instanceof StixflowError;
      results.push({ ...base, name: 'generated checks', kind: 'generated-positive', outcome: skipped ? 'skipped' : 'failed', message: (error as Error).message, durationMs: performance.now() - started });
    }
  }
  return results;
}

function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/[^\t\n\r\u0020-\uffff]/g, ''); // XML 1.0 allows no other control characters
}

/** JUnit XML: one testsuite per rule, one testcase per test. */
export function toJUnit(results: RuleTestResult[]): string {
  const byRule = new Map<string, RuleTestResult[]>();
  for (const r of results) byRule.set(r.ruleId, [...(byRule.get(r.ruleId) ?? []), r]);
  const suites = [...byRule].map(([ruleId, cases]) => {
    const failures = cases.filter((c) => c.outcome === 'failed').length;
    const skipped = cases.filter((c) => c.outcome === 'skipped').length;
    const time = cases.reduce((t, c) => t + c.durationMs, 0) / 1000;
    const body = cases
      .map((c) => {
        const inner = c.outcome === 'failed' ? `<failure message="${xmlEscape((c.message ?? '').split('\n')[0] ?? '')}">${xmlEscape(c.message ?? '')}</failure>` : c.outcome === 'skipped' ? `<skipped message="${xmlEscape(c.message ?? '')}"/>` : '';
        return `    <testcase classname="${xmlEscape(ruleId)}" name="${xmlEscape(c.name)}" time="${(c.durationMs / 1000).toFixed(3)}"${c.file ? ` file="${xmlEscape(c.file)}"` : ''}>${inner}</testcase>`;
      })
      .join('\n');
    return `  <testsuite name="${xmlEscape(ruleId)}" tests="${cases.length}" failures="${failures}" skipped="${skipped}" time="${time.toFixed(3)}">\n${body}\n  </testsuite>`;
  });
  const total = results.length;
  const failed = results.filter((r) => r.outcome === 'failed').length;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="stixflow rule tests" tests="${total}" failures="${failed}">\n${suites.join('\n')}\n</testsuites>\n`;
}

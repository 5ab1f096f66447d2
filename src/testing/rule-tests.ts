/**
 * Rule unit tests: a rule may carry `tests:` — events (any supported format, in order, with
 * their own timestamps) and the expected outcome. Each test runs the real pipeline (normalise →
 * engine → gate) with only that rule, on fresh in-memory state, one event at a time. Rules
 * without tests get a generated positive check and near-miss checks from the event generator.
 * Failures are explained: which observation expressions the events satisfy, and why that was
 * not enough.
 */
import { generateEvents, GenerationError } from '../generate/index.js';
import type { Diagnostic } from '../errors.js';
import { StixflowError } from '../errors.js';
import { createNormaliser, type Normaliser } from '../normalise/index.js';
import { observationLeaves, type ObservationExpression } from '../pattern/ast.js';
import { prepareEvent, type PreparedObservation } from '../pattern/observation.js';
import { Detector } from '../pipeline/detector.js';
import { InMemoryStateStore } from '../state/memory-store.js';
import type { Rule } from '../rules/model.js';

type ObservationLeaf = Extract<ObservationExpression, { kind: 'observation' }>;

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
    if (!Array.isArray(events) || events.length === 0)
      return { name, error: '`events` must be a non-empty list of events' };
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

/** What the pipeline did with a test's events besides alerting, for the explanation. */
interface PipelineCounts {
  filtered: number;
  suppressed: number;
  throttled: number;
  late: number;
}

/**
 * What of the pattern no event satisfies, as text (`[A] and ([B] or [C])`), or undefined when
 * the satisfied observation expressions are enough for the pattern's logic: AND and FOLLOWEDBY
 * need both sides, OR either, a qualifier its operand.
 */
function unmetPart(
  node: ObservationExpression,
  satisfied: (leaf: ObservationLeaf) => boolean,
  text: (leaf: ObservationLeaf) => string,
): string | undefined {
  if (node.kind === 'observation') return satisfied(node) ? undefined : text(node);
  if (node.kind === 'qualified') return unmetPart(node.expression, satisfied, text);
  const left = unmetPart(node.left, satisfied, text);
  const right = unmetPart(node.right, satisfied, text);
  if (node.kind === 'or')
    return left !== undefined && right !== undefined ? `${wrap(left, ' and ')} or ${wrap(right, ' and ')}` : undefined;
  if (left === undefined) return right;
  if (right === undefined) return left;
  return `${wrap(left, ' or ')} and ${wrap(right, ' or ')}`;
}

function wrap(part: string, otherJoin: string): string {
  return part.includes(otherJoin) ? `(${part})` : part;
}

/** The conditions beyond each observation expression that the pattern sets, in words. */
function patternConditions(root: ObservationExpression): string[] {
  const found = new Set<string>();
  const visit = (node: ObservationExpression): void => {
    if (node.kind === 'observation') return;
    if (node.kind === 'qualified') {
      const q = node.qualifier;
      if (q.kind === 'within') found.add(`all the events it uses within ${q.seconds} seconds of each other (WITHIN)`);
      else if (q.kind === 'repeats') found.add(`${q.times} different events for REPEATS ${q.times} TIMES`);
      else found.add('events that overlap the START … STOP interval');
      visit(node.expression);
      return;
    }
    if (node.kind === 'and') found.add('a different event for each side of AND');
    if (node.kind === 'followedBy')
      found.add(
        "a different event for each side of FOLLOWEDBY, the left one first (its first_observed no later than the right one's last_observed)",
      );
    visit(node.left);
    visit(node.right);
  };
  visit(root);
  return [...found];
}

/**
 * Why a test that expected an alert got none. Lists which observation expressions each event
 * satisfies, then the one verdict that holds: what of the pattern no event satisfies; or that
 * each needed expression is satisfied but not together as the pattern requires (timing,
 * different events, repetitions); or that the events match the pattern as a whole and the
 * streaming pipeline held the alert back (filters, group_by, suppression, lateness, scope).
 */
function explainMiss(rule: Rule, normaliser: Normaliser, events: unknown[], counts: PipelineCounts): string {
  const lines: string[] = [];
  const prepared: PreparedObservation[] = [];
  const satisfied = rule.pattern.observations.map(() => [] as number[]);
  events.forEach((raw, index) => {
    // Each raw event on its own, so that "event N" is the Nth event of the test as written.
    const normalised = normaliser.normalise(raw, index);
    if (!normalised.ok) return; // listed with the test's problems
    for (const event of normalised.events) {
      try {
        const observation = prepareEvent(
          event.observedData as unknown as Record<string, unknown>,
          event.objects,
          index,
        );
        prepared.push(observation);
        rule.pattern.observations.forEach((leaf, i) => {
          if (leaf.test(observation) && !(satisfied[i] as number[]).includes(index))
            (satisfied[i] as number[]).push(index);
        });
      } catch (error) {
        lines.push(`event ${index}: ${(error as Error).message}`);
      }
    }
  });
  const leaves = observationLeaves(rule.pattern.ast.root);
  const textOf = (i: number): string => {
    const span = rule.pattern.observations[i]?.expression.span;
    return span ? rule.patternText.slice(span.offset, span.offset + span.length) : `observation ${i}`;
  };
  rule.pattern.observations.forEach((_leaf, i) => {
    const by = satisfied[i] as number[];
    lines.push(
      by.length
        ? `${textOf(i)} is satisfied by event${by.length > 1 ? 's' : ''} ${by.join(', ')}`
        : `${textOf(i)} is satisfied by no event`,
    );
  });

  const indexOf = (leaf: ObservationLeaf): number => leaves.indexOf(leaf);
  const unmet = unmetPart(
    rule.pattern.ast.root,
    (leaf) => (satisfied[indexOf(leaf)] ?? []).length > 0,
    (leaf) => textOf(indexOf(leaf)),
  );
  if (unmet !== undefined) {
    lines.push(
      leaves.length === 1
        ? "no event satisfies the observation expression: compare the events' values with its comparisons"
        : `no event satisfies ${unmet}, so the pattern cannot match`,
    );
    return lines.join('\n');
  }
  let matchedTogether: boolean;
  try {
    matchedTogether = rule.pattern.matchPrepared(prepared).matched;
  } catch (error) {
    lines.push(`the events cannot be matched together: ${(error as Error).message}`);
    return lines.join('\n');
  }
  if (!matchedTogether) {
    lines.push(
      `every observation expression the pattern needs is satisfied by some event, but not together as the pattern requires: it needs ${patternConditions(rule.pattern.ast.root).join('; ')}`,
    );
    return lines.join('\n');
  }
  const reasons: string[] = [];
  if (!rule.enabled) reasons.push('the rule is disabled (enabled: false)');
  if (counts.filtered > 0)
    reasons.push(`the rule's filters muted ${counts.filtered === 1 ? 'an event' : `${counts.filtered} events`}`);
  if (counts.late > 0)
    reasons.push(`${counts.late === 1 ? 'an event was' : `${counts.late} events were`} late for correlation`);
  if (counts.suppressed + counts.throttled > 0)
    reasons.push(`${counts.suppressed + counts.throttled} alert(s) held back by suppress or rate_limit`);
  if (rule.groupBy.length > 0 && leaves.length > 1)
    reasons.push(
      `events correlate only within one group: they must share the values of group_by (${rule.groupByText.join(', ')})`,
    );
  if (rule.scope) reasons.push('the rule applies only within its scope (tenants, hosts)');
  if (rule.validFrom !== undefined || rule.validUntil !== undefined)
    reasons.push('the rule matches only between valid_from and valid_until');
  lines.push(
    reasons.length > 0
      ? `the events match the pattern taken all together (as 'stixflow match' sees them), but the pipeline raised no alert: ${reasons.join('; ')}`
      : "the events match the pattern taken all together (as 'stixflow match' sees them), but the pipeline, which takes them one at a time in the order given, raised no alert: check the order of the events",
  );
  return lines.join('\n');
}

async function countAlerts(
  rule: Rule,
  events: unknown[],
  tenant: string,
  normaliser: Normaliser,
  contributors: Rule[],
): Promise<{ alerts: number; problems: Diagnostic[]; counts: PipelineCounts }> {
  const detector = new Detector({
    rules: [rule, ...contributors],
    store: new InMemoryStateStore(),
    normaliser,
    engine: { latenessSeconds: 365 * 86_400 },
  });
  let alerts = 0;
  const problems: Diagnostic[] = [];
  const counts: PipelineCounts = { filtered: 0, suppressed: 0, throttled: 0, late: 0 };
  for (let i = 0; i < events.length; i++) {
    const result = await detector.process([events[i]], tenant);
    alerts += result.alerts.filter((a) => a.ruleId === rule.id).length;
    problems.push(...[...result.rejected, ...result.errors].map((d) => ({ ...d, eventIndex: i })));
    counts.filtered += result.filtered;
    counts.suppressed += result.suppressed;
    counts.throttled += result.throttled;
    counts.late += result.late.length;
  }
  return { alerts, problems, counts };
}

export async function runRuleTests(
  rules: Rule[],
  options: { seed?: number; generated?: boolean } = {},
): Promise<RuleTestResult[]> {
  const results: RuleTestResult[] = [];
  const normaliser = createNormaliser();
  // A risk rule takes the alerts of the rules that carry a risk: its tests run them beside it.
  const riskCarrying = rules.filter((r) => r.risk !== undefined);
  for (const rule of rules) {
    const contributors = rule.aggregation?.kind === 'risk' ? riskCarrying : [];
    const file = rule.source?.file;
    const base = { ruleId: rule.id, ...(file ? { file } : {}) };
    const tests = writtenTests(rule);
    for (const test of tests) {
      const started = performance.now();
      if ('error' in test) {
        results.push({
          ...base,
          name: test.name,
          kind: 'written',
          outcome: 'failed',
          message: test.error,
          durationMs: 0,
        });
        continue;
      }
      const { alerts, problems, counts } = await countAlerts(rule, test.events, test.tenant, normaliser, contributors);
      const ok = 'alerts' in test.expect ? alerts === test.expect.alerts : alerts >= test.expect.atLeast;
      const expected =
        'alerts' in test.expect
          ? test.expect.alerts === 0
            ? 'no alert'
            : `${test.expect.alerts} alert(s)`
          : 'an alert';
      results.push({
        ...base,
        name: test.name,
        kind: 'written',
        outcome: ok ? 'passed' : 'failed',
        ...(ok
          ? {}
          : {
              message: [
                `expected ${expected}, got ${alerts}`,
                ...problems.map((p) => `event ${p.eventIndex}: ${p.message}`),
                alerts === 0 ? explainMiss(rule, normaliser, test.events, counts) : '',
              ]
                .filter(Boolean)
                .join('\n'),
            }),
        durationMs: performance.now() - started,
      });
    }
    if (tests.length > 0 || options.generated === false) continue;
    if (rule.aggregation !== undefined) {
      // One generated event satisfies `select`, which is not what an aggregation alerts on.
      results.push({
        ...base,
        name: 'generated checks',
        kind: 'generated-positive',
        outcome: 'skipped',
        message: `a ${rule.aggregation.kind} rule is checked by its written tests (tests:), not by generated events`,
        durationMs: 0,
      });
      continue;
    }
    if (!rule.enabled && rule.sigma?.correlatedBy) {
      // A Sigma rule a correlation names with `generate: false` raises nothing of its own.
      results.push({
        ...base,
        name: 'generated checks',
        kind: 'generated-positive',
        outcome: 'skipped',
        message: `raises no alerts of its own: correlated by ${rule.sigma.correlatedBy.join(', ')} (generate: false)`,
        durationMs: 0,
      });
      continue;
    }
    // No written tests: check the pattern with generated events (filters are left out: the
    // generator knows the pattern, not what the filters mute).
    const bare: Rule = { ...rule, filters: [], suppressSeconds: undefined, rateLimit: undefined } as Rule;
    const started = performance.now();
    try {
      const [positive] = generateEvents(rule.pattern, { count: 1, seed: options.seed ?? 1 });
      const { alerts, problems, counts } = await countAlerts(bare, positive ?? [], 'default', normaliser, []);
      const explained = (): string =>
        [
          ...problems.map((p) => `event ${p.eventIndex}: ${p.message}`),
          explainMiss(bare, normaliser, positive ?? [], counts),
        ].join('\n');
      results.push({
        ...base,
        name: 'generated events that satisfy the pattern raise an alert',
        kind: 'generated-positive',
        outcome: alerts > 0 ? 'passed' : 'failed',
        ...(alerts > 0 ? {} : { message: explained() }),
        durationMs: performance.now() - started,
      });
      for (const miss of generateEvents(rule.pattern, { count: 1, seed: options.seed ?? 1, miss: true })) {
        const t = performance.now();
        const { alerts: missAlerts } = await countAlerts(bare, miss.events, 'default', normaliser, []);
        results.push({
          ...base,
          name: `near miss stays quiet: ${miss.description}`,
          kind: 'generated-near-miss',
          outcome: missAlerts === 0 ? 'passed' : 'failed',
          ...(missAlerts === 0 ? {} : { message: `the near miss raised ${missAlerts} alert(s)` }),
          durationMs: performance.now() - t,
        });
      }
    } catch (error) {
      const skipped = error instanceof GenerationError || error instanceof StixflowError;
      results.push({
        ...base,
        name: 'generated checks',
        kind: 'generated-positive',
        outcome: skipped ? 'skipped' : 'failed',
        message: (error as Error).message,
        durationMs: performance.now() - started,
      });
    }
  }
  return results;
}

function xmlEscape(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/[^\t\n\r\u0020-\uffff]/g, ''); // XML 1.0 allows no other control characters
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
        const inner =
          c.outcome === 'failed'
            ? `<failure message="${xmlEscape((c.message ?? '').split('\n')[0] ?? '')}">${xmlEscape(c.message ?? '')}</failure>`
            : c.outcome === 'skipped'
              ? `<skipped message="${xmlEscape(c.message ?? '')}"/>`
              : '';
        return `    <testcase classname="${xmlEscape(ruleId)}" name="${xmlEscape(c.name)}" time="${(c.durationMs / 1000).toFixed(3)}"${c.file ? ` file="${xmlEscape(c.file)}"` : ''}>${inner}</testcase>`;
      })
      .join('\n');
    return `  <testsuite name="${xmlEscape(ruleId)}" tests="${cases.length}" failures="${failures}" skipped="${skipped}" time="${time.toFixed(3)}">\n${body}\n  </testsuite>`;
  });
  const total = results.length;
  const failed = results.filter((r) => r.outcome === 'failed').length;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="stixflow rule tests" tests="${total}" failures="${failed}">\n${suites.join('\n')}\n</testsuites>\n`;
}

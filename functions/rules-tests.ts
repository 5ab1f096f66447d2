/**
 * A rule's tests as the rules API runs them (#17): the rule's written `tests:` through the module
 * `stixflow test` uses (src/testing/rule-tests.ts: the real pipeline, fresh in-memory state, one
 * event at a time), so the console shows the result the CLI gives. Generated checks are left out:
 * the page shows the tests the rule carries.
 *
 * The rule runs as compiled, with its own `enabled` flag but not the console's override: the
 * switch turns a rule on or off in the deployment, it does not change what the rule detects.
 */
import { createHash } from 'node:crypto';
import type { Rule } from '../src/rules/model.js';
import type { RuleTestCase, RuleTestRun } from '../src/state/rule-store.js';
import { runRuleTests } from '../src/testing/rule-tests.js';

export function sourceSha256(source: string): string {
  return createHash('sha256').update(source).digest('hex');
}

/** Runs the written tests of `rule`; a risk rule's run beside the rules of `inForce` that carry a risk. */
export async function runTestsOf(rule: Rule, inForce: readonly Rule[]): Promise<RuleTestCase[]> {
  const contributors = rule.aggregation?.kind === 'risk' ? inForce.filter((r) => r.risk !== undefined) : [];
  const rules = [rule, ...contributors.filter((r) => r.id !== rule.id)];
  const results = await runRuleTests(rules, { generated: false });
  return results
    .filter((r) => r.ruleId === rule.id)
    .map((r) => ({
      name: r.name,
      outcome: r.outcome,
      ...(r.message !== undefined ? { message: r.message } : {}),
      durationMs: Math.round(r.durationMs * 10) / 10,
    }));
}

/** The tests of a rule as the API answers them: how many it has, and their last run with its totals. */
export function testsView(
  cases: number,
  run: RuleTestRun | undefined,
  currentSha: string | undefined,
  notRun?: string,
): Record<string, unknown> {
  const count = (outcome: RuleTestCase['outcome']) => run?.results.filter((r) => r.outcome === outcome).length ?? 0;
  return {
    cases,
    ...(notRun !== undefined ? { notRun } : {}),
    ...(run
      ? {
          lastRun: {
            at: run.at,
            by: run.by,
            trigger: run.trigger,
            ...(run.version !== undefined ? { version: run.version } : {}),
            // False when the rule's source changed since (a run kept from an earlier definition).
            current: currentSha !== undefined && run.sourceSha256 === currentSha,
            passed: count('passed'),
            failed: count('failed'),
            skipped: count('skipped'),
            results: run.results,
          },
        }
      : {}),
  };
}

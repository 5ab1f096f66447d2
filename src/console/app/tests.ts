import { h, when } from './dom.js';
import type { RuleTestCase, RuleTests } from './model.js';

/** "2 passed, 1 failed" (skipped only when there are some). */
export function testTotals(t: { passed: number; failed: number; skipped: number }): string {
  return [`${t.passed} passed`, `${t.failed} failed`, ...(t.skipped > 0 ? [`${t.skipped} skipped`] : [])].join(', ');
}

/** Each test with its outcome, and for a failure the reason as `stixflow test` explains it. */
export function testResultList(results: RuleTestCase[]): HTMLElement {
  return h(
    'ul',
    { class: 'test-results' },
    results.map((r) =>
      h(
        'li',
        { class: `test ${r.outcome}`, 'data-test-name': r.name, 'data-outcome': r.outcome },
        h('span', { class: `outcome ${r.outcome}` }, r.outcome),
        ' ',
        h('span', { class: 'test-name' }, r.name),
        r.message ? h('pre', { class: 'test-message' }, r.message) : null,
      ),
    ),
  );
}

const TRIGGERS: Record<string, string> = { save: 'when saved', read: 'when first shown' };

/** The rule page's tests: how many, their last run (when, why, by whom, on which version) and each result. */
export function testsSection(tests: RuleTests | undefined): HTMLElement {
  const last = tests?.lastRun;
  const cases = tests?.cases ?? 0;
  const summary = (): HTMLElement | null => {
    if (tests?.notRun) return h('p', { class: 'muted' }, `Not run: ${tests.notRun}.`);
    if (cases === 0)
      return h(
        'p',
        { class: 'muted' },
        'This rule has no tests. Add a ',
        h('code', {}, 'tests:'),
        ' list (events and ',
        h('code', {}, 'expect: alert'),
        ' or ',
        h('code', {}, 'no-alert'),
        ') and save: they run on every save, as ',
        h('code', {}, 'stixflow test'),
        ' runs them.',
      );
    return null;
  };
  return h(
    'section',
    { class: 'tests', 'aria-labelledby': 'tests-heading' },
    h('h2', { id: 'tests-heading' }, 'Tests'),
    summary(),
    last
      ? h(
          'div',
          { class: `panel ${last.failed > 0 ? 'invalid' : 'ok'}`, 'data-tests': last.failed > 0 ? 'failed' : 'passed' },
          h(
            'p',
            { class: 'test-summary' },
            `${cases} test${cases === 1 ? '' : 's'}, last run ${when(last.at)} ${TRIGGERS[last.trigger] ?? ''} by ${last.by}` +
              `${last.version !== undefined ? ` (v${last.version})` : ''}: ${testTotals(last)}.`,
          ),
          last.current ? null : h('p', { class: 'small' }, 'This run is of an earlier definition of the rule.'),
          testResultList(last.results),
        )
      : null,
  );
}

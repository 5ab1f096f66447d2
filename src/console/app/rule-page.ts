import { diffLines } from 'diff';
import { call, get, rulePath } from './api.js';
import { CHART_SERIES, countOf, weekChart } from './chart.js';
import { diagnosticList } from './diagnostics.js';
import { h, replace, when } from './dom.js';
import { ruleEditor } from './editor.js';
import type { Diagnostic, RuleDetail, RuleVersion } from './model.js';
import { lastChange, ruleState, ruleToggle, scopeText } from './rules.js';
import { testsSection } from './tests.js';

/** What a new rule starts from: a complete, valid STIX pattern rule to adapt. */
export const NEW_RULE_TEMPLATE = `id: my-new-rule
name: My new rule
description: What this rule detects, and why it matters.
severity: medium
tags: [attack.t1059]
pattern: "[process:name = 'nc' AND process:command_line LIKE '%-e%']"
`;

type SaveReply = { rule?: { id: string }; error?: string; message?: string; diagnostics?: Diagnostic[] };

function saveError(status: number, body: SaveReply): Error {
  const first = body.diagnostics?.find((d) => d.severity === 'error');
  const where = first?.line !== undefined ? ` (line ${first.line}, column ${first.column ?? 1}: ${first.message})` : '';
  return new Error(`Not saved: ${status} ${body.error ?? body.message ?? ''}${where}`);
}

/** Numbered source, for reading (the editor below is for changing it). */
function sourceView(source: string): HTMLElement {
  return h(
    'pre',
    { class: 'source', tabindex: 0, 'aria-label': 'Rule source' },
    source
      .split('\n')
      .map((line, i) =>
        h('span', { class: 'line' }, h('span', { class: 'ln', 'aria-hidden': 'true' }, String(i + 1)), line, '\n'),
      ),
  );
}

/** A line diff of two sources (the `diff` package), added and removed lines marked for eyes and screen readers. */
export function diffView(before: string, after: string): HTMLElement {
  const parts = diffLines(before, after);
  return h(
    'pre',
    { class: 'diff', tabindex: 0, 'aria-label': 'Differences between the two versions' },
    parts.flatMap((part) =>
      part.value
        .replace(/\n$/, '')
        .split('\n')
        .map((line) => {
          const kind = part.added ? 'added' : part.removed ? 'removed' : 'same';
          const mark = part.added ? '+' : part.removed ? '-' : ' ';
          return h(
            kind === 'added' ? 'ins' : kind === 'removed' ? 'del' : 'span',
            { class: `diff-line ${kind}` },
            `${mark} ${line}\n`,
          );
        }),
    ),
  );
}

function versionsSection(id: string, versions: RuleVersion[]): HTMLElement {
  if (versions.length === 0)
    return h(
      'section',
      {},
      h('h2', {}, 'Versions'),
      h('p', { class: 'muted' }, 'No stored versions: this rule ships with the deployment.'),
    );
  const options = (selected: number) =>
    versions.map((v) =>
      h('option', { value: v.version, selected: v.version === selected }, `v${v.version} ${v.action} by ${v.by}`),
    );
  const newest = versions[0]?.version ?? 1;
  const older = versions[1]?.version ?? newest;
  const from = h('select', { id: 'diff-from' }, options(older));
  const to = h('select', { id: 'diff-to' }, options(newest));
  const out = h('div', { class: 'diff-out', 'aria-live': 'polite' });
  const show = async (): Promise<void> => {
    try {
      const [a, b] = await Promise.all([
        get<{ source: string }>(`${rulePath(id)}/versions/${from.value}`),
        get<{ source: string }>(`${rulePath(id)}/versions/${to.value}`),
      ]);
      replace(
        out,
        h('p', { class: 'small muted' }, `v${from.value} → v${to.value}`),
        diffView(a.source ?? '', b.source ?? ''),
      );
    } catch (error) {
      replace(out, h('p', { class: 'error' }, error instanceof Error ? error.message : String(error)));
    }
  };
  return h(
    'section',
    {},
    h('h2', {}, 'Versions'),
    h(
      'table',
      { class: 'versions' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Version', 'Action', 'By', 'When', 'Summary'].map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        {},
        versions.map((v) =>
          h(
            'tr',
            {},
            h('td', {}, `v${v.version}`),
            h('td', {}, v.action),
            h('td', {}, v.by),
            h('td', {}, when(v.at)),
            h('td', {}, v.summary ?? ''),
          ),
        ),
      ),
    ),
    h(
      'form',
      { class: 'filters', 'aria-label': 'Compare versions', onsubmit: (e: Event) => (e.preventDefault(), void show()) },
      h('div', { class: 'field' }, h('label', { for: 'diff-from' }, 'From'), from),
      h('div', { class: 'field' }, h('label', { for: 'diff-to' }, 'To'), to),
      h('button', { type: 'submit' }, 'Show differences'),
    ),
    out,
  );
}

/** The rule page: status and switch, 7 days, diagnostics, source, tests, versions with a diff, and the editor. */
export async function renderRulePage(main: HTMLElement, id: string, say: (message: string) => void): Promise<void> {
  const detail = await get<RuleDetail>(rulePath(id));
  const { rule } = detail;
  const state = ruleState(rule);
  const change = lastChange(rule);
  const errors = [
    ...(rule.errors ?? []),
    ...detail.diagnostics.filter(
      (d) => d.severity === 'error' && !(rule.errors ?? []).some((e) => e.message === d.message),
    ),
  ];
  const totals = rule.counters?.totals ?? {};
  const remove = async (): Promise<void> => {
    if (!confirm(`Delete rule ${rule.id}? Its versions stay in the audit history.`)) return;
    const reply = await call<{ error?: string; message?: string }>('DELETE', rulePath(rule.id));
    if (reply.status === 200) {
      say(`${rule.id} deleted.`);
      location.hash = '#/rules';
    } else say(`Not deleted: ${reply.status} ${reply.body.message ?? reply.body.error ?? ''}`);
  };
  replace(
    main,
    h('p', {}, h('a', { href: '#/rules' }, '← All rules')),
    h(
      'div',
      { class: `page-head rule ${state}` },
      h('h1', {}, rule.name ?? rule.id),
      h('span', { class: `state ${state}`, 'data-state': state }, state),
      ruleToggle(rule, say),
    ),
    h(
      'dl',
      { class: 'facts' },
      [
        ['Id', rule.id],
        ['Severity', rule.severity ?? ''],
        ['Kind', rule.kind ?? ''],
        ['Origin', rule.origin ?? ''],
        ['Scope', scopeText(rule)],
        ['Tags', (rule.tags ?? []).join(', ')],
        ['Last changed', change ? `${change.by}, ${when(change.at)}` : '—'],
        ['Last 7 days', CHART_SERIES.map((s) => `${countOf(totals, s)} ${s}`).join(', ')],
      ].flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
    ),
    rule.counters ? weekChart(rule.counters.days, `${rule.name ?? rule.id}, last 7 days`) : null,
    errors.length > 0
      ? h(
          'div',
          { class: 'panel invalid', role: 'alert' },
          h('h2', {}, 'This rule does not compile'),
          diagnosticList(errors),
        )
      : null,
    h('section', {}, h('h2', {}, 'Diagnostics'), diagnosticList(detail.diagnostics)),
    h('section', {}, h('h2', {}, 'Source'), sourceView(detail.source)),
    testsSection(detail.tests),
    versionsSection(rule.id, detail.versions),
    h(
      'section',
      {},
      h('h2', {}, 'Edit'),
      ruleEditor({
        initial: detail.source,
        saveLabel: 'Save new version',
        offerInvalid: true,
        save: async (source, allowInvalid) => {
          const reply = await call<SaveReply>(
            'PUT',
            `${rulePath(rule.id)}${allowInvalid ? '?allowInvalid=true' : ''}`,
            {
              source,
            },
          );
          if (reply.status !== 200) throw saveError(reply.status, reply.body);
          say(`${rule.id} saved.`);
          await renderRulePage(main, reply.body.rule?.id ?? rule.id, say);
        },
      }),
    ),
    rule.origin === 'store'
      ? h(
          'section',
          {},
          h('h2', {}, 'Delete'),
          h('button', { type: 'button', class: 'danger', onclick: () => void remove() }, 'Delete this rule'),
        )
      : null,
  );
}

/** The new rule page: the editor, saving with POST /rules (optionally storing an invalid rule, to see it red). */
export function renderNewRule(main: HTMLElement, say: (message: string) => void): void {
  replace(
    main,
    h('p', {}, h('a', { href: '#/rules' }, '← All rules')),
    h('h1', {}, 'New rule'),
    ruleEditor({
      initial: NEW_RULE_TEMPLATE,
      saveLabel: 'Create rule',
      offerInvalid: true,
      save: async (source, allowInvalid) => {
        const reply = await call<SaveReply>('POST', `/rules${allowInvalid ? '?allowInvalid=true' : ''}`, { source });
        if (reply.status !== 201) throw saveError(reply.status, reply.body);
        const id = reply.body.rule?.id ?? '';
        say(`Rule ${id} created.`);
        location.hash = `#/rules/${encodeURIComponent(id)}`;
      },
    }),
  );
}

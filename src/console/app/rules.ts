import { ApiError, get, request, rulePath } from './api.js';
import { CHART_SERIES, countOf, weekChart } from './chart.js';
import { diagnosticText } from './diagnostics.js';
import { h, replace, when } from './dom.js';
import { SEVERITIES, type RuleList, type RuleSummary } from './model.js';

export type RuleState = 'enabled' | 'disabled' | 'invalid';

export function ruleState(rule: RuleSummary): RuleState {
  if (rule.status === 'invalid') return 'invalid';
  return rule.enabled ? 'enabled' : 'disabled';
}

export function scopeText(rule: RuleSummary): string {
  if (rule.scope === undefined || rule.scope === 'all') return 'all';
  return `${rule.scope.entities} entities, ${rule.scope.assets} assets`;
}

export function lastChange(rule: RuleSummary): { by: string; at: string } | undefined {
  if (rule.lastChange) return rule.lastChange;
  if (rule.override) return { by: rule.override.updatedBy, at: rule.override.updatedAt };
  return undefined;
}

/**
 * The enable/disable switch of a rule: a checkbox with the switch role, labelled with the rule's name. It sends
 * PATCH /rules/{id} and puts itself back (saying why in `say`) when the API refuses.
 */
export function ruleToggle(rule: RuleSummary, say: (message: string) => void, onChange?: () => void): HTMLElement {
  const name = rule.name ?? rule.id;
  const box = h('input', {
    type: 'checkbox',
    role: 'switch',
    class: 'toggle',
    'data-rule-toggle': rule.id,
    'aria-label': `Enabled: ${name}`,
    checked: rule.enabled,
    disabled: rule.status === 'invalid',
  });
  box.addEventListener('change', () => {
    const enabled = box.checked;
    box.disabled = true;
    request('PATCH', rulePath(rule.id), { enabled })
      .then(() => {
        rule.enabled = enabled;
        say(`${name} ${enabled ? 'enabled' : 'disabled'}.`);
        onChange?.();
      })
      .catch((error: unknown) => {
        box.checked = !enabled;
        say(error instanceof ApiError ? error.message : `Could not change ${name}: ${String(error)}`);
      })
      .finally(() => {
        box.disabled = false;
      });
  });
  return h('label', { class: 'switch' }, box, h('span', { class: 'switch-text', 'aria-hidden': 'true' }));
}

interface Filters {
  text: string;
  severity: string;
  state: string;
  tag: string;
}

function matches(rule: RuleSummary, f: Filters): boolean {
  if (f.severity && rule.severity !== f.severity) return false;
  if (f.state && ruleState(rule) !== f.state) return false;
  if (f.tag && !(rule.tags ?? []).includes(f.tag)) return false;
  if (f.text) {
    const hay = [rule.id, rule.name ?? '', ...(rule.tags ?? [])].join(' ').toLowerCase();
    if (
      !f.text
        .toLowerCase()
        .split(/\s+/)
        .every((word) => hay.includes(word))
    )
      return false;
  }
  return true;
}

function select(label: string, id: string, options: string[], onChange: (value: string) => void): HTMLElement {
  const element = h(
    'select',
    { id },
    h('option', { value: '' }, 'any'),
    options.map((o) => h('option', { value: o }, o)),
  );
  element.addEventListener('change', () => onChange(element.value));
  return h('div', { class: 'field' }, h('label', { for: id }, label), element);
}

function ruleRow(rule: RuleSummary, say: (message: string) => void, refresh: () => void): HTMLElement {
  const state = ruleState(rule);
  const name = rule.name ?? rule.id;
  const totals = rule.counters?.totals ?? {};
  const change = lastChange(rule);
  const errors = rule.errors ?? [];
  return h(
    'tr',
    { class: `rule ${state}`, 'data-rule-id': rule.id },
    h(
      'td',
      {},
      h('a', { href: `#/rules/${encodeURIComponent(rule.id)}` }, name),
      name !== rule.id ? h('div', { class: 'muted small' }, rule.id) : null,
      errors.length > 0
        ? h(
            'ul',
            { class: 'rule-errors' },
            errors.map((e) => h('li', {}, diagnosticText(e))),
          )
        : null,
    ),
    h('td', {}, rule.severity ? h('span', { class: `severity ${rule.severity}` }, rule.severity) : ''),
    h('td', {}, h('span', { class: `state ${state}`, 'data-state': state }, state)),
    h('td', {}, ruleToggle(rule, say, refresh)),
    h('td', {}, scopeText(rule)),
    h(
      'td',
      {},
      (rule.tags ?? []).map((t) => h('span', { class: 'tag' }, t)),
    ),
    h(
      'td',
      { class: 'counts' },
      h(
        'span',
        { class: 'figures' },
        CHART_SERIES.map((s) =>
          h('span', { class: `figure ${s}`, 'data-counter': s, title: s }, String(countOf(totals, s))),
        ),
      ),
      rule.counters ? weekChart(rule.counters.days, `${name}, last 7 days`) : null,
    ),
    h('td', { class: 'small' }, change ? [change.by, h('br'), when(change.at)] : h('span', { class: 'muted' }, '—')),
  );
}

/** The rule list: every rule of the deployment and the caller's 7-day counters, with search and filters. */
export async function renderRuleList(main: HTMLElement, say: (message: string) => void): Promise<void> {
  const list = await get<RuleList>('/rules');
  const filters: Filters = { text: '', severity: '', state: '', tag: '' };
  const body = h('tbody');
  const shown = h('p', { class: 'muted', 'aria-live': 'polite' });
  const draw = (): void => {
    const rules = list.rules.filter((r) => matches(r, filters));
    replace(
      body,
      rules.map((r) => ruleRow(r, say, draw)),
    );
    shown.textContent = `${rules.length} of ${list.rules.length} rules`;
  };
  const search = h('input', { id: 'rule-search', type: 'search', placeholder: 'name, id or tag' });
  search.addEventListener('input', () => {
    filters.text = search.value.trim();
    draw();
  });
  const tags = [...new Set(list.rules.flatMap((r) => r.tags ?? []))].sort();
  const severities = SEVERITIES.filter((s) => list.rules.some((r) => r.severity === s));
  replace(
    main,
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Rules'),
      h('a', { class: 'button', href: '#/rules/new' }, 'New rule'),
    ),
    h(
      'form',
      { class: 'filters', role: 'search', 'aria-label': 'Filter rules', onsubmit: (e: Event) => e.preventDefault() },
      h('div', { class: 'field grow' }, h('label', { for: 'rule-search' }, 'Search'), search),
      select('Severity', 'rule-severity', severities, (v) => ((filters.severity = v), draw())),
      select('Status', 'rule-state', ['enabled', 'disabled', 'invalid'], (v) => ((filters.state = v), draw())),
      select('Tag', 'rule-tag', tags, (v) => ((filters.tag = v), draw())),
    ),
    shown,
    list.diagnostics.length > 0
      ? h(
          'div',
          { class: 'panel invalid', role: 'alert' },
          h('h2', {}, 'Rule files with problems'),
          h(
            'ul',
            {},
            list.diagnostics.map((d) => h('li', {}, `${d.file ?? ''} ${diagnosticText(d)}`)),
          ),
        )
      : null,
    h(
      'p',
      { class: 'legend small' },
      `Tenant ${list.tenant}; counts for ${list.days[0] ?? ''} to ${list.days[list.days.length - 1] ?? ''} (UTC): `,
      CHART_SERIES.map((s) => h('span', { class: `figure ${s}` }, s)),
    ),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'rules' },
        h('caption', { class: 'visually-hidden' }, 'Rules, their status and their last 7 days'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Rule', 'Severity', 'Status', 'Enabled', 'Scope', 'Tags', '7 days', 'Last changed'].map((c) =>
              h('th', { scope: 'col' }, c),
            ),
          ),
        ),
        body,
      ),
    ),
  );
  draw();
}

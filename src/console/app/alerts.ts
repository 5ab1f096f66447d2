import { alertPath, call, get, query } from './api.js';
import { h, replace, when } from './dom.js';
import { SEVERITIES, type AlertDetail, type AlertStatus, type AlertSummary, type RuleList } from './model.js';

export const ALERT_STATUSES: AlertStatus[] = ['new', 'acknowledged', 'rejected', 'resolved'];

/** The triage actions, as their buttons name them. */
const TRIAGE: { status: AlertStatus; label: string }[] = [
  { status: 'acknowledged', label: 'Acknowledge' },
  { status: 'rejected', label: 'Reject as false positive' },
  { status: 'resolved', label: 'Resolve' },
  { status: 'new', label: 'Reopen' },
];

function field(label: string, control: HTMLInputElement | HTMLSelectElement): HTMLElement {
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control);
}

function choice(
  id: string,
  values: string[],
  selected: string | undefined,
  labels: Record<string, string> = {},
): HTMLSelectElement {
  return h(
    'select',
    { id },
    h('option', { value: '' }, 'any'),
    values.map((v) => h('option', { value: v, selected: v === selected }, labels[v] ?? v)),
  );
}

/** datetime-local gives local time without a zone: the API takes ISO instants. */
const isoFrom = (local: string): string | undefined => (local ? new Date(local).toISOString() : undefined);

/** The alert list: the caller's tenant's alerts, newest first, filtered by rule, severity, status and time. */
export async function renderAlertList(main: HTMLElement, params: URLSearchParams): Promise<void> {
  const rules = await get<RuleList>('/rules').catch(() => undefined);
  const ruleNames: Record<string, string> = {};
  for (const r of rules?.rules ?? []) ruleNames[r.id] = r.name ?? r.id;
  const rule = choice('alert-rule', Object.keys(ruleNames).sort(), params.get('ruleId') ?? undefined, ruleNames);
  const severity = choice('alert-severity', SEVERITIES, params.get('severity') ?? undefined);
  const status = choice('alert-status', ALERT_STATUSES, params.get('status') ?? undefined);
  const from = h('input', { id: 'alert-from', type: 'datetime-local', value: params.get('from') ?? '' });
  const to = h('input', { id: 'alert-to', type: 'datetime-local', value: params.get('to') ?? '' });
  const body = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'Load more');
  const count = h('p', { class: 'muted', 'aria-live': 'polite' });
  let cursor: string | undefined;
  let shown = 0;

  /** Each new filter starts a new generation: an answer to an older one is dropped, never appended. */
  let generation = 0;
  const load = async (reset: boolean): Promise<void> => {
    if (reset) {
      generation += 1;
      cursor = undefined;
    }
    const mine = generation;
    const page = await get<{ alerts: AlertSummary[]; cursor?: string }>(
      `/alerts${query({
        ruleId: rule.value,
        severity: severity.value,
        status: status.value,
        from: isoFrom(from.value),
        to: isoFrom(to.value),
        limit: '50',
        cursor,
      })}`,
    );
    if (mine !== generation) return;
    if (reset) {
      shown = 0;
      replace(body);
    }
    for (const a of page.alerts)
      body.appendChild(
        h(
          'tr',
          { class: `alert ${a.status}`, 'data-alert-id': a.id },
          h('td', { class: 'small' }, when(a.createdAt)),
          h('td', {}, h('span', { class: `severity ${a.severity}` }, a.severity)),
          h('td', {}, h('a', { href: `#/alerts/${encodeURIComponent(a.id)}` }, a.title ?? a.ruleName)),
          h('td', {}, h('a', { href: `#/rules/${encodeURIComponent(a.ruleId)}` }, a.ruleName)),
          h('td', { class: 'small' }, a.groupKey || '—'),
          h(
            'td',
            {},
            h('span', { class: `status ${a.status}`, 'data-status': a.status }, a.status),
            a.statusBy ? h('div', { class: 'small muted' }, `${a.statusBy}, ${when(a.statusAt)}`) : null,
          ),
        ),
      );
    shown += page.alerts.length;
    cursor = page.cursor;
    more.hidden = cursor === undefined;
    count.textContent = `${shown} alert${shown === 1 ? '' : 's'}${cursor ? ' (more below)' : ''}`;
  };
  more.addEventListener('click', () => void load(false));
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter alerts' },
    field('Rule', rule),
    field('Severity', severity),
    field('Status', status),
    field('From', from),
    field('To', to),
    h('button', { type: 'submit' }, 'Apply'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void load(true);
  });
  for (const control of [rule, severity, status]) control.addEventListener('change', () => void load(true));
  replace(
    main,
    h('h1', {}, 'Alerts'),
    form,
    count,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'alerts' },
        h('caption', { class: 'visually-hidden' }, 'Alerts, newest first'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Created', 'Severity', 'Alert', 'Rule', 'Group', 'Status'].map((c) => h('th', { scope: 'col' }, c)),
          ),
        ),
        body,
      ),
    ),
    more,
  );
  await load(true);
}

const json = (value: unknown): HTMLElement => h('pre', { class: 'json', tabindex: 0 }, JSON.stringify(value, null, 2));

/** The alert page: what matched (events, objects), the rule, the group key, the STIX sighting; triage buttons. */
export async function renderAlertPage(main: HTMLElement, id: string, say: (message: string) => void): Promise<void> {
  const detail = await get<AlertDetail>(alertPath(id));
  const { alert } = detail;
  const note = h('input', { id: 'triage-note', type: 'text', placeholder: 'why (optional)' });
  const triage = async (next: AlertStatus, label: string): Promise<void> => {
    const reply = await call<{ error?: string; message?: string }>('PATCH', alertPath(id), {
      status: next,
      ...(note.value.trim() ? { note: note.value.trim() } : {}),
    });
    if (reply.status !== 200)
      return say(`${label} failed: ${reply.status} ${reply.body.message ?? reply.body.error ?? ''}`);
    say(`Alert ${next}.`);
    await renderAlertPage(main, id, say);
  };
  const { objects, sighting, sourceEventIds, observedDataIds, ...rest } = alert;
  replace(
    main,
    h('p', {}, h('a', { href: '#/alerts' }, '← All alerts')),
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, alert.title ?? alert.ruleName),
      h('span', { class: `severity ${alert.severity}` }, alert.severity),
      h('span', { class: `status ${detail.status}`, 'data-status': detail.status }, detail.status),
    ),
    alert.description ? h('p', {}, alert.description) : null,
    h(
      'form',
      { class: 'triage', 'aria-label': 'Triage', onsubmit: (e: Event) => e.preventDefault() },
      h('div', { class: 'field grow' }, h('label', { for: 'triage-note' }, 'Note'), note),
      TRIAGE.filter((t) => t.status !== detail.status).map((t) =>
        h(
          'button',
          {
            type: 'button',
            class: t.status === 'rejected' ? 'danger' : '',
            'data-triage': t.status,
            onclick: () => void triage(t.status, t.label),
          },
          t.label,
        ),
      ),
    ),
    h(
      'dl',
      { class: 'facts' },
      [
        [
          'Rule',
          h('a', { href: `#/rules/${encodeURIComponent(alert.ruleId)}` }, `${alert.ruleName} (${alert.ruleId})`),
        ],
        ['Group key', alert.groupKey || '— (not grouped)'],
        ['First observed', when(alert.firstObserved)],
        ['Last observed', when(alert.lastObserved)],
        ['Alert id', alert.id],
      ].flatMap(([k, v]) => [h('dt', {}, k as string), h('dd', {}, v as string | HTMLElement)]),
    ),
    h(
      'section',
      {},
      h('h2', {}, 'History'),
      detail.history.length > 0
        ? h(
            'ol',
            { class: 'history' },
            detail.history.map((e) =>
              h('li', {}, `${when(e.at)}: ${e.status} by ${e.by}${e.note ? ` — ${e.note}` : ''}`),
            ),
          )
        : h('p', { class: 'muted' }, 'Not triaged yet.'),
    ),
    h(
      'section',
      {},
      h('h2', {}, 'Matched events'),
      h('p', {}, `Source events: ${(sourceEventIds ?? []).join(', ') || '—'}`),
      h('p', { class: 'small muted' }, `Observed data: ${(observedDataIds ?? []).join(', ') || '—'}`),
    ),
    h('section', {}, h('h2', {}, 'Matched objects'), json(objects ?? [])),
    h('section', {}, h('h2', {}, 'STIX sighting'), json(sighting ?? null)),
    h('details', {}, h('summary', {}, 'The whole alert document'), json(rest)),
  );
}

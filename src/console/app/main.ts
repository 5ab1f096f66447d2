/**
 * The detection console: one page, routed by the URL hash (#/rules, #/rules/<id>, #/rules/new, #/alerts,
 * #/alerts/<id>). It talks only HTTP, to the API of the origin that served it.
 */
import { forgetToken, storedToken, storeToken, whenUnauthorised } from './api.js';
import { renderAlertList, renderAlertPage } from './alerts.js';
import { h, replace } from './dom.js';
import { renderNewRule, renderRulePage } from './rule-page.js';
import { renderRuleList } from './rules.js';

const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
const announcer = document.getElementById('announcer') as HTMLElement;

/** Says something to everyone: shown in the status bar and read by screen readers (aria-live). */
function say(message: string): void {
  announcer.textContent = message;
  announcedAt = Date.now();
}
let announcedAt = 0;
/** A page change clears the last message, unless it was just said (e.g. "created", said before moving to the rule). */
function clearStaleMessage(): void {
  if (Date.now() - announcedAt > 1000) announcer.textContent = '';
}

function renderLogin(reason?: string): void {
  replace(nav);
  const input = h('input', {
    id: 'token',
    type: 'password',
    autocomplete: 'off',
    required: true,
    'aria-describedby': 'token-help',
  });
  const form = h(
    'form',
    { class: 'login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Sign in to the stixflow console'),
    reason ? h('p', { class: 'error', role: 'alert' }, reason) : null,
    h('label', { for: 'token' }, 'Bearer token'),
    input,
    h(
      'p',
      { id: 'token-help', class: 'muted small' },
      'Sent as "Authorization: Bearer <token>" on every call and kept only in this tab. On the local stack: local-dev.',
    ),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    storeToken(input.value.trim());
    void route();
  });
  replace(main, form);
  input.focus();
}

function renderNav(current: string): void {
  const link = (href: string, label: string) =>
    h('a', { href, ...(current === href ? { 'aria-current': 'page' } : {}) }, label);
  replace(
    nav,
    link('#/rules', 'Rules'),
    link('#/alerts', 'Alerts'),
    link('#/rules/new', 'New rule'),
    h(
      'button',
      {
        type: 'button',
        class: 'link',
        onclick: () => {
          forgetToken();
          renderLogin();
        },
      },
      'Sign out',
    ),
  );
}

async function route(): Promise<void> {
  if (!storedToken()) return renderLogin();
  const hash = location.hash || '#/rules';
  const [path = '', search = ''] = hash.slice(1).split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const section = `#/${parts[0] ?? 'rules'}${parts[1] === 'new' ? '/new' : ''}`;
  renderNav(section);
  clearStaleMessage();
  replace(main, h('p', { class: 'muted', role: 'status' }, 'Loading…'));
  try {
    if (parts[0] === 'alerts' && parts[1]) await renderAlertPage(main, parts[1], say);
    else if (parts[0] === 'alerts') await renderAlertList(main, new URLSearchParams(search));
    else if (parts[0] === 'rules' && parts[1] === 'new') renderNewRule(main, say);
    else if (parts[0] === 'rules' && parts[1]) await renderRulePage(main, parts[1], say);
    else await renderRuleList(main, say);
    // Move focus to the new page's heading, so keyboard and screen-reader users land on it.
    const heading = main.querySelector('h1');
    if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus();
    }
  } catch (error) {
    if (!storedToken()) return;
    replace(
      main,
      h('h1', {}, 'Something went wrong'),
      h('p', { class: 'error', role: 'alert' }, error instanceof Error ? error.message : String(error)),
      h('p', {}, h('a', { href: '#/rules' }, 'Back to the rules')),
    );
  }
}

// The skip link moves focus without touching the hash (the hash is the route).
document.querySelector('a.skip')?.addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});
whenUnauthorised(() => renderLogin('The API refused the token (401). Enter a valid one.'));
window.addEventListener('hashchange', () => void route());
void route();

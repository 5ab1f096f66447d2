import { call } from './api.js';
import { diagnosticList } from './diagnostics.js';
import { debounce, h, replace } from './dom.js';
import type { Diagnostic, DraftTests } from './model.js';
import { testResultList, testTotals } from './tests.js';

export interface EditorOptions {
  initial: string;
  /** Text of the save button. */
  saveLabel: string;
  /** Stores the source; `allowInvalid` asks the API to keep it although it does not compile. */
  save: (source: string, allowInvalid: boolean) => Promise<void>;
  /** May the user store a rule that does not compile (to see it red in the list)? */
  offerInvalid: boolean;
}

/** The character offset of 1-based line/column in `text`. */
export function offsetOf(text: string, line: number, column: number): number {
  const lines = text.split('\n');
  let offset = 0;
  for (let i = 0; i < Math.min(line - 1, lines.length); i++) offset += (lines[i] as string).length + 1;
  return Math.min(text.length, offset + Math.max(0, column - 1));
}

/**
 * The rule editor: a textarea with line numbers that validates as you type (POST /rules/validate, debounced, never
 * stores) and lists the diagnostics with line:column; picking one moves the cursor there. "Run tests" runs the
 * draft's `tests:` through the same call (nothing stored), so a change can be checked before it is saved.
 */
export function ruleEditor(options: EditorOptions): HTMLElement {
  const area = h('textarea', {
    id: 'rule-source',
    class: 'source-input',
    spellcheck: 'false',
    rows: 22,
    'aria-describedby': 'rule-validation',
  });
  area.value = options.initial;
  const gutter = h('pre', { class: 'gutter', 'aria-hidden': 'true' });
  const status = h('p', { id: 'rule-validation', class: 'validation', role: 'status' }, 'Not validated yet.');
  const list = h('div', { class: 'editor-diagnostics' });
  const message = h('p', { class: 'save-message', role: 'alert' });
  const saveButton = h('button', { type: 'submit', class: 'primary' }, options.saveLabel);
  const allowInvalid = h('input', { type: 'checkbox', id: 'allow-invalid' });
  const testsOut = h('div', { class: 'editor-tests', 'aria-live': 'polite' });
  const runTests = async (): Promise<void> => {
    replace(testsOut, h('p', { class: 'muted' }, 'Running the tests…'));
    const reply = await call<{ tests?: DraftTests; error?: string }>('POST', '/rules/validate', {
      source: area.value,
      tests: true,
    }).catch((error: unknown) => ({
      status: 0,
      body: { error: String(error) } as { tests?: DraftTests; error?: string },
    }));
    const tests = reply.body.tests;
    if (reply.status !== 200 || !tests) {
      replace(testsOut, h('p', { class: 'error' }, `Could not run the tests: ${reply.body.error ?? reply.status}`));
      return;
    }
    if (tests.notRun) replace(testsOut, h('p', { class: 'error' }, `Not run: ${tests.notRun}.`));
    else if (tests.cases === 0) replace(testsOut, h('p', { class: 'muted' }, 'This draft has no tests.'));
    else
      replace(
        testsOut,
        h('p', { class: 'test-summary' }, `Draft, not saved: ${testTotals(tests)}.`),
        testResultList(tests.results ?? []),
      );
  };
  let sequence = 0;

  /** Lines with an error in the last validation: their numbers are marked in the gutter. */
  let errorLines = new Set<number>();
  const drawGutter = (): void => {
    const count = area.value.split('\n').length;
    replace(
      gutter,
      Array.from({ length: count }, (_, i) =>
        h('span', { class: errorLines.has(i + 1) ? 'error-line' : null }, `${i + 1}\n`),
      ),
    );
    gutter.scrollTop = area.scrollTop;
  };
  const pick = (d: Diagnostic): void => {
    const at = offsetOf(area.value, d.line ?? 1, d.column ?? 1);
    area.focus();
    area.setSelectionRange(at, at);
  };
  const validate = async (): Promise<void> => {
    const mine = ++sequence;
    status.textContent = 'Validating…';
    const reply = await call<{ valid?: boolean; diagnostics?: Diagnostic[]; error?: string }>(
      'POST',
      '/rules/validate',
      { source: area.value },
    ).catch((error: unknown) => ({
      status: 0,
      body: { error: String(error) } as { valid?: boolean; diagnostics?: Diagnostic[]; error?: string },
    }));
    if (mine !== sequence) return; // a later keystroke's answer is the one to show
    if (reply.status !== 200) {
      status.textContent = `Could not validate: ${reply.body.error ?? reply.status}`;
      status.className = 'validation error';
      return;
    }
    const diagnostics = reply.body.diagnostics ?? [];
    const errors = diagnostics.filter((d) => d.severity === 'error').length;
    // `error` says what is wrong with the source as a whole (e.g. not exactly one rule with an id).
    status.textContent = reply.body.valid
      ? `Valid${diagnostics.length > 0 ? ` (${diagnostics.length} warning${diagnostics.length > 1 ? 's' : ''})` : ''}.`
      : `${errors} error${errors === 1 ? '' : 's'}.${reply.body.error ? ` ${reply.body.error}.` : ''}`;
    status.className = `validation ${reply.body.valid ? 'valid' : 'error'}`;
    replace(list, diagnosticList(diagnostics, pick));
    errorLines = new Set(diagnostics.flatMap((d) => (d.severity === 'error' && d.line !== undefined ? [d.line] : [])));
    drawGutter();
  };
  const validateSoon = debounce(() => void validate(), 300);
  area.addEventListener('input', () => {
    drawGutter();
    validateSoon();
  });
  area.addEventListener('scroll', () => (gutter.scrollTop = area.scrollTop));
  // Tab indents (YAML wants spaces); Escape then Tab leaves the editor, so the keyboard is never trapped.
  let escaped = false;
  area.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') escaped = true;
    else if (event.key === 'Tab' && !event.shiftKey && !escaped) {
      event.preventDefault();
      area.setRangeText('  ', area.selectionStart, area.selectionEnd, 'end');
      area.dispatchEvent(new Event('input'));
    } else escaped = false;
  });
  drawGutter();
  void validate();

  const form = h(
    'form',
    { class: 'editor', 'aria-label': 'Rule editor' },
    h('label', { for: 'rule-source' }, 'Rule source (YAML)'),
    h('p', { class: 'muted small' }, 'Validated as you type. Tab indents; Escape then Tab moves on.'),
    h('div', { class: 'source-box' }, gutter, area),
    status,
    list,
    h(
      'div',
      { class: 'actions' },
      saveButton,
      h('button', { type: 'button', onclick: () => void runTests() }, 'Run tests'),
      options.offerInvalid
        ? h('label', { class: 'inline' }, allowInvalid, ' Store even if invalid (kept disabled, shown red)')
        : null,
    ),
    message,
    testsOut,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    saveButton.disabled = true;
    message.textContent = 'Saving…';
    options
      .save(area.value, allowInvalid.checked)
      .then(() => (message.textContent = 'Saved.'))
      .catch((error: unknown) => (message.textContent = error instanceof Error ? error.message : String(error)))
      .finally(() => (saveButton.disabled = false));
  });
  return form;
}

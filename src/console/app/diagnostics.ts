import { h } from './dom.js';
import type { Diagnostic } from './model.js';

/** "line 3, column 7" (or what the diagnostic knows of its place). */
export function position(d: Diagnostic): string {
  if (d.line === undefined) return d.file ?? '';
  return `line ${d.line}${d.column !== undefined ? `, column ${d.column}` : ''}`;
}

/** "3:7 error rule-unknown-field: …": one diagnostic as one line. */
export function diagnosticText(d: Diagnostic): string {
  const where = d.line !== undefined ? `${d.line}:${d.column ?? 1} ` : '';
  return `${where}${d.severity} ${d.code}: ${d.message}${d.hint ? ` (${d.hint})` : ''}`;
}

/**
 * A list of diagnostics; `onPick` (when given) makes each a button that moves the editor to its position.
 */
export function diagnosticList(diagnostics: Diagnostic[], onPick?: (d: Diagnostic) => void): HTMLElement {
  if (diagnostics.length === 0) return h('p', { class: 'muted' }, 'No diagnostics.');
  return h(
    'ul',
    { class: 'diagnostics' },
    diagnostics.map((d) =>
      h(
        'li',
        { class: `diagnostic ${d.severity}` },
        onPick && d.line !== undefined
          ? h('button', { type: 'button', class: 'link', onclick: () => onPick(d) }, diagnosticText(d))
          : diagnosticText(d),
      ),
    ),
  );
}

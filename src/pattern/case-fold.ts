/**
 * Case folding for case-insensitive comparisons (a rule's `case_sensitive: false`). Two strings
 * compare equal case-insensitively when their folds are equal. The fold is Unicode full case
 * folding as far as the comparison can tell: upper-casing then lower-casing maps every member of
 * a case-equivalence class to one string (`ß`/`ẞ`/`ss`/`SS` → `ss`, `ſ` → `s`, `ς`/`σ`/`Σ` → `σ`,
 * Kelvin sign → `k`, `ﬁ` → `fi`), and NFC keeps composed and decomposed forms together. ASCII,
 * most of what events hold, takes one `toLowerCase`.
 *
 * Non-ASCII folds are memoised by value: an event's `Image` path is folded once however many
 * rules compare it, and the next event with the same value reuses the fold (V8 keeps each
 * string's hash, so the lookup does not rescan it). ASCII takes one toLowerCase, cheaper than
 * the memo.
 */

const MAX_MEMOISED = 65_536;
/** Values longer than this are folded each time: memoising them would pin large strings. */
const MAX_MEMOISED_LENGTH = 1_024;
let memo = new Map<string, string>();

/** True when every code unit is ASCII (most event text). */
export function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

function foldUncached(text: string): string {
  if (isAscii(text)) return text.toLowerCase();
  // Dotless ı has no case fold of its own (it is not I's small letter outside Turkish), but
  // upper-casing it gives I: keep it out of the round trip.
  if (text.includes('\u0131')) return text.split('\u0131').map(foldUncached).join('\u0131');
  return text.normalize('NFC').toUpperCase().toLowerCase().normalize('NFC');
}

/** The case fold of a string. */
export function foldCase(text: string): string {
  // ASCII folds with one toLowerCase, which V8 runs faster than a memo lookup and insert.
  if (isAscii(text)) return text.toLowerCase();
  if (text.length > MAX_MEMOISED_LENGTH) return foldUncached(text);
  let folded = memo.get(text);
  if (folded === undefined) {
    folded = foldUncached(text);
    if (memo.size >= MAX_MEMOISED) memo = new Map();
    memo.set(text, folded);
  }
  return folded;
}

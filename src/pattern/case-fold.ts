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

/**
 * The last string folded and its fold. The case-insensitive rules that test one path of an
 * event ask for the fold of the same value one after another: it is folded once per (event,
 * path), and the check is a pointer comparison when the string is the same.
 */
let lastText = '';
let lastFold = '';

/** The case fold of a string. */
export function foldCase(text: string): string {
  if (text === lastText) return lastFold;
  const folded = foldAny(text);
  lastText = text;
  lastFold = folded;
  return folded;
}

function foldAny(text: string): string {
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

/**
 * Escapes whose meaning a folded subject does not change: character classes and assertions
 * (`\d \D \s \S \w \W \b \B \A \z`), control characters, and escaped punctuation (not listed:
 * any non-alphanumeric). `\x41`, `\p{Lu}`, `\Q…\E` or octal escapes name cased text the
 * rewrite would have to decode, so a pattern that uses them keeps `(?i)`.
 */
const FOLD_SAFE_ESCAPES = new Set('dDsSwWbBAzntrfva');

const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isLower = (c: string): boolean => c >= 'a' && c <= 'z';
const isUpper = (c: string): boolean => c >= 'A' && c <= 'Z';

/** A class range a folded subject sees as its fold does: digits, one case of letters, or no letters at all. */
function foldSafeRange(low: string, high: string): boolean {
  if (isDigit(low) && isDigit(high)) return true;
  if ((isLower(low) && isLower(high)) || (isUpper(low) && isUpper(high))) return true;
  if (/[0-9A-Za-z]/.test(low) || /[0-9A-Za-z]/.test(high)) return false;
  // Neither end alphanumeric: safe only when the range holds no letter (e.g. `!-/`, not ` -~`).
  return high < 'A' || (low > 'Z' && high < 'a') || low > 'z';
}

/**
 * A case-sensitive regex that, run on the case fold of a value (foldCase), matches exactly
 * when `(?i)<source>` does; undefined when the pattern is not of a shape this rewrite can
 * vouch for (then the caller keeps `(?i)`). re2js runs case-insensitive patterns several
 * times slower than plain ones, and a case-insensitive rule's subject is folded anyway.
 *
 * Why it holds: the fold of any value holds no upper-case ASCII letter, nor the two non-ASCII
 * members of an ASCII letter's simple-fold orbit (KELVIN SIGN folds to `k`, LONG S to `s`).
 * So in an ASCII pattern, a letter (inside or outside a class) matches the folded subject
 * exactly as its lower case does, and every other construct allowed here reads no case.
 */
export function foldedRegexSource(source: string): string | undefined {
  if (!isAscii(source)) return undefined;
  let out = '';
  let inClass = false;
  /** The last single character of the current class, which a `-` can start a range from. */
  let classAtom: string | undefined;
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    if (c === '\\') {
      const next = source[i + 1];
      if (next === undefined || (/[0-9A-Za-z]/.test(next) && !FOLD_SAFE_ESCAPES.has(next))) return undefined;
      // Inside a class, an escape that starts a range (`[\!-Z]`) is refused rather than decoded.
      if (inClass && source[i + 2] === '-' && source[i + 3] !== ']') return undefined;
      out += c + next;
      i++;
      classAtom = undefined;
      continue;
    }
    if (!inClass) {
      if (c === '(' && source[i + 1] === '?' && source[i + 2] !== ':') return undefined; // flags, named groups
      if (c === '[') {
        inClass = true;
        out += c;
        classAtom = undefined;
        // A `]` (after an optional `^`) at the start of a class is a member, not its end.
        if (source[i + 1] === '^') {
          out += '^';
          i++;
        }
        if (source[i + 1] === ']') {
          out += ']';
          i++;
          classAtom = ']';
        }
        continue;
      }
      out += isUpper(c) ? c.toLowerCase() : c;
      continue;
    }
    // Inside a class.
    if (c === ']') {
      inClass = false;
      out += c;
      continue;
    }
    if (c === '[' && source[i + 1] === ':') return undefined; // POSIX class ([:upper:])
    if (c === '-' && classAtom !== undefined && source[i + 1] !== undefined && source[i + 1] !== ']') {
      const high = source[i + 1] as string;
      if (high === '\\' || high === '[' || !foldSafeRange(classAtom, high)) return undefined;
      out += `-${high.toLowerCase()}`;
      i++;
      classAtom = undefined;
      continue;
    }
    out += isUpper(c) ? c.toLowerCase() : c;
    classAtom = c;
  }
  return out;
}

/**
 * MATCHES runs on re2js, a linear-time regular expression engine (RE2 semantics), so that no
 * pattern can hang a worker with catastrophic backtracking. RE2 syntax is PCRE without
 * backreferences, lookaround, possessive quantifiers, atomic groups, recursion and conditionals;
 * docs/regex.md lists the differences. A regex RE2 cannot take is a compile-time error that
 * names the construct.
 */
import { RE2JS } from 're2js';
import { isAscii } from './case-fold.js';

export interface CompiledRegex {
  test(text: string): boolean;
}

export type RegexCompileResult =
  { ok: true; regex: CompiledRegex } | { ok: false; message: string; unsupported: boolean };

const UNSUPPORTED_HINTS: [RegExp, string][] = [
  [/\(\?[=!]/, 'lookahead (?= …) / (?! …)'],
  [/\(\?<[=!]/, 'lookbehind (?<= …) / (?<! …)'],
  [/\\[1-9]/, 'backreference \\N'],
  [/\\k</, 'named backreference \\k<…>'],
  [/\(\?>/, 'atomic group (?> …)'],
  [/[*+?}]\+/, 'possessive quantifier'],
  [/\(\?R\)|\(\?\d+\)/, 'recursion (?R)'],
  [/\(\?\(/, 'conditional (?( … )'],
];

/**
 * A regex that says only "contains / starts with / ends with / is this literal" (a Sigma value
 * with a `_`, which LIKE cannot say, compiles to `(?s)^.*literal$`, or `(?i)(?s)^.*literal$`
 * in a rule that folds case): the string test it amounts to, or undefined for any other shape.
 * The literal is ASCII letters, digits, inert punctuation and escaped punctuation; `.*` counts
 * only under a leading `s` flag (else `.` stops at a line end), and `^`/`$` only as the first /
 * last construct (no `(?m)`: text anchors). Under a leading `i` flag the literal matches up to
 * case as re2js folds it (sameUpToCase).
 */
export function literalRegexTest(source: string): ((text: string) => boolean) | undefined {
  let body = source;
  let dotAll = false;
  let caseless = false;
  for (let flags = /^\(\?([is]+)\)/.exec(body); flags !== null; flags = /^\(\?([is]+)\)/.exec(body)) {
    const set = flags[1] as string;
    dotAll ||= set.includes('s');
    caseless ||= set.includes('i');
    body = body.slice(flags[0].length);
  }
  let start = false;
  let end = false;
  if (body.startsWith('^')) {
    start = true;
    body = body.slice(1);
    if (dotAll && body.startsWith('.*')) {
      start = false;
      body = body.slice(2);
    }
  }
  if (body.endsWith('$') && !body.endsWith('\\$')) {
    end = true;
    body = body.slice(0, -1);
    if (dotAll && body.endsWith('.*') && !body.endsWith('\\.*')) {
      end = false;
      body = body.slice(0, -2);
    }
  }
  let literal = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '\\') {
      const e = body[i + 1];
      if (e === undefined || !/[.\\/+*?()[\]{}|^$-]/.test(e)) return undefined;
      literal += e;
      i++;
    } else if (/[A-Za-z0-9 _\-,'"/:;<>=!@#%&~`]/.test(c)) literal += c;
    else return undefined;
  }
  if (literal.length === 0) return undefined;
  if (caseless && /[A-Za-z]/.test(literal)) return caselessLiteralTest(literal.toLowerCase(), start, end);
  if (start && end) return (text) => text === literal;
  if (start) return (text) => text.startsWith(literal);
  if (end) return (text) => text.endsWith(literal);
  return (text) => text.includes(literal);
}

/**
 * Does `text` hold the lower-case ASCII literal `lower` at `at`, up to case as re2js's `(?i)`
 * sees it (simple case folding)? An ASCII letter's orbit is its two cases, and for k and s
 * also KELVIN SIGN (U+212A) and LATIN SMALL LETTER LONG S (U+017F); nothing else matches an
 * ASCII character.
 */
function sameUpToCase(text: string, at: number, lower: string): boolean {
  for (let j = 0; j < lower.length; j++) {
    const c = text.charCodeAt(at + j);
    const l = lower.charCodeAt(j);
    if (c === l || (c >= 0x41 && c <= 0x5a && c + 0x20 === l)) continue;
    if ((c === 0x212a && l === 0x6b) || (c === 0x17f && l === 0x73)) continue;
    return false;
  }
  return true;
}

function caselessLiteralTest(lower: string, start: boolean, end: boolean): (text: string) => boolean {
  const n = lower.length;
  if (start && end) return (text) => text.length === n && sameUpToCase(text, 0, lower);
  if (start) return (text) => text.length >= n && sameUpToCase(text, 0, lower);
  if (end) return (text) => text.length >= n && sameUpToCase(text, text.length - n, lower);
  return (text) => {
    // An ASCII text's ASCII lower case is its fold: one native search. Otherwise each place
    // is tried (a value is at most MAX_SEARCHED_LENGTH long, a literal a few dozen characters).
    if (isAscii(text)) return text.toLowerCase().includes(lower);
    for (let at = 0; at + n <= text.length; at++) if (sameUpToCase(text, at, lower)) return true;
    return false;
  };
}

/** A literal every match of a regex contains, and whether it holds only up to case. */
export interface RequiredLiteral {
  literal: string;
  /** The regex has an `i` flag at the top level (`(?i)`): a match contains the literal up to case. */
  caseInsensitive: boolean;
}

/**
 * The longest literal that every string matched by the regex contains, read conservatively:
 * no alternation at the top level (one inside a group skips the group), only runs of plain
 * characters at the top level count. Groups, classes, escapes other than escaped punctuation,
 * and quantifier bodies break a run and are skipped whole; a character made optional by `?`,
 * `*` or `{0,…}` is dropped from it. Undefined when there is none (or a `(?-i` turns folding
 * off partway).
 */
export function requiredLiteral(source: string): RequiredLiteral | undefined {
  let caseInsensitive = false;
  let best = '';
  let run = '';
  const end = (): void => {
    if (run.length > best.length) best = run;
    run = '';
  };
  /** Index just past the construct that starts at i (a group, class or quantifier body). */
  const skipBalanced = (i: number, open: string, close: string): number => {
    let depth = 0;
    for (let k = i; k < source.length; k++) {
      const ch = source[k];
      if (ch === '\\') k++;
      else if (open === '(' && ch === '[') k = skipBalanced(k, '[', ']') - 1;
      else if (ch === open && (open !== '[' || depth === 0)) depth++;
      else if (ch === close && --depth === 0) return k + 1;
    }
    return source.length;
  };
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    let literal: string | undefined;
    let next = i + 1;
    if (c === '\\') {
      const e = source[i + 1];
      if (e !== undefined && /[.\\/+*?()[\]{}|^$\-#&~ ]/.test(e)) {
        literal = e;
        next = i + 2;
      } else {
        // \d \w \s \b, \xHH, \x{…}, \p{…}, \Q…\E, octal: not a plain character.
        next = i + 2;
        if ((e === 'x' || e === 'p' || e === 'P') && source[i + 2] === '{') next = skipBalanced(i + 2, '{', '}');
        else if (e === 'x') next = i + 4;
        else if (e === 'p' || e === 'P') next = i + 3;
        else if (e === 'Q') next = source.includes('\\E', i) ? source.indexOf('\\E', i) + 2 : source.length;
      }
    } else if (c === '(') {
      next = skipBalanced(i, '(', ')');
      // `(?i)` (flags for the rest): what follows matches up to case. `(?i:…)` is a group, skipped.
      if (/^\(\?[a-zA-Z]*i[a-zA-Z]*\)$/.test(source.slice(i, next))) caseInsensitive = true;
      else if (/^\(\?[a-zA-Z]*-[a-zA-Z]*i/.test(source.slice(i, next))) return undefined;
    } else if (c === '[') {
      next = skipBalanced(i, '[', ']');
    } else if (c === '{') {
      next = skipBalanced(i, '{', '}');
    } else if (c === '|') {
      return undefined; // an alternative need not contain the literal
    } else if (!'.)]}*+?^$'.includes(c)) {
      // An astral character is one atom of two code units: a quantifier after it applies to both.
      const low = source.charCodeAt(i + 1);
      if (c >= '\ud800' && c <= '\udbff' && low >= 0xdc00 && low <= 0xdfff) {
        literal = source.slice(i, i + 2);
        next = i + 2;
      } else literal = c;
    }
    if (literal === undefined) {
      end();
      i = next;
      continue;
    }
    const following = source[next];
    if (following === '?' || following === '*' || (following === '{' && /^\{0[,}]/.test(source.slice(next)))) {
      end();
      i = next;
      continue;
    }
    run += literal;
    if (following === '+' || following === '{') end();
    i = next;
  }
  end();
  return best.length > 0 ? { literal: best, caseInsensitive } : undefined;
}

/** ASCII with no letter: text that matches itself only, with or without `(?i)`. */
function isCaselessAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i) | 0x20;
    if (text.charCodeAt(i) > 0x7f || (c >= 0x61 && c <= 0x7a)) return false;
  }
  return true;
}

export function compileRegex(source: string): RegexCompileResult {
  const literal = literalRegexTest(source);
  if (literal !== undefined) return { ok: true, regex: { test: literal } };
  try {
    const re = RE2JS.compile(source);
    // A string search for the literal every match holds rules most values out before re2js
    // runs (SigmaHQ's obfuscation regexes need a backtick or a quote, most command lines have
    // neither). One that holds only up to case is searched for only when it has no letter:
    // ASCII digits and punctuation have no other case (`${` under `(?i)`).
    const needed = requiredLiteral(source);
    const literal =
      needed !== undefined && (!needed.caseInsensitive || isCaselessAscii(needed.literal)) ? needed.literal : undefined;
    const test =
      literal === undefined
        ? (text: string) => re.matcher(text).find()
        : (text: string) => text.includes(literal) && re.matcher(text).find();
    return { ok: true, regex: { test } };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    const construct = UNSUPPORTED_HINTS.find(([probe]) => probe.test(source))?.[1];
    if (construct) {
      return {
        ok: false,
        unsupported: true,
        message: `regex uses ${construct}, which the linear-time engine (RE2 syntax) does not support: ${detail}`,
      };
    }
    return { ok: false, unsupported: false, message: `invalid regex: ${detail}` };
  }
}

/**
 * The shape of a LIKE pattern: a literal it equals, starts with, ends with or contains (with no
 * other wildcard), or none of these (`regex`).
 */
export type LikeShape = { kind: 'exact' | 'prefix' | 'suffix' | 'contains'; literal: string } | { kind: 'regex' };

export function likeShape(like: string): LikeShape {
  const wildcard = /[%_]/;
  if (!wildcard.test(like)) return { kind: 'exact', literal: like };
  if (like.endsWith('%') && !wildcard.test(like.slice(0, -1))) return { kind: 'prefix', literal: like.slice(0, -1) };
  if (like.startsWith('%') && !wildcard.test(like.slice(1))) return { kind: 'suffix', literal: like.slice(1) };
  const inner = like.slice(1, -1);
  if (like.length >= 2 && like.startsWith('%') && like.endsWith('%') && !wildcard.test(inner))
    return { kind: 'contains', literal: inner };
  return { kind: 'regex' };
}

/** Compiles a LIKE pattern (`%` any run, `_` one character, anchored) to a tester. */
export function compileLike(like: string): (text: string) => boolean {
  // The common shapes never need a regex: 'abc', 'abc%', '%abc', '%abc%'.
  const shape = likeShape(like);
  if (shape.kind !== 'regex') {
    const literal = shape.literal;
    if (shape.kind === 'exact') return (text) => text === literal;
    if (shape.kind === 'prefix') return (text) => text.startsWith(literal);
    if (shape.kind === 'suffix') return (text) => text.endsWith(literal);
    return (text) => text.includes(literal);
  }
  let source = '(?s)^';
  for (const ch of like) {
    if (ch === '%') source += '.*';
    else if (ch === '_') source += '.';
    else source += RE2JS.quote(ch);
  }
  source += '$';
  const re = RE2JS.compile(source);
  return (text) => re.matcher(text).matches();
}

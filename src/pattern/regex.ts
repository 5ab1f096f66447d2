/**
 * MATCHES runs on re2js, a linear-time regular expression engine (RE2 semantics), so that no
 * pattern can hang a worker with catastrophic backtracking. RE2 syntax is PCRE without
 * backreferences, lookaround, possessive quantifiers, atomic groups, recursion and conditionals;
 * docs/regex.md lists the differences. A regex RE2 cannot take is a compile-time error that
 * names the construct.
 */
import { RE2JS } from 're2js';

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
 * with a `_`, which LIKE cannot say, compiles to `(?s)^.*literal$`): the string test it
 * amounts to, or undefined for any other shape. The literal is ASCII letters, digits, inert
 * punctuation and escaped punctuation; `.*` counts only under a leading `(?s)` (else `.` stops
 * at a line end), and `^`/`$` only as the first / last construct (no `(?m)`: text anchors).
 */
export function literalRegexTest(source: string): ((text: string) => boolean) | undefined {
  let body = source;
  const dotAll = body.startsWith('(?s)');
  if (dotAll) body = body.slice(4);
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
  if (start && end) return (text) => text === literal;
  if (start) return (text) => text.startsWith(literal);
  if (end) return (text) => text.endsWith(literal);
  return (text) => text.includes(literal);
}

export function compileRegex(source: string): RegexCompileResult {
  const literal = literalRegexTest(source);
  if (literal !== undefined) return { ok: true, regex: { test: literal } };
  try {
    const re = RE2JS.compile(source);
    return { ok: true, regex: { test: (text: string) => re.matcher(text).find() } };
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

/** Compiles a LIKE pattern (`%` any run, `_` one character, anchored) to a tester. */
export function compileLike(like: string): (text: string) => boolean {
  const wildcard = /[%_]/;
  if (!wildcard.test(like)) return (text) => text === like;
  const inner = like.slice(1, -1);
  // The common shapes never need a regex: 'abc%', '%abc', '%abc%'.
  if (like.endsWith('%') && !wildcard.test(like.slice(0, -1))) {
    const prefix = like.slice(0, -1);
    return (text) => text.startsWith(prefix);
  }
  if (like.startsWith('%') && !wildcard.test(like.slice(1))) {
    const suffix = like.slice(1);
    return (text) => text.endsWith(suffix);
  }
  if (like.length >= 2 && like.startsWith('%') && like.endsWith('%') && !wildcard.test(inner)) {
    return (text) => text.includes(inner);
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

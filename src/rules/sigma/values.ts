/**
 * Sigma values: the wildcard strings of the Sigma specification v2 (`*` any run, `?` one
 * character, backslash escapes) and the value modifiers that rewrite them (`contains`, `base64`,
 * `windash`, …), as lists of alternatives the compiler turns into STIX comparisons.
 */

/** A Sigma string: literal text and wildcards, in order. */
export type SigmaPart = { text: string } | { wildcard: '*' | '?' };
export type SigmaString = readonly SigmaPart[];

const ESCAPABLE = new Set(['*', '?', '\\']);

/**
 * Parses a Sigma string value: `*` and `?` are wildcards; a backslash before `*`, `?` or a
 * backslash makes that character literal; any other backslash is itself (`C:\Windows` is as
 * written, as pySigma reads it).
 */
export function parseSigmaString(value: string): SigmaString {
  const parts: SigmaPart[] = [];
  let text = '';
  let escaped = false;
  const flush = (): void => {
    if (text) parts.push({ text });
    text = '';
  };
  for (const ch of value) {
    if (escaped) {
      text += ESCAPABLE.has(ch) ? ch : `\\${ch}`;
      escaped = false;
    } else if (ch === '\\') escaped = true;
    else if (ch === '*' || ch === '?') {
      flush();
      parts.push({ wildcard: ch });
    } else text += ch;
  }
  if (escaped) text += '\\';
  flush();
  return parts;
}

/** A string with no wildcards: its text; undefined when it has wildcards. */
export function plainText(value: SigmaString): string | undefined {
  let out = '';
  for (const part of value) {
    if ('wildcard' in part) return undefined;
    out += part.text;
  }
  return out;
}

export function hasWildcards(value: SigmaString): boolean {
  return value.some((part) => 'wildcard' in part);
}

const ANY: SigmaPart = { wildcard: '*' };

/** `contains` / `startswith` / `endswith`: the value with `*` on the open sides (not doubled). */
export function anchorValue(value: SigmaString, kind: 'contains' | 'startswith' | 'endswith'): SigmaString {
  const out = [...value];
  const startsAny = out.length > 0 && 'wildcard' in out[0]! && out[0].wildcard === '*';
  const last = out[out.length - 1];
  const endsAny = last !== undefined && 'wildcard' in last && last.wildcard === '*';
  if (kind !== 'startswith' && !startsAny) out.unshift(ANY);
  if (kind !== 'endswith' && !endsAny) out.push(ANY);
  return out;
}

// ---------------------------------------------------------------- encodings

/** Bytes carried as a string of code units below 256 (one per byte). */
export type ByteString = string & { readonly __bytes: unique symbol };

export function utf8Bytes(text: string): ByteString {
  return Buffer.from(text, 'utf8').toString('latin1') as ByteString;
}

export function utf16Bytes(text: string, order: 'le' | 'be', bom: boolean): ByteString {
  let out = bom ? (order === 'le' ? '\xff\xfe' : '\xfe\xff') : '';
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const low = String.fromCharCode(unit & 0xff);
    const high = String.fromCharCode(unit >> 8);
    out += order === 'le' ? low + high : high + low;
  }
  return out as ByteString;
}

export function base64(bytes: ByteString): string {
  return Buffer.from(bytes, 'latin1').toString('base64');
}

/**
 * The three base64 forms of `bytes` as they appear inside a longer base64 text, whatever the
 * offset of the bytes in the encoded data (modulo 3): each encoding of the bytes shifted by
 * 0, 1, 2 bytes, with the characters that depend on the unknown neighbours cut off. This is
 * pySigma's algorithm, so that rules match what they match elsewhere.
 */
export function base64Offsets(bytes: ByteString): string[] {
  const starts = [0, 2, 3];
  const ends = [undefined, -3, -2];
  const out: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = base64((' '.repeat(shift) + bytes) as ByteString);
    out.push(encoded.slice(starts[shift], ends[(bytes.length + shift) % 3]));
  }
  return out;
}

// ---------------------------------------------------------------- windash

/** What `windash` lets a leading `-` or `/` of a command-line option be. */
export const WINDASH_CHARACTERS = ['-', '/', '\u2013', '\u2014', '\u2015'] as const;
/** More option dashes than this in one value would make too many alternatives to list. */
export const MAX_WINDASH_PLACES = 4;

const isWordChar = (ch: string | undefined): boolean => ch !== undefined && /\w/.test(ch);

/** The offsets of the option dashes in a literal text: `-` or `/` after no word character, before one. */
function windashPlaces(text: string): number[] {
  const places: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if ((ch === '-' || ch === '/') && !isWordChar(text[i - 1]) && isWordChar(text[i + 1])) places.push(i);
  }
  return places;
}

/**
 * `windash`: every way of writing the value's option dashes (`-`, `/`, en dash, em dash,
 * horizontal bar), as alternatives; undefined when there are more than MAX_WINDASH_PLACES.
 */
export function windashAlternatives(value: SigmaString): SigmaString[] | undefined {
  let alternatives: SigmaPart[][] = [[]];
  let places = 0;
  for (const part of value) {
    if ('wildcard' in part) {
      alternatives.forEach((alternative) => alternative.push(part));
      continue;
    }
    const dashes = windashPlaces(part.text);
    places += dashes.length;
    if (places > MAX_WINDASH_PLACES) return undefined;
    let texts = [''];
    let from = 0;
    for (const at of dashes) {
      const before = part.text.slice(from, at);
      texts = texts.flatMap((t) => WINDASH_CHARACTERS.map((dash) => t + before + dash));
      from = at + 1;
    }
    texts = texts.map((t) => t + part.text.slice(from));
    alternatives = alternatives.flatMap((alternative) =>
      texts.map((text) => [...alternative, ...(text ? [{ text }] : [])]),
    );
  }
  return alternatives;
}

// ---------------------------------------------------------------- to STIX operators

/** How a Sigma string compares in STIX: `=` when plain, LIKE for wildcards, MATCHES when LIKE cannot say it. */
export type StringTest =
  { operator: '='; value: string } | { operator: 'LIKE'; value: string } | { operator: 'MATCHES'; value: string };

const REGEX_SPECIAL = /[\\^$.|?*+()[\]{}]/g;

export function quoteRegex(text: string): string {
  return text.replace(REGEX_SPECIAL, '\\$&');
}

/**
 * The STIX comparison for a Sigma string. STIX LIKE has no escape character, so a value whose
 * literal text holds `%` or `_` (`%APPDATA%`, `__PSLockdownPolicy`) becomes an anchored regex,
 * which says exactly the same.
 */
export function stringTest(value: SigmaString): StringTest {
  const plain = plainText(value);
  if (plain !== undefined) return { operator: '=', value: plain };
  const literalLikeSymbol = value.some((part) => 'text' in part && /[%_]/.test(part.text));
  if (!literalLikeSymbol) {
    const like = value.map((part) => ('wildcard' in part ? (part.wildcard === '*' ? '%' : '_') : part.text)).join('');
    return { operator: 'LIKE', value: like };
  }
  const regex = value
    .map((part) => ('wildcard' in part ? (part.wildcard === '*' ? '.*' : '.') : quoteRegex(part.text)))
    .join('');
  return { operator: 'MATCHES', value: `(?s)^${regex}$` };
}

/** A direct matcher of Sigma wildcard strings (for tests and tools): does `text` match `value`? */
export function sigmaStringMatches(value: SigmaString, text: string, caseInsensitive: boolean): boolean {
  const fold = (s: string): string => (caseInsensitive ? s.toLowerCase() : s);
  const subject = [...fold(text)];
  const parts = value.flatMap((part): ({ ch: string } | { wildcard: '*' | '?' })[] =>
    'wildcard' in part ? [part] : [...fold(part.text)].map((ch) => ({ ch })),
  );
  // Classic dynamic programming over (pattern position, text position).
  let reachable = new Array<boolean>(subject.length + 1).fill(false);
  reachable[0] = true;
  for (const part of parts) {
    const next = new Array<boolean>(subject.length + 1).fill(false);
    for (let i = 0; i <= subject.length; i++) {
      if ('wildcard' in part && part.wildcard === '*') {
        if (reachable[i] || (i > 0 && next[i - 1])) next[i] = true;
      } else if (i > 0 && reachable[i - 1]) {
        next[i] = 'wildcard' in part || subject[i - 1] === part.ch;
      }
    }
    reachable = next;
  }
  return reachable[subject.length] === true;
}

/**
 * Strings that match a regular expression, for MATCHES constraints. Parses a practical subset
 * of RE2 syntax (literals, `.`, classes, `\d \w \s` and their negations, escapes, groups,
 * alternation, `* + ? {m,n}` with lazy forms, `^ $ \A \z`, inline flags) and generates strings
 * from it. Anything else (`\b`, `\p{…}`, `\Q…\E`, …) is reported as unsupported instead of
 * guessed. Callers verify every sample with the real matcher: a sample is only a candidate.
 */
import type { Prng } from './prng.js';

type Range = readonly [number, number];

export type RegexNode =
  | { k: 'lit'; cp: number }
  | { k: 'class'; ranges: Range[]; negated: boolean }
  | { k: 'any' }
  | { k: 'seq'; items: RegexNode[] }
  | { k: 'alt'; options: RegexNode[] }
  | { k: 'repeat'; node: RegexNode; min: number; max: number }
  | { k: 'bol' }
  | { k: 'eol' };

export type RegexParse = { ok: true; node: RegexNode } | { ok: false; reason: string };

const DIGIT: Range[] = [[48, 57]];
const WORD: Range[] = [[48, 57], [65, 90], [95, 95], [97, 122]];
const SPACE: Range[] = [[9, 10], [12, 13], [32, 32]];
const POSIX: Record<string, Range[]> = {
  alpha: [[65, 90], [97, 122]],
  digit: DIGIT,
  alnum: [[48, 57], [65, 90], [97, 122]],
  upper: [[65, 90]],
  lower: [[97, 122]],
  space: [[9, 13], [32, 32]],
  xdigit: [[48, 57], [65, 70], [97, 102]],
  word: WORD,
  punct: [[33, 47], [58, 64], [91, 96], [123, 126]],
  blank: [[9, 9], [32, 32]],
};

class Unsupported extends Error {}

class Parser {
  private i = 0;
  constructor(private readonly src: string) {}

  parse(): RegexNode {
    const node = this.alternation();
    if (this.i < this.src.length) throw new Unsupported(`unbalanced ')' at ${this.i}`);
    return node;
  }

  private peek(): string | undefined {
    return this.src[this.i];
  }

  private alternation(): RegexNode {
    const options = [this.sequence()];
    while (this.peek() === '|') {
      this.i++;
      options.push(this.sequence());
    }
    return options.length === 1 ? (options[0] as RegexNode) : { k: 'alt', options };
  }

  private sequence(): RegexNode {
    const items: RegexNode[] = [];
    while (this.i < this.src.length && this.peek() !== '|' && this.peek() !== ')') {
      const atom = this.atom();
      if (atom) items.push(this.quantified(atom));
    }
    return items.length === 1 ? (items[0] as RegexNode) : { k: 'seq', items };
  }

  private quantified(atom: RegexNode): RegexNode {
    for (;;) {
      const c = this.peek();
      let min: number;
      let max: number;
      if (c === '*') [min, max] = [0, Infinity];
      else if (c === '+') [min, max] = [1, Infinity];
      else if (c === '?') [min, max] = [0, 1];
      else if (c === '{') {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i));
        if (!m) return atom;
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
        this.i += m[0].length - 1;
      } else return atom;
      this.i++;
      if (this.peek() === '?') this.i++; // lazy: same language
      if (this.peek() === '+') throw new Unsupported('possessive quantifier');
      if (atom.k === 'bol' || atom.k === 'eol') throw new Unsupported('quantified anchor');
      atom = { k: 'repeat', node: atom, min, max };
    }
  }

  private atom(): RegexNode | undefined {
    const c = this.src.codePointAt(this.i) as number;
    const ch = String.fromCodePoint(c);
    this.i += ch.length;
    switch (ch) {
      case '.':
        return { k: 'any' };
      case '^':
        return { k: 'bol' };
      case '$':
        return { k: 'eol' };
      case '[':
        return this.charClass();
      case '(':
        return this.group();
      case '\\':
        return this.escape(false) as RegexNode;
      case '*':
      case '+':
      case '?':
        throw new Unsupported(`quantifier '${ch}' without an operand`);
      default:
        return { k: 'lit', cp: c };
    }
  }

  private group(): RegexNode | undefined {
    if (this.peek() === '?') {
      const rest = this.src.slice(this.i);
      const named = /^\?P?<[A-Za-z_][A-Za-z0-9_]*>/.exec(rest);
      if (named) this.i += named[0].length;
      else {
        const flags = /^\?([imsU]*)(?:-([imsU]*))?([:)])/.exec(rest);
        if (!flags) throw new Unsupported(`group construct (${rest.slice(0, 3)}`);
        this.i += flags[0].length;
        // Flags change case, multi-line and dot-all behaviour; samples stay within the
        // common language and the real matcher has the last word.
        if (flags[3] === ')') return undefined;
      }
    }
    const inner = this.alternation();
    if (this.peek() !== ')') throw new Unsupported('missing )');
    this.i++;
    return inner;
  }

  private escape(inClass: boolean): RegexNode | Range[] {
    const e = this.src[this.i++];
    if (e === undefined) throw new Unsupported('trailing backslash');
    const cls = (ranges: Range[], negated: boolean): RegexNode | Range[] => (inClass ? (negated ? complement(ranges) : ranges) : { k: 'class', ranges, negated });
    const lit = (cp: number): RegexNode | Range[] => (inClass ? [[cp, cp]] : { k: 'lit', cp });
    switch (e) {
      case 'd':
        return cls(DIGIT, false);
      case 'D':
        return cls(DIGIT, true);
      case 'w':
        return cls(WORD, false);
      case 'W':
        return cls(WORD, true);
      case 's':
        return cls(SPACE, false);
      case 'S':
        return cls(SPACE, true);
      case 't':
        return lit(9);
      case 'n':
        return lit(10);
      case 'r':
        return lit(13);
      case 'f':
        return lit(12);
      case 'v':
        return lit(11);
      case 'a':
        return lit(7);
      case 'x': {
        const m = /^(?:\{([0-9A-Fa-f]{1,6})\}|([0-9A-Fa-f]{2}))/.exec(this.src.slice(this.i));
        if (!m) throw new Unsupported('\\x escape');
        this.i += m[0].length;
        return lit(parseInt((m[1] ?? m[2]) as string, 16));
      }
      case 'A':
        if (inClass) throw new Unsupported('\\A in a class');
        return { k: 'bol' };
      case 'z':
        if (inClass) throw new Unsupported('\\z in a class');
        return { k: 'eol' };
      default:
        if (/[A-Za-z0-9]/.test(e)) throw new Unsupported(`escape \\${e}`);
        return lit(e.codePointAt(0) as number);
    }
  }

  private charClass(): RegexNode {
    let negated = false;
    if (this.peek() === '^') {
      negated = true;
      this.i++;
    }
    const ranges: Range[] = [];
    let first = true;
    for (;;) {
      if (this.i >= this.src.length) throw new Unsupported('missing ]');
      const c = this.peek() as string;
      if (c === ']' && !first) {
        this.i++;
        break;
      }
      first = false;
      const posix = /^\[:(\^?)([a-z]+):\]/.exec(this.src.slice(this.i));
      if (posix) {
        const set = POSIX[posix[2] as string];
        if (!set) throw new Unsupported(`POSIX class [:${posix[2]}:]`);
        ranges.push(...(posix[1] ? complement(set) : set));
        this.i += posix[0].length;
        continue;
      }
      const lo = this.classAtom();
      if (Array.isArray(lo) && lo.length !== 1) {
        ranges.push(...lo);
        continue;
      }
      const loCp = (lo as Range[])[0]?.[0] as number;
      if (this.peek() === '-' && this.src[this.i + 1] !== ']' && this.i + 1 < this.src.length) {
        this.i++;
        const hi = this.classAtom();
        if (hi.length !== 1 || (hi[0] as Range)[0] !== (hi[0] as Range)[1]) throw new Unsupported('class range bound');
        const hiCp = (hi[0] as Range)[0];
        if (hiCp < loCp) throw new Unsupported('reversed class range');
        ranges.push([loCp, hiCp]);
      } else ranges.push(...(lo as Range[]));
    }
    return { k: 'class', ranges, negated };
  }

  private classAtom(): Range[] {
    const c = this.src.codePointAt(this.i) as number;
    const ch = String.fromCodePoint(c);
    this.i += ch.length;
    if (ch === '\\') {
      const r = this.escape(true);
      if (!Array.isArray(r)) throw new Unsupported('escape in a class');
      return r as Range[];
    }
    return [[c, c]];
  }
}

function complement(ranges: Range[]): Range[] {
  const sorted = ranges.slice().sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= 0x10ffff) out.push([next, 0x10ffff]);
  return out;
}

export function parseRegex(source: string): RegexParse {
  try {
    return { ok: true, node: new Parser(source).parse() };
  } catch (error) {
    if (error instanceof Unsupported) return { ok: false, reason: error.message };
    throw error;
  }
}

/** What `.` matches without the `s` flag. */
const NOT_NEWLINE = { ranges: [[10, 10] as Range], negated: true };

/** Characters preferred for `.` and wide classes: readable ASCII. */
const POOL = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-. /:\\';

function inRanges(cp: number, ranges: Range[]): boolean {
  for (const [lo, hi] of ranges) if (cp >= lo && cp <= hi) return true;
  return false;
}

function pickClass(node: { ranges: Range[]; negated: boolean }, prng: Prng): string | undefined {
  const fits = (cp: number): boolean => inRanges(cp, node.ranges) !== node.negated;
  // Prefer readable characters; start at a random place in the pool for variety.
  const offset = prng.int(0, POOL.length - 1);
  for (let j = 0; j < POOL.length; j++) {
    const cp = POOL.charCodeAt((offset + j) % POOL.length);
    if (fits(cp)) return String.fromCharCode(cp);
  }
  for (let cp = 0x20; cp < 0x7f; cp++) if (fits(cp)) return String.fromCharCode(cp);
  if (!node.negated) {
    const r = prng.pick(node.ranges);
    if (r) return String.fromCodePoint(prng.int(r[0], Math.min(r[1], r[0] + 64)));
  }
  for (let cp = 0x80; cp < 0x3000; cp++) if (fits(cp)) return String.fromCodePoint(cp);
  return undefined;
}

/** One random string of the regex's language (ignoring anchors, which callers verify). */
export function sampleRegex(node: RegexNode, prng: Prng, filler?: () => string): string {
  switch (node.k) {
    case 'lit':
      return String.fromCodePoint(node.cp);
    case 'any':
      // `.` is exactly one character (a filler word here would shift everything after it).
      return pickClass(NOT_NEWLINE, prng) ?? 'x';
    case 'class':
      return pickClass(node, prng) ?? '';
    case 'seq':
      return node.items.map((n) => sampleRegex(n, prng, filler)).join('');
    case 'alt':
      return sampleRegex(prng.pick(node.options), prng, filler);
    case 'repeat': {
      const max = Math.min(node.max, node.min + 3);
      const n = prng.int(node.min, max);
      let s = '';
      // `.*` and `.+` gaps read better as a word than as random characters; a word shorter
      // than the minimum (`.{5,}`) is made up to it one character at a time.
      if (node.node.k === 'any' && filler && n > 0 && node.max === Infinity) {
        let word = filler().replace(/\n/g, ' ') || 'x';
        for (let length = [...word].length; length < node.min; length++) word += pickClass(NOT_NEWLINE, prng) ?? 'x';
        return word;
      }
      for (let j = 0; j < n; j++) s += sampleRegex(node.node, prng, filler);
      return s;
    }
    case 'bol':
    case 'eol':
      return '';
  }
}

/** Is the regex anchored at the start / end (so that no padding may be added there)? */
export function anchors(node: RegexNode): { start: boolean; end: boolean } {
  const first = (n: RegexNode): boolean => (n.k === 'bol' ? true : n.k === 'seq' ? n.items.length > 0 && first(n.items[0] as RegexNode) : n.k === 'alt' ? n.options.every(first) : false);
  const last = (n: RegexNode): boolean => (n.k === 'eol' ? true : n.k === 'seq' ? n.items.length > 0 && last(n.items[n.items.length - 1] as RegexNode) : n.k === 'alt' ? n.options.every(last) : false);
  return { start: first(node), end: last(node) };
}

/**
 * Strings that match a regular expression, for MATCHES constraints. Parses a practical subset
 * of RE2 syntax (literals, `.`, classes, `\d \w \s` and their negations, escapes, groups,
 * alternation, `* + ? {m,n}` with lazy forms, `^ $ \A \z`, inline flags) and generates strings
 * from it. Anything else (`\b`, `\p{…}`, `\Q…\E`, …) is reported as unsupported instead of
 * guessed. Callers verify every sample with the real matcher: a sample is only a candidate.
 */
import { StixflowBaseError } from '../errors.js';
import type { Prng } from './prng.js';

type Range = readonly [number, number];

export type RegexNode =
  | { k: 'lit'; cp: number }
  | { k: 'class'; ranges: Range[]; negated: boolean }
  | { k: 'any' }
  | { k: 'seq'; items: RegexNode[] }
  | { k: 'alt'; options: RegexNode[] }
  | { k: 'repeat'; node: RegexNode; min: number; max: number }
  /** `^` (`text: false`) or `\A` (`text: true`, the start of the text even with `(?m)`); `at` is its offset in the source. */
  | { k: 'bol'; text: boolean; at: number }
  /** `$` or `\z` (the end of the text even with `(?m)`). */
  | { k: 'eol'; text: boolean; at: number };

export type RegexParse = { ok: true; node: RegexNode; flags: ReadonlySet<string> } | { ok: false; reason: string };

const DIGIT: Range[] = [[48, 57]];
const WORD: Range[] = [
  [48, 57],
  [65, 90],
  [95, 95],
  [97, 122],
];
const SPACE: Range[] = [
  [9, 10],
  [12, 13],
  [32, 32],
];
const POSIX: Record<string, Range[]> = {
  alpha: [
    [65, 90],
    [97, 122],
  ],
  digit: DIGIT,
  alnum: [
    [48, 57],
    [65, 90],
    [97, 122],
  ],
  upper: [[65, 90]],
  lower: [[97, 122]],
  space: [
    [9, 13],
    [32, 32],
  ],
  xdigit: [
    [48, 57],
    [65, 70],
    [97, 102],
  ],
  word: WORD,
  punct: [
    [33, 47],
    [58, 64],
    [91, 96],
    [123, 126],
  ],
  blank: [
    [9, 9],
    [32, 32],
  ],
};

class Unsupported extends StixflowBaseError {}

class Parser {
  private i = 0;
  /** Every flag letter an inline flag group mentions, set or cleared, anywhere in the regex. */
  readonly flags = new Set<string>();
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
    const first = this.sequence();
    const options = [first];
    while (this.peek() === '|') {
      this.i++;
      options.push(this.sequence());
    }
    return options.length === 1 ? first : { k: 'alt', options };
  }

  private sequence(): RegexNode {
    const items: RegexNode[] = [];
    while (this.i < this.src.length && this.peek() !== '|' && this.peek() !== ')') {
      const atom = this.atom();
      if (atom) items.push(this.quantified(atom));
    }
    const [only] = items;
    return items.length === 1 && only !== undefined ? only : { k: 'seq', items };
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
        return { k: 'bol', text: false, at: this.i - 1 };
      case '$':
        return { k: 'eol', text: false, at: this.i - 1 };
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
        for (const f of `${flags[1] ?? ''}${flags[2] ?? ''}`) this.flags.add(f);
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
    const cls = (ranges: Range[], negated: boolean): RegexNode | Range[] =>
      inClass ? (negated ? complement(ranges) : ranges) : { k: 'class', ranges, negated };
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
        return { k: 'bol', text: true, at: this.i - 2 };
      case 'z':
        if (inClass) throw new Unsupported('\\z in a class');
        return { k: 'eol', text: true, at: this.i - 2 };
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
        const [bound] = hi;
        if (hi.length !== 1 || bound === undefined || bound[0] !== bound[1]) throw new Unsupported('class range bound');
        const hiCp = bound[0];
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
    const parser = new Parser(source);
    const node = parser.parse();
    return { ok: true, node, flags: parser.flags };
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
  const first = (n: RegexNode): boolean =>
    n.k === 'bol'
      ? true
      : n.k === 'seq'
        ? n.items.length > 0 && first(n.items[0] as RegexNode)
        : n.k === 'alt'
          ? n.options.every(first)
          : false;
  const last = (n: RegexNode): boolean =>
    n.k === 'eol'
      ? true
      : n.k === 'seq'
        ? n.items.length > 0 && last(n.items[n.items.length - 1] as RegexNode)
        : n.k === 'alt'
          ? n.options.every(last)
          : false;
  return { start: first(node), end: last(node) };
}

// ---------------------------------------------------------------------------------------------
// Regexes that can never match

/*
 * A sound check that a regex matches no string at all: where an anchor can never hold (`a^`,
 * `$b`, `x\Ay`) or a class matches no character. The search is unanchored, so what comes
 * before and after a match is free. Matching is abstracted to the few facts anchors read: what
 * precedes the current position (the start of the text, a line break, another character) and
 * what an anchor passed since the last character demands of what follows (nothing, the end of
 * the text, the end or a line break). Every real match maps onto a run of these abstract
 * states, so when no state survives the whole regex, no match exists. The converse is not
 * claimed: a regex found matchable here may still be empty for reasons the abstraction does not
 * see (the generator then reports it as unsupported, never as unsatisfiable).
 */

const BEFORE_TEXT = 0;
const AFTER_NEWLINE = 1;
const AFTER_OTHER = 2;
const FREE = 0;
const AT_END = 1;
const AT_END_OR_NEWLINE = 2;

const bit = (before: number, next: number): number => 1 << (before * 3 + next);
const has = (mask: number, before: number, next: number): boolean => (mask & bit(before, next)) !== 0;

interface EmptinessContext {
  /** `(?m)` anywhere: `^` and `$` may also hold at line breaks. */
  multiLine: boolean;
  /** `(?s)` anywhere: `.` may also match a line break. */
  dotNewline: boolean;
  /** The last `$` / `\z` passed, to name it when the character after it can never come. */
  lastEnd?: Extract<RegexNode, { k: 'eol' }>;
  /** What first stopped every state reaching it: an anchor, or a class that matches nothing. */
  blocked?: Extract<RegexNode, { k: 'bol' | 'eol' }> | 'empty-class';
}

/** Which characters of the two kinds the anchors care about a character node can consume. */
function consumes(
  node: Extract<RegexNode, { k: 'lit' | 'class' | 'any' }>,
  ctx: EmptinessContext,
): { newline: boolean; other: boolean } {
  if (node.k === 'lit') return { newline: node.cp === 10, other: node.cp !== 10 };
  if (node.k === 'any') return { newline: ctx.dotNewline, other: true };
  const fits = (cp: number): boolean => inRanges(cp, node.ranges) !== node.negated;
  // Case folding (`(?i)`) only adds characters to a class, so this stays a lower bound of
  // what a plain class holds and an upper bound of what a negated one misses: sound both ways.
  const other = node.negated
    ? complement(node.ranges).some(([lo, hi]) => lo !== 10 || hi !== 10)
    : node.ranges.some(([lo, hi]) => lo !== 10 || hi !== 10);
  return { newline: fits(10), other };
}

function step(node: RegexNode, mask: number, ctx: EmptinessContext): number {
  if (mask === 0) return 0;
  switch (node.k) {
    case 'lit':
    case 'class':
    case 'any': {
      const { newline, other } = consumes(node, ctx);
      let out = 0;
      for (let before = 0; before < 3; before++) {
        // After `$` (no `(?m)`) or `\z` nothing more can be consumed; after `$` with `(?m)` only a line break.
        if (has(mask, before, FREE)) {
          if (newline) out |= bit(AFTER_NEWLINE, FREE);
          if (other) out |= bit(AFTER_OTHER, FREE);
        }
        if (has(mask, before, AT_END_OR_NEWLINE) && newline) out |= bit(AFTER_NEWLINE, FREE);
      }
      if (out === 0) ctx.blocked ??= !newline && !other ? 'empty-class' : ctx.lastEnd;
      return out;
    }
    case 'bol': {
      const lineStart = ctx.multiLine && !node.text;
      let out = 0;
      for (let next = 0; next < 3; next++) {
        out |= mask & bit(BEFORE_TEXT, next);
        if (lineStart) out |= mask & bit(AFTER_NEWLINE, next);
      }
      if (out === 0) ctx.blocked ??= node;
      return out;
    }
    case 'eol': {
      ctx.lastEnd = node;
      const lineEnd = ctx.multiLine && !node.text;
      let out = 0;
      for (let before = 0; before < 3; before++) {
        if (
          has(mask, before, AT_END) ||
          (!lineEnd && (has(mask, before, FREE) || has(mask, before, AT_END_OR_NEWLINE)))
        )
          out |= bit(before, AT_END);
        if (lineEnd && has(mask, before, FREE)) out |= bit(before, AT_END_OR_NEWLINE);
        if (lineEnd && has(mask, before, AT_END_OR_NEWLINE)) out |= bit(before, AT_END_OR_NEWLINE);
      }
      return out;
    }
    case 'seq':
      return node.items.reduce((m, item) => step(item, m, ctx), mask);
    case 'alt':
      return node.options.reduce((out, option) => out | step(option, mask, ctx), 0);
    case 'repeat': {
      // The state set after k repetitions, for k from min to max: a union over a finite lattice
      // (nine states), so it is stable after a few rounds whatever the bound.
      let current = mask;
      for (let k = 0; k < node.min && current !== 0; k++) {
        const next = step(node.node, current, ctx);
        if (next === current) break;
        current = next;
      }
      let union = current;
      for (let k = node.min; k < node.max; k++) {
        const next = union | step(node.node, union, ctx);
        if (next === union) break;
        union = next;
      }
      return union;
    }
  }
}

/**
 * Why the regex can never match any string, or undefined when it may (or when it uses
 * constructs the parser does not read, which are then given the benefit of the doubt).
 */
export function neverMatches(source: string): string | undefined {
  const parsed = parseRegex(source);
  if (!parsed.ok) return undefined;
  const ctx: EmptinessContext = { multiLine: parsed.flags.has('m'), dotNewline: parsed.flags.has('s') };
  const start = bit(BEFORE_TEXT, FREE) | bit(AFTER_NEWLINE, FREE) | bit(AFTER_OTHER, FREE);
  if (step(parsed.node, start, ctx) !== 0) return undefined;
  const anchor = ctx.blocked;
  if (anchor === undefined || anchor === 'empty-class') return 'a character class in it matches no character';
  const name = source.slice(anchor.at, anchor.at + (anchor.text ? 2 : 1));
  const where =
    anchor.k === 'bol'
      ? anchor.text || !ctx.multiLine
        ? 'holds only at the start of the text'
        : 'holds only at the start of the text or of a line'
      : anchor.text || !ctx.multiLine
        ? 'holds only at the end of the text'
        : 'holds only at the end of the text or of a line';
  return `${name} at offset ${anchor.at} ${where}, which the rest of the regex rules out`;
}

/**
 * Many LIKE patterns tested on one text at once: does some pattern of a list match? A Sigma
 * `contains`, `startswith` or `endswith` list compiles to an OR of LIKEs on one path (a few
 * rules list hundreds), and testing them one after another searched the text once per pattern.
 * Here the patterns of the common shapes share one pass each:
 * - `abc` (no wildcard): one set lookup;
 * - `abc%`: a trie of the prefixes, walked from the start of the text;
 * - `%abc`: a trie of the reversed suffixes, walked from its end;
 * - `%abc%`: an Aho–Corasick automaton of the literals, one step per code unit of the text;
 * - any other shape: its own matcher (./regex.ts compileLike), one after another.
 * Each pass is linear in the text. The answer is the OR of compileLike's, pattern by pattern
 * (test/pattern/like-set.test.ts checks it on seeded random lists and texts).
 */
import { compileLike, likeShape } from './regex.js';

/** A shape's literals are put in an automaton from this many on; fewer are tested one by one. */
export const AUTOMATON_MIN = 3;
/** An automaton's transition table holds at most this many entries (states × character classes). */
const MAX_TABLE = 1 << 18;

/**
 * The code units of a set of literals, numbered 1 … size - 1 (0: a code unit none of them has):
 * the columns of the automata's transition tables.
 */
class Alphabet {
  private readonly ascii = new Uint16Array(128);
  private readonly other = new Map<number, number>();
  size = 1;

  constructor(literals: readonly string[]) {
    for (const literal of literals)
      for (let i = 0; i < literal.length; i++) {
        const c = literal.charCodeAt(i);
        if (c < 128) {
          if (this.ascii[c] === 0) this.ascii[c] = this.size++;
        } else if (!this.other.has(c)) this.other.set(c, this.size++);
      }
  }

  classOf(c: number): number {
    return c < 128 ? (this.ascii[c] as number) : (this.other.get(c) ?? 0);
  }
}

/**
 * A trie of literals over an alphabet's classes: `next[state * width + class]` is the child
 * (0: none, as the root is no one's child), `end[state]` says a literal ends there.
 */
interface Trie {
  alphabet: Alphabet;
  width: number;
  next: Int32Array;
  end: Uint8Array;
  states: number;
}

/** The trie of `literals` (each read backwards when `reversed`), or undefined when its table would be too large. */
function buildTrie(literals: readonly string[], reversed: boolean): Trie | undefined {
  const alphabet = new Alphabet(literals);
  const width = alphabet.size;
  let bound = 1;
  for (const literal of literals) bound += literal.length;
  if (bound * width > MAX_TABLE) return undefined;
  const next = new Int32Array(bound * width);
  const end = new Uint8Array(bound);
  let states = 1;
  for (const literal of literals) {
    let state = 0;
    for (let k = 0; k < literal.length; k++) {
      const c = literal.charCodeAt(reversed ? literal.length - 1 - k : k);
      const slot = state * width + alphabet.classOf(c);
      let child = next[slot] as number;
      if (child === 0) next[slot] = child = states++;
      state = child;
    }
    end[state] = 1;
  }
  return { alphabet, width, next, end, states };
}

/**
 * Does the text start with one of the trie's literals (`fromEnd`: end with one of the reversed
 * trie's)? A walk from that end of the text, as far as the trie has it.
 */
function walkTrie(trie: Trie, text: string, fromEnd: boolean): boolean {
  const { alphabet, width, next, end } = trie;
  const n = text.length;
  let state = 0;
  for (let k = 0; k < n; k++) {
    const cls = alphabet.classOf(text.charCodeAt(fromEnd ? n - 1 - k : k));
    if (cls === 0) return false;
    state = next[state * width + cls] as number;
    if (state === 0) return false;
    if (end[state] === 1) return true;
  }
  return false;
}

/**
 * The trie made an Aho–Corasick automaton, in place: every (state, class) gets its transition
 * (the longest literal prefix that the text read so far ends with), and `end` marks each state
 * whose text ends with some literal.
 */
function toAutomaton(trie: Trie): Trie {
  const { width, next, end } = trie;
  const fail = new Int32Array(trie.states);
  const queue: number[] = [];
  for (let cls = 1; cls < width; cls++) {
    const child = next[cls] as number;
    if (child !== 0) queue.push(child); // fail[child] = 0, the root
  }
  for (let q = 0; q < queue.length; q++) {
    const state = queue[q] as number;
    const back = fail[state] as number;
    if (end[back] === 1) end[state] = 1;
    for (let cls = 1; cls < width; cls++) {
      const slot = state * width + cls;
      const child = next[slot] as number;
      const fallback = next[back * width + cls] as number;
      if (child === 0) next[slot] = fallback;
      else {
        fail[child] = fallback;
        queue.push(child);
      }
    }
  }
  return trie;
}

/** Does the text contain one of the automaton's literals? */
function containsAny(automaton: Trie, text: string): boolean {
  const { alphabet, width, next, end } = automaton;
  let state = 0;
  for (let i = 0; i < text.length; i++) {
    const cls = alphabet.classOf(text.charCodeAt(i));
    state = cls === 0 ? 0 : (next[state * width + cls] as number);
    if (end[state] === 1) return true;
  }
  return false;
}

function hasNonAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return true;
  return false;
}

type TextTest = (text: string) => boolean;

/**
 * Literals of one shape tested one by one. A literal with a code unit above U+007F cannot be in
 * an all-ASCII text (SigmaHQ's emoji lists are hundreds of them): skipped on one.
 */
function oneByOne(literals: readonly string[], test: (text: string, literal: string) => boolean): TextTest {
  const ascii = literals.filter((l) => !hasNonAscii(l));
  const other = literals.filter(hasNonAscii);
  return (text) => {
    for (let i = 0; i < ascii.length; i++) if (test(text, ascii[i] as string)) return true;
    if (other.length === 0 || !hasNonAscii(text)) return false;
    for (let i = 0; i < other.length; i++) if (test(text, other[i] as string)) return true;
    return false;
  };
}

/** One shape's literals, through an automaton when there are enough of them and it is small enough. */
function shapeTest(
  literals: readonly string[],
  build: (literals: readonly string[]) => Trie | undefined,
  run: (automaton: Trie, text: string) => boolean,
  each: (text: string, literal: string) => boolean,
): TextTest | undefined {
  if (literals.length === 0) return undefined;
  if (literals.includes('')) return () => true;
  const automaton = literals.length >= AUTOMATON_MIN ? build(literals) : undefined;
  if (automaton !== undefined) return (text) => run(automaton, text);
  return oneByOne(literals, each);
}

/** A test of whether some pattern of `patterns` matches a text (each as compileLike would test it). */
export function compileLikeSet(patterns: readonly string[]): TextTest {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const suffixes: string[] = [];
  const infixes: string[] = [];
  const others: TextTest[] = [];
  for (const pattern of new Set(patterns)) {
    const shape = likeShape(pattern);
    if (shape.kind === 'exact') exact.add(shape.literal);
    else if (shape.kind === 'prefix') prefixes.push(shape.literal);
    else if (shape.kind === 'suffix') suffixes.push(shape.literal);
    else if (shape.kind === 'contains') infixes.push(shape.literal);
    else others.push(compileLike(pattern));
  }
  const tests: TextTest[] = [];
  if (exact.size > 0) tests.push((text) => exact.has(text));
  const prefix = shapeTest(
    prefixes,
    (l) => buildTrie(l, false),
    (trie, text) => walkTrie(trie, text, false),
    (t, l) => t.startsWith(l),
  );
  const suffix = shapeTest(
    suffixes,
    (l) => buildTrie(l, true),
    (trie, text) => walkTrie(trie, text, true),
    (t, l) => t.endsWith(l),
  );
  const infix = shapeTest(
    infixes,
    (l) => {
      const trie = buildTrie(l, false);
      return trie && toAutomaton(trie);
    },
    containsAny,
    (t, l) => t.includes(l),
  );
  for (const test of [prefix, suffix, infix]) if (test !== undefined) tests.push(test);
  tests.push(...others);
  if (tests.length === 0) return () => false;
  if (tests.length === 1) return tests[0] as TextTest;
  return (text) => {
    for (let i = 0; i < tests.length; i++) if ((tests[i] as TextTest)(text)) return true;
    return false;
  };
}

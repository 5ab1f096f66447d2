/**
 * The rule index: the cost of matching an event stays close to independent of the number of
 * rules and indicators. Every observation expression is filed under a necessary condition
 * derived from its comparisons:
 * - equality and IN comparisons → (object type, path, value) in a hash map;
 * - IPv4 ISSUBSET with a prefix of /8 or longer → (type, path, first octet) buckets;
 * - anything else → its root object type only (evaluated for every event with that type).
 * For an event, the index reads each indexed path of each object type present once, collects
 * the candidate expressions, and only those are evaluated in full. A candidate is a necessary
 * condition, never a sufficient one: the full predicate still decides.
 */
import {
  isComparisonJunction,
  junctionOperands,
  type ComparisonExpression,
  type ComparisonLeaf,
  type ObjectPath,
} from '../pattern/ast.js';
import { foldCase } from '../pattern/case-fold.js';
import { parseIPv4Fast, parseNetwork } from '../pattern/cidr.js';
import { compilePath } from '../pattern/evaluate.js';
import { pathTreeOf, type PathTable, type PathTree } from '../pattern/path-table.js';
import { requiredLiteral, type RequiredLiteral } from '../pattern/regex.js';
import type { PreparedObservation } from '../pattern/observation.js';
import { KeyTable } from './key-table.js';

/**
 * `folded`: the comparison folds case (a case-insensitive rule), so its constant is filed folded
 * and the event's values are folded before they are looked up in that condition's slot.
 */
type Condition =
  | { path: ObjectPath; folded: boolean; value: string | number | boolean }
  | { path: ObjectPath; folded: boolean; octet: number }
  | { path: ObjectPath; folded: boolean; substring: string };

/** Substring conditions are found through one trigram of the literal; shorter ones are not indexed. */
const MIN_LITERAL = 2;
/** Literals of this length and more are found through a trigram; shorter ones through their pair of code units. */
const TRIGRAM = 3;

/**
 * The longest literal every match of a LIKE pattern contains (its longest segment between
 * wildcards), or undefined when none is long enough to index. `like` is the pattern as its
 * comparison tests it (NFC, and folded first when the comparison folds case): the values it
 * matches, prepared as the index prepares them, hold that segment as it stands, whatever
 * characters it has.
 */
export function likeLiteral(like: string): string | undefined {
  const longest = like.split(/[%_]/).reduce((a, b) => (b.length > a.length ? b : a), '');
  if (longest.length >= MIN_LITERAL) return longest;
  // One code unit above ASCII (a Cyrillic look-alike, U+202E, a symbol of SigmaHQ's emoji
  // lists) is rare in values, so it is worth a lookup of its own; one ASCII character is not.
  return longest.length === 1 && longest.charCodeAt(0) > 0x7f ? longest : undefined;
}

/**
 * A literal that every string matched by the regex contains (requiredLiteral), when it is long
 * enough and inert enough to index. With an `i` flag at the top level (`(?i)`), what the
 * literal matches is known only up to case: undefined here, see regexNeed.
 */
export function regexLiteral(source: string): string | undefined {
  const found = regexNeed(source);
  return found && !found.caseInsensitive ? found.literal : undefined;
}

/**
 * The literal of regexLiteral, and whether it holds only up to case (a top-level `i` flag):
 * the regex's required literal (src/pattern/regex.ts) when it is long enough to index and
 * inert (the index reads it from the pattern before folding, the comparison after).
 */
function regexNeed(source: string): RequiredLiteral | undefined {
  const found = requiredLiteral(source);
  return found && found.literal.length >= MIN_LITERAL && isInertText(found.literal) ? found : undefined;
}

/**
 * A string value's key in the index: FNV-1a over its UTF-16 code units, cut to 30 bits so that
 * it stays a small integer. A million indicator values then cost no string object each in the
 * index (a full garbage collection would have to mark every one).
 */
export function stringKey(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash & 0x3fffffff;
}

/**
 * Is every character of a literal one that case folding and NFC leave as it is, whatever
 * surrounds it: ASCII, and the caseless symbols that never compose (emoji U+1F000–U+1FAFF,
 * U+2600–U+27BF, the zero-width joiner, variation selectors)? Then a value (folded or
 * normalised as its comparison does) that a MATCHES holds on contains the literal as the
 * index reads it. Letters outside ASCII can change in context (a final sigma, a combining
 * mark) and are not indexed. (A LIKE's literal needs none of this: it is read from the pattern
 * as its comparison has folded and normalised it, see likeLiteral.)
 */
export function isInertText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x7f || (c >= 0x2600 && c <= 0x27bf) || c === 0x200d || c === 0xfe0e || c === 0xfe0f) continue;
    if (c >= 0xd800 && c <= 0xdbff) {
      const cp = text.codePointAt(i) as number;
      if (cp >= 0x1f000 && cp <= 0x1faff) {
        i++;
        continue;
      }
    }
    return false;
  }
  return true;
}

/**
 * How much more a literal of one or two code units costs to file under than a longer one
 * shared as widely: short text is common in values.
 */
const SHORT_LITERAL_COST = 16;

/** Number of distinct trigram keys (21 bits: three ASCII characters pack exactly). */
const TRIGRAM_KEYS = 1 << 21;

/**
 * Three UTF-16 code units as one number, so that a lookup allocates no string: ASCII packs
 * exactly, others fold into the same 21 bits (a collision only tries a literal for nothing).
 */
function trigramOf(a: number, b: number, c: number): number {
  return ((a << 14) ^ (b << 7) ^ c) & (TRIGRAM_KEYS - 1);
}

const PAIR_BITS = 1 << 16;

/** Two UTF-16 code units as one number (exact). */
function pairKey(a: number, b: number): number {
  return a * 0x10000 + b;
}

function trigramKey(text: string, i: number): number {
  return trigramOf(text.charCodeAt(i), text.charCodeAt(i + 1), text.charCodeAt(i + 2));
}

function nfc(text: string): string {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return text.normalize('NFC');
  return text;
}
/**
 * What an expression needs, before a choice is made: 'none' (no index condition can be
 * derived: file under the type), 'never' (it can never hold on this type), one condition, every
 * item of `or` (each branch needs its own), or any one option of `and` (each conjunct is
 * necessary on its own, so one of them is enough to file under).
 */
type Need =
  | 'none'
  | 'never'
  | { condition: Condition }
  | { or: Exclude<Need, 'none' | 'never'>[] }
  | { and: Exclude<Need, 'none' | 'never'>[] };

const INDEXABLE_PATH = (path: ObjectPath): boolean =>
  !path.steps.some((s) => s.kind === 'key' && /_(hex|bin)$/.test(s.name));

function need(expr: ComparisonExpression, type: string, caseInsensitive: ReadonlySet<ComparisonLeaf>): Need {
  if (isComparisonJunction(expr)) {
    // A chain of one junction (a Sigma list of a thousand values) is read as one list, in one
    // pass: pairwise, it would copy the list it has built at every step.
    const items: Exclude<Need, 'none' | 'never'>[] = [];
    for (const operand of junctionOperands(expr)) {
      const n = need(operand, type, caseInsensitive);
      if (expr.kind === 'and') {
        if (n === 'never') return 'never';
        if (n === 'none') continue;
        if ('and' in n) items.push(...n.and);
        else items.push(n);
      } else {
        if (n === 'none') return 'none';
        if (n === 'never') continue;
        if ('or' in n) items.push(...n.or);
        else items.push(n);
      }
    }
    if (items.length === 0) return expr.kind === 'and' ? 'none' : 'never';
    if (items.length === 1) return items[0] as Need;
    return expr.kind === 'and' ? { and: items } : { or: items };
  }
  if (expr.path.objectType !== type) return 'never';
  // A field reference (Sigma fieldref) relates two values of the event, and says nothing of either alone.
  if (expr.kind === 'fieldref' || expr.negated || !INDEXABLE_PATH(expr.path)) return 'none';
  const folded = caseInsensitive.has(expr);
  const key = (v: string | number | boolean): string | number | boolean =>
    folded && typeof v === 'string' ? foldCase(v) : v;
  if (
    expr.kind === 'comparison' &&
    expr.operator === '=' &&
    (expr.value.type === 'string' ||
      expr.value.type === 'int' ||
      expr.value.type === 'float' ||
      expr.value.type === 'bool')
  ) {
    return { condition: { path: expr.path, folded, value: key(expr.value.value as string | number | boolean) } };
  }
  if (
    expr.kind === 'in' &&
    expr.values.every((v) => v.type === 'string' || v.type === 'int' || v.type === 'float' || v.type === 'bool')
  ) {
    const items = expr.values.map((v) => ({
      condition: { path: expr.path, folded, value: key(v.value as string | number | boolean) },
    }));
    return items.length === 0 ? 'never' : items.length === 1 ? (items[0] as Need) : { or: items };
  }
  if (
    expr.kind === 'comparison' &&
    (expr.operator === 'LIKE' || expr.operator === 'MATCHES') &&
    expr.value.type === 'string'
  ) {
    if (expr.operator === 'LIKE') {
      // The pattern exactly as the comparison tests it (src/pattern/evaluate.ts folds the
      // constant, then normalises it), so that its literal need not be inert: the index looks
      // values up folded then normalised too.
      const literal = likeLiteral(nfc(folded ? foldCase(expr.value.value) : expr.value.value));
      if (literal !== undefined) return { condition: { path: expr.path, folded, substring: literal } };
      return 'none';
    }
    const found = regexNeed(expr.value.value.normalize('NFC'));
    // A folded value contains the fold of every (inert) literal its match contains; a regex
    // that matches up to case holds on values whose fold contains the literal's.
    const fold = folded || found?.caseInsensitive === true;
    if (found !== undefined)
      return {
        condition: { path: expr.path, folded: fold, substring: fold ? foldCase(found.literal) : found.literal },
      };
  }
  if (expr.kind === 'comparison' && expr.operator === 'ISSUBSET' && expr.value.type === 'string') {
    const network = parseNetwork(expr.value.value);
    if (network && network.family === 4 && network.prefix >= 8)
      return { condition: { path: expr.path, folded: false, octet: Number(network.address >> 24n) } };
  }
  return 'none';
}

/** Does the need offer a choice (an `and` somewhere), which filing should make knowing the other entries? */
function hasChoice(n: Exclude<Need, 'none' | 'never'>): boolean {
  if ('condition' in n) return false;
  if ('and' in n) return true;
  return n.or.some(hasChoice);
}

/** Every condition a need mentions, once each. */
function conditionsOf(n: Exclude<Need, 'none' | 'never'>, out: Condition[] = []): Condition[] {
  if ('condition' in n) out.push(n.condition);
  else for (const item of 'and' in n ? n.and : n.or) conditionsOf(item, out);
  return out;
}

/**
 * The conditions to file an entry under: every branch of an `or`, the cheapest option of an
 * `and`, where a condition's cost is how many entries share it (one more is the entry itself),
 * so that a rule is filed under what sets it apart (its literal) rather than what it shares with
 * a thousand others (its log source). Ties go to fewer conditions.
 */
function choose(
  n: Exclude<Need, 'none' | 'never'>,
  cost: (c: Condition) => number,
): { conditions: Condition[]; cost: number } {
  if ('condition' in n) return { conditions: [n.condition], cost: cost(n.condition) };
  if ('or' in n) {
    const conditions: Condition[] = [];
    let total = 0;
    for (const item of n.or) {
      const chosen = choose(item, cost);
      conditions.push(...chosen.conditions);
      total += chosen.cost;
    }
    return { conditions, cost: total };
  }
  let best: { conditions: Condition[]; cost: number } | undefined;
  for (const item of n.and) {
    const chosen = choose(item, cost);
    if (
      best === undefined ||
      chosen.cost < best.cost ||
      (chosen.cost === best.cost && chosen.conditions.length < best.conditions.length)
    )
      best = chosen;
  }
  return best as { conditions: Condition[]; cost: number };
}

/**
 * The entries filed under one key: a bare id when there is one (most indicator values), else a
 * list. A million indicators then cost a million map entries, not a million extra arrays.
 */
type Ids = number | number[];

function addId<K>(map: Map<K, Ids>, key: K, id: number): void {
  const current = map.get(key);
  if (current === undefined) map.set(key, id);
  else if (typeof current === 'number') map.set(key, [current, id]);
  else current.push(id);
}

interface LiteralEntry {
  literal: string;
  offset: number;
  ids: number[];
}

/** The string conditions of a path: equality values and substring literals. */
interface StringTables {
  /**
   * string values, keyed by a 30-bit hash (see stringKey); one id is stored bare. A hash
   * collision only offers an extra candidate, which its full predicate then rejects.
   */
  byString: KeyTable;
  /**
   * trigram (as a number, see trigramKey) → the literals filed under it, each with the offset
   * of that trigram in it and the entries that need it
   */
  byTrigram: Map<number, LiteralEntry[]>;
  /** The same entries by literal. */
  literals: Map<string, LiteralEntry>;
  /**
   * One bit per trigram key filed in byTrigram (created with the first): most trigrams of a
   * value select nothing, and a bit test is much cheaper than a map lookup.
   */
  trigramBits: Uint32Array | undefined;
  /** Literals of two code units, by the pair (pairKey); with a bit per pair key's low bits. */
  pairs: Map<number, LiteralEntry> | undefined;
  pairBits: Uint32Array | undefined;
  /** Literals of one code unit above U+007F, by that code unit (see likeLiteral). */
  singles: Map<number, LiteralEntry> | undefined;
  /** The entries recent values selected here (see ValueMemo); forgotten whenever a condition is filed. */
  memo: ValueMemo | undefined;
}

/** Values longer than this are scanned each time: they are seldom repeated, and would pin memory. */
const MEMO_MAX_LENGTH = 256;
/** Values a memo holds before it starts again. */
const MEMO_CAPACITY = 1024;

/**
 * The entries that recent values selected in one set of string conditions, by value. An
 * event's values repeat across events (images, parents, hashes, file descriptions), and a value
 * is looked up by one hash rather than scanned for each of its trigrams and pairs. A memo whose
 * values were seldom seen again when it filled (unique command lines) pauses for a while.
 */
class ValueMemo {
  readonly selected = new Map<string, number[]>();
  hits = 0;
  /** Lookups still to pass by before values are remembered again. */
  paused = 0;

  /** Remembers what a value selected, starting again when full (and pausing when little was seen again). */
  remember(value: string, ids: number[]): void {
    if (this.selected.size >= MEMO_CAPACITY) {
      if (this.hits < MEMO_CAPACITY / 4) this.paused = MEMO_CAPACITY * 8;
      this.selected.clear();
      this.hits = 0;
    }
    this.selected.set(value, ids);
  }
}

interface PathSlot extends StringTables {
  path: ObjectPath;
  /**
   * The string conditions of case-insensitive comparisons, filed folded; an event's string
   * value is folded once and looked up here too. The same path's walk serves both.
   */
  folded: StringTables | undefined;
  walk: ReturnType<typeof compilePath>;
  /**
   * The path's id in its type's tree (src/pattern/path-table.ts), when its value is read from
   * the observed-data's table rather than walked.
   */
  pathId: number | undefined;
  /** numbers, keyed as they are */
  byNumber: Map<number, Ids>;
  byBoolean: Map<boolean, Ids>;
  byOctet: Map<number, number[]>;
}

export interface IndexStats {
  entries: number;
  indexedConditions: number;
  typeOnlyEntries: number;
  paths: number;
}

const NO_LEAVES: ReadonlySet<ComparisonLeaf> = new Set();

function stringTables(): StringTables {
  return {
    byString: new KeyTable(),
    byTrigram: new Map(),
    literals: new Map(),
    trigramBits: undefined,
    pairs: undefined,
    pairBits: undefined,
    singles: undefined,
    memo: undefined,
  };
}

export class RuleIndex {
  private readonly typeOnly = new Map<string, number[]>();
  private readonly slots = new Map<string, PathSlot[]>();
  /** The tree of each type's paths that some slot reads from the observed-data's table. */
  private readonly trees = new Map<string, PathTree>();
  /** Scratch of `candidates`: the tables of the roots of the current type. */
  private readonly tables: (PathTable | undefined)[] = [];
  private readonly slotByKey = new Map<string, PathSlot>();
  /** Per-entry stamp, so that an entry reached through several conditions is visited once. */
  private stamps = new Uint32Array(1024);
  private stamp = 0;
  private size = 0;
  readonly stats: IndexStats = { entries: 0, indexedConditions: 0, typeOnlyEntries: 0, paths: 0 };

  /**
   * Entries whose need offers a choice, filed when the index is sealed (on the first
   * `candidates`, or by `seal`), once every entry's conditions are known: what a condition
   * costs depends on how many other entries share it.
   */
  private pending: { id: number; type: string; need: Exclude<Need, 'none' | 'never'> }[] = [];
  /** How many pending entries mention each condition (by conditionKey). */
  private readonly mentions = new Map<string, number>();

  /**
   * Files entry `id` (an observation expression) for each root type it can match. Ids must be
   * small non-negative integers, unique per entry. `caseInsensitive`: the comparisons that fold
   * case (CompiledPattern.caseInsensitiveLeaves).
   */
  add(
    id: number,
    comparison: ComparisonExpression,
    rootTypes: readonly string[],
    caseInsensitive: ReadonlySet<ComparisonLeaf> = NO_LEAVES,
  ): void {
    if (id >= this.stamps.length) {
      const grown = new Uint32Array(Math.max(id + 1, this.stamps.length * 2));
      grown.set(this.stamps);
      this.stamps = grown;
    }
    this.size = Math.max(this.size, id + 1);
    this.stats.entries++;
    for (const type of rootTypes) {
      const needed = need(comparison, type, caseInsensitive);
      if (needed === 'never') continue;
      if (needed === 'none') {
        push(this.typeOnly, type, id);
        this.stats.typeOnlyEntries++;
      } else if (hasChoice(needed)) {
        this.pending.push({ id, type, need: needed });
        for (const key of new Set(conditionsOf(needed).map((c) => conditionKey(type, c))))
          this.mentions.set(key, (this.mentions.get(key) ?? 0) + 1);
      } else {
        for (const condition of conditionsOf(needed)) this.file(id, type, condition);
      }
    }
  }

  /** Files the entries whose need offers a choice; `candidates` does it when some are left. */
  seal(): void {
    const pending = this.pending;
    this.pending = [];
    // What each condition is shared by: the entries filed under it before this seal, and every
    // pending entry that mentions it, however it is filed in the end. (Counted as entries were
    // filed, a log source condition looked rare to the last rules of its source, when the
    // others had gone under their literals, and those rules went under it.)
    const before = new Map<string, number>();
    const sharedBy = (type: string, c: Condition): number => {
      const key = conditionKey(type, c);
      let filed = before.get(key);
      if (filed === undefined) before.set(key, (filed = this.filedUnder(type, c)));
      return filed + (this.mentions.get(key) ?? 0);
    };
    for (const { type, need: needed } of pending)
      for (const c of conditionsOf(needed)) {
        sharedBy(type, c);
        if ('value' in c) sharedBy(type, { ...c, folded: !c.folded });
      }
    for (const { id, type, need: needed } of pending) {
      const cost = (c: Condition): number => {
        // An equality value is one fact of the event whether or not a rule folds case: `code
        // = '1'` folded, in a few rules' detections, is as common in events as the log source
        // condition `code = '1'` of a thousand others. (The entry itself counts once, as one
        // of those mentioning the condition.)
        const sharing = sharedBy(type, c) + ('value' in c ? sharedBy(type, { ...c, folded: !c.folded }) : 0);
        // Squared: a condition many rules share is one that events commonly have (a log
        // source's channel and event id, in every event of that source), where each of a
        // rule's own literals is rare; so is a literal of one or two characters (`:\\` in
        // every Windows path). Filed by count alone, a rule that lists a thousand emoji went
        // under its log source, a candidate for every process event.
        const short = 'substring' in c && c.substring.length < TRIGRAM ? SHORT_LITERAL_COST : 1;
        return sharing * sharing * short;
      };
      for (const condition of choose(needed, cost).conditions) this.file(id, type, condition);
    }
    this.mentions.clear();
    for (const slot of this.slotByKey.values()) {
      refileByRarestTrigram(slot);
      if (slot.folded !== undefined) refileByRarestTrigram(slot.folded);
    }
    // Refiling changes the order in which a value's entries are found: remembered orders go.
    for (const slot of this.slotByKey.values()) {
      slot.memo = undefined;
      if (slot.folded !== undefined) slot.folded.memo = undefined;
    }
  }

  /** How many entries are filed under a condition so far. */
  private filedUnder(type: string, condition: Condition): number {
    const slot = this.slotByKey.get(slotKey(type, condition.path));
    if (slot === undefined) return 0;
    const strings = condition.folded ? slot.folded : slot;
    const count = (ids: Ids | undefined): number => (ids === undefined ? 0 : typeof ids === 'number' ? 1 : ids.length);
    if ('value' in condition) {
      const v = condition.value;
      if (typeof v === 'string') return strings ? count(strings.byString.get(stringKey(v))) : 0;
      return count(typeof v === 'number' ? slot.byNumber.get(v) : slot.byBoolean.get(v));
    }
    if ('octet' in condition) return count(slot.byOctet.get(condition.octet));
    return strings?.literals.get(condition.substring)?.ids.length ?? 0;
  }

  private file(id: number, type: string, condition: Condition): void {
    const slot = this.slotFor(type, condition.path);
    const strings: StringTables = condition.folded ? (slot.folded ??= stringTables()) : slot;
    strings.memo = undefined; // what a value selects may change
    if ('value' in condition) {
      const v = condition.value;
      if (typeof v === 'string') strings.byString.add(stringKey(v), id);
      else if (typeof v === 'number') addId(slot.byNumber, v, id);
      else addId(slot.byBoolean, v, id);
    } else if ('octet' in condition) push(slot.byOctet, condition.octet, id);
    else {
      const literal = condition.substring;
      const existing = strings.literals.get(literal);
      if (existing) existing.ids.push(id);
      else {
        // The literal is looked for where its least crowded trigram occurs in a value: a
        // trigram that many literals share would make each occurrence try them all.
        if (literal.length === 1) {
          const entry = { literal, offset: 0, ids: [id] };
          strings.literals.set(literal, entry);
          (strings.singles ??= new Map()).set(literal.charCodeAt(0), entry);
          this.stats.indexedConditions++;
          return;
        }
        if (literal.length < TRIGRAM) {
          // Two code units (an emoji, `^^`): the pair is its own key.
          const entry = { literal, offset: 0, ids: [id] };
          strings.literals.set(literal, entry);
          const key = pairKey(literal.charCodeAt(0), literal.charCodeAt(1));
          (strings.pairs ??= new Map()).set(key, entry);
          strings.pairBits ??= new Uint32Array(PAIR_BITS / 32);
          const bit = key & (PAIR_BITS - 1);
          strings.pairBits[bit >>> 5] = (strings.pairBits[bit >>> 5] as number) | (1 << (bit & 31));
          this.stats.indexedConditions++;
          return;
        }
        let offset = 0;
        let fewest = Infinity;
        for (let k = 0; k + TRIGRAM <= literal.length; k++) {
          const sharing = strings.byTrigram.get(trigramKey(literal, k))?.length ?? 0;
          if (sharing < fewest) {
            fewest = sharing;
            offset = k;
          }
        }
        const trigram = trigramKey(literal, offset);
        const entry = { literal, offset, ids: [id] };
        strings.literals.set(literal, entry);
        push(strings.byTrigram, trigram, entry);
        strings.trigramBits ??= new Uint32Array(TRIGRAM_KEYS / 32);
        strings.trigramBits[trigram >>> 5] = (strings.trigramBits[trigram >>> 5] as number) | (1 << (trigram & 31));
      }
    }
    this.stats.indexedConditions++;
  }

  private slotFor(type: string, path: ObjectPath): PathSlot {
    const id = slotKey(type, path);
    let slot = this.slotByKey.get(id);
    if (!slot) {
      const tree = pathTreeOf(type);
      const pathId = tree.idOf(path.steps);
      if (pathId !== undefined) this.trees.set(type, tree);
      slot = {
        path,
        folded: undefined,
        walk: compilePath(path.steps),
        pathId,
        ...stringTables(),
        byNumber: new Map(),
        byBoolean: new Map(),
        byOctet: new Map(),
      };
      this.slotByKey.set(id, slot);
      push(this.slots, type, slot);
      this.stats.paths++;
    }
    return slot;
  }

  private visit: (id: number) => void = () => undefined;
  private readonly scratch = { address: 0, prefix: 0 };
  private currentSlot: PathSlot | undefined;

  /** While a value is scanned to be remembered: every entry it selects, in the order found. */
  private recording: number[] | undefined;

  private once(ids: Ids | undefined): void {
    if (ids === undefined) return;
    const recording = this.recording;
    if (recording !== undefined) {
      if (typeof ids === 'number') recording.push(ids);
      else for (let i = 0; i < ids.length; i++) recording.push(ids[i] as number);
    }
    const stamps = this.stamps;
    const stamp = this.stamp;
    if (typeof ids === 'number') {
      if (stamps[ids] !== stamp) {
        stamps[ids] = stamp;
        this.visit(ids);
      }
      return;
    }
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      if (stamps[id] !== stamp) {
        stamps[id] = stamp;
        this.visit(id);
      }
    }
  }

  /**
   * Looks a string value of a slot up in every kind of condition filed for it; its fold comes
   * from the table it was read from, when it was (shared with the comparisons on its path).
   */
  private lookUpText(slot: PathSlot, value: string, table?: PathTable, pathId?: number): void {
    this.lookUpString(slot, value);
    if (slot.folded !== undefined)
      this.lookUpString(
        slot.folded,
        table !== undefined && pathId !== undefined ? table.folded(pathId, value) : foldCase(value),
      );
    if (slot.byOctet.size > 0 && parseIPv4Fast(value, this.scratch))
      this.once(slot.byOctet.get(Math.floor(this.scratch.address / 16777216)));
  }

  /** Looks one value of the current path up in every kind of condition filed for it. */
  private readonly lookUp = (value: unknown): boolean => {
    const slot = this.currentSlot as PathSlot;
    if (typeof value === 'string') this.lookUpText(slot, value);
    else if (typeof value === 'number') {
      if (slot.byNumber.size > 0) this.once(slot.byNumber.get(value));
    } else if (typeof value === 'boolean') {
      if (slot.byBoolean.size > 0) this.once(slot.byBoolean.get(value));
    }
    return false; // keep walking: every value of the path may select candidates
  };

  /**
   * Looks a string value up in one set of string conditions (plain, or folded with a folded
   * value); through its memo when the set has literals to scan for.
   */
  private lookUpString(tables: StringTables, value: string): void {
    if (
      value.length > MEMO_MAX_LENGTH ||
      (tables.trigramBits === undefined && tables.pairs === undefined && tables.singles === undefined)
    ) {
      this.scanString(tables, value);
      return;
    }
    const memo = (tables.memo ??= new ValueMemo());
    const known = memo.selected.get(value);
    if (known !== undefined) {
      memo.hits++;
      this.once(known);
      return;
    }
    if (memo.paused > 0) {
      memo.paused--;
      this.scanString(tables, value);
      return;
    }
    const recording: number[] = [];
    this.recording = recording;
    try {
      this.scanString(tables, value);
    } finally {
      this.recording = undefined;
    }
    memo.remember(value, recording);
  }

  /** Looks a string value up in every string condition of a set: its hash, and each literal it may hold. */
  private scanString(tables: StringTables, value: string): void {
    if (tables.byString.size > 0) this.once(tables.byString.get(stringKey(value)));
    const bits = tables.trigramBits;
    const pairs = tables.pairs;
    const singles = tables.singles;
    if (bits === undefined && pairs === undefined && singles === undefined) return;
    const text = nfc(value);
    if (singles !== undefined) {
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c <= 0x7f) continue;
        const entry = singles.get(c);
        if (entry !== undefined) this.once(entry.ids);
      }
    }
    if (pairs !== undefined) {
      const pairBits = tables.pairBits as Uint32Array;
      for (let i = 1; i < text.length; i++) {
        const a = text.charCodeAt(i - 1);
        const b = text.charCodeAt(i);
        const bit = (a * 0x10000 + b) & (PAIR_BITS - 1);
        if (((pairBits[bit >>> 5] as number) & (1 << (bit & 31))) === 0) continue;
        const entry = pairs.get(pairKey(a, b));
        if (entry !== undefined) this.once(entry.ids);
      }
    }
    if (bits === undefined) return;
    // The trigram ending at i, from the last three code units.
    let a = 0;
    let b = text.length > 0 ? text.charCodeAt(0) : 0;
    let c = text.length > 1 ? text.charCodeAt(1) : 0;
    for (let i = 2; i < text.length; i++) {
      a = b;
      b = c;
      c = text.charCodeAt(i);
      const key = trigramOf(a, b, c);
      if (((bits[key >>> 5] as number) & (1 << (key & 31))) === 0) continue;
      const filed = tables.byTrigram.get(key);
      if (filed === undefined) continue;
      for (let f = 0; f < filed.length; f++) {
        const { literal, offset, ids } = filed[f] as LiteralEntry;
        const start = i - 2 - offset;
        if (start >= 0 && text.startsWith(literal, start)) this.once(ids);
      }
    }
  }

  /** Calls `visit` once for each entry that may match the event. */
  candidates(observation: PreparedObservation, visit: (id: number) => void): void {
    if (this.pending.length > 0) this.seal();
    if (++this.stamp === 0xffffffff) {
      this.stamps.fill(0);
      this.stamp = 1;
    }
    this.visit = visit;
    const types = observation.types;
    for (let t = 0; t < types.length; t++) {
      const type = types[t] as string;
      const roots = observation.rootsOfType[t] as { object: unknown }[];
      this.once(this.typeOnly.get(type));
      const slots = this.slots.get(type);
      if (!slots) continue;
      const tree = this.trees.get(type);
      // Filled and cleared by position, never by length: an array cut to length 0 drops its
      // backing store, and every event allocated another.
      const tables = this.tables;
      for (let r = 0; r < roots.length; r++)
        tables[r] =
          tree !== undefined && tree.usesTable && observation.pathTable !== undefined
            ? observation.pathTable((roots[r] as { object: object }).object, tree)
            : undefined;
      for (let s = 0; s < slots.length; s++) {
        const slot = slots[s] as PathSlot;
        this.currentSlot = slot;
        const pathId = slot.pathId;
        for (let r = 0; r < roots.length; r++) {
          const table = tables[r];
          if (table !== undefined && pathId !== undefined) {
            const value = table.values[pathId];
            if (value === undefined) continue;
            if (typeof value === 'string') this.lookUpText(slot, value, table, pathId);
            else this.lookUp(value);
          } else slot.walk((roots[r] as { object: unknown }).object, observation, this.lookUp);
        }
      }
      for (let r = 0; r < roots.length; r++) tables[r] = undefined;
    }
    this.currentSlot = undefined;
  }
}

/**
 * Files each literal of a path again under the trigram of it that the path's literals hold
 * least often. The literals are text of the kind the values hold (paths, switches, file
 * names): a trigram common among them (`exe`, `\\wi`) is common in values too, and each of
 * its occurrences in a value tries every literal filed under it. Filing one literal at a time,
 * only the literals filed before it counted.
 */
function refileByRarestTrigram(tables: StringTables): void {
  const bits = tables.trigramBits;
  if (bits === undefined) return;
  const entries = [...tables.literals.values()].filter((e) => e.literal.length >= TRIGRAM);
  const held = new Map<number, number>();
  for (const { literal } of entries)
    for (let k = 0; k + TRIGRAM <= literal.length; k++) {
      const key = trigramKey(literal, k);
      held.set(key, (held.get(key) ?? 0) + 1);
    }
  tables.byTrigram.clear();
  bits.fill(0);
  for (const entry of entries) {
    const literal = entry.literal;
    let fewest = Infinity;
    for (let k = 0; k + TRIGRAM <= literal.length; k++) {
      const key = trigramKey(literal, k);
      // Ties go to the trigram fewer literals are filed under so far.
      const score = (held.get(key) as number) * entries.length + (tables.byTrigram.get(key)?.length ?? 0);
      if (score < fewest) {
        fewest = score;
        entry.offset = k;
      }
    }
    const trigram = trigramKey(literal, entry.offset);
    push(tables.byTrigram, trigram, entry);
    bits[trigram >>> 5] = (bits[trigram >>> 5] as number) | (1 << (trigram & 31));
  }
}

/**
 * A (type, path) pair's key. Length-prefixed parts: no two pairs share a key, and it costs less
 * than JSON (a million indicators each look their slot up).
 */
function slotKey(type: string, path: ObjectPath): string {
  let id = `${type.length}:${type}`;
  for (const step of path.steps)
    id += step.kind === 'key' ? `k${step.name.length}:${step.name}` : step.kind === 'index' ? `i${step.index};` : '*';
  return id;
}

/** A condition's key among the pending entries' mentions. */
function conditionKey(type: string, c: Condition): string {
  const slot = slotKey(type, c.path);
  const folded = c.folded ? 'f' : 'p';
  if ('value' in c) return `${slot}|${folded}v${typeof c.value}:${String(c.value)}`;
  if ('octet' in c) return `${slot}|o${c.octet}`;
  return `${slot}|${folded}s${c.substring}`;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

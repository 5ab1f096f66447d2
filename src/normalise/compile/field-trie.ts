/**
 * The field trie: every mapped source path, reachable both segment by segment (nested objects) and by any dotted
 * suffix (`"process.name"` keys), so one walk over the event visits each key once, applies the rules attached to
 * it (its leaf), and records everything else in x_unmapped without a second pass.
 */
import { isRecord, type JsonRecord } from '../fields.js';
import type { Parser } from '../parsers.js';
import { addUnmapped, keepRefused, type EventScratch } from './scratch.js';
import { ASSIGNED, FAILED, type Assign } from './setters.js';

const UNMAPPED_KEY_CACHE_LIMIT = 1024;

/** What the trie does with the value of a mapped field. */
export type Leaf = (value: unknown, scratch: EventScratch) => void;

export interface FieldNode {
  path: string;
  /** `path.` (or '' for the root): prefix of unmapped keys found below this node. */
  prefix: string;
  /**
   * Full dotted paths of unmapped keys seen below this node, so that the same key in the next event reuses one
   * string instead of concatenating (and re-hashing) a new one. Bounded: keys come from untrusted input.
   */
  unmappedKeys: Map<string, string>;
  children: Map<string, FieldNode> | undefined;
  /**
   * `children` as a prototype-less object, made by `seal` once the trie is complete: what the walk looks keys up
   * in. Event keys come from JSON.parse already internalised, and a keyed load of one from a dictionary object
   * was cheaper than Map.get, one lookup per key of every event (about 2% of normalising a record).
   */
  lookup: Record<string, FieldNode> | undefined;
  leaf: Leaf | undefined;
  ignore: boolean;
  /** Text or list fields holding structure: parsed, then walked like a nested object. */
  parse: Parser | undefined;
  /** A `roots` entry ending in `*`: the node for any key below this one. */
  anyChild?: FieldNode;
}

/** The positions of a field in the time and source-id roles (-1: not a candidate of that role). */
export interface RoleSlots {
  start: number;
  end: number;
  id: number;
}

function newFieldNode(path: string, prefix: string): FieldNode {
  return {
    path,
    prefix,
    unmappedKeys: new Map(),
    children: undefined,
    lookup: undefined,
    leaf: undefined,
    ignore: false,
    parse: undefined,
  };
}

function hasRecord(list: unknown[]): boolean {
  for (const item of list) if (isRecord(item)) return true;
  return false;
}

export interface FieldTrieOptions {
  caseInsensitive: boolean;
  /** Source values that mean "no value" (`-`, `N/A`): skipped like null. */
  nullValues: ReadonlySet<string> | undefined;
}

export class FieldTrie {
  readonly root: FieldNode = { ...newFieldNode('', ''), children: new Map() };
  private readonly byPath = new Map<string, FieldNode>();
  private readonly caseInsensitive: boolean;
  private readonly nullValues: ReadonlySet<string> | undefined;
  /**
   * Length of the longest null placeholder: a longer string cannot be one. Placeholders are short (`-`, `N/A`),
   * and asking the set about every string value hashed each one, which made this test the walk's costliest line.
   */
  private readonly longestNullValue: number;
  /** Lower-cased keys, for case-insensitive mappings; bounded like the unmapped key cache. */
  private readonly lowerKeys = new Map<string, string>();

  constructor(options: FieldTrieOptions) {
    this.caseInsensitive = options.caseInsensitive;
    this.nullValues = options.nullValues;
    let longest = -1;
    for (const value of options.nullValues ?? []) longest = Math.max(longest, value.length);
    this.longestNullValue = longest;
  }

  /** The node of a dotted source path, created (with its ancestors) on first mention. */
  node(path: string): FieldNode {
    const known = this.byPath.get(path);
    if (known !== undefined) return known;
    const segments = path.split('.');
    let current = this.root;
    for (let i = 0; i < segments.length; i++) {
      const sub = segments.slice(0, i + 1).join('.');
      let next = this.byPath.get(sub);
      if (next === undefined) {
        next = newFieldNode(sub, `${sub}.`);
        this.byPath.set(sub, next);
      }
      current = next;
    }
    return current;
  }

  find(path: string): FieldNode | undefined {
    return this.byPath.get(path);
  }

  paths(): IterableIterator<[string, FieldNode]> {
    return this.byPath.entries();
  }

  /** Every node becomes reachable from each ancestor by its dotted remainder, so dotted keys need one lookup. */
  link(): void {
    for (const [path, node] of this.byPath) {
      const segments = path.split('.');
      for (let i = 0; i < segments.length; i++) {
        const ancestor = i === 0 ? this.root : (this.byPath.get(segments.slice(0, i).join('.')) as FieldNode);
        const key = segments.slice(i).join('.');
        (ancestor.children ??= new Map()).set(this.caseInsensitive ? key.toLowerCase() : key, node);
      }
    }
  }

  /** A `roots` entry: read like the top level, so the top-level fields' rules apply below it too. */
  addRoot(node: FieldNode): void {
    const root = this.root;
    const merged = new Map(root.children);
    for (const [key, child] of node.children ?? []) {
      // A node of the root's own fields met here too (Event.System.EventID beside EventID): it does both jobs.
      const top = root.children?.get(key);
      if (top !== undefined && child.leaf === undefined) child.leaf = top.leaf;
      merged.set(key, child);
    }
    node.children = merged;
    const segments = node.path.split('.');
    if (node.path === '*') root.anyChild = node;
    else if (segments[segments.length - 1] === '*') {
      // `Event.UserData.*`: any element name below its parent.
      const parent = this.byPath.get(segments.slice(0, -1).join('.'));
      if (parent !== undefined) parent.anyChild = node;
    }
  }

  /** Makes each node's `lookup` from its final `children`; called once the mapping is compiled, before any walk. */
  seal(): void {
    for (const node of [this.root, ...this.byPath.values()]) {
      if (node.children === undefined) continue;
      const lookup = Object.create(null) as Record<string, FieldNode>;
      // Defined, not assigned: a `__proto__` key is then an ordinary own property like any other.
      for (const [key, child] of node.children)
        Object.defineProperty(lookup, key, { value: child, enumerable: true, writable: true, configurable: true });
      node.lookup = lookup;
    }
  }

  private lower(key: string): string {
    let l = this.lowerKeys.get(key);
    if (l === undefined) {
      l = key.toLowerCase();
      if (this.lowerKeys.size < UNMAPPED_KEY_CACHE_LIMIT) this.lowerKeys.set(key, l);
    }
    return l;
  }

  /** Walks `object` below `node`. `at`: the dotted path of `object` in the event, kept only while tracing. */
  walk(object: JsonRecord, node: FieldNode, at: string, scratch: EventScratch): void {
    const children = node.lookup as Record<string, FieldNode>;
    const nullValues = this.nullValues;
    const longestNullValue = this.longestNullValue;
    const caseInsensitive = this.caseInsensitive;
    for (const key in object) {
      const value = object[key];
      if (value === null || value === undefined) continue;
      if (
        nullValues !== undefined &&
        typeof value === 'string' &&
        value.length <= longestNullValue &&
        nullValues.has(value)
      )
        continue;
      const child =
        children[caseInsensitive ? this.lower(key) : key] ?? (typeof value === 'object' ? node.anyChild : undefined);
      if (child === undefined) {
        let path = node.unmappedKeys.get(key);
        if (path === undefined) {
          path = node.prefix + key;
          if (node.unmappedKeys.size < UNMAPPED_KEY_CACHE_LIMIT) node.unmappedKeys.set(key, path);
        }
        addUnmapped(scratch, path, value);
        continue;
      }
      if (child.ignore) continue;
      if (child.parse !== undefined) {
        const parsed = child.parse(value);
        if (parsed !== undefined) {
          this.walk(parsed, child, scratch.trace === undefined ? '' : `${at}${key}.`, scratch);
          continue;
        }
      }
      if (child.children !== undefined && typeof value === 'object') {
        if (!Array.isArray(value))
          this.walk(value as JsonRecord, child, scratch.trace === undefined ? '' : `${at}${key}.`, scratch);
        else if (child.leaf !== undefined && !hasRecord(value)) {
          if (scratch.trace !== undefined) scratch.tracePath = at + key;
          child.leaf(value, scratch);
        } else this.walkElements(value, child, scratch.trace === undefined ? '' : `${at}${key}.`, scratch);
      } else if (child.leaf !== undefined) {
        if (scratch.trace !== undefined) scratch.tracePath = at + key;
        child.leaf(value, scratch);
      } else {
        addUnmapped(scratch, child.path, value);
      }
    }
  }

  /** A list of objects is mapped element by element (Okta target[], Suricata dns.answers[]). */
  private walkElements(list: unknown[], node: FieldNode, at: string, scratch: EventScratch): void {
    const outer = scratch.element;
    for (const item of list) {
      if (item === null || item === undefined) continue;
      scratch.element = ++scratch.elementCounter;
      if (isRecord(item)) this.walk(item, node, at, scratch);
      else addUnmapped(scratch, node.path, item);
    }
    scratch.element = outer;
  }
}

/**
 * The leaf of a mapped field: its rules, then its roles (a time or source-id candidate is recorded for the
 * emitter, which decides later whether it is used), then x_unmapped for a value no rule took.
 */
export function compileLeaf(path: string, assigns: Assign[], slots: RoleSlots): Leaf {
  const { start: startSlot, end: endSlot, id: idSlot } = slots;
  const hasRole = startSlot >= 0 || endSlot >= 0 || idSlot >= 0;
  if (!hasRole && assigns.length === 1) {
    const assign = assigns[0] as Assign;
    return (value, scratch) => {
      if (assign(value, scratch) !== ASSIGNED) addUnmapped(scratch, path, value);
      else {
        if (scratch.refused !== undefined) keepRefused(scratch, path);
        if (scratch.trace !== undefined) scratch.trace.push(scratch.tracePath ?? path);
      }
    };
  }
  return (value, scratch) => {
    let assigned = false;
    let failed = false;
    for (const assign of assigns) {
      const result = assign(value, scratch);
      if (result === ASSIGNED) assigned = true;
      else if (result === FAILED) failed = true;
    }
    // One rule that took the value is enough: it is represented (a rule refusing it as an address, say, loses nothing).
    const consumed = assigned;
    if (scratch.refused !== undefined) keepRefused(scratch, path);
    if (consumed && scratch.trace !== undefined) scratch.trace.push(scratch.tracePath ?? path);
    if (hasRole) {
      if (startSlot >= 0) {
        scratch.startValues[startSlot] = value;
        if (consumed) scratch.startAssigned |= 1 << startSlot;
      }
      if (endSlot >= 0) {
        scratch.endValues[endSlot] = value;
        if (consumed) scratch.endAssigned |= 1 << endSlot;
      }
      if (idSlot >= 0) {
        scratch.idValues[idSlot] = value;
        if (consumed) scratch.idAssigned |= 1 << idSlot;
      }
      if (failed) addUnmapped(scratch, path, value);
      return;
    }
    if (!consumed) addUnmapped(scratch, path, value);
  };
}

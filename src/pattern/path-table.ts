/**
 * The values of an object at every path that compiled comparisons and the rule index read,
 * found in one walk of the object's own keys. A large rule set reads hundreds of paths of one
 * object type (SigmaHQ's rules read about 200 of `x-oca-event`), most of them absent from any
 * one event: walked one by one, each absent path cost a property lookup that misses (slow, as
 * the reads see objects of many shapes) and each present one resolved its `_ref` steps again.
 * Walking the object's keys through a tree of the paths read costs what the object holds.
 *
 * Only paths of single values are kept here: plain keys and `_ref` steps. A path with `[*]`,
 * `[n]`, `_refs`, `_hex` or `_bin` (a list of values, an index into one, decoded bytes) is
 * walked as before (./evaluate.ts).
 */
import type { PathStep } from './ast.js';
import { foldCase } from './case-fold.js';

/** One step of the tree: the paths that go on through this key. */
export class PathNode {
  /** The id of the path that ends here, or -1. */
  pathId = -1;
  /** The key is a `_ref`: its value, a reference, stands for the object it resolves to. */
  readonly resolves: boolean;
  /** Object.prototype has the key too: only an own property is read (as ./evaluate.ts's walkers read it). */
  readonly ownOnly: boolean;
  readonly children = new Map<string, PathNode>();
  /** The children as a list, for nodes with few of them (read directly, not by walking the object's keys). */
  readonly list: [string, PathNode][] = [];

  constructor(name: string) {
    this.resolves = name.endsWith('_ref');
    this.ownOnly = name in Object.prototype;
  }
}

/** Resolves a reference within the observed-data whose object is being read. */
export type ResolveReference = (ref: string) => object | undefined;

/**
 * Below this many children a node reads each child's key from the object; above it, it walks
 * the object's own keys and looks each up among its children (an event's object holds a few
 * dozen keys; the rules of a large set read hundreds).
 */
const DIRECT_READS = 8;
/**
 * Below this many paths of a type, its paths are walked one by one (usesTable): reading a
 * handful of paths costs less than building a table (a STIX rule set of 3,000 rules reads a
 * few dozen paths a type; SigmaHQ's read hundreds of one).
 */
export const TABLE_MIN_PATHS = 64;
/** The tree of one object type holds at most this many paths: later ones are walked as before. */
export const MAX_PATHS_PER_TYPE = 4096;

const hasOwn = Object.prototype.hasOwnProperty;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** The paths read of one object type, as a tree of their keys. Paths are only ever added. */
export class PathTree {
  readonly root = new PathNode('');
  /** How many paths have an id; ids are 0 … size - 1. */
  size = 0;
  private readonly ids = new Map<string, number>();

  /**
   * The id of a path (steps after the object type), adding it to the tree; undefined when the
   * path is not one this table keeps (see the module comment), or the tree is full.
   */
  idOf(steps: readonly PathStep[]): number | undefined {
    if (!isTabled(steps)) return undefined;
    const key = steps.map((s) => (s as { name: string }).name).join('\u0000');
    const known = this.ids.get(key);
    if (known !== undefined) return known;
    if (this.size >= MAX_PATHS_PER_TYPE) return undefined;
    let node = this.root;
    for (const step of steps) {
      const name = (step as { name: string }).name;
      let child = node.children.get(name);
      if (child === undefined) {
        child = new PathNode(name);
        node.children.set(name, child);
        node.list.push([name, child]);
      }
      node = child;
    }
    const id = this.size++;
    node.pathId = id;
    this.ids.set(key, id);
    return id;
  }

  /** Are enough paths read of this type for a table to cost less than walking them? */
  get usesTable(): boolean {
    return this.size >= TABLE_MIN_PATHS;
  }

  /** The values of `object` at every path of the tree, by path id (undefined where absent). */
  read(object: object, resolve: ResolveReference): unknown[] {
    const values = new Array<unknown>(this.size);
    readChildren(this.root, object as Record<string, unknown>, values, resolve);
    return values;
  }
}

/** Paths of plain keys and `_ref` steps, at least one step: one value or none, found by name alone. */
function isTabled(steps: readonly PathStep[]): boolean {
  if (steps.length === 0) return false;
  for (const step of steps) {
    if (step.kind !== 'key') return false;
    if (step.name.endsWith('_refs') || step.name.endsWith('_hex') || step.name.endsWith('_bin')) return false;
  }
  return true;
}

function readChildren(
  node: PathNode,
  object: Record<string, unknown>,
  values: unknown[],
  resolve: ResolveReference,
): void {
  const list = node.list;
  if (list.length <= DIRECT_READS) {
    for (let i = 0; i < list.length; i++) {
      const [name, child] = list[i] as [string, PathNode];
      if (!child.ownOnly || hasOwn.call(object, name)) readChild(child, object[name], values, resolve);
    }
    return;
  }
  const children = node.children;
  // Enumerable keys, own or inherited, as `object[name]` reads them; a key Object.prototype
  // has is enumerable only as the object's own.
  for (const key in object) {
    const child = children.get(key);
    if (child !== undefined) readChild(child, object[key], values, resolve);
  }
}

function readChild(node: PathNode, value: unknown, values: unknown[], resolve: ResolveReference): void {
  if (value === undefined) return;
  if (node.resolves) {
    if (typeof value !== 'string') return;
    const target = resolve(value);
    if (target === undefined) return;
    value = target;
  }
  if (node.pathId >= 0) values[node.pathId] = value;
  if (node.list.length > 0 && isPlainObject(value)) readChildren(node, value, values, resolve);
}

const trees = new Map<string, PathTree>();

/** The tree of the paths read of one object type (shared by every rule set in the process). */
export function pathTreeOf(objectType: string): PathTree {
  let tree = trees.get(objectType);
  if (tree === undefined) trees.set(objectType, (tree = new PathTree()));
  return tree;
}

/**
 * One object's values at the paths of a tree, by path id, and the case folds of its strings,
 * folded when first asked for: every case-insensitive comparison and index slot on a path
 * then shares one fold of its value.
 */
export class PathTable {
  private readonly folds: (string | undefined)[];

  constructor(readonly values: unknown[]) {
    this.folds = new Array<string | undefined>(values.length);
  }

  /** The case fold (foldCase) of the string at path `id`. */
  folded(id: number, value: string): string {
    let fold = this.folds[id];
    if (fold === undefined) this.folds[id] = fold = foldCase(value);
    return fold;
  }
}

/**
 * One observed-data's tables: the values of its objects read so far, each through the tree of
 * its type. An event holds a handful of objects, so they are found by a scan.
 */
export class PathValueCache {
  private readonly objects: object[] = [];
  private readonly trees: PathTree[] = [];
  private readonly tables: PathTable[] = [];

  constructor(private readonly resolve: ResolveReference) {}

  /** The table of `object` for `tree`, read when first asked for (or again once the tree has grown). */
  tableOf(object: object, tree: PathTree): PathTable {
    const objects = this.objects;
    for (let i = 0; i < objects.length; i++) {
      if (objects[i] === object && this.trees[i] === tree) {
        const table = this.tables[i] as PathTable;
        if (table.values.length === tree.size) return table;
        return (this.tables[i] = new PathTable(tree.read(object, this.resolve)));
      }
    }
    const table = new PathTable(tree.read(object, this.resolve));
    objects.push(object);
    this.trees.push(tree);
    this.tables.push(table);
    return table;
  }
}

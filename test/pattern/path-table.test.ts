/**
 * The table of an object's values at the paths rules read (src/pattern/path-table.ts): which
 * paths it keeps, that a table follows its tree as paths are added, and (seeded property test)
 * that it finds at every path the value the path walker finds, on random objects and paths.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PathStep } from '../../src/pattern/ast.js';
import { compilePath, compileRootPath } from '../../src/pattern/evaluate.js';
import { prepareObservedData, type PreparedObservation } from '../../src/pattern/observation.js';
import { MAX_PATHS_PER_TYPE, PathTree, TABLE_MIN_PATHS } from '../../src/pattern/path-table.js';
import type { StixObject } from '../../src/stix/types.js';

const SEED = 20261203;
const key = (name: string): PathStep => ({ kind: 'key', name });
const keys = (...names: string[]): PathStep[] => names.map(key);

/** An observed-data of `objects` (2.1: each has an id), its first object the root. */
function observe(objects: Record<string, unknown>[]): PreparedObservation {
  const byId = new Map(objects.map((o) => [o.id as string, o as StixObject]));
  return prepareObservedData(
    {
      type: 'observed-data',
      first_observed: '2026-01-01T00:00:00Z',
      last_observed: '2026-01-01T00:00:00Z',
      number_observed: 1,
      object_refs: objects.map((o) => o.id),
    },
    0,
    (id) => byId.get(id),
  );
}

/** Every value the path walker hands to its test, in order. */
function walked(steps: PathStep[], object: unknown, observation: PreparedObservation): unknown[] {
  const found: unknown[] = [];
  compilePath(steps)(object, observation, (v) => {
    found.push(v);
    return false;
  });
  return found;
}

describe('which paths a tree keeps', () => {
  it('keeps paths of plain keys and _ref steps, one id each', () => {
    const tree = new PathTree();
    const a = tree.idOf(keys('name'));
    const b = tree.idOf(keys('parent_ref', 'image_ref', 'name'));
    expect(a).toBe(0);
    expect(b).toBe(1);
    expect(tree.idOf(keys('name'))).toBe(0);
    expect(tree.size).toBe(2);
  });

  it('walks lists, indexes, _refs and decoded bytes as before', () => {
    const tree = new PathTree();
    expect(tree.idOf([])).toBeUndefined();
    expect(tree.idOf([key('tags'), { kind: 'anyIndex' }])).toBeUndefined();
    expect(tree.idOf([key('tags'), { kind: 'index', index: 0 }])).toBeUndefined();
    expect(tree.idOf(keys('child_refs'))).toBeUndefined();
    expect(tree.idOf(keys('payload_bin'))).toBeUndefined();
    expect(tree.idOf(keys('hashes', 'x_hex'))).toBeUndefined();
    expect(tree.size).toBe(0);
  });

  it('is read through a table only once a type has many paths', () => {
    const tree = new PathTree();
    for (let i = 0; i < TABLE_MIN_PATHS - 1; i++) tree.idOf(keys(`k${i}`));
    expect(tree.usesTable).toBe(false);
    tree.idOf(keys('one_more'));
    expect(tree.usesTable).toBe(true);
  });

  it('stops adding paths when full', () => {
    const tree = new PathTree();
    for (let i = 0; i < MAX_PATHS_PER_TYPE; i++) expect(tree.idOf(keys(`k${i}`))).toBe(i);
    expect(tree.idOf(keys('one_more'))).toBeUndefined();
    expect(tree.idOf(keys('k7'))).toBe(7);
  });
});

describe('an observed-data’s tables', () => {
  const process = {
    type: 'process',
    id: 'process--1',
    name: 'cmd.exe',
    image_ref: 'file--1',
    parent_ref: 'process--2',
    missing_ref: 'file--nowhere',
    constructor: 'own',
  };
  const parent = { type: 'process', id: 'process--2', name: 'explorer.exe', image_ref: 'file--1' };
  const file = { type: 'file', id: 'file--1', name: 'cmd.exe', x_path: 'C:\\Windows\\cmd.exe' };

  it('follows references within the observed-data, and reads only own keys Object.prototype also has', () => {
    const observation = observe([process, parent, file]);
    const tree = new PathTree();
    const ids = [
      tree.idOf(keys('name')),
      tree.idOf(keys('parent_ref', 'image_ref', 'x_path')),
      tree.idOf(keys('image_ref')),
      tree.idOf(keys('missing_ref', 'name')),
      tree.idOf(keys('constructor')),
      tree.idOf(keys('toString')),
      tree.idOf(keys('name', 'length')),
    ] as number[];
    const values = observation.pathTable?.(process, tree).values ?? [];
    expect(ids.map((id) => values[id])).toEqual([
      'cmd.exe',
      'C:\\Windows\\cmd.exe',
      file,
      undefined,
      'own',
      undefined,
      undefined,
    ]);
  });

  it('reads an object again once its tree has grown', () => {
    const observation = observe([process, parent, file]);
    const tree = new PathTree();
    const name = tree.idOf(keys('name')) as number;
    expect(observation.pathTable?.(process, tree).values[name]).toBe('cmd.exe');
    const parentName = tree.idOf(keys('parent_ref', 'name')) as number;
    expect(observation.pathTable?.(process, tree).values[parentName]).toBe('explorer.exe');
    expect(observation.pathTable?.(parent, tree).values[parentName]).toBeUndefined();
  });

  it('folds a string once, for every reader of its path', () => {
    const observation = observe([{ ...process, name: 'CMD.EXE' }]);
    const root = observation.roots[0]?.object as object;
    const tree = new PathTree();
    const name = tree.idOf(keys('name')) as number;
    const table = observation.pathTable?.(root, tree);
    const fold = table?.folded(name, 'CMD.EXE');
    expect(fold).toBe('cmd.exe');
    expect(table?.folded(name, 'CMD.EXE')).toBe(fold);
    expect(observation.pathTable?.(root, tree)).toBe(table);
  });

  it('walks the path of an observation made by hand (no table)', () => {
    const walk = compileRootPath({ objectType: 'process', steps: keys('parent_ref', 'name') });
    const handMade = { resolve: (ref: string) => (ref === 'process--2' ? parent : undefined) };
    const seen: unknown[] = [];
    walk(process, handMade as unknown as PreparedObservation, (v) => {
      seen.push(v);
      return true;
    });
    expect(seen).toEqual(['explorer.exe']);
  });
});

describe('property: a table holds what the path walker finds', () => {
  // More names than a node reads directly, so that both ways of reading a node are taken.
  const NAMES = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'x_ref', 'y_ref', 'constructor', 'toString'];
  const IDS = ['t--0', 't--1', 't--2', 't--3'];
  const name = fc.constantFrom(...NAMES);
  const leaf = fc.oneof(
    fc.constantFrom(...IDS, 't--missing'),
    fc.string({ maxLength: 3 }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.integer(), { maxLength: 2 }),
  );
  const value = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, leaf, fc.dictionary(name, tie('value'), { maxKeys: 12 })),
  })).value;
  const object = fc.dictionary(name, value, { maxKeys: 14 });
  const path = fc.array(name, { minLength: 1, maxLength: 4 });

  it('agrees with the walker on random objects, references and paths', () => {
    fc.assert(
      fc.property(
        fc.array(object, { minLength: 4, maxLength: 4 }),
        fc.array(path, { maxLength: 40 }),
        (objs, paths) => {
          const objects = objs.map((o, i) => ({ ...o, type: 't', id: IDS[i] as string }));
          const observation = observe(objects);
          const tree = new PathTree();
          const registered = paths.map((p) => [keys(...p), tree.idOf(keys(...p)) as number] as const);
          for (const root of objects) {
            const values = observation.pathTable?.(root, tree).values ?? [];
            for (const [steps, id] of registered) {
              const expected = walked(steps, root, observation);
              expect(expected.length).toBeLessThanOrEqual(1);
              expect(values[id]).toBe(expected[0]);
            }
          }
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });
});

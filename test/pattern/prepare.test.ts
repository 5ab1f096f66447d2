/**
 * Preparing the batch matcher's input: observed-data keep their input order however bundles
 * nest, and references resolve in the event's own bundle first, then anywhere in the input.
 */
import { describe, expect, it } from 'vitest';
import { compilePattern } from '../../src/pattern/compile.js';
import { prepareObservations } from '../../src/pattern/observation.js';
import { observed21, sco } from './fixtures.js';

describe('prepareObservations', () => {
  it('keeps input order across top-level items and nested bundles', () => {
    const a = observed21([{ type: 'x-a', v: 1 }], { id: 'observed-data--a' });
    const b = observed21([{ type: 'x-a', v: 2 }], { id: 'observed-data--b' });
    const c = observed21([{ type: 'x-a', v: 3 }], { id: 'observed-data--c' });
    const d = observed21([{ type: 'x-a', v: 4 }], { id: 'observed-data--d' });
    // a at top level (with its SCOs), then a bundle holding b, a nested bundle with c, then d.
    const input = [
      a.observedData,
      ...a.objects.slice(1),
      { type: 'bundle', id: 'bundle--outer', objects: [...b.objects, c, ...d.objects] },
    ];
    const prepared = prepareObservations(input);
    expect(prepared.map((p) => [p.index, p.id])).toEqual([
      [0, 'observed-data--a'],
      [1, 'observed-data--b'],
      [2, 'observed-data--c'],
      [3, 'observed-data--d'],
    ]);
    expect(prepared.map((p) => (p.roots[0]?.object as unknown as { v: number }).v)).toEqual([1, 2, 3, 4]);
  });

  it('resolves each observed-data among its own bundle’s objects at every depth of nesting', () => {
    const shared = 'x-a--00000000-0000-4000-8000-0000000000bb';
    const level = (v: number, inner: unknown[] = []): Record<string, unknown> => {
      const o = observed21([sco('x-a', { v }, shared)], { id: `observed-data--${v}` });
      // The nested bundles first, then this level's observed-data and its object.
      return { type: 'bundle', id: `bundle--${v}`, objects: [...inner, o.observedData, ...o.objects.slice(1)] };
    };
    const prepared = prepareObservations([level(1, [level(2, [level(3)])]), level(4)]);
    expect(prepared.map((p) => [p.id, (p.roots[0]?.object as unknown as { v: number }).v])).toEqual([
      ['observed-data--3', 3],
      ['observed-data--2', 2],
      ['observed-data--1', 1],
      ['observed-data--4', 4],
    ]);
  });

  it('resolves a reference in its own bundle first when another bundle reuses the id', () => {
    const shared = 'ipv4-addr--00000000-0000-4000-8000-0000000000aa';
    const one = observed21([
      sco('ipv4-addr', { value: '10.0.0.1' }, shared),
      sco('network-traffic', { dst_ref: shared }),
    ]);
    const two = observed21([
      sco('ipv4-addr', { value: '192.0.2.7' }, shared),
      sco('network-traffic', { dst_ref: shared }),
    ]);
    const pattern = compilePattern("[network-traffic:dst_ref.value = '10.0.0.1']");
    const prepared = prepareObservations([one, two]);
    expect(prepared.map((p) => pattern.observations[0]?.test(p))).toEqual([true, false]);
  });

  it('falls back to objects elsewhere in the input, in object_refs order or not', () => {
    const process = sco('process', { name: 'sh' });
    const file = sco('file', { name: 'a.out' });
    const observed = observed21([file, process]);
    // The observed-data and one SCO in one bundle, the other SCO in another bundle.
    const input = [
      { type: 'bundle', id: 'bundle--1', objects: [observed.observedData, process] },
      { type: 'bundle', id: 'bundle--2', objects: [file] },
    ];
    const [prepared] = prepareObservations(input);
    expect(prepared?.types.sort()).toEqual(['file', 'process']);
    expect(prepared?.resolve(file.id as string)).toBe(file);
  });

  it('resolves an id given twice to its last object, whatever the order of object_refs or the number of objects', () => {
    const resolved = (refs: string[], extra: number): unknown => {
      const padding = Array.from({ length: extra }, (_, i) => sco('x-pad', { n: i }));
      const od = {
        type: 'observed-data',
        id: 'observed-data--1',
        first_observed: '2026-01-01T00:00:00Z',
        last_observed: '2026-01-01T00:00:00Z',
        number_observed: 1,
        object_refs: refs,
      };
      const objects = [
        od,
        { type: 'x-a', id: 'x-a--1', v: 'first' },
        { type: 'x-b', id: 'x-b--1' },
        ...padding,
        { type: 'x-a', id: 'x-a--1', v: 'last' },
      ];
      const [prepared] = prepareObservations({ type: 'bundle', id: 'bundle--1', objects });
      return (prepared?.resolve('x-a--1') as { v: string } | undefined)?.v;
    };
    expect(resolved(['x-a--1', 'x-b--1'], 0)).toBe('last');
    expect(resolved(['x-b--1', 'x-a--1'], 0)).toBe('last');
    expect(resolved(['x-a--1', 'x-b--1'], 20)).toBe('last');
  });

  it('resolves among many objects (above the scan limit) through a map', () => {
    const objects = Array.from({ length: 40 }, (_, i) => sco('x-item', { n: i }));
    const observed = observed21(objects);
    const [prepared] = prepareObservations(observed);
    expect(prepared?.roots).toHaveLength(40);
    expect(prepared?.objectsOfType('x-item')).toHaveLength(40);
    expect(prepared?.resolve(objects[37]?.id as string)).toBe(objects[37]);
    expect(prepared?.resolve('x-item--absent')).toBeUndefined();
  });

  it('does not resolve an id that is in the input but not in the observed-data’s object_refs', () => {
    const outsider = sco('ipv4-addr', { value: '10.0.0.9' });
    const traffic = sco('network-traffic', { dst_ref: outsider.id });
    const observed = observed21([traffic]);
    const [prepared] = prepareObservations([observed, outsider]);
    expect(prepared?.resolve(outsider.id as string)).toBeUndefined();
    expect(
      compilePattern("[network-traffic:dst_ref.value = '10.0.0.9']").observations[0]?.test(prepared as never),
    ).toBe(false);
  });
});

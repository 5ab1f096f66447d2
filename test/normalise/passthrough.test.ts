import { describe, expect, it } from 'vitest';
import { createNormaliser } from '../../src/normalise/index.js';

const normaliser = createNormaliser({ tenant: 'acme' });

const ipv4 = {
  type: 'ipv4-addr',
  spec_version: '2.1',
  id: 'ipv4-addr--7dd44d27-f473-5ba9-b12b-0d3a61bbed2e',
  value: '10.0.0.1',
};
const proc = {
  type: 'process',
  spec_version: '2.1',
  id: 'process--11111111-1111-4111-8111-111111111111',
  name: 'bash',
};

function observed(id: string, refs: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'observed-data',
    spec_version: '2.1',
    id: `observed-data--${id}`,
    created: '2024-05-01T10:00:00Z',
    modified: '2024-05-01T10:00:00Z',
    first_observed: '2024-05-01T10:00:00Z',
    last_observed: '2024-05-01T10:00:00.5Z',
    number_observed: 1,
    object_refs: refs,
    ...extra,
  };
}

const bundle = {
  type: 'bundle',
  id: 'bundle--22222222-2222-4222-8222-222222222222',
  objects: [
    observed('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', [ipv4.id]),
    ipv4,
    proc,
    observed('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', [proc.id, ipv4.id]),
    { type: 'indicator', id: 'indicator--33333333-3333-4333-8333-333333333333' },
  ],
};

describe('STIX pass-through', () => {
  it('turns each observed-data of a 2.1 bundle into one event with its SCOs', () => {
    const result = normaliser.normalise(bundle);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.mapping).toBe('stix');
    expect(result.events).toHaveLength(2);
    expect(result.events[0]?.objects).toEqual([ipv4]);
    expect(result.events[1]?.objects).toEqual([proc, ipv4]);
    expect(result.events[1]?.observedData).toEqual({ ...bundle.objects[3], x_tenant: 'acme' });
  });

  it('does not modify the input', () => {
    const copy = structuredClone(bundle);
    normaliser.normalise(copy);
    expect(copy).toEqual(bundle);
  });

  it('accepts a 2.0 observed-data with embedded objects, alone', () => {
    const od20 = {
      type: 'observed-data',
      id: 'observed-data--cccccccc-cccc-4ccc-8ccc-cccccccccccc',
      created: '2017-10-16T17:15:48Z',
      modified: '2017-10-16T17:15:48Z',
      first_observed: '2017-10-16T17:15:48Z',
      last_observed: '2017-10-16T17:15:48Z',
      number_observed: 3,
      objects: { '0': { type: 'file', name: 'a.exe' } },
    };
    const result = normaliser.normalise(od20);
    expect(result).toEqual({
      ok: true,
      mapping: 'stix',
      events: [{ observedData: { ...od20, x_tenant: 'acme' }, objects: [] }],
    });
  });

  it.each([
    ['both objects and object_refs', { objects: { '0': { type: 'file' } } }, 'both objects and object_refs'],
    ['number_observed 0', { number_observed: 0 }, 'number_observed'],
    ['fractional number_observed', { number_observed: 1.5 }, 'number_observed'],
    ['zone-less first_observed', { first_observed: '2024-05-01T10:00:00' }, 'first_observed'],
    ['missing last_observed', { last_observed: undefined }, 'last_observed'],
    ['last before first', { last_observed: '2024-05-01T09:00:00Z' }, 'before first_observed'],
    ['empty object_refs', { object_refs: [] }, 'non-empty'],
    ['2.1 refs without spec_version', { spec_version: undefined }, 'spec_version'],
  ])('rejects an observed-data with %s', (_, change, reason) => {
    const broken = {
      ...bundle,
      objects: [{ ...observed('dddddddd-dddd-4ddd-8ddd-dddddddddddd', [ipv4.id]), ...change }, ipv4],
    };
    const result = normaliser.normalise(broken, 2);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.diagnostic).toMatchObject({ code: 'invalid-stix', eventIndex: 2 });
    expect(result.diagnostic.message).toContain(reason);
  });

  it('rejects references to SCOs that are not alongside', () => {
    const dangling = { ...bundle, objects: [observed('eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee', [proc.id])] };
    const result = normaliser.normalise(dangling);
    expect(!result.ok && result.diagnostic.code).toBe('dangling-ref');
    const bare = normaliser.normalise(observed('ffffffff-ffff-4fff-8fff-ffffffffffff', [ipv4.id]));
    expect(!bare.ok && bare.diagnostic.code).toBe('dangling-ref');
  });

  it('rejects a bundle without observed-data and a malformed bundle', () => {
    const empty = normaliser.normalise({ ...bundle, objects: [ipv4] });
    expect(!empty.ok && empty.diagnostic.code).toBe('no-observed-data');
    const noList = normaliser.normalise({ ...bundle, objects: 'nope' });
    expect(!noList.ok && noList.diagnostic.code).toBe('invalid-stix');
    const badId = normaliser.normalise({ ...bundle, id: 'bundle--nope' });
    expect(!badId.ok && badId.diagnostic.code).toBe('invalid-stix');
  });
});

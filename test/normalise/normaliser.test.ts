import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createNormaliser, toBundle } from '../../src/normalise/index.js';
import { expectWellFormed, single } from './helpers.js';

const normaliser = createNormaliser({ tenant: 't1' });

describe('normaliseBatch', () => {
  it('reports each rejected event with its index and keeps the others', () => {
    const { events, rejected } = normaliser.normaliseBatch([
      { '@timestamp': '2024-05-01T10:00:00Z', process: { name: 'a' } },
      'not an object',
      { unknown: 'format' },
      { '@timestamp': 'never', process: { name: 'b' } },
      null,
      { process: 'c.exe', timestamp: 1714557600 },
    ]);
    expect(events).toHaveLength(2);
    expect(rejected.map((d) => [d.eventIndex, d.code])).toEqual([
      [1, 'not-an-object'],
      [2, 'unrecognised-format'],
      [3, 'bad-timestamp'],
      [4, 'not-an-object'],
    ]);
    // Nothing in `{ unknown: 'format' }` resembles any mapping, and the message says so (it used to list every mapping tried).
    expect(rejected[1]?.message).toContain('no mapping recognises the event; none of');
  });

  it('expands a bundle with several observed-data into several events', () => {
    const ip = {
      type: 'ipv4-addr',
      spec_version: '2.1',
      id: 'ipv4-addr--7dd44d27-f473-5ba9-b12b-0d3a61bbed2e',
      value: '10.0.0.1',
    };
    const od = (n: number) => ({
      type: 'observed-data',
      spec_version: '2.1',
      id: `observed-data--0000000${n}-0000-4000-8000-000000000000`,
      created: '2024-05-01T10:00:00Z',
      modified: '2024-05-01T10:00:00Z',
      first_observed: '2024-05-01T10:00:00Z',
      last_observed: '2024-05-01T10:00:00Z',
      number_observed: 1,
      object_refs: [ip.id],
    });
    const bundle = { type: 'bundle', id: 'bundle--00000000-0000-4000-8000-000000000009', objects: [od(1), od(2), ip] };
    expect(normaliser.normaliseBatch([bundle]).events).toHaveLength(2);
  });
});

describe('toBundle', () => {
  it('wraps the observed-data and its SCOs with a deterministic bundle id', () => {
    const event = single(
      normaliser.normalise({ '@timestamp': '2024-05-01T10:00:00Z', event: { id: 'e' }, user: { name: 'u' } }),
    );
    const bundle = toBundle(event);
    expect(bundle.type).toBe('bundle');
    expect(bundle.objects).toEqual([event.observedData, ...event.objects]);
    expect(toBundle(event).id).toBe(bundle.id);
    expect(bundle.id).toMatch(/^bundle--[0-9a-f-]{36}$/);
  });
});

/** Objects shaped like the formats, filled with arbitrary values, to reach deep into the mappings. */
const jsonish = fc.jsonValue({ maxDepth: 3 });
const ecsLike = fc.record(
  {
    '@timestamp': fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      jsonish,
    ),
    event: fc.record({ id: jsonish, kind: jsonish, category: jsonish, end: jsonish }, { requiredKeys: [] }),
    process: fc.record(
      {
        name: jsonish,
        pid: jsonish,
        executable: jsonish,
        parent: fc.dictionary(fc.constantFrom('name', 'pid', 'executable', 'hash'), jsonish),
      },
      { requiredKeys: [] },
    ),
    source: fc.dictionary(fc.constantFrom('ip', 'port', 'bytes'), jsonish),
    destination: fc.dictionary(fc.constantFrom('ip', 'port', 'domain'), jsonish),
    'process.name': jsonish,
    'network.transport': jsonish,
    host: fc.dictionary(fc.constantFrom('ip', 'mac', 'name'), jsonish),
    dns: jsonish,
    registry: fc.dictionary(fc.constantFrom('path', 'value', 'data'), jsonish),
    email: jsonish,
  },
  { requiredKeys: [] },
);
const validTime = fc.oneof(
  fc.date({ noInvalidDate: true, min: new Date(0), max: new Date('2100-01-01T00:00:00Z') }).map((d) => d.toISOString()),
  fc.integer({ min: 0, max: 4_000_000_000 }),
);
const flatLike = fc
  .tuple(
    fc.oneof(validTime, jsonish),
    fc.dictionary(
      fc.constantFrom(
        'process',
        'process_name',
        'parent_process',
        'pid',
        'src_ip',
        'dst_port',
        'path',
        'event_id',
        'md5',
        'url',
        'registry_key',
        'to',
      ),
      fc.oneof(
        jsonish,
        fc.ipV4(),
        fc.ipV6(),
        fc.constantFrom('C:\\Windows\\cmd.exe', '/usr/bin/bash', 'HKLM\\Software\\x'),
      ),
    ),
  )
  .map(([timestamp, rest]) => ({ timestamp, ...rest }));
const stixLike = fc.record(
  {
    type: fc.constantFrom('bundle', 'observed-data'),
    id: fc.oneof(
      fc.constant('bundle--00000000-0000-4000-8000-000000000000'),
      fc.constant('observed-data--00000000-0000-4000-8000-000000000000'),
      jsonish,
    ),
    objects: jsonish,
    object_refs: jsonish,
    first_observed: jsonish,
    last_observed: jsonish,
    number_observed: jsonish,
    spec_version: fc.constantFrom('2.0', '2.1'),
  },
  { requiredKeys: ['type'] },
);

describe('robustness (property-based)', () => {
  it('never throws on any JSON value: a result or a diagnostic, and results are well formed', () => {
    const outcomes = new Map<string, number>();
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), ecsLike, flatLike, stixLike), fc.nat(), (input, index) => {
        const result = normaliser.normalise(input, index);
        outcomes.set(
          result.ok ? result.mapping : 'rejected',
          (outcomes.get(result.ok ? result.mapping : 'rejected') ?? 0) + 1,
        );
        if (result.ok) {
          if (result.mapping !== 'stix') for (const event of result.events) expectWellFormed(event);
        } else {
          expect(result.diagnostic.eventIndex).toBe(index);
          expect(result.diagnostic.code).not.toBe('internal-error');
          expect(result.diagnostic.message.length).toBeGreaterThan(0);
        }
      }),
      { seed: 20240501, numRuns: 3000 },
    );
    // The generators must reach the mapping code, not only the rejections.
    expect([...outcomes.keys()].sort()).toEqual(['ecs', 'flat', 'rejected']);
    expect((outcomes.get('ecs') ?? 0) + (outcomes.get('flat') ?? 0)).toBeGreaterThan(300);
  });

  it('is deterministic: the same input gives the same output', () => {
    fc.assert(
      fc.property(fc.oneof(ecsLike, flatLike), (input) => {
        const a = normaliser.normalise(input);
        const b = createNormaliser({ tenant: 't1' }).normalise(structuredClone(input));
        expect(b).toEqual(a);
      }),
      { seed: 11, numRuns: 500 },
    );
  });
});

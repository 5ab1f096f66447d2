import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  deterministicScoId,
  ID_CONTRIBUTING_PROPERTIES,
  sha1Hex,
  STIX_SCO_NAMESPACE,
  STIXFLOW_NAMESPACE,
  uuidv5,
} from '../../src/normalise/ids.js';

const DNS_NAMESPACE = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';

function nodeSha1(namespace: string, name: string): string {
  return createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(name, 'utf8')
    .digest('hex');
}

describe('uuidv5', () => {
  it('matches the RFC 4122 / Python uuid5 vector', () => {
    expect(uuidv5(DNS_NAMESPACE, 'python.org')).toBe('886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });

  it('derives the stixflow namespace from the STIX one', () => {
    expect(uuidv5(STIX_SCO_NAMESPACE, 'stixflow')).toBe(STIXFLOW_NAMESPACE);
  });

  it('hashes like node:crypto for any name, including multi-block and non-ASCII (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (name) => {
        expect(sha1Hex(STIX_SCO_NAMESPACE, name)).toBe(nodeSha1(STIX_SCO_NAMESPACE, name));
      }),
      { seed: 99, numRuns: 400 },
    );
    // Around the block edges (16 namespace bytes + name + 9 of padding) and the JavaScript/node:crypto edge (103).
    for (const length of [0, 38, 39, 40, 47, 48, 55, 56, 63, 64, 87, 88, 102, 103, 104, 119, 120, 1000, 5000]) {
      const name = 'x'.repeat(length);
      expect(sha1Hex(DNS_NAMESPACE, name)).toBe(nodeSha1(DNS_NAMESPACE, name));
    }
    // Names short enough for the JavaScript path whose UTF-8 takes up to six blocks, and lone surrogates.
    for (const name of [
      'é'.repeat(103),
      '€'.repeat(103),
      '😀'.repeat(51),
      `${'a'.repeat(101)}\ud800`,
      '\udfff'.repeat(103),
    ]) {
      expect(sha1Hex(STIX_SCO_NAMESPACE, name)).toBe(nodeSha1(STIX_SCO_NAMESPACE, name));
    }
  });

  it('sets the version and variant bits', () => {
    const id = uuidv5(STIX_SCO_NAMESPACE, 'anything');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('canonicalJson (RFC 8785 subset)', () => {
  it('writes numbers as JSON.stringify does, non-finite ones as null (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.integer(), fc.constantFrom(-0, 1e21, 5e-324, Number.MAX_VALUE)), (n) => {
        expect(canonicalJson(n)).toBe(JSON.stringify(n));
        expect(canonicalJson([n, { n }])).toBe(JSON.stringify([n, { n }]));
      }),
      { seed: 13, numRuns: 500 },
    );
  });

  it('sorts keys, drops undefined, writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x"y'], c: undefined, A: { z: 1, y: 2 } })).toBe(
      '{"A":{"y":2,"z":1},"a":[true,null,"x\\"y"],"b":1}',
    );
  });

  it('reads back as the same value for any JSON (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { seed: 3, numRuns: 300 },
    );
  });
});

describe('deterministicScoId', () => {
  // Expected values computed independently with Python: uuid5(STIX namespace, json.dumps(props, sort_keys=True,
  // separators=(',', ':'))), which is what STIX 2.1 §2.9 prescribes for these ASCII inputs.
  it('follows STIX 2.1 §2.9 for single-value types', () => {
    expect(deterministicScoId({ type: 'ipv4-addr', value: '10.0.0.1' }, 'ipv4-addr')).toBe(
      'ipv4-addr--7dd44d27-f473-5ba9-b12b-0d3a61bbed2e',
    );
    expect(deterministicScoId({ type: 'directory', path: 'C:\\Windows\\System32' }, 'directory')).toBe(
      'directory--0a58d0c1-59e6-5afd-8252-dcd3f13e5622',
    );
  });

  it('uses only one hash, preferring MD5, and ignores non-contributing properties', () => {
    const withExtra = { type: 'file', name: 'a.exe', size: 10, hashes: { 'SHA-256': 'x', MD5: 'm' } };
    expect(deterministicScoId(withExtra, 'file')).toBe('file--507e6979-0f42-5aaf-a5ff-adfe0538906e');
    expect(deterministicScoId({ type: 'file', name: 'a.exe', hashes: { MD5: 'm' } }, 'file')).toBe(
      'file--507e6979-0f42-5aaf-a5ff-adfe0538906e',
    );
  });

  it('includes references among contributing properties', () => {
    const id = deterministicScoId(
      {
        type: 'file',
        name: 'cmd.exe',
        hashes: { 'SHA-256': 'aa' },
        parent_directory_ref: 'directory--0a58d0c1-59e6-5afd-8252-dcd3f13e5622',
      },
      'file',
    );
    expect(id).toBe('file--037027da-8863-52c3-adc4-8e265fb4e815');
  });

  it('gives the same id from the cache as from scratch, and distinguishes numbers from strings', () => {
    const first = deterministicScoId({ type: 'network-traffic', dst_port: 80, protocols: ['tcp'] }, 'network-traffic');
    const again = deterministicScoId({ type: 'network-traffic', dst_port: 80, protocols: ['tcp'] }, 'network-traffic');
    const text = deterministicScoId({ type: 'network-traffic', dst_port: '80', protocols: ['tcp'] }, 'network-traffic');
    expect(again).toBe(first);
    expect(text).not.toBe(first);
    const expected = `network-traffic--${uuidv5(STIX_SCO_NAMESPACE, '{"dst_port":80,"protocols":["tcp"]}')}`;
    expect(first).toBe(expected);
  });

  it('returns undefined for types without id-contributing properties or objects lacking them', () => {
    expect(deterministicScoId({ type: 'process', pid: 4 }, 'process')).toBeUndefined();
    expect(deterministicScoId({ type: 'file', size: 4 }, 'file')).toBeUndefined();
  });

  it('escapes values that need it exactly as JSON.stringify does', () => {
    const value = 'quote " backslash \\ tab \t lone \ud800 end';
    expect(deterministicScoId({ type: 'url', value }, 'url')).toBe(
      `url--${uuidv5(STIX_SCO_NAMESPACE, `{"value":${JSON.stringify(value)}}`)}`,
    );
  });
});

/**
 * STIX 2.1 §2.9 written out plainly, as the reference for the fast path: the id-contributing properties present
 * (for `hashes`, the one hash the preference order picks), serialised by JCS (RFC 8785: keys sorted, no
 * whitespace), hashed by node:crypto into a UUIDv5 in the STIX namespace.
 */
function eagerScoId(sco: Record<string, unknown>, properties: readonly string[]): string | undefined {
  const jcs = (v: unknown): string =>
    Array.isArray(v)
      ? `[${v.map(jcs).join(',')}]`
      : v !== null && typeof v === 'object'
        ? `{${Object.keys(v)
            .sort()
            .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
            .map((k) => `${JSON.stringify(k)}:${jcs((v as Record<string, unknown>)[k])}`)
            .join(',')}}`
        : JSON.stringify(v);
  const contributing: Record<string, unknown> = {};
  for (const property of properties) {
    let value = sco[property];
    if (property === 'hashes' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const hashes = value as Record<string, unknown>;
      const algorithm = [...['MD5', 'SHA-1', 'SHA-256', 'SHA-512'], ...Object.keys(hashes).sort()].find(
        (a) => hashes[a] !== undefined,
      );
      value = algorithm === undefined ? undefined : { [algorithm]: hashes[algorithm] };
    }
    if (value !== undefined) contributing[property] = value;
  }
  if (Object.keys(contributing).length === 0) return undefined;
  const hex = nodeSha1(STIX_SCO_NAMESPACE, jcs(contributing));
  const variant = ((parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${sco.type as string}--${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

describe('deterministicScoId against the eager §2.9 derivation (seeded property)', () => {
  it('gives the same id on cache misses and hits, for every type with id-contributing properties', () => {
    // Few distinct values, so that the same contributing properties come back often and the cache answers.
    const scalar = fc.oneof(
      fc.constantFrom('a', 'B', 'x"y', 'ß', '10.0.0.1', 'C:\\Windows', ''),
      fc.constantFrom(0, 1, 443, -2.5),
      fc.boolean(),
    );
    const value = fc.oneof(
      { weight: 4, arbitrary: scalar },
      { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }) },
      { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('k', 'Z', 'a b'), scalar, { maxKeys: 2 }) },
    );
    const hashes = fc.dictionary(
      fc.constantFrom('MD5', 'SHA-1', 'SHA-256', 'SHA-512', 'ssdeep', 'TLSH'),
      fc.constantFrom('00', 'ab', 'CD'),
      {
        maxKeys: 3,
      },
    );
    const types = Object.keys(ID_CONTRIBUTING_PROPERTIES);
    const sco = fc.constantFrom(...types).chain((type) => {
      const properties = ID_CONTRIBUTING_PROPERTIES[type] as readonly string[];
      return fc
        .record(
          Object.fromEntries(
            [...properties, 'x_other'].map((p) => [
              p,
              fc.option((p === 'hashes' ? hashes : value) as fc.Arbitrary<unknown>, { nil: undefined }),
            ]),
          ),
          { requiredKeys: [] },
        )
        .map((props) => ({ type, props, properties }));
    });
    fc.assert(
      fc.property(fc.array(sco, { minLength: 1, maxLength: 30 }), (objects) => {
        for (const { type, props, properties } of objects) {
          const object: Record<string, unknown> = { type };
          for (const [k, v] of Object.entries(props)) if (v !== undefined) object[k] = v;
          expect(deterministicScoId(object, type)).toBe(eagerScoId(object, properties));
        }
      }),
      { seed: 1813, numRuns: 400 },
    );
  });
});

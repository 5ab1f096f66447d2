import { readFileSync } from 'node:fs';
import Ajv2020Module from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { InputError, type Diagnostic } from '../../src/errors.js';
import {
  BUILT_IN_MAPPING_FILES,
  builtInMappings,
  builtInMappingTexts,
  createNormaliser,
  loadMapping,
  mappingSchema,
  setBuiltInMappingTexts,
} from '../../src/normalise/index.js';
import { byId, expectWellFormed, ofType, single } from './helpers.js';

const Ajv2020 = Ajv2020Module as unknown as typeof Ajv2020Module.default;

function loadErrors(text: string, file = 'custom.yaml'): Diagnostic[] {
  try {
    loadMapping(text, file);
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return (error as InputError).diagnostics;
  }
  throw new Error('expected the mapping to be refused');
}

const zeekConn = `
mapping: 1
name: zeek-conn
description: Zeek conn.log as JSON
detect:
  all:
    - present: uid
    - present: id.orig_h
time:
  start: ts
source_id: uid
fields:
  id.orig_h: { target: network-traffic:src_ref.value, transform: ip-to-sco-type }
  id.orig_p: { target: network-traffic:src_port, transform: to-port }
  id.resp_h: { target: network-traffic:dst_ref.value, transform: ip-to-sco-type }
  id.resp_p: { target: network-traffic:dst_port, transform: to-port }
  proto: { target: "network-traffic:protocols[*]", transform: lowercase }
  service: { target: "network-traffic:protocols[*]", transform: lowercase }
  orig_bytes: { target: network-traffic:src_byte_count, transform: to-int }
ignore: [local_orig]
`;

const builtInNames = BUILT_IN_MAPPING_FILES.map((file) => file.replace('.yaml', ''));

describe('built-in mappings', () => {
  it('parse, validate against the published schema and compile', () => {
    const validate = new Ajv2020({ allErrors: true, strictRequired: false, allowUnionTypes: true }).compile(
      mappingSchema(),
    );
    for (const file of BUILT_IN_MAPPING_FILES) {
      const text = readFileSync(new URL(`../../mappings/${file}`, import.meta.url), 'utf8');
      expect(builtInMappingTexts()[file]).toBe(text);
      expect(validate(parse(text)), JSON.stringify(validate.errors)).toBe(true);
    }
    // Each file holds the mapping of its name; only stix passes STIX through.
    expect(builtInMappings().map((m) => [m.name, m.mode])).toEqual(
      BUILT_IN_MAPPING_FILES.map((file) => [
        file.replace('.yaml', ''),
        file === 'stix.yaml' ? 'stix-passthrough' : 'fields',
      ]),
    );
  });

  it('can be supplied inline (bundled deployments) instead of read from mappings/', () => {
    const original = { ...builtInMappingTexts() } as Record<(typeof BUILT_IN_MAPPING_FILES)[number], string>;
    try {
      const replacement = original['flat.yaml'].replace('name: flat', 'name: flat-inline');
      setBuiltInMappingTexts({ ...original, 'flat.yaml': replacement }, JSON.stringify(mappingSchema()));
      expect(builtInMappings().map((m) => m.name)).toEqual(builtInNames.map((n) => (n === 'flat' ? 'flat-inline' : n)));
    } finally {
      setBuiltInMappingTexts(original);
    }
    expect(builtInMappings().map((m) => m.name)).toEqual(builtInNames);
  });

  it('the schema file itself is valid JSON Schema 2020-12', () => {
    const ajv = new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true });
    expect(ajv.validateSchema(mappingSchema())).toBe(true);
  });
});

describe('a mapping for a new source, no code', () => {
  const zeek = loadMapping(zeekConn, 'zeek.yaml');
  const normaliser = createNormaliser({ mappings: [zeek], tenant: 'acme' });

  it('maps dotted-name fields, lists in mapping order, ignores what it is told to', () => {
    const result = normaliser.normalise({
      ts: 1714557600.123456,
      uid: 'CHhAvVGS1DHFjwGM9',
      'id.orig_h': '192.0.2.1',
      'id.orig_p': 50000,
      'id.resp_h': '198.51.100.2',
      'id.resp_p': 53,
      proto: 'udp',
      service: 'dns',
      orig_bytes: 48,
      local_orig: true,
      history: 'Dd',
    });
    expect(result.ok && result.mapping).toBe('zeek-conn');
    const event = single(result);
    expectWellFormed(event);
    const [traffic] = ofType(event, 'network-traffic');
    expect(traffic).toMatchObject({ src_port: 50000, dst_port: 53, protocols: ['udp', 'dns'], src_byte_count: 48 });
    expect(byId(event, traffic?.dst_ref).value).toBe('198.51.100.2');
    expect(event.observedData).toMatchObject({
      first_observed: '2024-05-01T10:00:00.123456Z',
      x_source_event_id: 'CHhAvVGS1DHFjwGM9',
      x_source_mapping: 'zeek-conn',
      x_unmapped: { history: 'Dd' },
    });
  });

  it('is tried before the built-ins; one named like a built-in replaces it', () => {
    expect(normaliser.mappings.map((m) => m.name)).toEqual(['zeek-conn', ...builtInNames]);
    const flatOnlyPid = loadMapping(
      `mapping: 1\nname: flat\ndetect: { any: [ { present: pid } ] }\ntime: { start: t }\nfields: { pid: { target: process:pid, transform: to-int } }\n`,
    );
    const replaced = createNormaliser({ mappings: [flatOnlyPid] });
    expect(replaced.mappings.map((m) => m.name)).toEqual(['flat', ...builtInNames.filter((n) => n !== 'flat')]);
    expect(createNormaliser({ mappings: [zeek], includeBuiltIns: false }).mappings).toHaveLength(1);
  });

  it('accepts JSON mapping files', () => {
    const json = JSON.stringify(parse(zeekConn));
    expect(loadMapping(json, 'zeek.json').name).toBe('zeek-conn');
  });

  it('supports when-conditions and defaults', () => {
    const mapping = loadMapping(`
mapping: 1
name: mail
detect: { all: [ { present: msg_subject } ] }
time: { start: when }
defaults:
  email-message:is_multipart: true
fields:
  msg_subject: email-message:subject
  size:
    - { target: email-message:x_size, transform: to-int, when: { equals: { field: unit, value: bytes } } }
`);
    const n = createNormaliser({ mappings: [mapping], includeBuiltIns: false });
    const withUnit = single(n.normalise({ when: 0, msg_subject: 'hi', size: '12', unit: 'bytes' }));
    expect(ofType(withUnit, 'email-message')[0]).toMatchObject({ subject: 'hi', x_size: 12, is_multipart: true });
    const without = single(n.normalise({ when: 0, msg_subject: 'hi', size: '12', unit: 'kb' }));
    expect(ofType(without, 'email-message')[0]?.x_size).toBeUndefined();
    expect(without.observedData.x_unmapped).toEqual({ size: '12', unit: 'kb' });
  });
});

describe('mapping validation errors carry positions', () => {
  it('reports YAML syntax errors with line and column', () => {
    const [first] = loadErrors('mapping: 1\nname: x\ndetect: { any: [ { present: a } ]\n');
    expect(first).toMatchObject({
      code: 'mapping-syntax',
      file: 'custom.yaml',
      line: expect.any(Number),
      column: expect.any(Number),
    });
  });

  it('reports schema violations at the offending key', () => {
    const diagnostics = loadErrors(
      'mapping: 1\nname: bad\ndetect:\n  any:\n    - present: a\ntime:\n  start: t\nfields:\n  a:\n    target: process:name\n    transform: shout\n  b: process:pid\ncolour: red\n',
    );
    expect(diagnostics).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          code: 'mapping-schema',
          line: 11,
          column: 16,
          message: expect.stringContaining('must be one of'),
        }),
        expect.objectContaining({
          code: 'mapping-schema',
          line: 13,
          column: 1,
          message: expect.stringContaining('"colour"'),
        }),
      ]),
    );
  });

  it('refuses more than 30 candidate fields for the time (each is a bit of a mask)', () => {
    const fields = (n: number): string => `[${Array.from({ length: n }, (_, i) => `t${i}`).join(', ')}]`;
    const text = (n: number): string =>
      `mapping: 1\nname: many\ndetect: { any: [ { present: t0 } ] }\ntime: { start: ${fields(n)} }\nfields:\n  a: process:name\n`;
    expect(() => loadMapping(text(30), 'custom.yaml')).not.toThrow();
    expect(loadErrors(text(31))).toEqual([
      expect.objectContaining({
        code: 'mapping-invalid',
        line: 4,
        column: 16,
        message: 'time.start: at most 30 fields',
      }),
    ]);
  });

  it('requires time and fields for field mappings', () => {
    const diagnostics = loadErrors('mapping: 1\nname: bad\ndetect: { any: [ { present: a } ] }\n');
    expect(diagnostics.map((d) => d.message).join('\n')).toMatch(/time/);
  });

  it.each([
    ['a target that is not a path', 'process', /must match pattern/],
    ['a reference assigned directly', 'process:parent_ref', /is a reference/],
    ['a reserved property', 'process:type', /not a settable/],
    ['ip-to-sco-type on a root object', '{ target: ipv4-addr:value, transform: ip-to-sco-type }', /referenced object/],
    [
      'an untyped reference without ip-to-sco-type',
      'network-traffic:src_ref.value',
      /type of the object at network-traffic:src_ref is unknown/,
    ],
    ['an unterminated quote', "file:hashes.'SHA-256", /unterminated/],
  ])('refuses %s, pointing at the field', (_, target, message) => {
    const text = `mapping: 1\nname: bad\ndetect: { any: [ { present: a } ] }\ntime: { start: t }\nfields:\n  a: process:name\n  b: ${target}\n`;
    const [diagnostic] = loadErrors(text);
    // The schema catches what a pattern can express; the compiler the rest. Both point at the target.
    expect(diagnostic).toMatchObject({
      code: expect.stringMatching(/^mapping-(schema|invalid)$/),
      file: 'custom.yaml',
      line: 7,
      column: 6,
    });
    expect(diagnostic?.message).toMatch(message);
  });

  it('accepts a declared type for a reference', () => {
    const mapping = loadMapping(
      `mapping: 1\nname: typed\ndetect: { any: [ { present: a } ] }\ntime: { start: t }\ntypes:\n  network-traffic:src_ref: mac-addr\nfields:\n  a: network-traffic:src_ref.value\n`,
    );
    const event = single(
      createNormaliser({ mappings: [mapping], includeBuiltIns: false }).normalise({ t: 0, a: '00:11:22:33:44:55' }),
    );
    expect(ofType(event, 'mac-addr')[0]?.value).toBe('00:11:22:33:44:55');
  });
});

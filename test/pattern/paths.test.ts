/**
 * Object paths (STIX 2.1, 9.3): nested and quoted keys, list indexes, `[*]`, and `_ref` /
 * `_refs` dereferencing within the same observed-data.
 */
import { describe, expect, it } from 'vitest';
import { compilePattern } from '../../src/pattern/compile.js';
import { matches, observed20, observed21, one, sco } from './fixtures.js';

const file = one('file', {
  name: 'setup.exe',
  size: 1024,
  hashes: { 'SHA-256': 'aa'.repeat(32), MD5: 'bb'.repeat(16) },
  extensions: {
    'windows-pebinary-ext': {
      pe_type: 'exe',
      sections: [
        { name: '.text', entropy: 6.2 },
        { name: '.rsrc', entropy: 7.5 },
      ],
    },
    'x-custom': { nested: { deeper: { value: 'found' } } },
  },
  tags: ['alpha', 'beta', 'gamma'],
  matrix: [
    [1, 2],
    [3, 4],
  ],
});

const check = (pattern: string): boolean => matches(pattern, file);

describe('keys', () => {
  it.each([
    ["[file:name = 'setup.exe']", true],
    ["[file:extensions.'x-custom'.nested.deeper.value = 'found']", true],
    ["[file:extensions.'x-custom'.nested.deeper.value = 'lost']", false],
    ["[file:extensions.'x-custom'.nested.value = 'found']", false],
    [`[file:hashes.'SHA-256' = '${'aa'.repeat(32)}']`, true],
    [`[file:hashes.'SHA-256' = '${'ab'.repeat(32)}']`, false],
    [`[file:hashes.MD5 = '${'bb'.repeat(16)}']`, true],
    [`[file:hashes.'MD5' = '${'bb'.repeat(16)}']`, true],
    [`[file:'hashes'.MD5 = '${'bb'.repeat(16)}']`, true],
    [`[file:hashes.md5 = '${'bb'.repeat(16)}']`, false], // keys are case sensitive
    ["[file:extensions.'windows-pebinary-ext'.pe_type = 'exe']", true],
    ["[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]", true],
    ["[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.5]", false],
    ["[file:extensions.'windows-pebinary-ext'.sections[0].entropy > 7.0]", false],
    ["[file:extensions.'windows-pebinary-ext'.sections[1].entropy > 7.0]", true],
    ["[file:extensions.'windows-pebinary-ext'.sections[*].name = '.rsrc']", true],
    // a key step on a non-object, or an index step on a non-list, selects nothing
    ['[file:name.length = 9]', false],
    ["[file:name[0] = 's']", false],
    ["[file:hashes[0] = 'x']", false],
  ] as [string, boolean][])('%s → %s', (pattern, expected) => {
    expect(check(pattern)).toBe(expected);
  });
});

describe('list indexes', () => {
  it.each([
    ["[file:tags[0] = 'alpha']", true],
    ["[file:tags[2] = 'gamma']", true],
    ["[file:tags[1] = 'alpha']", false],
    ["[file:tags[3] = 'alpha']", false],
    ["[file:tags[*] = 'beta']", true],
    ["[file:tags[*] = 'delta']", false],
    ["[file:tags[*] LIKE 'g%']", true],
    ["[file:tags[*] != 'alpha']", true], // some element differs
    ["[file:tags[*] NOT IN ('alpha', 'beta', 'gamma')]", false],
    ['[file:matrix[1][0] = 3]', true],
    ['[file:matrix[*][1] = 4]', true],
    ['[file:matrix[*][*] = 5]', false],
    ['[file:matrix[0][*] > 1]', true],
    ['[file:matrix[0][*] > 2]', false],
  ] as [string, boolean][])('%s → %s', (pattern, expected) => {
    expect(check(pattern)).toBe(expected);
  });

  it('a negative index parses but never matches', () => {
    expect(compilePattern("[file:tags[-1] = 'gamma']").warnings).toEqual([]); // it compiles
    expect(check("[file:tags[-1] = 'gamma']")).toBe(false);
    expect(check("[file:tags[-3] = 'alpha']")).toBe(false);
    expect(check("[file:tags[-1] != 'x']")).toBe(false);
    expect(check('[EXISTS file:tags[-1]]')).toBe(false);
  });

  it('the whole list does not equal one of its elements', () => {
    expect(check("[file:tags = 'alpha']")).toBe(false);
  });
});

describe('_ref and _refs, STIX 2.1 (object_refs ids)', () => {
  const src = sco('ipv4-addr', { value: '198.51.100.1' });
  const dst = sco('ipv4-addr', { value: '203.0.113.33' });
  const mac = sco('mac-addr', { value: 'aa:bb:cc:dd:ee:ff' });
  const srcWithMac = { ...src, id: 'ipv4-addr--11111111-1111-4111-8111-111111111111', resolves_to_refs: [mac.id] };
  const traffic = sco('network-traffic', { src_ref: srcWithMac.id, dst_ref: dst.id, protocols: ['ipv4', 'tcp'] });
  const bundle = observed21([srcWithMac, dst, mac, traffic]);

  it.each([
    ["[network-traffic:src_ref.value = '198.51.100.1']", true],
    ["[network-traffic:dst_ref.value = '203.0.113.33']", true],
    ["[network-traffic:dst_ref.value = '198.51.100.1']", false],
    ["[network-traffic:src_ref.type = 'ipv4-addr']", true],
    ["[network-traffic:src_ref.resolves_to_refs[*].value = 'aa:bb:cc:dd:ee:ff']", true],
    ["[network-traffic:src_ref.resolves_to_refs[0].value = 'aa:bb:cc:dd:ee:ff']", true],
    ["[network-traffic:src_ref.resolves_to_refs[1].value = 'aa:bb:cc:dd:ee:ff']", false],
    ["[network-traffic:dst_ref.value ISSUBSET '203.0.113.0/24']", true],
    ['[EXISTS network-traffic:src_ref.value]', true],
    ['[EXISTS network-traffic:src_ref.nope]', false],
  ] as [string, boolean][])('%s → %s', (pattern, expected) => {
    expect(matches(pattern, bundle)).toBe(expected);
  });

  it('the reference itself is compared after dereferencing, not as the id string', () => {
    expect(matches(`[network-traffic:src_ref = '${srcWithMac.id}']`, bundle)).toBe(false);
  });

  it('a reference to an object of another observed-data does not resolve', () => {
    const a = sco('ipv4-addr', { value: '10.0.0.1' });
    const other = observed21([a]);
    const t = observed21([sco('network-traffic', { src_ref: a.id })]);
    expect(matches("[network-traffic:src_ref.value = '10.0.0.1']", [other, t])).toBe(false);
    // …even when the SCO sits in the same bundle, if this observed-data does not list it.
    const shared = { type: 'bundle', id: 'bundle--1', objects: [...other.objects, ...t.objects] };
    expect(matches("[network-traffic:src_ref.value = '10.0.0.1']", shared)).toBe(false);
    // listing it in object_refs makes it resolve
    const both = observed21([a, sco('network-traffic', { src_ref: a.id })]);
    expect(matches("[network-traffic:src_ref.value = '10.0.0.1']", both)).toBe(true);
  });

  it('email-message to_refs[*] resolves a list of references', () => {
    const to1 = sco('email-addr', { value: 'alice@example.com' });
    const to2 = sco('email-addr', { value: 'bob@example.com' });
    const msg = sco('email-message', { is_multipart: false, to_refs: [to1.id, to2.id, 'email-addr--dangling'] });
    const b = observed21([to1, to2, msg]);
    expect(matches("[email-message:to_refs[*].value = 'bob@example.com']", b)).toBe(true);
    expect(matches("[email-message:to_refs[*].value = 'carol@example.com']", b)).toBe(false);
    expect(matches("[email-message:to_refs[0].value = 'alice@example.com']", b)).toBe(true);
  });

  it('a dangling reference selects nothing', () => {
    const b = observed21([sco('network-traffic', { src_ref: 'ipv4-addr--99999999-9999-4999-8999-999999999999' })]);
    expect(matches('[EXISTS network-traffic:src_ref.value]', b)).toBe(false);
    expect(matches("[network-traffic:src_ref.value != 'x']", b)).toBe(false);
  });
});

describe('_ref and _refs, STIX 2.0 (objects keys)', () => {
  const od = observed20({
    '0': { type: 'ipv4-addr', value: '198.51.100.1' },
    '1': { type: 'ipv4-addr', value: '203.0.113.33' },
    '2': { type: 'network-traffic', src_ref: '0', dst_ref: '1', protocols: ['tcp'] },
    '3': { type: 'domain-name', value: 'example.com', resolves_to_refs: ['0', '1'] },
  });

  it.each([
    ["[network-traffic:src_ref.value = '198.51.100.1']", true],
    ["[network-traffic:dst_ref.value = '203.0.113.33']", true],
    ["[network-traffic:src_ref.value = '203.0.113.33']", false],
    ["[domain-name:resolves_to_refs[*].value = '203.0.113.33']", true],
    ["[domain-name:resolves_to_refs[1].value = '203.0.113.33']", true],
    ["[domain-name:resolves_to_refs[0].value = '203.0.113.33']", false],
  ] as [string, boolean][])('%s → %s', (pattern, expected) => {
    expect(matches(pattern, od, '2.0')).toBe(expected);
  });

  it('a key of another observed-data does not resolve', () => {
    const a = observed20({ '0': { type: 'ipv4-addr', value: '10.0.0.1' } });
    const b = observed20({ '1': { type: 'network-traffic', src_ref: '0' } });
    expect(matches("[network-traffic:src_ref.value = '10.0.0.1']", [a, b], '2.0')).toBe(false);
  });
});

describe('reference cycles', () => {
  it('a _ref pointing back does not loop', () => {
    const aId = 'x-node--aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
    const bId = 'x-node--bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
    const a = { type: 'x-node', id: aId, name: 'a', next_ref: bId };
    const b = { type: 'x-node', id: bId, name: 'b', next_ref: aId };
    const self = {
      type: 'x-self',
      id: 'x-self--cccccccc-cccc-4ccc-8ccc-cccccccccccc',
      me_ref: 'x-self--cccccccc-cccc-4ccc-8ccc-cccccccccccc',
      self_refs: ['x-self--cccccccc-cccc-4ccc-8ccc-cccccccccccc'],
    };
    const bundle = observed21([a, b, self]);
    expect(matches("[x-node:next_ref.next_ref.next_ref.name = 'b']", bundle)).toBe(true);
    expect(matches("[x-node:next_ref.next_ref.name = 'c']", bundle)).toBe(false);
    expect(matches("[x-node:next_ref.next_ref.next_ref.next_ref.name = 'a']", bundle)).toBe(true);
    expect(matches("[x-self:me_ref.me_ref.me_ref.self_refs[*].self_refs[*].me_ref.type = 'x-self']", bundle)).toBe(
      true,
    );
    expect(matches("[x-self:me_ref.missing = 'x']", bundle)).toBe(false);
    expect(matches('[NOT EXISTS x-node:next_ref.next_ref.missing]', bundle)).toBe(true);
  });

  it('a cycle through 2.0 object keys does not loop', () => {
    const od = observed20({
      '0': { type: 'x-node', name: 'zero', next_ref: '1' },
      '1': { type: 'x-node', name: 'one', next_ref: '0' },
    });
    expect(matches("[x-node:next_ref.next_ref.name = 'zero']", od, '2.0')).toBe(true);
    expect(matches("[x-node:next_ref.next_ref.name = 'two']", od, '2.0')).toBe(false);
  });
});

describe('properties named like Object.prototype members', () => {
  const plain = one('x-obj', { name: 'n', nested: {} });
  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'])(
    '%s does not match unless it is an own property',
    (name) => {
      expect(matches(`[x-obj:${name} != 'zzz']`, plain)).toBe(false);
      expect(matches(`[EXISTS x-obj:${name}]`, plain)).toBe(false);
      expect(matches(`[NOT EXISTS x-obj:${name}]`, plain)).toBe(true);
      expect(matches(`[x-obj:nested.${name} != 'zzz']`, plain)).toBe(false);
      expect(matches(`[x-obj:${name}.name = 'Object']`, plain)).toBe(false);
      expect(matches(`[EXISTS x-obj:'${name}']`, plain)).toBe(false);
    },
  );

  it.each(['constructor', '__proto__', 'toString'])(
    '%s matches when present as an own property (data parsed from JSON)',
    (name) => {
      const data = JSON.parse(JSON.stringify(one('x-obj', {}))) as { objects: Record<string, unknown>[] };
      const target = data.objects[1] as Record<string, unknown>;
      Object.defineProperty(target, name, { value: 'own', enumerable: true, writable: true, configurable: true });
      const parsed: unknown = JSON.parse(JSON.stringify(data));
      expect(matches(`[x-obj:${name} = 'own']`, parsed)).toBe(true);
      expect(matches(`[x-obj:${name} = 'other']`, parsed)).toBe(false);
      expect(matches(`[EXISTS x-obj:${name}]`, parsed)).toBe(true);
    },
  );

  it('a length-like property is not read from strings or arrays', () => {
    expect(matches('[x-obj:name.length = 1]', plain)).toBe(false);
    expect(check('[file:tags.length = 3]')).toBe(false);
  });
});

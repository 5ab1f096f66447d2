/** Value constraints: each comparison operator, NOT forms, paths, references, binary data. */
import { describe, expect, it } from 'vitest';
import { generateEvents } from '../../src/generate/index.js';
import { networkContains, parseNetwork } from '../../src/pattern/cidr.js';
import type { Bundle } from '../../src/stix/types.js';
import { firstRoot, matches, objectById, roots } from './helpers.js';

function check(pattern: string, count = 5): Bundle[][] {
  const sets = generateEvents(pattern, { count, seed: 11 });
  expect(sets).toHaveLength(count);
  for (const set of sets) expect(matches(pattern, set)).toBe(true);
  return sets;
}

describe('every operator generates matching events', () => {
  it.each([
    "[process:name = 'winword.exe']",
    "[process:name != 'cmd.exe']",
    "[process:name NOT = 'cmd.exe']",
    '[process:pid > 1000 AND process:pid <= 1005]',
    '[process:pid < 0]',
    '[process:pid >= 70000]',
    '[network-traffic:dst_port NOT > 1023 AND network-traffic:dst_port NOT < 1000]',
    '[network-traffic:dst_port IN (4444, 1337, 31337)]',
    '[network-traffic:dst_port NOT IN (80, 443) AND network-traffic:dst_port > 79 AND network-traffic:dst_port < 444]',
    "[process:name IN ('a.exe', 'b.exe')]",
    "[file:name LIKE '%.exe']",
    "[file:name LIKE 'inv_ice%.pdf']",
    "[file:name NOT LIKE '%.exe']",
    "[process:command_line LIKE '%-enc%' AND process:command_line LIKE 'powershell%']",
    "[process:command_line MATCHES '^powershell(\\\\.exe)? -enc [A-Za-z0-9+/=]{8,}$']",
    "[process:command_line NOT MATCHES 'powershell']",
    "[domain-name:value MATCHES '^[a-z]{3,8}\\\\.(com|net|org)$']",
    "[ipv4-addr:value ISSUBSET '10.0.0.0/8']",
    "[ipv4-addr:value NOT ISSUBSET '10.0.0.0/8']",
    "[ipv4-addr:value ISSUPERSET '192.168.1.7']",
    "[ipv4-addr:value ISSUBSET '192.168.0.0/16' AND ipv4-addr:value ISSUBSET '192.168.4.0/24']",
    "[ipv6-addr:value ISSUBSET '2001:db8::/32']",
    "[ipv6-addr:value ISSUPERSET '2001:db8:1::/48']",
    "[file:hashes.'SHA-256' = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']",
    "[file:hashes.MD5 LIKE 'd41d%']",
    '[email-message:is_multipart = true]',
    '[email-message:is_multipart != true]',
    "[file:created > t'2023-06-01T00:00:00Z' AND file:created < t'2023-06-02T00:00:00Z']",
    "[file:modified = t'2023-06-01T12:00:00.5Z']",
    "[artifact:payload_bin = b'TVqQAAMAAAAEAAAA']",
    "[artifact:payload_bin MATCHES '^MZ']",
    "[x-sample:data_hex = h'deadbeef']",
    "[x-sample:data_hex = 'MZ']",
    '[process:x_score > 2.5 AND process:x_score < 2.75]',
    "[process:name > 'm' AND process:name < 'n']",
    '[process:pid = 1] OR [process:pid = 2]',
    '[EXISTS process:pid]',
    '[NOT EXISTS process:name AND process:pid = 4]',
  ])('%s', (pattern) => {
    check(pattern);
  });
});

describe('values', () => {
  it('ranges take values inside them and near their bounds', () => {
    for (const set of check('[process:pid > 1000 AND process:pid <= 1005]', 20)) {
      const pid = roots(set)[0]?.pid as number;
      expect(pid).toBeGreaterThan(1000);
      expect(pid).toBeLessThanOrEqual(1005);
    }
  });

  it('ISSUBSET gives members of the block; ISSUPERSET gives blocks containing the constant', () => {
    for (const set of check("[ipv4-addr:value ISSUBSET '172.16.0.0/12']", 10)) {
      const value = roots(set)[0]?.value as string;
      expect(networkContains(parseNetwork('172.16.0.0/12')!, parseNetwork(value)!)).toBe(true);
    }
    for (const set of check("[ipv6-addr:value ISSUPERSET '2001:db8:1::/48']", 10)) {
      const value = roots(set)[0]?.value as string;
      expect(networkContains(parseNetwork(value)!, parseNetwork('2001:db8:1::/48')!)).toBe(true);
    }
  });

  it('hashes have the algorithm length, in hex', () => {
    const file = firstRoot("[file:hashes.'SHA-256' LIKE 'ab%' AND file:hashes.MD5 LIKE '%00']");
    const hashes = file.hashes as Record<string, string>;
    expect(hashes['SHA-256']).toMatch(/^ab[0-9a-f]{62}$/);
    expect(hashes.MD5).toMatch(/^[0-9a-f]{30}00$/);
  });

  it('binary properties are encoded as hex or base64 by their suffix', () => {
    expect(firstRoot("[artifact:payload_bin = h'4d5a9000']").payload_bin).toBe('TVqQAA==');
    expect(firstRoot("[x-sample:data_hex = b'TVqQAA==']").data_hex).toBe('4d5a9000');
  });

  it('timestamps compared with timestamp constants are STIX timestamps in range', () => {
    const file = firstRoot("[file:created >= t'2023-06-01T00:00:00Z' AND file:created < t'2023-06-01T00:00:10Z']");
    expect(file.created).toMatch(/^2023-06-01T00:00:0\dZ|^2023-06-01T00:00:0\d\.\d+Z/);
  });

  it('LIKE wildcards are filled with text, not left empty', () => {
    const file = firstRoot("[file:name LIKE '%.exe']");
    expect(file.name).toMatch(/^.+\.exe$/);
  });

  it('unconstrained properties look realistic', () => {
    const process = firstRoot('[process:pid = 4242]');
    expect(typeof process.name).toBe('string');
    expect(process.command_line).toContain(process.name as string);
    const addr = firstRoot("[ipv4-addr:value ISSUBSET '0.0.0.0/0']");
    expect(addr.value).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const traffic = firstRoot('[network-traffic:dst_port = 443]');
    expect(Array.isArray(traffic.protocols)).toBe(true);
  });

  it('NOT EXISTS leaves the property out, even as decoration', () => {
    const process = firstRoot('[NOT EXISTS process:name AND process:pid = 4]');
    expect('name' in process).toBe(false);
    expect(process.pid).toBe(4);
  });

  it('nested paths, [n] and [*] lists', () => {
    const file = firstRoot(
      "[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.5 AND file:extensions.'windows-pebinary-ext'.sections[*].name = '.text']",
    );
    const sections =
      (file.extensions as Record<string, { sections: Record<string, unknown>[] }>)['windows-pebinary-ext']?.sections ??
      [];
    expect(sections.some((s) => (s.entropy as number) > 7.5)).toBe(true);
    expect(sections.some((s) => s.name === '.text')).toBe(true);
    const traffic = firstRoot("[network-traffic:protocols[1] = 'tcp']");
    expect((traffic.protocols as string[])[1]).toBe('tcp');
    expect(traffic.protocols).toHaveLength(2);
  });

  it('[*] comparisons that cannot share an element get separate elements', () => {
    const set = check(
      "[network-traffic:protocols[*] = 'tcp' AND network-traffic:protocols[*] = 'http']",
    )[0] as Bundle[];
    expect(roots(set)[0]?.protocols).toEqual(expect.arrayContaining(['tcp', 'http']));
  });
});

describe('references', () => {
  it('a _ref path creates the referenced object, typed from the value', () => {
    const set = check(
      "[network-traffic:dst_ref.value = '10.1.2.3' AND network-traffic:src_ref.value = '2001:db8::5']",
    )[0] as Bundle[];
    const traffic = roots(set)[0]!;
    expect(objectById(set, traffic.dst_ref)).toMatchObject({ type: 'ipv4-addr', value: '10.1.2.3' });
    expect(objectById(set, traffic.src_ref)).toMatchObject({ type: 'ipv6-addr', value: '2001:db8::5' });
    const od = set[0]!.objects[0] as unknown as { object_refs: string[] };
    expect(od.object_refs).toEqual(expect.arrayContaining([traffic.id, traffic.dst_ref, traffic.src_ref]));
  });

  it('the referenced type follows the property, or an explicit type comparison', () => {
    const set = check(
      "[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value LIKE '%.example.com']",
    )[0] as Bundle[];
    expect(objectById(set, roots(set)[0]!.dst_ref)?.type).toBe('domain-name');
    const mail = check("[email-message:from_ref.value = 'a@example.com']")[0] as Bundle[];
    expect(objectById(mail, roots(mail)[0]!.from_ref)?.type).toBe('email-addr');
  });

  it('_refs lists with [*] and [n]; chains of references', () => {
    check(
      "[email-message:to_refs[*].value = 'bob@example.com' AND email-message:to_refs[*].value LIKE '%@contoso.com']",
    );
    const set = check("[email-message:to_refs[1].value = 'carol@example.com']")[0] as Bundle[];
    expect((roots(set)[0]!.to_refs as string[]).length).toBe(2);
    const chain = check(
      "[process:parent_ref.parent_ref.name = 'explorer.exe' AND process:parent_ref.name = 'cmd.exe']",
    )[0] as Bundle[];
    const child = roots(chain)[0]!;
    const parent = objectById(chain, child.parent_ref)!;
    expect(parent).toMatchObject({ type: 'process', name: 'cmd.exe' });
    expect(objectById(chain, parent.parent_ref)).toMatchObject({ type: 'process', name: 'explorer.exe' });
  });
});

describe('OR inside an observation', () => {
  it('picks a satisfiable alternative', () => {
    check("[process:name = 'a' AND process:name = 'b' OR process:pid = 7]");
  });

  it('different alternatives show up across sets', () => {
    const names = new Set(
      generateEvents("[process:name = 'a.exe' OR process:name = 'b.exe']", { count: 20, seed: 5 }).map(
        (s) => roots(s)[0]!.name,
      ),
    );
    expect(names).toEqual(new Set(['a.exe', 'b.exe']));
  });
});

describe('determinism', () => {
  const pattern = "([process:name = 'winword.exe'] FOLLOWEDBY [process:pid > 100]) WITHIN 60 SECONDS";
  it('the same seed gives identical output', () => {
    expect(JSON.stringify(generateEvents(pattern, { count: 3, seed: 7 }))).toBe(
      JSON.stringify(generateEvents(pattern, { count: 3, seed: 7 })),
    );
    expect(JSON.stringify(generateEvents(pattern, { seed: 7, miss: true }))).toBe(
      JSON.stringify(generateEvents(pattern, { seed: 7, miss: true })),
    );
  });

  it('a different seed gives different values and ids', () => {
    const a = generateEvents(pattern, { seed: 7 })[0]!;
    const b = generateEvents(pattern, { seed: 8 })[0]!;
    expect(roots(a)[1]!.pid).not.toBe(roots(b)[1]!.pid);
    expect(a[0]!.id).not.toBe(b[0]!.id);
  });

  it('ids are well-formed STIX identifiers and unique', () => {
    const sets = generateEvents(pattern, { count: 50, seed: 3 });
    const ids = sets.flatMap((s) => s.flatMap((b) => [b.id, ...b.objects.map((o) => o.id)]));
    for (const id of ids)
      expect(id).toMatch(/^[a-z0-9-]+--[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('errors', () => {
  it('MATCHES beyond the generator is reported as unsupported for generation', () => {
    expect(() => generateEvents("[process:name MATCHES '\\\\bfoo']")).toThrow(/unsupported for generation/);
    try {
      generateEvents("[process:name MATCHES '\\\\bfoo']");
    } catch (error) {
      expect((error as { code: string }).code).toBe('unsupported-generation');
    }
  });

  it('an invalid pattern throws PatternError', () => {
    expect(() => generateEvents('[process:name = ]')).toThrow(/syntax|mismatched|viable|expect/i);
  });
});

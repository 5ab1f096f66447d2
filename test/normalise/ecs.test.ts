import { describe, expect, it } from 'vitest';
import { createNormaliser } from '../../src/normalise/index.js';
import { byId, expectWellFormed, ofType, single } from './helpers.js';

const normaliser = createNormaliser({ tenant: 'acme' });

const processStart = {
  '@timestamp': '2024-05-01T10:00:00.123Z',
  ecs: { version: '8.11.0' },
  agent: { type: 'endpoint', version: '8.11.1' },
  event: {
    id: 'evt-1',
    kind: 'event',
    category: ['process'],
    type: ['start'],
    action: 'start',
    created: '2024-05-01T10:00:01Z',
  },
  host: { name: 'ws-01', ip: ['10.1.2.3', 'fe80::1'], os: { family: 'windows' } },
  user: { name: 'alice', id: 'S-1-5-21-1' },
  process: {
    name: 'powershell.exe',
    pid: 4242,
    executable: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
    command_line: 'powershell.exe -enc AAAA',
    args: ['powershell.exe', '-enc', 'AAAA'],
    hash: { sha256: 'a'.repeat(64), md5: 'b'.repeat(32) },
    parent: { name: 'winword.exe', pid: '1000', executable: 'C:\\Program Files\\Office\\WINWORD.EXE' },
  },
};

describe('ECS mapping: process events', () => {
  const event = single(normaliser.normalise(processStart));

  it('is recognised as ECS and well formed', () => {
    const result = normaliser.normalise(processStart);
    expect(result.ok && result.mapping).toBe('ecs');
    expectWellFormed(event);
  });

  it('maps the process, its parent and their images', () => {
    const processes = ofType(event, 'process');
    expect(processes).toHaveLength(2);
    const child = processes.find((p) => p.name === 'powershell.exe');
    expect(child).toMatchObject({ pid: 4242, command_line: 'powershell.exe -enc AAAA' });
    const parent = byId(event, child?.parent_ref);
    expect(parent).toMatchObject({ type: 'process', name: 'winword.exe', pid: 1000 });
    const image = byId(event, child?.image_ref);
    expect(image).toMatchObject({
      type: 'file',
      name: 'powershell.exe',
      hashes: { 'SHA-256': 'a'.repeat(64), MD5: 'b'.repeat(32) },
    });
    expect(byId(event, image.parent_directory_ref)).toMatchObject({
      path: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0',
    });
    expect(byId(event, parent.image_ref)).toMatchObject({ name: 'WINWORD.EXE' });
  });

  it('maps user, host and event metadata', () => {
    expect(ofType(event, 'user-account')).toEqual([
      expect.objectContaining({ account_login: 'alice', user_id: 'S-1-5-21-1' }),
    ]);
    const [asset] = ofType(event, 'x-oca-asset');
    expect(asset?.hostname).toBe('ws-01');
    const addresses = (asset?.ip_refs as string[]).map((ref) => byId(event, ref));
    expect(addresses.map((a) => [a.type, a.value])).toEqual([
      ['ipv4-addr', '10.1.2.3'],
      ['ipv6-addr', 'fe80::1'],
    ]);
    expect(ofType(event, 'x-oca-event')[0]).toMatchObject({
      action: 'start',
      category: ['process'],
      x_event_types: ['start'],
    });
  });

  it('keeps provenance and everything unmapped', () => {
    const od = event.observedData;
    expect(od).toMatchObject({
      first_observed: '2024-05-01T10:00:00.123Z',
      last_observed: '2024-05-01T10:00:00.123Z',
      x_source_event_id: 'evt-1',
      x_tenant: 'acme',
      x_source_mapping: 'ecs',
    });
    expect(od.x_unmapped).toEqual({
      ecs: { version: '8.11.0' },
      'agent.version': '8.11.1',
      'event.kind': 'event',
      'event.created': '2024-05-01T10:00:01Z', // a time candidate not used is kept, not dropped
    });
    // Mapped since issue #13: process.args, host.os.family, agent.type.
    expect(ofType(event, 'process').find((p) => p.name === 'powershell.exe')?.x_args).toEqual([
      'powershell.exe',
      '-enc',
      'AAAA',
    ]);
  });
});

describe('ECS mapping: shapes and values', () => {
  it('gives the same result for nested objects, dotted keys and a mix', () => {
    const nested = {
      '@timestamp': '2024-05-01T10:00:00Z',
      event: { id: 'x1' },
      process: { name: 'bash', parent: { name: 'sshd' } },
    };
    const dotted = {
      '@timestamp': '2024-05-01T10:00:00Z',
      'event.id': 'x1',
      'process.name': 'bash',
      'process.parent.name': 'sshd',
    };
    const mixed = {
      '@timestamp': '2024-05-01T10:00:00Z',
      event: { id: 'x1' },
      process: { name: 'bash', 'parent.name': 'sshd' },
    };
    const a = single(normaliser.normalise(nested));
    expect(single(normaliser.normalise(dotted))).toEqual(a);
    expect(single(normaliser.normalise(mixed))).toEqual(a);
    expect(
      ofType(a, 'process')
        .map((p) => p.name)
        .sort(),
    ).toEqual(['bash', 'sshd']);
  });

  it('maps network traffic with the address type chosen by form', () => {
    const event = single(
      normaliser.normalise({
        '@timestamp': 1714557600000,
        event: { id: 'n1', category: ['network'] },
        source: { ip: '192.0.2.10', port: 51000, bytes: 1200 },
        destination: { ip: '2001:db8::5', port: '443' },
        network: { type: 'ipv6', transport: 'TCP', protocol: 'tls' },
      }),
    );
    expectWellFormed(event);
    const [traffic] = ofType(event, 'network-traffic');
    expect(traffic).toMatchObject({
      src_port: 51000,
      dst_port: 443,
      src_byte_count: 1200,
      protocols: ['ipv6', 'tcp', 'tls'],
    });
    expect(byId(event, traffic?.src_ref)).toMatchObject({ type: 'ipv4-addr', value: '192.0.2.10' });
    expect(byId(event, traffic?.dst_ref)).toMatchObject({ type: 'ipv6-addr', value: '2001:db8::5' });
    expect(event.observedData.first_observed).toBe('2024-05-01T10:00:00.000Z');
  });

  it('derives protocols from the address type when the event names none', () => {
    const event = single(
      normaliser.normalise({ '@timestamp': '2024-05-01T10:00:00Z', destination: { ip: '198.51.100.1', port: 22 } }),
    );
    expect(ofType(event, 'network-traffic')[0]?.protocols).toEqual(['ipv4']);
  });

  it('keeps garbage values in x_unmapped instead of mapping or dropping them', () => {
    const event = single(
      normaliser.normalise({
        '@timestamp': '2024-05-01T10:00:00Z',
        process: { name: 'nc', pid: 'not-a-number', parent: { pid: 12.5 } },
        destination: { ip: 'not-an-ip', port: 99999 },
        file: { path: { nested: 'object where a string belongs' } },
        network: { transport: 6 },
      }),
    );
    expectWellFormed(event);
    expect(ofType(event, 'process')).toEqual([expect.objectContaining({ name: 'nc' })]);
    expect(ofType(event, 'process')[0]?.pid).toBeUndefined();
    expect(ofType(event, 'network-traffic')).toEqual([]);
    expect(event.observedData.x_unmapped).toEqual({
      'process.pid': 'not-a-number',
      'process.parent.pid': 12.5,
      'destination.ip': 'not-an-ip',
      'destination.port': 99999,
      'file.path': { nested: 'object where a string belongs' },
      'network.transport': 6,
    });
  });

  it('handles arrays: one-element lists fill scalars, longer ones are kept unmapped', () => {
    const event = single(
      normaliser.normalise({
        '@timestamp': '2024-05-01T10:00:00Z',
        email: {
          from: { address: ['ceo@example.com'] },
          to: { address: ['a@example.com', 'b@example.com'] },
          subject: 'Invoice',
        },
        registry: { data: { strings: ['one', 'two'] } },
      }),
    );
    const [message] = ofType(event, 'email-message');
    expect(message).toMatchObject({ subject: 'Invoice', is_multipart: false });
    expect(byId(event, message?.from_ref)).toMatchObject({ type: 'email-addr', value: 'ceo@example.com' });
    expect((message?.to_refs as string[]).map((r) => byId(event, r).value)).toEqual(['a@example.com', 'b@example.com']);
    expect(event.observedData.x_unmapped).toEqual({ 'registry.data.strings': ['one', 'two'] });
  });

  it('maps registry, DNS, URL, file and certificate fields', () => {
    const event = single(
      normaliser.normalise({
        '@timestamp': '2024-05-01T10:00:00Z',
        registry: {
          path: 'HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\evil',
          value: 'evil',
          data: { strings: ['C:\\evil.exe'], type: 'REG_SZ' },
        },
        dns: { question: { name: 'evil.example' }, resolved_ip: ['203.0.113.7', '2001:db8::7'] },
        url: { full: 'https://evil.example/a', domain: 'evil.example' },
        file: { path: '/etc/shadow', size: '1024', hash: { sha1: 'c'.repeat(40) } },
        tls: {
          server: {
            x509: {
              serial_number: '01AB',
              issuer: { distinguished_name: 'CN=Evil CA' },
              not_after: '2030-01-01T00:00:00Z',
            },
            hash: { sha256: 'd'.repeat(64) },
          },
        },
      }),
    );
    expectWellFormed(event);
    expect(ofType(event, 'windows-registry-key')[0]).toMatchObject({
      key: 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run',
      values: [{ name: 'evil', data: 'C:\\evil.exe', data_type: 'REG_SZ' }],
    });
    const domains = ofType(event, 'domain-name');
    // dns.question.name and url.domain are the same domain: one object, with the DNS answers.
    expect(domains).toHaveLength(1);
    expect((domains[0]?.resolves_to_refs as string[]).map((r) => byId(event, r).type)).toEqual([
      'ipv4-addr',
      'ipv6-addr',
    ]);
    expect(ofType(event, 'url')[0]?.value).toBe('https://evil.example/a');
    const [file] = ofType(event, 'file');
    expect(file).toMatchObject({ name: 'shadow', size: 1024, hashes: { 'SHA-1': 'c'.repeat(40) } });
    expect(byId(event, file?.parent_directory_ref).path).toBe('/etc');
    expect(ofType(event, 'x509-certificate')[0]).toMatchObject({
      serial_number: '01AB',
      issuer: 'CN=Evil CA',
      validity_not_after: '2030-01-01T00:00:00Z',
      hashes: { 'SHA-256': 'd'.repeat(64) },
    });
  });

  it('reads the key itself from registry.path when no value name is given', () => {
    const event = single(
      normaliser.normalise({ '@timestamp': '2024-05-01T10:00:00Z', registry: { path: 'HKCU\\Software\\Evil' } }),
    );
    expect(ofType(event, 'windows-registry-key')[0]?.key).toBe('HKEY_CURRENT_USER\\Software\\Evil');
  });

  it('uses event.end as last_observed when it is not before the start', () => {
    const base = { '@timestamp': '2024-05-01T10:00:00Z', process: { name: 'x' } };
    const ok = single(normaliser.normalise({ ...base, event: { end: '2024-05-01T10:05:00Z' } }));
    expect(ok.observedData.last_observed).toBe('2024-05-01T10:05:00Z');
    const backwards = single(normaliser.normalise({ ...base, event: { end: '2024-05-01T09:00:00Z' } }));
    expect(backwards.observedData.last_observed).toBe('2024-05-01T10:00:00Z');
    expect(backwards.observedData.x_unmapped).toEqual({ 'event.end': '2024-05-01T09:00:00Z' });
  });
});

describe('ECS mapping: rejections', () => {
  it('rejects an ECS event without a usable timestamp, with the reason', () => {
    const missing = normaliser.normalise({ event: { kind: 'event' }, process: { name: 'x' } }, 3);
    expect(missing).toEqual({
      ok: false,
      diagnostic: expect.objectContaining({ code: 'no-timestamp', eventIndex: 3, severity: 'error' }),
    });
    const garbage = normaliser.normalise({ '@timestamp': 'last tuesday', process: { name: 'x' } }, 4);
    expect(garbage.ok).toBe(false);
    if (!garbage.ok) {
      expect(garbage.diagnostic.code).toBe('bad-timestamp');
      expect(garbage.diagnostic.message).toContain('@timestamp');
      expect(garbage.diagnostic.message).not.toContain('last tuesday'); // no raw event content in diagnostics
    }
  });

  it('falls back to event.created when @timestamp is unusable', () => {
    const event = single(
      normaliser.normalise({ '@timestamp': 'bad', event: { created: '2024-05-01T10:00:00Z' }, process: { name: 'x' } }),
    );
    expect(event.observedData.first_observed).toBe('2024-05-01T10:00:00Z');
    expect(event.observedData.x_unmapped).toEqual({ '@timestamp': 'bad' });
  });

  it('rejects an event that maps to no observable', () => {
    const result = normaliser.normalise({
      '@timestamp': '2024-05-01T10:00:00Z',
      message: 'hello',
      ecs: { version: '8' },
    });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.diagnostic.code).toBe('no-observables');
  });
});

describe('identity and determinism', () => {
  it('normalises the same event to identical output every time', () => {
    const again = createNormaliser({ tenant: 'acme' });
    expect(single(again.normalise(structuredClone(processStart)))).toEqual(single(normaliser.normalise(processStart)));
  });

  it('derives the observed-data id from tenant and source id; SCO ids from content', () => {
    const other = createNormaliser({ tenant: 'globex' });
    const a = single(normaliser.normalise(processStart));
    const b = single(other.normalise(processStart));
    expect(b.observedData.id).not.toBe(a.observedData.id);
    // Content-addressed SCOs (files, addresses, accounts) are the same object whoever saw them...
    const files = (e: typeof a) =>
      ofType(e, 'file')
        .map((f) => f.id)
        .sort();
    expect(files(b)).toEqual(files(a));
    // ...while a process, which STIX gives no id-contributing properties, belongs to its event.
    expect(ofType(b, 'process').map((p) => p.id)).not.toEqual(ofType(a, 'process').map((p) => p.id));
  });

  it('without a source event id, derives ids from content and time', () => {
    const event = { '@timestamp': '2024-05-01T10:00:00Z', process: { name: 'bash' } };
    const a = single(normaliser.normalise(event));
    expect(a.observedData.x_source_event_id).toBeUndefined();
    expect(single(normaliser.normalise(event)).observedData.id).toBe(a.observedData.id);
    const later = single(normaliser.normalise({ ...event, '@timestamp': '2024-05-01T10:00:01Z' }));
    expect(later.observedData.id).not.toBe(a.observedData.id);
    expect(ofType(later, 'process')[0]?.id).not.toBe(ofType(a, 'process')[0]?.id);
  });

  it('does not modify the input event', () => {
    const copy = structuredClone(processStart);
    normaliser.normalise(copy);
    expect(copy).toEqual(processStart);
  });
});

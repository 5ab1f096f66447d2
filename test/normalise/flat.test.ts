import { describe, expect, it } from 'vitest';
import { createNormaliser } from '../../src/normalise/index.js';
import { byId, expectWellFormed, ofType, single } from './helpers.js';

const normaliser = createNormaliser();

describe('flat key-value mapping', () => {
  it('maps a process_create event with network and file fields', () => {
    const result = normaliser.normalise({
      event_type: 'process_create',
      process_name: 'bash',
      parent_process_name: 'nginx',
      dst_port: 4444,
      path: '/etc/shadow',
      timestamp: '2024-05-01T10:00:00.5+01:00',
    });
    expect(result.ok && result.mapping).toBe('flat');
    const event = single(result);
    expectWellFormed(event);
    const [child] = ofType(event, 'process').filter((p) => p.name === 'bash');
    expect(byId(event, child?.parent_ref).name).toBe('nginx');
    expect(ofType(event, 'network-traffic')[0]?.dst_port).toBe(4444);
    const [file] = ofType(event, 'file');
    expect(file?.name).toBe('shadow');
    expect(byId(event, file?.parent_directory_ref).path).toBe('/etc');
    expect(ofType(event, 'x-oca-event')[0]?.action).toBe('process_create');
    expect(event.observedData.first_observed).toBe('2024-05-01T09:00:00.5Z');
    expect(event.observedData.x_unmapped).toBeUndefined();
  });

  it('maps the process / parent_process form with a zone-less datetime (UTC)', () => {
    const event = single(
      normaliser.normalise({
        process: 'powershell.exe',
        parent_process: 'winword.exe',
        datetime: '2017-10-16T17:15:48.030123',
      }),
    );
    expectWellFormed(event);
    const child = ofType(event, 'process').find((p) => p.name === 'powershell.exe');
    const parent = byId(event, child?.parent_ref);
    expect(parent.name).toBe('winword.exe');
    expect(byId(event, child?.image_ref).name).toBe('powershell.exe');
    expect(byId(event, parent.image_ref).name).toBe('winword.exe');
    // A bare name has no directory: no directory object is invented.
    expect(ofType(event, 'directory')).toEqual([]);
    expect(event.observedData.first_observed).toBe('2017-10-16T17:15:48.030123Z');
  });

  it('splits full paths into name and directory objects', () => {
    const event = single(normaliser.normalise({ process: 'C:\\Windows\\System32\\cmd.exe', ts: 1508174148 }));
    const child = ofType(event, 'process')[0];
    expect(child?.name).toBe('cmd.exe');
    const image = byId(event, child?.image_ref);
    expect(byId(event, image.parent_directory_ref).path).toBe('C:\\Windows\\System32');
  });

  it('maps addresses, ports, users, hashes and keeps unknown keys', () => {
    const event = single(
      normaliser.normalise({
        event_id: 42,
        time: '1714557600123',
        src_ip: '10.0.0.5',
        dst_ip: '10.0.0.9',
        src_port: '5353',
        protocol: 'UDP',
        username: 'bob',
        sha256: 'e'.repeat(64),
        file_name: 'x.bin',
        vendor_severity: 'high',
        tags: ['a', 'b'],
      }),
    );
    expectWellFormed(event);
    expect(event.observedData.x_source_event_id).toBe('42');
    expect(event.observedData.first_observed).toBe('2024-05-01T10:00:00.123Z');
    const [traffic] = ofType(event, 'network-traffic');
    expect(traffic).toMatchObject({ src_port: 5353, protocols: ['udp'] });
    expect(byId(event, traffic?.dst_ref).value).toBe('10.0.0.9');
    expect(ofType(event, 'user-account')[0]?.account_login).toBe('bob');
    expect(ofType(event, 'file')[0]).toMatchObject({ name: 'x.bin', hashes: { 'SHA-256': 'e'.repeat(64) } });
    expect(event.observedData.x_unmapped).toEqual({ vendor_severity: 'high', tags: ['a', 'b'] });
  });

  it('rejects a flat event without a time field, naming the fields looked at', () => {
    const result = normaliser.normalise({ process_name: 'bash' }, 7);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.diagnostic).toMatchObject({ code: 'no-timestamp', eventIndex: 7 });
      expect(result.diagnostic.message).toContain('timestamp, datetime');
    }
  });
});

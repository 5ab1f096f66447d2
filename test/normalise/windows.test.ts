import { describe, expect, it } from 'vitest';
import { createNormaliser } from '../../src/normalise/index.js';
import { byId, expectWellFormed, ofType, single } from './helpers.js';
import { fires, fixture } from './fixtures.js';

const normaliser = createNormaliser({ tenant: 'acme' });

describe('windows mapping: the three shapes', () => {
  it('reads a Security 4688 in evtx dump shape (Event.System / Event.EventData)', () => {
    const result = normaliser.normalise(fixture('windows', 'security-4688-evtx.json'));
    expect(result.ok && result.mapping).toBe('windows');
    const event = single(result);
    expectWellFormed(event);
    expect(event.observedData.first_observed).toBe('2024-03-04T09:15:02.123456Z');
    expect(event.observedData.x_source_event_id).toBe('fin-ws-12.corp.example|Security|77001');
    const [anchor] = ofType(event, 'x-oca-event');
    expect(anchor).toMatchObject({
      code: '4688',
      action: 'process_create',
      provider: 'Microsoft-Windows-Security-Auditing',
      outcome: 'success',
      x_channel: 'Security',
    });
    const process = byId(event, anchor?.process_ref);
    expect(process).toMatchObject({
      name: 'm64.exe',
      pid: 0x1f40,
      x_token_elevation_type: 'TokenElevationTypeFull (2)',
    });
    expect(byId(event, process.image_ref)).toMatchObject({ type: 'file', name: 'm64.exe' });
    // In 4688, ProcessId is the creator: the parent.
    expect(byId(event, anchor?.parent_process_ref)).toMatchObject({ name: 'cmd.exe', pid: 0x1a2c });
    const user = byId(event, anchor?.user_ref);
    expect(user).toMatchObject({
      type: 'user-account',
      account_login: 'jdoe',
      x_domain: 'CORP',
      user_id: 'S-1-5-21-1004336348-1177238915-682003330-1105',
    });
    expect(process.creator_user_ref).toBe(user.id);
    expect(byId(event, anchor?.host_ref)).toMatchObject({ type: 'x-oca-asset', hostname: 'fin-ws-12.corp.example' });
    // The "-" placeholders of the empty target user are dropped, not mapped.
    expect(
      anchor?.x_target_user_ref === undefined || byId(event, anchor.x_target_user_ref).account_login === undefined,
    ).toBe(true);
    // Element attributes do not become fields.
    expect(Object.keys(event.observedData.x_unmapped ?? {}).filter((k) => k.includes('#attributes'))).toEqual([]);
  });

  it('fires a rule combining the event code with the process command line', () => {
    const event = single(normaliser.normalise(fixture('windows', 'security-4688-evtx.json')));
    expect(fires("[x-oca-event:code = '4688' AND x-oca-event:process_ref.command_line LIKE '%mimikatz%']", event)).toBe(
      true,
    );
    expect(fires("[x-oca-event:code = '4688' AND x-oca-event:parent_process_ref.name = 'cmd.exe']", event)).toBe(true);
    expect(fires("[x-oca-event:code = '4624' AND x-oca-event:process_ref.command_line LIKE '%mimikatz%']", event)).toBe(
      false,
    );
  });

  it('reads Sysmon 1 from Winlogbeat (winlog.event_data) rather than as plain ECS', () => {
    const result = normaliser.normalise(fixture('windows', 'sysmon-1-winlogbeat.json'));
    expect(result.ok && result.mapping).toBe('windows');
    const event = single(result);
    expectWellFormed(event);
    const [anchor] = ofType(event, 'x-oca-event');
    expect(anchor).toMatchObject({ code: '1', action: 'process_create', provider: 'Microsoft-Windows-Sysmon' });
    const process = byId(event, anchor?.process_ref);
    expect(process).toMatchObject({
      name: 'powershell.exe',
      pid: 8132,
      command_line: 'powershell.exe -nop -w hidden -enc SQBFAFgA',
      x_integrity_level: 'Medium',
    });
    const image = byId(event, process.image_ref);
    expect(image).toMatchObject({
      name: 'powershell.exe',
      x_original_file_name: 'PowerShell.EXE',
      hashes: {
        MD5: '7353F60B1739074EB17C5F4DDDEFE239',
        'SHA-256': 'DE96A6E69944335375DC1AC238336066889D9FFC7D73628EF4FE1B1B160AB32C',
      },
      x_imphash: '741776AACCFC5B71FF59832DCDCACE0F',
    });
    expect(byId(event, image.parent_directory_ref)).toMatchObject({
      path: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0',
    });
    expect(byId(event, anchor?.parent_process_ref)).toMatchObject({ name: 'WINWORD.EXE', pid: 6704 });
    expect(byId(event, process.creator_user_ref)).toMatchObject({ account_login: 'jdoe', x_domain: 'CORP' });
    expect(event.observedData.x_source_event_id).toBe(
      'fin-ws-12.corp.example|Microsoft-Windows-Sysmon/Operational|5512',
    );
    expect(
      fires(
        "[x-oca-event:action = 'process_create' AND x-oca-event:parent_process_ref.name = 'WINWORD.EXE' AND x-oca-event:process_ref.image_ref.name = 'powershell.exe']",
        event,
      ),
    ).toBe(true);
  });

  it('reads Sysmon 3 flattened (NXLog / Mordor): the connection, its process and user tied together', () => {
    const event = single(normaliser.normalise(fixture('windows', 'sysmon-3-flattened.json')));
    expectWellFormed(event);
    const [anchor] = ofType(event, 'x-oca-event');
    expect(anchor).toMatchObject({ code: '3', action: 'network_connection' });
    const traffic = byId(event, anchor?.network_ref);
    expect(traffic).toMatchObject({ src_port: 50122, dst_port: 443, protocols: ['tcp'], x_initiated: true });
    expect(byId(event, traffic.dst_ref)).toMatchObject({ type: 'ipv4-addr', value: '198.51.100.23' });
    const process = byId(event, anchor?.process_ref);
    expect(process.opened_connection_refs).toEqual([traffic.id]);
    expect(byId(event, anchor?.host_ref)).toMatchObject({ hostname: 'fin-ws-12.corp.example' });
    expect(
      fires(
        "[x-oca-event:code = '3' AND x-oca-event:network_ref.dst_port = 443 AND x-oca-event:process_ref.name = 'powershell.exe']",
        event,
      ),
    ).toBe(true);
  });

  it('gives the same record id on two hosts two events', () => {
    const a = fixture('windows', 'sysmon-3-flattened.json') as Record<string, unknown>;
    const b = { ...a, Hostname: 'other-ws.corp.example' };
    expect(single(normaliser.normalise(a)).observedData.id).not.toBe(single(normaliser.normalise(b)).observedData.id);
  });
});

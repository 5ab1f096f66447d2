import { describe, expect, it } from 'vitest';
import { createNormaliser, loadMapping } from '../../src/normalise/index.js';
import { byId, expectWellFormed, ofType, single } from './helpers.js';

/** A normaliser with only the given mapping, so each test reads as the mapping it needs. */
function only(yaml: string): ReturnType<typeof createNormaliser> {
  return createNormaliser({
    mappings: [
      loadMapping(`mapping: 1\nname: t\ndetect: { any: [ { present: t } ] }\ntime: { start: t }\n${yaml}`, 't.yaml'),
    ],
    includeBuiltIns: false,
  });
}

const T = '2024-05-01T10:00:00Z';

describe('normaliser capabilities for real sources', () => {
  it('splits key=value lists into maps: Sysmon Hashes into file:hashes with the specification’s names', () => {
    const n = only(`parse:
  Hashes: key-value
fields:
  Image: { target: process:image_ref.name, transform: basename }
  Hashes.MD5: process:image_ref.hashes.MD5
  Hashes.SHA1: process:image_ref.hashes.'SHA-1'
  Hashes.SHA256: process:image_ref.hashes.'SHA-256'
`);
    const event = single(
      n.normalise({ t: T, Image: 'C:\\x\\a.exe', Hashes: 'SHA1=AA11,MD5=BB22,SHA256=CC33,IMPHASH=DD44' }),
    );
    expectWellFormed(event);
    const [file] = ofType(event, 'file');
    expect(file?.hashes).toEqual({ MD5: 'BB22', 'SHA-1': 'AA11', 'SHA-256': 'CC33' });
    // The part no rule takes is kept under its own path.
    expect(event.observedData.x_unmapped).toEqual({ 'Hashes.IMPHASH': 'DD44' });
  });

  it('keeps a value the parser cannot read as it is', () => {
    const n = only(`parse:\n  Hashes: key-value\nfields:\n  Hashes.MD5: file:hashes.MD5\n  name: file:name\n`);
    const event = single(n.normalise({ t: T, name: 'a', Hashes: 'no pairs here' }));
    expect(event.observedData.x_unmapped).toEqual({ Hashes: 'no pairs here' });
  });

  it('splits DOMAIN\\user and user@domain', () => {
    const n = only(`fields:
  User:
    - { target: user-account:account_login, transform: user-name }
    - { target: user-account:x_domain, transform: user-domain }
`);
    const windows = ofType(single(n.normalise({ t: T, User: 'CORP\\alice' })), 'user-account')[0];
    expect(windows).toMatchObject({ account_login: 'alice', x_domain: 'CORP' });
    const upn = ofType(single(n.normalise({ t: T, User: 'bob@corp.example' })), 'user-account')[0];
    expect(upn).toMatchObject({ account_login: 'bob', x_domain: 'corp.example' });
    const bare = ofType(single(n.normalise({ t: T, User: 'root' })), 'user-account')[0];
    expect(bare).toEqual(expect.objectContaining({ account_login: 'root' }));
    expect(bare?.x_domain).toBeUndefined();
  });

  it('looks values up in built-in and own tables; a miss is kept unmapped unless keep is set', () => {
    const n = only(`tables:
  actions: { "1": process_create, "3": network_connection }
fields:
  proto: { target: "network-traffic:protocols[*]", transform: { lookup: iana-protocol } }
  dport: { target: network-traffic:dst_port, transform: to-port }
  LogonType: { target: x-oca-event:x_logon_type, transform: { lookup: windows-logon-type } }
  Direction: { target: network-traffic:x_direction, transform: windows-message-text }
  EventID: [ { target: x-oca-event:action, transform: [to-string, { lookup: actions }] }, { target: x-oca-event:code, transform: to-string } ]
  Level: { target: x-oca-event:x_level, transform: { lookup: actions, keep: true } }
`);
    const event = single(
      n.normalise({ t: T, proto: 6, dport: '443', LogonType: '10', Direction: '%%14593', EventID: 3, Level: 'high' }),
    );
    expect(ofType(event, 'network-traffic')[0]).toMatchObject({
      protocols: ['tcp'],
      dst_port: 443,
      x_direction: 'Outbound',
    });
    expect(ofType(event, 'x-oca-event')[0]).toMatchObject({
      action: 'network_connection',
      code: '3',
      x_logon_type: 'RemoteInteractive',
      x_level: 'high',
    });
    const miss = single(n.normalise({ t: T, proto: 253, dport: 1 }));
    expect(miss.observedData.x_unmapped).toEqual({ proto: 253 });
  });

  it('reads Windows hex process ids', () => {
    const n = only(`fields:\n  ProcessId: { target: process:pid, transform: to-int }\n`);
    expect(ofType(single(n.normalise({ t: T, ProcessId: '0x1a2c' })), 'process')[0]?.pid).toBe(0x1a2c);
  });

  it('drops null placeholders instead of mapping or keeping them', () => {
    const n = only(
      `null_values: ["-", "", "N/A"]\nfields:\n  user: user-account:account_login\n  ip: { target: network-traffic:src_ref.value, transform: ip-to-sco-type }\n`,
    );
    const event = single(n.normalise({ t: T, user: 'alice', ip: '-', note: 'N/A', other: '' }));
    expect(ofType(event, 'network-traffic')).toEqual([]);
    expect(event.observedData.x_unmapped).toBeUndefined();
  });

  it('parses fields holding JSON text', () => {
    const n = only(
      `parse:\n  requestParameters: json\nfields:\n  requestParameters.userName: user-account:account_login\n`,
    );
    const event = single(n.normalise({ t: T, requestParameters: '{"userName":"mallory","policy":"admin"}' }));
    expect(ofType(event, 'user-account')[0]?.account_login).toBe('mallory');
    expect(event.observedData.x_unmapped).toEqual({ 'requestParameters.policy': 'admin' });
    // Already an object: read the same way.
    expect(
      ofType(single(n.normalise({ t: T, requestParameters: { userName: 'eve' } })), 'user-account')[0]?.account_login,
    ).toBe('eve');
  });

  it('builds values from several fields (host + uri into url:value), only when all are present', () => {
    const n = only(
      `compose:\n  - { target: url:value, template: "http://{host}{uri}" }\nfields:\n  host: domain-name:value\n  uri: x-oca-event:x_uri\n`,
    );
    const event = single(n.normalise({ t: T, host: 'evil.example', uri: '/a.php?x=1' }));
    expect(ofType(event, 'url')[0]?.value).toBe('http://evil.example/a.php?x=1');
    expect(ofType(single(n.normalise({ t: T, host: 'evil.example' })), 'url')).toEqual([]);
  });

  it('maps arrays of objects element by element: one object per element, answers as resolved addresses', () => {
    const n = only(`fields:
  target.alternateId: "x-okta-target[*]:alternate_id"
  target.type: "x-okta-target[*]:target_type"
  answers.rrname: domain-name:value
  answers.rdata: { target: "domain-name:resolves_to_refs[*].value", transform: ip-to-sco-type }
`);
    const event = single(
      n.normalise({
        t: T,
        target: [
          { alternateId: 'alice@corp.example', type: 'User' },
          { type: 'AppInstance', alternateId: 'Salesforce', extra: 1 },
          { type: 'Group' },
        ],
        answers: [
          { rrname: 'a.example', rdata: '192.0.2.1' },
          { rrname: 'a.example', rdata: 'not-an-ip' },
          { rrname: 'a.example', rdata: '2001:db8::1' },
        ],
      }),
    );
    expectWellFormed(event);
    // Object order carries no meaning (object_refs lists roots first).
    expect(
      ofType(event, 'x-okta-target')
        .map((o) => `${String(o.alternate_id)}/${String(o.target_type)}`)
        .sort(),
    ).toEqual(['Salesforce/AppInstance', 'alice@corp.example/User', 'undefined/Group']);
    const [domain] = ofType(event, 'domain-name');
    expect((domain?.resolves_to_refs as string[]).map((r) => byId(event, r).value)).toEqual([
      '192.0.2.1',
      '2001:db8::1',
    ]);
    // The one bad element is dropped alone (kept in x_unmapped), the others are mapped.
    expect(event.observedData.x_unmapped).toEqual({ 'answers.rdata': 'not-an-ip', 'target.extra': 1 });
  });

  it('keeps the good elements of a scalar list and only the bad ones unmapped', () => {
    const n = only(
      `fields:\n  ips: { target: "x-oca-asset:ip_refs[*].value", transform: ip-to-sco-type }\n  ports: { target: "network-traffic:x_ports[*]", transform: to-port }\n`,
    );
    const event = single(n.normalise({ t: T, ips: ['10.0.0.1', 'bogus', '10.0.0.2'], ports: [80, 'x', 443] }));
    const [asset] = ofType(event, 'x-oca-asset');
    expect((asset?.ip_refs as string[]).map((r) => byId(event, r).value)).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(ofType(event, 'network-traffic')[0]?.x_ports).toEqual([80, 443]);
    expect(event.observedData.x_unmapped).toEqual({ ips: 'bogus', ports: 'x' });
  });

  it('matches source field names regardless of case when asked', () => {
    const n = createNormaliser({
      mappings: [
        loadMapping(
          `mapping: 1\nname: ci\ncase_insensitive: true\ndetect: { all: [ { present: eventid } ] }\ntime: { start: TimeCreated }\nfields:\n  EventData.Image: process:name\n`,
          'ci.yaml',
        ),
      ],
      includeBuiltIns: false,
    });
    const event = single(n.normalise({ EVENTID: 1, timecreated: T, eventdata: { IMAGE: 'a.exe' } }));
    expect(ofType(event, 'process')[0]?.name).toBe('a.exe');
  });

  it('builds composite source ids: the same record id on two hosts gives two events', () => {
    const n = only(
      `source_id: { join: [Computer, Channel, EventRecordID] }\nfields:\n  Computer: x-oca-asset:hostname\n`,
    );
    const a = single(n.normalise({ t: T, Computer: 'ws1', Channel: 'Security', EventRecordID: 42 }));
    const b = single(n.normalise({ t: T, Computer: 'ws2', Channel: 'Security', EventRecordID: 42 }));
    expect(a.observedData.x_source_event_id).toBe('ws1|Security|42');
    expect(b.observedData.x_source_event_id).toBe('ws2|Security|42');
    expect(a.observedData.id).not.toBe(b.observedData.id);
    // The host is still mapped although it is part of the id.
    expect(ofType(a, 'x-oca-asset')[0]?.hostname).toBe('ws1');
  });

  it('reads Windows event XML and name/value element lists as fields', () => {
    const n = only(
      `parse:\n  EventData: windows-xml\n  Data: name-value\nfields:\n  EventData.NewProcessName: process:name\n  EventData.System.Computer: x-oca-asset:hostname\n  Data.Image: file:name\n`,
    );
    const xml =
      '<Event><System><EventID>4688</EventID><Computer>ws1.corp</Computer><TimeCreated SystemTime="2024-05-01T10:00:00Z"/></System>' +
      '<EventData><Data Name="NewProcessName">a &amp; b.exe</Data><Data Name="Empty"/></EventData></Event>';
    const event = single(
      n.normalise({
        t: T,
        EventData: xml,
        Data: [
          { '@Name': 'Image', '#text': 'x.exe' },
          { '#attributes': { Name: 'Rule' }, '#text': '-' },
        ],
      }),
    );
    expect(ofType(event, 'process')[0]?.name).toBe('a & b.exe');
    expect(ofType(event, 'x-oca-asset')[0]?.hostname).toBe('ws1.corp');
    expect(ofType(event, 'file')[0]?.name).toBe('x.exe');
    expect(event.observedData.x_unmapped).toMatchObject({
      'EventData.Empty': '',
      'EventData.System.EventID': '4688',
      'Data.Rule': '-',
    });
  });
});

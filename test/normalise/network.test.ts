import { describe, expect, it } from 'vitest';
import { createNormaliser } from '../../src/normalise/index.js';
import { byId, expectWellFormed, ofType, single } from './helpers.js';
import { fires, fixtureEvents } from './fixtures.js';

const normaliser = createNormaliser({ tenant: 'acme' });

describe('zeek', () => {
  const [http1, http2, conn] = fixtureEvents('zeek', 'http-and-conn.ndjson').map((e) =>
    single(normaliser.normalise(e)),
  );

  it('maps http: the URL built from host and uri, method and user agent, the connection 5-tuple', () => {
    if (http1 === undefined) throw new Error('no event');
    expectWellFormed(http1);
    const [anchor] = ofType(http1, 'x-oca-event');
    expect(anchor).toMatchObject({ action: 'http', module: 'zeek' });
    expect(byId(http1, anchor?.url_ref)).toMatchObject({ value: 'http://dl.bad.example/payload.bin?id=7' });
    const traffic = byId(http1, anchor?.network_ref);
    expect(traffic).toMatchObject({
      src_port: 51544,
      dst_port: 80,
      extensions: { 'http-request-ext': { request_method: 'GET', request_header: { 'User-Agent': 'curl/8.4.0' } } },
    });
    expect(fires("[x-oca-event:action = 'http' AND x-oca-event:url_ref.value LIKE '%payload.bin%']", http1)).toBe(true);
  });

  it('keeps records of one connection apart (uid is per connection, not per record)', () => {
    const ids = [http1, http2, conn].map((e) => e?.observedData.x_source_event_id);
    expect(new Set(ids).size).toBe(3);
    expect(ids[0]).toBe('http|CqZ3fK2nX1aB7yP9e|2024-06-03T08:00:01.100000Z');
  });

  it('reads RockNSM field names (@stream, id_orig_h) like Zeek’s own', () => {
    if (conn === undefined) throw new Error('no event');
    const traffic = ofType(conn, 'network-traffic')[0];
    expect(traffic).toMatchObject({
      src_port: 51544,
      dst_port: 80,
      protocols: ['tcp'],
      src_byte_count: 210,
      dst_byte_count: 7800,
    });
    expect(byId(conn, traffic?.dst_ref)).toMatchObject({ value: '192.0.2.80' });
    expect(ofType(conn, 'x-oca-event')[0]).toMatchObject({ action: 'conn' });
  });
});

describe('suricata', () => {
  const [alert, dns] = fixtureEvents('suricata', 'eve.json').map((e) => single(normaliser.normalise(e)));

  it('maps Kerberos and SMB records: the account asked for, the error, the SMB status; <empty> names dropped', () => {
    const [tgs, preauth, smb] = fixtureEvents('suricata', 'eve-krb5-smb.ndjson').map((e) =>
      single(normaliser.normalise(e)),
    );
    if (tgs === undefined || preauth === undefined || smb === undefined) throw new Error('no event');
    const anchorOf = (e: typeof tgs) => ofType(e, 'x-oca-event')[0];
    expect(anchorOf(tgs)).toMatchObject({ action: 'krb5', x_krb5_msg_type: 'KRB_TGS_REQ' });
    expect(byId(tgs, anchorOf(tgs)?.user_ref)).toMatchObject({ account_login: 'svc_backup', x_realm: 'CORP.EXAMPLE' });
    expect(
      fires("[x-oca-event:x_krb5_msg_type = 'KRB_TGS_REQ' AND x-oca-event:user_ref.account_login = 'svc_backup']", tgs),
    ).toBe(true);
    expect(anchorOf(preauth)).toMatchObject({ x_error_code: 'KDC_ERR_PREAUTH_REQUIRED' });
    expect(ofType(preauth, 'user-account')).toEqual([]);
    expect(Object.keys(preauth.observedData.x_unmapped ?? {})).not.toContain('krb5.cname');
    expect(anchorOf(smb)).toMatchObject({
      x_smb_command: 'SMB2_COMMAND_TREE_CONNECT',
      x_smb_status: 'STATUS_ACCESS_DENIED',
    });
  });

  it('maps an alert with its signature, the connection and the HTTP request', () => {
    if (alert === undefined) throw new Error('no event');
    expectWellFormed(alert);
    const [anchor] = ofType(alert, 'x-oca-event');
    expect(anchor).toMatchObject({
      action: 'alert',
      code: '2019714',
      x_signature: 'ET POLICY Executable served over HTTP',
      outcome: 'allowed',
    });
    expect(byId(alert, anchor?.network_ref)).toMatchObject({ dst_port: 80, protocols: ['tcp', 'http'] });
    expect(byId(alert, anchor?.url_ref)).toMatchObject({ value: 'http://dl.bad.example/payload.bin?id=7' });
    expect(
      fires(
        "[x-oca-event:x_signature LIKE 'ET POLICY%' AND x-oca-event:network_ref.dst_ref.value = '192.0.2.80']",
        alert,
      ),
    ).toBe(true);
  });

  it('maps DNS answers element by element: addresses resolved, the TXT answer kept alone', () => {
    if (dns === undefined) throw new Error('no event');
    const [domain] = ofType(dns, 'domain-name').filter((d) => d.value === 'dl.bad.example');
    expect((domain?.resolves_to_refs as string[]).map((r) => byId(dns, r).value)).toEqual(['192.0.2.80']);
    expect(dns.observedData.x_unmapped).toMatchObject({ 'dns.answers.rdata': 'v=spf1 -all' });
  });
});

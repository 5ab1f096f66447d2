/**
 * The example patterns of the STIX 2.1 specification (Part 9, Patterning), each compiled and
 * matched against observed data built for it, plus a variant that must not match.
 */
import { describe, expect, it } from 'vitest';
import { compilePattern } from '../../src/pattern/compile.js';
import { at, b64, observed21, sco } from './fixtures.js';

const SHA256 = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f';
const MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f';
const MD5_2 = '79054025255fb1a26e4bc422aef54eb4';

interface Example {
  name: string;
  pattern: string;
  match: unknown;
  noMatch: unknown;
}

function emailWithAttachment(from: string, attachment: string): unknown {
  const sender = sco('email-addr', { value: from });
  const file = sco('file', { name: attachment });
  const msg = sco('email-message', {
    is_multipart: true,
    from_ref: sender.id,
    body_multipart: [
      { content_type: 'text/plain', body: 'see attached' },
      { content_type: 'application/octet-stream', body_raw_ref: file.id },
    ],
  });
  return observed21([sender, file, msg]);
}

function traffic(
  dst: Record<string, unknown>,
  extra: Record<string, unknown> = {},
  opts = {},
): ReturnType<typeof observed21> {
  const target = sco(String(dst.type), dst);
  return observed21([target, sco('network-traffic', { dst_ref: target.id, protocols: ['tcp'], ...extra })], opts);
}

function domain(value: string, ips: string[]): unknown {
  const addrs = ips.map((ip) => sco('ipv4-addr', { value: ip }));
  return observed21([...addrs, sco('domain-name', { value, resolves_to_refs: addrs.map((a) => a.id) })]);
}

function account(user_id: string, login: string, first: number): ReturnType<typeof observed21> {
  return observed21([{ type: 'user-account', account_type: 'unix', user_id, account_login: login }], { first });
}

const PCAP = [0xd4, 0xc3, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00];

const examples: Example[] = [
  {
    name: 'a file by SHA-256 or MD5',
    pattern: `[file:hashes.'SHA-256' = '${SHA256}' OR file:hashes.MD5 = '${MD5}']`,
    match: observed21([{ type: 'file', hashes: { MD5 } }]),
    noMatch: observed21([{ type: 'file', hashes: { MD5: MD5_2, 'SHA-256': SHA256.replace('a', 'b') } }]),
  },
  {
    name: 'an email from example.com with an executable attachment',
    pattern: String.raw`[email-message:from_ref.value MATCHES '.+\\@example\\.com$' AND email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\.exe$']`,
    match: emailWithAttachment('mallory@example.com', 'Final Report 2024.exe'),
    noMatch: emailWithAttachment('mallory@example.com.evil', 'Final Report 2024.exe'),
  },
  {
    name: 'the same email, attachment not an .exe',
    pattern: String.raw`[email-message:from_ref.value MATCHES '.+\\@example\\.com$' AND email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\.exe$']`,
    match: emailWithAttachment('a@example.com', 'Final Report Q1.exe'),
    noMatch: emailWithAttachment('a@example.com', 'Final Report Q1.exe.txt'),
  },
  {
    name: 'network traffic to an IPv4 address',
    pattern: "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.33/32']",
    match: traffic({ type: 'ipv4-addr', value: '203.0.113.33/32' }),
    noMatch: traffic({ type: 'ipv6-addr', value: '203.0.113.33/32' }),
  },
  {
    name: 'a registry key written within 300 seconds after a file',
    pattern: String.raw`([file:hashes.MD5 = '${MD5_2}'] FOLLOWEDBY [windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) WITHIN 300 SECONDS`,
    match: [
      observed21([{ type: 'file', hashes: { MD5: MD5_2 } }], { first: 0 }),
      observed21([{ type: 'windows-registry-key', key: 'HKEY_LOCAL_MACHINE\\foo\\bar' }], { first: 300 }),
    ],
    noMatch: [
      observed21([{ type: 'file', hashes: { MD5: MD5_2 } }], { first: 0 }),
      observed21([{ type: 'windows-registry-key', key: 'HKEY_LOCAL_MACHINE\\foo\\bar' }], { first: 301 }),
    ],
  },
  {
    name: 'the same, in the wrong order',
    pattern: String.raw`([file:hashes.MD5 = '${MD5_2}'] FOLLOWEDBY [windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) WITHIN 300 SECONDS`,
    match: [
      observed21([{ type: 'windows-registry-key', key: 'HKEY_LOCAL_MACHINE\\foo\\bar' }], { first: 10 }),
      observed21([{ type: 'file', hashes: { MD5: MD5_2 } }], { first: 5 }),
    ],
    noMatch: [
      observed21([{ type: 'windows-registry-key', key: 'HKEY_LOCAL_MACHINE\\foo\\bar' }], { first: 5 }),
      observed21([{ type: 'file', hashes: { MD5: MD5_2 } }], { first: 10 }),
    ],
  },
  {
    name: 'three unix accounts',
    pattern:
      "[user-account:account_type = 'unix' AND user-account:user_id = '1007' AND user-account:account_login = 'Peter'] AND " +
      "[user-account:account_type = 'unix' AND user-account:user_id = '1008' AND user-account:account_login = 'Paul'] AND " +
      "[user-account:account_type = 'unix' AND user-account:user_id = '1009' AND user-account:account_login = 'Mary']",
    match: [account('1007', 'Peter', 0), account('1008', 'Paul', 1), account('1009', 'Mary', 2)],
    noMatch: [account('1007', 'Peter', 0), account('1008', 'Paul', 1), account('1009', 'Maria', 2)],
  },
  {
    name: 'an IPv6 destination in a /64',
    pattern: "[network-traffic:dst_ref.value ISSUBSET '2001:0db8:dead:beef:0000:0000:0000:0000/64']",
    match: traffic({ type: 'ipv6-addr', value: '2001:db8:dead:beef:dead:beef:dead:1' }),
    noMatch: traffic({ type: 'ipv6-addr', value: '2001:db8:dead:bef0::1' }),
  },
  {
    name: 'an X.509 certificate by issuer and serial number',
    pattern:
      "[x509-certificate:issuer = 'CN=WEBMAIL' AND x509-certificate:serial_number = '4c:0b:1d:19:74:86:a7:66:b4:1a:bf:40:27:21:76:28']",
    match: observed21([
      {
        type: 'x509-certificate',
        issuer: 'CN=WEBMAIL',
        serial_number: '4c:0b:1d:19:74:86:a7:66:b4:1a:bf:40:27:21:76:28',
      },
    ]),
    noMatch: observed21([
      {
        type: 'x509-certificate',
        issuer: 'CN=webmail',
        serial_number: '4c:0b:1d:19:74:86:a7:66:b4:1a:bf:40:27:21:76:28',
      },
    ]),
  },
  {
    name: 'a pcap artifact by magic bytes',
    pattern: String.raw`[artifact:mime_type = 'application/vnd.tcpdump.pcap' AND artifact:payload_bin MATCHES '\\xd4\\xc3\\xb2\\xa1\\x02\\x00\\x04\\x00']`,
    match: observed21([{ type: 'artifact', mime_type: 'application/vnd.tcpdump.pcap', payload_bin: b64(PCAP) }]),
    noMatch: observed21([
      {
        type: 'artifact',
        mime_type: 'application/vnd.tcpdump.pcap',
        payload_bin: b64([0xa1, 0xb2, 0xc3, 0xd4, 0x00, 0x02, 0x00, 0x04]),
      },
    ]),
  },
  {
    name: 'a PE section with high entropy',
    pattern: "[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]",
    match: observed21([
      {
        type: 'file',
        extensions: {
          'windows-pebinary-ext': {
            pe_type: 'exe',
            sections: [
              { name: '.text', entropy: 6.1 },
              { name: 'UPX1', entropy: 7.9 },
            ],
          },
        },
      },
    ]),
    noMatch: observed21([
      {
        type: 'file',
        extensions: {
          'windows-pebinary-ext': {
            pe_type: 'exe',
            sections: [
              { name: '.text', entropy: 6.1 },
              { name: '.rsrc', entropy: 7.0 },
            ],
          },
        },
      },
    ]),
  },
  {
    name: 'a domain resolving to an address',
    pattern: "[domain-name:value = 'www.5z8.info' AND domain-name:resolves_to_refs[*].value = '198.51.100.1/32']",
    match: domain('www.5z8.info', ['203.0.113.1/32', '198.51.100.1/32']),
    noMatch: domain('www.5z8.info', ['203.0.113.1/32', '198.51.100.2/32']),
  },
  {
    name: 'a file by magic number',
    pattern: "[file:mime_type = 'image/bmp' AND file:magic_number_hex = h'ffd8']",
    match: observed21([{ type: 'file', mime_type: 'image/bmp', magic_number_hex: 'ffd8' }]),
    noMatch: observed21([{ type: 'file', mime_type: 'image/bmp', magic_number_hex: 'ffd9' }]),
  },
  {
    name: 'a DLL in System32',
    pattern: String.raw`[file:name = 'foo.dll' AND file:parent_directory_ref.path = 'C:\\Windows\\System32']`,
    match: (() => {
      const dir = sco('directory', { path: 'C:\\Windows\\System32' });
      return observed21([dir, { type: 'file', name: 'foo.dll', parent_directory_ref: dir.id }]);
    })(),
    noMatch: (() => {
      const dir = sco('directory', { path: 'C:\\Windows\\Temp' });
      return observed21([dir, { type: 'file', name: 'foo.dll', parent_directory_ref: dir.id }]);
    })(),
  },
  {
    name: 'a file and a registry key, or a process',
    pattern: String.raw`([file:name = 'foo.dll'] AND [windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) OR [process:name = 'fooproc' OR process:name = 'procfoo']`,
    match: [observed21([{ type: 'file', name: 'foo.dll' }]), observed21([{ type: 'process', name: 'procfoo' }])],
    noMatch: [observed21([{ type: 'file', name: 'foo.dll' }]), observed21([{ type: 'process', name: 'barproc' }])],
  },
  {
    name: 'a file by name or size, created at a time',
    pattern: "[(file:name = 'pdf.exe' OR file:size = 371712) AND file:created = t'2014-01-13T07:03:17Z']",
    match: observed21([{ type: 'file', name: 'other.exe', size: 371712, created: '2014-01-13T07:03:17Z' }]),
    noMatch: observed21([{ type: 'file', name: 'pdf.exe', size: 371712, created: '2014-01-13T07:03:18Z' }]),
  },
  {
    name: 'traffic to a domain five times within 30 minutes',
    pattern:
      "[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'example.com'] REPEATS 5 TIMES WITHIN 1800 SECONDS",
    match: [0, 400, 800, 1200, 1800].map((t) =>
      traffic({ type: 'domain-name', value: 'example.com' }, {}, { first: t }),
    ),
    noMatch: [0, 400, 800, 1200, 1801].map((t) =>
      traffic({ type: 'domain-name', value: 'example.com' }, {}, { first: t }),
    ),
  },
  {
    name: 'a file seen in June 2016',
    pattern: `[file:hashes.MD5 = '${MD5}'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'`,
    match: observed21([{ type: 'file', hashes: { MD5 } }], { first: '2016-06-30T23:59:59Z' }),
    noMatch: observed21([{ type: 'file', hashes: { MD5 } }], { first: '2016-07-01T00:00:00Z' }),
  },
  {
    name: 'registry keys of CryptoLocker',
    pattern: String.raw`[windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\CryptoLocker\\Files' OR windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\Microsoft\\CurrentVersion\\Run\\CryptoLocker_0388']`,
    match: observed21([{ type: 'windows-registry-key', key: 'HKEY_CURRENT_USER\\Software\\CryptoLocker\\Files' }]),
    noMatch: observed21([{ type: 'windows-registry-key', key: 'HKEY_CURRENT_USER\\Software\\CryptoLocker\\Files\\x' }]),
  },
  {
    name: 'an email by sender and subject',
    pattern: "[email-message:sender_ref.value = 'jdoe@example.com' AND email-message:subject = 'Conference Info']",
    match: (() => {
      const s = sco('email-addr', { value: 'jdoe@example.com' });
      return observed21([
        s,
        { type: 'email-message', is_multipart: false, sender_ref: s.id, subject: 'Conference Info' },
      ]);
    })(),
    noMatch: (() => {
      const s = sco('email-addr', { value: 'jdoe@example.com' });
      return observed21([
        s,
        { type: 'email-message', is_multipart: false, from_ref: s.id, subject: 'Conference Info' },
      ]);
    })(),
  },
  {
    name: 'a custom object property',
    pattern: "[x-usb-device:usbdrive.serial_number = '575833314133343231313937']",
    match: observed21([{ type: 'x-usb-device', usbdrive: { serial_number: '575833314133343231313937' } }]),
    noMatch: observed21([{ type: 'x-usb-device', serial_number: '575833314133343231313937' }]),
  },
  {
    name: 'two certutil command lines within 300 seconds',
    pattern:
      "[process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachine Root$'] FOLLOWEDBY " +
      "[process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachineTrustedPublisher$'] WITHIN 300 SECONDS",
    match: [
      observed21(
        [{ type: 'process', command_line: 'C:\\certutil.exe>-add GlobalSign.cer -c -s -r localMachine Root' }],
        { first: 0 },
      ),
      observed21(
        [
          {
            type: 'process',
            command_line: 'C:\\certutil.exe>-add GlobalSign.cer -c -s -r localMachineTrustedPublisher',
          },
        ],
        { first: 10 },
      ),
    ],
    noMatch: [
      observed21(
        [
          {
            type: 'process',
            command_line: 'C:\\certutil.exe>-add GlobalSign.cer -c -s -r localMachineTrustedPublisher',
          },
        ],
        { first: 0 },
      ),
      observed21(
        [{ type: 'process', command_line: 'C:\\certutil.exe>-add GlobalSign.cer -c -s -r localMachine Root' }],
        { first: 10 },
      ),
    ],
  },
  {
    name: 'an IPv4 or IPv6 address',
    pattern:
      "[ipv4-addr:value = '198.51.100.1/32' OR ipv4-addr:value = '203.0.113.33/32' OR ipv6-addr:value = '2001:0db8:dead:beef:dead:beef:dead:0001/128']",
    match: observed21([{ type: 'ipv6-addr', value: '2001:0db8:dead:beef:dead:beef:dead:0001/128' }]),
    noMatch: observed21([{ type: 'ipv4-addr', value: '2001:0db8:dead:beef:dead:beef:dead:0001/128' }]),
  },
  {
    name: 'source address in a network, destination outside it',
    pattern:
      "[network-traffic:src_ref.value ISSUBSET '198.51.100.0/24' AND network-traffic:dst_ref.value NOT ISSUBSET '198.51.100.0/24']",
    match: (() => {
      const s = sco('ipv4-addr', { value: '198.51.100.7' });
      const d = sco('ipv4-addr', { value: '203.0.113.9' });
      return observed21([s, d, { type: 'network-traffic', src_ref: s.id, dst_ref: d.id, protocols: ['tcp'] }]);
    })(),
    noMatch: (() => {
      const s = sco('ipv4-addr', { value: '198.51.100.7' });
      const d = sco('ipv4-addr', { value: '198.51.100.9' });
      return observed21([s, d, { type: 'network-traffic', src_ref: s.id, dst_ref: d.id, protocols: ['tcp'] }]);
    })(),
  },
  {
    name: 'a process whose image is named svchost.exe, run by a parent with a given pid',
    pattern: "[process:image_ref.name = 'svchost.exe' AND process:parent_ref.pid = 4]",
    match: (() => {
      const img = sco('file', { name: 'svchost.exe' });
      const parent = sco('process', { pid: 4 });
      return observed21([img, parent, { type: 'process', pid: 1234, image_ref: img.id, parent_ref: parent.id }]);
    })(),
    noMatch: (() => {
      const img = sco('file', { name: 'svchost.exe' });
      const parent = sco('process', { pid: 5 });
      return observed21([img, parent, { type: 'process', pid: 1234, image_ref: img.id, parent_ref: parent.id }]);
    })(),
  },
];

describe('STIX 2.1 specification examples', () => {
  it.each(examples)('$name: compiles and matches', ({ pattern, match }) => {
    const compiled = compilePattern(pattern, { stixVersion: '2.1' });
    expect(compiled.warnings).toEqual([]);
    expect(compiled.match(match).matched).toBe(true);
  });

  it.each(examples)('$name: the variant does not match', ({ pattern, noMatch }) => {
    expect(compilePattern(pattern).match(noMatch).matched).toBe(false);
  });

  it('the 300-second window example binds both observations', () => {
    const pattern = String.raw`([file:hashes.MD5 = '${MD5_2}'] FOLLOWEDBY [windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) WITHIN 300 SECONDS`;
    const f = observed21([{ type: 'file', hashes: { MD5: MD5_2 } }], { first: at(0) });
    const k = observed21([{ type: 'windows-registry-key', key: 'HKEY_LOCAL_MACHINE\\foo\\bar' }], { first: at(120) });
    const result = compilePattern(pattern).match([k, f]);
    expect(result.matched).toBe(true);
    expect(result.binding?.map((b) => b.observedDataId)).toEqual([f.observedData.id, k.observedData.id]);
  });
});

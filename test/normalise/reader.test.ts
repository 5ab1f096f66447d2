import { describe, expect, it } from 'vitest';
import { readDocuments } from '../../src/normalise/reader.js';

const values = (text: string): unknown[] => readDocuments(text).map((d) => (d.ok ? d.value : { error: d.line }));

describe('the shared input reader', () => {
  it('reads one object, an array, NDJSON (BOM, CRLF, blank lines)', () => {
    expect(values('{"a":1}')).toEqual([{ a: 1 }]);
    expect(values('[{"a":1},{"b":2}]')).toEqual([[{ a: 1 }, { b: 2 }]]);
    expect(readDocuments('\uFEFF{"a":1}\r\n\r\n{"b":"}"}\r\n')).toEqual([
      { ok: true, value: { a: 1 }, line: 1 },
      { ok: true, value: { b: '}' }, line: 3 },
    ]);
  });

  it('reads several pretty-printed objects one after another, as evtx dump tools write them', () => {
    const text =
      '{\n  "Event": {\n    "System": { "EventID": 1 }\n  }\n}\n{\n  "Event": {\n    "System": { "EventID": 3 }\n  }\n}\n';
    expect(readDocuments(text)).toEqual([
      { ok: true, value: { Event: { System: { EventID: 1 } } }, line: 1 },
      { ok: true, value: { Event: { System: { EventID: 3 } } }, line: 6 },
    ]);
  });

  it('loses only the broken value: a bad NDJSON line, a truncated object, a line of text', () => {
    const text = '{"a":1}\n{"b": tru}\nnot json at all\n{\n  "c": [1,\n{"d":4}\n';
    expect(readDocuments(text)).toEqual([
      { ok: true, value: { a: 1 }, line: 1 },
      { ok: false, line: 2, message: 'not valid JSON' },
      { ok: false, line: 3, message: 'not JSON, nor a VPC flow log or audit.log record' },
      { ok: false, line: 4, message: 'not valid JSON' },
      { ok: true, value: { d: 4 }, line: 6 },
    ]);
  });

  it('reads a body of 200,000 unclosed values line by line, each reported once, then the good line after them', () => {
    // Scanning from every bracket to the end of the body again would take the square of its size
    // (minutes for a 1 MiB body of `{` lines); after one value that never closes, lines are read alone.
    const text = `${'{\n'.repeat(200_000)}{"after":true}\n`;
    const documents = readDocuments(text);
    expect(documents).toHaveLength(200_001);
    expect(
      documents
        .filter((d) => !d.ok)
        .map((d) => d.line)
        .slice(0, 3),
    ).toEqual([1, 2, 3]);
    expect(documents.at(-1)).toEqual({ ok: true, value: { after: true }, line: 200_001 });
  });

  it('reads VPC Flow Log lines: the default version 2 format, and custom formats after their header line', () => {
    const text = [
      '2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK',
      'version srcaddr dstaddr action log-status',
      '5 10.0.0.1 10.0.0.2 REJECT OK',
    ].join('\n');
    expect(values(text)).toEqual([
      {
        version: '2',
        'account-id': '123456789010',
        'interface-id': 'eni-1235b8ca123456789',
        srcaddr: '172.31.16.139',
        dstaddr: '172.31.16.21',
        srcport: '20641',
        dstport: '22',
        protocol: '6',
        packets: '20',
        bytes: '4249',
        start: '1418530010',
        end: '1418530070',
        action: 'ACCEPT',
        'log-status': 'OK',
      },
      { version: '5', srcaddr: '10.0.0.1', dstaddr: '10.0.0.2', action: 'REJECT', 'log-status': 'OK' },
    ]);
  });

  it('groups audit.log records by event serial and decodes hex-encoded values', () => {
    const text = [
      'type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes pid=100 ppid=1 uid=0 comm="sh" exe=2F62696E2F7368 key=(null)',
      'type=EXECVE msg=audit(1700000000.123:42): argc=2 a0="sh" a1="-c"',
      'type=PATH msg=audit(1700000000.123:42): item=0 name="/bin/sh"',
      'type=PATH msg=audit(1700000000.123:42): item=1 name="/lib/ld.so"',
      'type=PROCTITLE msg=audit(1700000000.123:42): proctitle=7368002D6300',
      'type=USER_CMD msg=audit(1700000001.000:43): pid=5 uid=1000 msg=\'cwd="/" cmd=6C73 res=success\'',
    ].join('\n');
    const [first, second] = values(text) as Record<string, unknown>[];
    expect(first).toMatchObject({
      'audit.timestamp': '1700000000.123',
      'audit.sequence': 42,
      'audit.types': ['SYSCALL', 'EXECVE', 'PATH', 'PATH', 'PROCTITLE'],
      SYSCALL: { syscall: '59', exe: '/bin/sh', comm: 'sh', pid: '100' },
      EXECVE: { argc: '2', a0: 'sh', a1: '-c' },
      PATH: [
        { item: '0', name: '/bin/sh' },
        { item: '1', name: '/lib/ld.so' },
      ],
      PROCTITLE: { proctitle: 'sh -c' },
    });
    expect(second).toMatchObject({ 'audit.sequence': 43, USER_CMD: { pid: '5', cwd: '/', cmd: 'ls', res: 'success' } });
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { normaliseCommand } from '../../src/cli/normalise.js';
import type { Bundle } from '../../src/stix/types.js';

const dir = mkdtempSync(join(tmpdir(), 'stixflow-normalise-'));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function run(argv: string[], stdinText = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  stdin.end(stdinText);
  const code = await normaliseCommand(argv, { stdout, stderr, stdin });
  return { code, stdout: out, stderr: err };
}

const ecs = {
  '@timestamp': '2024-05-01T10:00:00Z',
  event: { id: 'e1' },
  process: { name: 'bash', parent: { name: 'sshd' } },
};
const flat = { process: 'powershell.exe', parent_process: 'winword.exe', datetime: '2017-10-16T17:15:48.030123' };

describe('stixflow normalise', () => {
  it('prints one bundle per event as NDJSON and exits 0', async () => {
    const input = file('events.ndjson', `${JSON.stringify(ecs)}\n\n${JSON.stringify(flat)}\n`);
    const { code, stdout, stderr } = await run(['--tenant', 'acme', input]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const bundles = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Bundle);
    expect(bundles).toHaveLength(2);
    expect(bundles.map((b) => b.objects[0]?.x_source_mapping)).toEqual(['ecs', 'flat']);
    expect(bundles[0]?.objects[0]).toMatchObject({ x_tenant: 'acme', x_source_event_id: 'e1' });
  });

  it('reads a JSON array from standard input', async () => {
    const { code, stdout } = await run(['-'], JSON.stringify([ecs, flat]));
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(2);
  });

  it('writes a single combined bundle with --format bundle', async () => {
    const input = file('one.json', JSON.stringify(ecs));
    const { code, stdout } = await run(['--format=bundle', input, input]);
    expect(code).toBe(0);
    const bundle = JSON.parse(stdout) as Bundle;
    expect(bundle.type).toBe('bundle');
    // The same event twice: its objects appear once.
    expect(bundle.objects.filter((o) => o.type === 'observed-data')).toHaveLength(1);
    expect(bundle.objects.filter((o) => o.type === 'process')).toHaveLength(2);
  });

  it('reports rejected events with file, index and reason, exits 1, and keeps going', async () => {
    const input = file(
      'mixed.ndjson',
      [JSON.stringify(ecs), '{broken', JSON.stringify({ hello: 'world' }), JSON.stringify(flat)].join('\n'),
    );
    const { code, stdout, stderr } = await run([input]);
    expect(code).toBe(1);
    expect(stdout.trim().split('\n')).toHaveLength(2);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/mixed\.ndjson: event 1 \(line 2\): error \[invalid-json\]/);
    expect(lines[1]).toMatch(/mixed\.ndjson: event 2 \(line 3\): error \[unrecognised-format\]/);
    expect(stderr).not.toContain('world'); // no raw event content in the report
  });

  it('uses --mapping files, and fails with 2 and positions on a bad one', async () => {
    const mapping = file(
      'thing.yaml',
      'mapping: 1\nname: thing\ndetect: { all: [ { present: thing_id } ] }\ntime: { start: at }\nsource_id: thing_id\nfields:\n  host_addr: { target: "x-oca-asset:ip_refs[*].value", transform: ip-to-sco-type }\n',
    );
    const input = file('things.json', JSON.stringify({ thing_id: 'T1', at: 1714557600, host_addr: '10.9.8.7' }));
    const ok = await run(['--mapping', mapping, input]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).objects[0].x_source_mapping).toBe('thing');

    const bad = file(
      'bad.yaml',
      'mapping: 1\nname: bad\ndetect: { any: [ { present: a } ] }\ntime: { start: t }\nfields:\n  a: { target: process:name, transform: shout }\n',
    );
    const refused = await run(['--mapping', bad, input]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/bad\.yaml:6:\d+: error \[mapping-schema\]/);
  });

  it('answers usage errors with 2 and --help with 0', async () => {
    expect((await run([])).code).toBe(2);
    expect((await run(['--format', 'xml', 'x'])).code).toBe(2);
    expect((await run(['--bogus', 'x'])).code).toBe(2);
    expect((await run(['--tenant'])).code).toBe(2);
    expect((await run([join(dir, 'missing.json')])).code).toBe(2);
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: stixflow normalise');
  });
});

/** `stixflow emit`: output formats, near misses, exit codes. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { emitCommand } from '../../src/cli/emit.js';
import type { Bundle } from '../../src/stix/types.js';
import { matches } from '../generate/helpers.js';

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await emitCommand(argv, { stdout, stderr, stdin: new PassThrough() });
  return { code, stdout: out, stderr: err };
}

const RULE = "([process:name = 'winword.exe'] FOLLOWEDBY [process:name = 'powershell.exe']) WITHIN 60 SECONDS";

describe('stixflow emit', () => {
  it('prints NDJSON, one bundle per line, that matches', async () => {
    const r = await run([RULE, '-n', '3', '--seed', '9']);
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Bundle);
    expect(lines).toHaveLength(6);
    expect(matches(RULE, lines.slice(0, 2))).toBe(true);
    expect(lines.every((b) => b.type === 'bundle')).toBe(true);
  });

  it('--format bundle: one bundle per set with all objects', async () => {
    const r = await run([RULE, '-n', '2', '--format', 'bundle', '--start', '2025-01-01T00:00:00Z']);
    expect(r.code).toBe(0);
    const sets = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Bundle);
    expect(sets).toHaveLength(2);
    expect(sets[0]!.objects.filter((o) => o.type === 'observed-data')).toHaveLength(2);
    expect(matches(RULE, sets[0]!)).toBe(true);
    expect((sets[0]!.objects[0] as unknown as { first_observed: string }).first_observed).toBe('2025-01-01T00:00:00Z');
  });

  it('--miss prints near misses and describes them on stderr', async () => {
    const r = await run([RULE, '--miss']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/near miss 1 \(comparison, 2 events\): comparison off/);
    expect(r.stderr).toMatch(/followedby-reversed/);
    const bundles = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Bundle);
    expect(matches(RULE, bundles.slice(0, 2))).toBe(false);
  });

  it('the same seed prints the same events', async () => {
    expect((await run([RULE, '--seed', '4'])).stdout).toBe((await run([RULE, '--seed', '4'])).stdout);
  });

  it('exit 1 with diagnostics for an unsatisfiable pattern', async () => {
    const r = await run(["[process:name = 'a' AND process:name = 'b']"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("1:25: error [unsatisfiable] process:name: no value satisfies = 'a' and = 'b'");
    expect(r.stderr).toContain('^');
  });

  it('exit 2 for an invalid pattern or bad usage', async () => {
    expect((await run(['[process:name = ]'])).code).toBe(2);
    expect((await run([])).code).toBe(2);
    expect((await run([RULE, '-n', '0'])).code).toBe(2);
    expect((await run([RULE, '--format', 'xml'])).code).toBe(2);
    expect((await run([RULE, '--start', 'yesterday'])).code).toBe(2);
    expect((await run([RULE, '--bogus'])).code).toBe(2);
  });

  it('emits values of the STIX model type: lists, integers, references to the right object type', async () => {
    const pattern =
      '[EXISTS network-traffic:protocols AND network-traffic:dst_port > 1023 AND EXISTS network-traffic:dst_ref]';
    const r = await run([pattern, '-n', '3', '--seed', '2']);
    expect(r.code).toBe(0);
    for (const line of r.stdout.trim().split('\n')) {
      const bundle = JSON.parse(line) as Bundle;
      expect(matches(pattern, bundle)).toBe(true);
      const traffic = bundle.objects.find((o) => o.type === 'network-traffic') as Record<string, unknown>;
      expect(Array.isArray(traffic.protocols) && traffic.protocols.every((p) => typeof p === 'string')).toBe(true);
      expect(Number.isInteger(traffic.dst_port)).toBe(true);
      const target = bundle.objects.find((o) => o.id === traffic.dst_ref);
      expect(['ipv4-addr', 'ipv6-addr', 'mac-addr', 'domain-name']).toContain(target?.type);
    }
    const event =
      "[x-oca-event:category[*] = 'process' AND EXISTS x-oca-event:host_ref AND EXISTS x-oca-event:severity]";
    const e = await run([event, '--seed', '3']);
    expect(e.code).toBe(0);
    const bundle = JSON.parse(e.stdout) as Bundle;
    expect(matches(event, bundle)).toBe(true);
    const anchor = bundle.objects.find((o) => o.type === 'x-oca-event') as Record<string, unknown>;
    expect(anchor.category).toEqual(['process']);
    expect(Number.isInteger(anchor.severity)).toBe(true);
    expect(bundle.objects.find((o) => o.id === anchor.host_ref)?.type).toBe('x-oca-asset');
  });

  it("exit 1 for a comparison the STIX model says can never hold (no '80' for a port)", async () => {
    const r = await run(["[network-traffic:dst_port = '80']"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /the pattern can never match:\n1:2: error \[type-mismatch\] network-traffic:dst_port is an integer.*write 80 without quotes/,
    );
  });

  it('--help', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: stixflow emit/);
  });
});

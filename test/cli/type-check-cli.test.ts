/**
 * Rules that validate today and silently never match (issue #14, item 3): `stixflow validate`
 * reports each at its place, and a rule with an impossible comparison does not load while the
 * others still run.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

const RULES = `rules:
  - id: misspelt-property
    name: Misspelt property
    severity: low
    pattern: "[process:nmae = 'cmd.exe']"
  - id: port-as-text
    name: Port as text
    severity: low
    pattern: "[network-traffic:dst_port = '80']"
  - id: lowercase-hash
    name: Lower-case hash name
    severity: low
    pattern: "[file:hashes.md5 = 'd41d8cd98f00b204e9800998ecf8427e']"
  - id: reference-as-text
    name: Reference compared with text
    severity: low
    pattern: "[process:parent_ref = 'cmd.exe']"
  - id: sound
    name: Sound rule
    severity: low
    pattern: "[x-oca-event:process_ref.name = 'bash' AND x-oca-event:code = '4688'] OR [network-traffic:dst_port = 80]"
`;

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'stixflow-cli-types-'));
  file = join(dir, 'rules.yaml');
  writeFileSync(file, RULES);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('stixflow validate on the silent never-match cases', () => {
  it('reports each with file, line and column, the error cases as errors, and exits 1', async () => {
    const r = await runCli(['validate', file]);
    expect(r.code).toBe(1);
    const lines = r.out.split('\n').concat(r.err.split('\n'));
    const at = (code: string) => lines.find((l) => l.includes(`[${code}]`));
    expect(at('unknown-property')).toMatch(/rules\.yaml:5:16: warning .*'nmae'; did you mean 'name'/);
    expect(at('type-mismatch')).toMatch(/rules\.yaml:9:16: error .*dst_port is an integer.*write 80 without quotes/);
    expect(at('hash-name')).toMatch(/rules\.yaml:13:16: warning .*'md5'.*hashes\.'MD5'/);
    // The solver proves this one too; its explanation stands.
    expect(at('unsatisfiable')).toMatch(
      /rules\.yaml:17:16: error .*process:parent_ref: a reference resolves to an object/,
    );
    expect(lines.filter((l) => /rules\.yaml:21:/.test(l))).toEqual([]);
  });

  it('in JSON, with the rule ids', async () => {
    const r = await runCli(['validate', '--json', file]);
    const report = JSON.parse(r.out) as { rules: number; diagnostics: { code: string; ruleId?: string }[] };
    const codes = report.diagnostics.map((d) => `${d.ruleId} ${d.code}`);
    expect(codes).toEqual(
      expect.arrayContaining([
        'misspelt-property unknown-property',
        'port-as-text type-mismatch',
        'lowercase-hash hash-name',
        'reference-as-text unsatisfiable',
      ]),
    );
    expect(codes.some((c) => c.startsWith('sound '))).toBe(false);
  });

  it('stixflow run: the rules with impossible comparisons do not load, the others still alert', async () => {
    const event = JSON.stringify({
      type: 'bundle',
      id: 'bundle--8e2e2d2b-7d5e-4c5c-9d41-0a4c9f1b1f10',
      objects: [
        {
          type: 'observed-data',
          spec_version: '2.1',
          id: 'observed-data--8e2e2d2b-7d5e-4c5c-9d41-0a4c9f1b1f11',
          created: '2026-01-01T00:00:00Z',
          modified: '2026-01-01T00:00:00Z',
          first_observed: '2026-01-01T00:00:00Z',
          last_observed: '2026-01-01T00:00:00Z',
          number_observed: 1,
          object_refs: ['network-traffic--8e2e2d2b-7d5e-4c5c-9d41-0a4c9f1b1f12'],
        },
        {
          type: 'network-traffic',
          id: 'network-traffic--8e2e2d2b-7d5e-4c5c-9d41-0a4c9f1b1f12',
          dst_port: 80,
          protocols: ['tcp'],
        },
      ],
    });
    const r = await runCli(['run', '--rules', file, '-'], event + '\n');
    const alerts = r.out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { ruleId?: string; rule?: { id: string } });
    expect(alerts.map((a) => a.ruleId ?? a.rule?.id)).toEqual(['sound']);
    expect(r.err).toMatch(/rules\.yaml:9:16: error \[type-mismatch\]/);
  });
});

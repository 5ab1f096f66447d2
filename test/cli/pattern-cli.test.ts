/**
 * `stixflow validate` and `stixflow match` through main(argv, io), with in-memory streams and
 * temporary files.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';
import { observed20, observed21, odId } from '../pattern/fixtures.js';

const run = runCli;

const dir = mkdtempSync(join(tmpdir(), 'stixflow-cli-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
function tempFile(name: string, content: string): string {
  const path = join(dir, `${fileCount++}-${name}`);
  writeFileSync(path, content);
  return path;
}

describe('stixflow validate', () => {
  it('a valid pattern exits 0', async () => {
    const r = await run(['validate', "[file:name = 'a.exe']"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ok\s/m);
    expect(r.out).toContain('1 valid, 0 invalid');
  });

  it('an invalid pattern exits 1 and prints line:column and the code', async () => {
    const r = await run(['validate', '[x:a = ]']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/1:8: error \[syntax\]/);
    expect(r.out).toContain('0 valid, 1 invalid');
  });

  it('a semantic error is reported with its code', async () => {
    const r = await run(['validate', "[x:a = t'2020-13-01T00:00:00Z']"]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/1:8: error \[bad-timestamp\]/);
  });

  it('a pattern that can never match shows the compiler warning and is an error for validate (unsatisfiable)', async () => {
    const r = await run(['validate', '[x:a = 1 AND y:b = 2]']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('[different-root-types]');
    expect(r.out).toContain('[unsatisfiable]');
  });

  it('a satisfiable pattern passes with exit 0', async () => {
    const r = await run(['validate', "[x:a = 1 AND x:b = 'two']"]);
    expect(r.code).toBe(0);
  });

  it('several patterns: exit 1 when any is invalid', async () => {
    const r = await run(['validate', '[x:a = 1]', '[x:a = ]', '[x:b = 2]']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('2 valid, 1 invalid');
  });

  it('--stix-version 2.0 allows a repeated qualifier', async () => {
    const p = '[x:a = 1] WITHIN 5 SECONDS WITHIN 6 SECONDS';
    expect((await run(['validate', p])).code).toBe(1);
    expect((await run(['validate', '--stix-version', '2.0', p])).code).toBe(0);
    expect((await run(['validate', '--stix-version', '3.0', p])).code).toBe(2);
  });

  const patternsFile = (): string =>
    tempFile('rules.pattern', "# my rules\n[x:a = 1]\n\n[x:b = ]\n[x:c = 1]\n  [x:d = t'2020-13-01T00:00:00Z']\n");

  it('--json: line numbers of a file of patterns point into the file', async () => {
    const file = patternsFile();
    const r = await run(['validate', '--json', file]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.out) as {
      file?: string;
      line: number;
      valid: boolean;
      pattern: string;
      diagnostics: { code: string; line: number; column: number; file?: string }[];
    }[];
    expect(report.map((e) => [e.line, e.valid])).toEqual([
      [2, true],
      [4, false],
      [5, true],
      [6, false],
    ]);
    expect(report[1]?.diagnostics[0]).toMatchObject({ code: 'syntax', line: 4, column: 8, file });
    expect(report[3]?.diagnostics[0]).toMatchObject({ code: 'bad-timestamp', line: 6, column: 10, file });
    expect(report[3]?.pattern).toBe("  [x:d = t'2020-13-01T00:00:00Z']");
  });

  it('--json for a pattern argument', async () => {
    const r = await run(['validate', '--json', '[x:a = 1]', '[x:a = ]']);
    const report = JSON.parse(r.out) as {
      valid: boolean;
      diagnostics: { code: string; line: number; column: number }[];
    }[];
    expect(report.map((e) => e.valid)).toEqual([true, false]);
    expect(report[1]?.diagnostics).toEqual([
      expect.objectContaining({ code: 'syntax', line: 1, column: 8, offendingToken: ']' }),
    ]);
  });

  it('text output: the label names the file line of each invalid pattern', async () => {
    const file = patternsFile();
    const r = await run(['validate', file]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`invalid ${file}:4`);
    expect(r.out).toContain(`invalid ${file}:6`);
    expect(r.out).toContain('2 valid, 2 invalid');
  });

  it('text output: the diagnostic location file:line:column points into the file', async () => {
    const file = patternsFile();
    const r = await run(['validate', file]);
    expect(r.out).toContain(`${file}:4:8: error [syntax]`);
    expect(r.out).toContain(`${file}:6:10: error [bad-timestamp]`);
  });

  it('a rule file with several broken rules: each error at its place, the count of the good ones', async () => {
    const sub = mkdtempSync(join(dir, 'rules-'));
    const file = join(sub, 'team.yaml');
    writeFileSync(
      file,
      [
        'rules:',
        '  - id: good-one',
        '    name: good',
        '    severity: high',
        '    pattern: "[process:name = \'nc\']"',
        '  - id: bad-severity',
        '    name: bad severity',
        '    severity: urgent',
        '    pattern: "[process:name = \'x\']"',
        '  - id: bad-pattern',
        '    name: bad pattern',
        '    severity: low',
        '    pattern: "[process:name = \'x\' AND]"',
        '',
      ].join('\n'),
    );
    const r = await run(['validate', sub]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${file}:8:15: error [rule-schema]`);
    expect(r.out.split('\n').some((line) => line.startsWith(`${file}:13:`) && line.includes('error [syntax]'))).toBe(
      true,
    );
    expect(r.out).toContain('1 rule loaded (0 indicators), 2 with errors');
  });

  it('a directory is searched for pattern files', async () => {
    const sub = mkdtempSync(join(dir, 'rules-'));
    writeFileSync(join(sub, 'a.pattern'), '[x:a = 1]\n');
    writeFileSync(join(sub, 'b.txt'), '[x:b = ]\n');
    writeFileSync(join(sub, 'c.json'), 'not a pattern file\n');
    const r = await run(['validate', '--json', sub]);
    const report = JSON.parse(r.out) as { file: string; valid: boolean }[];
    expect(report.map((e) => [e.file.endsWith('a.pattern'), e.valid])).toEqual([
      [true, true],
      [false, false],
    ]);
    expect(r.code).toBe(1);
  });

  it('--help exits 0 and prints usage', async () => {
    const r = await run(['validate', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: stixflow validate');
  });

  it('no argument or an unknown option is a usage error (exit 2)', async () => {
    expect((await run(['validate'])).code).toBe(2);
    const r = await run(['validate', '--nope', '[x:a = 1]']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('Usage');
  });
});

describe('stixflow match', () => {
  const hit = observed21([{ type: 'file', name: 'evil.exe' }], { first: 0 });
  const miss = observed21([{ type: 'file', name: 'good.exe' }], { first: 1 });
  const later = observed21([{ type: 'process', name: 'evil' }], { first: 5 });
  const P = "[file:name = 'evil.exe']";

  it('a JSON bundle that matches: exit 0, the binding as JSON', async () => {
    const file = tempFile('bundle.json', JSON.stringify(hit));
    const r = await run(['match', '--pattern', P, file]);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out) as {
      pattern: string;
      matched: boolean;
      binding: unknown[];
      observedDataIds: string[];
      warnings: unknown[];
    };
    expect(result.matched).toBe(true);
    expect(result.pattern).toBe(P);
    expect(result.binding).toEqual([
      { observation: 0, observedDataIndex: 0, observedDataId: odId(hit), objects: [hit.objects[1]?.id] },
    ]);
    expect(result.observedDataIds).toEqual([odId(hit)]);
    expect(result.warnings).toEqual([]);
  });

  it('not matched: exit 1', async () => {
    const file = tempFile('miss.json', JSON.stringify(miss));
    const r = await run(['match', '-p', P, file]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ matched: false });
  });

  it('a JSON array of bundles and 2.0 observed-data', async () => {
    const od20 = observed20([{ type: 'process', name: 'evil' }], { first: 5, id: 'observed-data--2000' });
    const file = tempFile('array.json', JSON.stringify([miss, hit, od20]));
    const r = await run(['match', '--pattern', `${P} FOLLOWEDBY [process:name = 'evil']`, file]);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out) as {
      binding: { observation: number; observedDataId: string; observedDataIndex: number }[];
    };
    expect(result.binding.map((b) => [b.observation, b.observedDataId, b.observedDataIndex])).toEqual([
      [0, odId(hit), 1],
      [1, 'observed-data--2000', 2],
    ]);
  });

  it('NDJSON, one bundle per line', async () => {
    const file = tempFile('events.ndjson', [miss, later, hit].map((b) => JSON.stringify(b)).join('\n') + '\n');
    const r = await run(['match', '--pattern', `${P} AND [process:name = 'evil']`, file]);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out) as { observedDataIds: string[] };
    expect(result.observedDataIds).toEqual([odId(later), odId(hit)]);
    // FOLLOWEDBY in the wrong order does not match
    expect((await run(['match', '--pattern', `[process:name = 'evil'] FOLLOWEDBY ${P}`, file])).code).toBe(1);
  });

  it('standard input with -', async () => {
    const r = await run(['match', '--pattern', P, '-'], JSON.stringify(hit));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ matched: true });
  });

  it('a bad pattern: exit 2, the diagnostics on stdout as JSON and on stderr as text', async () => {
    const file = tempFile('ok.json', JSON.stringify(hit));
    const r = await run(['match', '--pattern', '[file:name = ]', file]);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.out) as { error: string; diagnostics: { code: string; line: number; column: number }[] };
    expect(out.error).toBe('invalid-pattern');
    expect(out.diagnostics[0]).toMatchObject({ code: 'syntax', line: 1, column: 14 });
    expect(r.err).toMatch(/1:14: error \[syntax\]/);
  });

  it('bad data (not JSON): exit 2 with the line', async () => {
    const file = tempFile('bad.ndjson', `${JSON.stringify(hit)}\n{not json\n`);
    const r = await run(['match', '--pattern', P, file]);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.out) as { error: string; diagnostics: { code: string; line: number }[] };
    expect(out.error).toBe('invalid-input');
    expect(out.diagnostics).toEqual([expect.objectContaining({ code: 'bad-json', line: 2 })]);
  });

  it('bad data (not usable STIX): exit 2', async () => {
    const broken = JSON.parse(JSON.stringify(hit)) as { objects: Record<string, unknown>[] };
    delete (broken.objects[0] as Record<string, unknown>).first_observed;
    const file = tempFile('broken.json', JSON.stringify(broken));
    const r = await run(['match', '--pattern', P, file]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out)).toMatchObject({ error: 'bad-timestamp' });
  });

  it('an error during matching (malformed timestamp in the data): exit 2', async () => {
    const data = observed21([{ type: 'file', name: 'x', ctime: 'yesterday' }]);
    const file = tempFile('ts.json', JSON.stringify(data));
    const r = await run(['match', '--pattern', "[file:ctime > t'2020-01-01T00:00:00Z']", file]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out)).toMatchObject({ error: 'bad-timestamp-in-data' });
  });

  it('a missing file: exit 2', async () => {
    const r = await run(['match', '--pattern', P, join(dir, 'does-not-exist.json')]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('cannot read');
  });

  it('no --pattern or no input: usage error (exit 2)', async () => {
    expect((await run(['match', tempFile('x.json', '{}')])).code).toBe(2);
    expect((await run(['match', '--pattern', P])).code).toBe(2);
  });

  it('--help exits 0 and prints usage', async () => {
    const r = await run(['match', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: stixflow match');
  });
});

describe('stixflow', () => {
  it('--help exits 0 and lists the commands', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('validate');
    expect(r.out).toContain('match');
  });

  it('an unknown command exits 2', async () => {
    const r = await run(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown command 'frobnicate'");
  });
});

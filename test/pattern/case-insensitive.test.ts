/** Case-insensitive comparisons (issue #14, item 1) at the pattern level. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePattern, type CompileOptions } from '../../src/pattern/compile.js';
import { foldCase } from '../../src/pattern/case-fold.js';

const SEED = 1414;

function observed(objects: Record<string, unknown>[]): unknown {
  return {
    type: 'observed-data',
    id: 'observed-data--5b1c7a3e-2c1d-4f0e-9a55-6a8d4b2c1e01',
    first_observed: '2026-01-01T00:00:00Z',
    last_observed: '2026-01-01T00:00:00Z',
    number_observed: 1,
    objects: Object.fromEntries(objects.map((o, i) => [String(i), o])),
  };
}

function matches(pattern: string, object: Record<string, unknown>, options: CompileOptions = {}): boolean {
  return compilePattern(pattern, { stixVersion: '2.0', ...options }).match([observed([object])]).matched;
}

const insensitive: CompileOptions = { caseInsensitive: true };

describe('case_sensitive: false', () => {
  it('the Windows names of the issue: EXCEL.EXE, Explorer.EXE, SOFTWARE', () => {
    expect(matches("[process:name = 'excel.exe']", { type: 'process', name: 'EXCEL.EXE' })).toBe(false);
    expect(matches("[process:name = 'excel.exe']", { type: 'process', name: 'EXCEL.EXE' }, insensitive)).toBe(true);
    expect(matches("[process:name = 'explorer.exe']", { type: 'process', name: 'Explorer.EXE' }, insensitive)).toBe(
      true,
    );
    expect(
      matches(
        "[windows-registry-key:key LIKE 'HKEY_LOCAL_MACHINE\\\\Software\\\\%']",
        { type: 'windows-registry-key', key: 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft' },
        insensitive,
      ),
    ).toBe(true);
  });

  it('applies to =, !=, IN, LIKE, MATCHES and ordering; not to numbers', () => {
    const p = { type: 'process', name: 'PowerShell.EXE', pid: 4 };
    expect(matches("[process:name != 'powershell.exe']", p, insensitive)).toBe(false);
    expect(matches("[process:name IN ('cmd.exe', 'powershell.exe')]", p, insensitive)).toBe(true);
    expect(matches("[process:name LIKE 'power%.exe']", p, insensitive)).toBe(true);
    expect(matches("[process:name MATCHES '^power.*\\\\.exe$']", p, insensitive)).toBe(true);
    expect(matches("[process:name MATCHES '^power.*\\\\.exe$']", p)).toBe(false);
    expect(matches("[process:name >= 'powershell' AND process:name < 'powershf']", p, insensitive)).toBe(true);
    expect(matches('[process:pid = 4]', p, insensitive)).toBe(true);
    expect(matches("[process:name NOT = 'POWERSHELL.exe']", p, insensitive)).toBe(false);
  });

  it('may be limited to listed object paths', () => {
    const p = { type: 'process', name: 'CMD.EXE', command_line: 'CMD.EXE /C WHOAMI' };
    const onlyName: CompileOptions = { caseInsensitive: ['process:name'] };
    expect(matches("[process:name = 'cmd.exe']", p, onlyName)).toBe(true);
    expect(matches("[process:command_line LIKE '%whoami%']", p, onlyName)).toBe(false);
    // Paths are compared as printed: a quoted key names the same path as a bare one.
    const hashes = { type: 'file', hashes: { MD5: 'D41D8CD98F00B204E9800998ECF8427E' } };
    expect(
      matches("[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']", hashes, {
        caseInsensitive: ["file:hashes.'MD5'"],
      }),
    ).toBe(true);
  });

  it('folds the whole of Unicode, not only ASCII', () => {
    const cases: [string, string, boolean][] = [
      ['straße', 'STRASSE', true],
      ['ΟΔΟΣ', 'οδος', true],
      ['ﬁle.txt', 'FILE.TXT', true],
      ['\u212a', 'k', true], // KELVIN SIGN
      ['ſ', 'S', true], // LONG S
      ['Ǆ', 'ǆ', true],
      ['ı', 'I', false], // dotless i is not I's small letter
      ['e\u0301', 'É', true], // decomposed and composed
    ];
    for (const [pattern, data, expected] of cases) {
      expect(
        matches(`[file:name = '${pattern}']`, { type: 'file', name: data }, insensitive),
        `${pattern} ~ ${data}`,
      ).toBe(expected);
    }
  });

  it('property: a case-insensitive = holds exactly when the folds are equal, whatever the case of either side', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'B', 'ß', 'S', 's', 'İ', 'i', 'Σ', 'ς', 'é', '.', 'x', 'X') });
    const recase = (s: string, flips: boolean[]) =>
      [...s].map((c, i) => (flips[i % Math.max(1, flips.length)] ? c.toUpperCase() : c.toLowerCase())).join('');
    fc.assert(
      fc.property(text, text, fc.array(fc.boolean(), { maxLength: 8 }), (a, b, flips) => {
        const quoted = a.replace(/'/g, "\\'");
        const data = recase(b, flips);
        const matched = matches(`[file:name = '${quoted}']`, { type: 'file', name: data }, insensitive);
        expect(matched).toBe(foldCase(a) === foldCase(data));
        // The same text in another case always matches.
        expect(matches(`[file:name = '${quoted}']`, { type: 'file', name: recase(a, flips) }, insensitive)).toBe(
          foldCase(a) === foldCase(recase(a, flips)),
        );
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('the compiled pattern says which comparisons fold, for the rule index', () => {
    const pattern = compilePattern("[process:name = 'a' AND process:command_line = 'b']", {
      caseInsensitive: ['process:name'],
    });
    expect([...pattern.caseInsensitiveLeaves].map((l) => l.path.steps)).toEqual([[{ kind: 'key', name: 'name' }]]);
  });
});

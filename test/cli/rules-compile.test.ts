/** `stixflow rules compile <dir>`: the precompiled form written into the directory, then used by `run`. */
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COMPILED_RULES_FILE } from '../../src/rules/precompiled.js';
import { runCli } from './run-cli.js';

const work = mkdtempSync(join(tmpdir(), 'stixflow-rules-compile-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('stixflow rules compile', () => {
  it('writes the precompiled form, which run then loads (the same alerts)', async () => {
    const dir = join(work, 'rules');
    cpSync('test/fixtures/sigma-rules', dir, { recursive: true });
    const events = 'test/fixtures/sigma/sysmon-1-events.json';
    const before = await runCli(['run', '--rules', dir, events]);
    const compiled = await runCli(['rules', 'compile', dir]);
    expect(compiled.out).toMatch(/rules precompiled/);
    expect(existsSync(join(dir, COMPILED_RULES_FILE))).toBe(true);
    const after = await runCli(['run', '--rules', dir, events]);
    expect(after.err).not.toMatch(/rules-compiled-stale/);
    // The same alerts, but for the wall-clock times they were made at.
    const timeless = (out: string): string => out.replace(/"(created|modified)":"[^"]*"/g, '"$1":""');
    expect(timeless(after.out)).toBe(timeless(before.out));
    expect(after.out.length).toBeGreaterThan(0);
  });

  it('exits 1 when a rule has an error (the others are precompiled), 2 for a path that is no directory', async () => {
    const dir = join(work, 'broken');
    cpSync('test/fixtures/sigma-rules', dir, { recursive: true });
    writeFileSync(join(dir, 'bad.yaml'), 'id: bad\nname: bad\nseverity: low\npattern: "[process:name = ]"\n');
    const broken = await runCli(['rules', 'compile', dir]);
    expect(broken.code).toBe(1);
    expect(broken.err).toMatch(/bad\.yaml/);
    expect((await runCli(['rules', 'compile', join(dir, 'bad.yaml')])).code).toBe(2);
  });
});

/**
 * The precompiled form of a rules directory (src/rules/precompiled.ts): loading a directory
 * through it gives the rules loading its files gives — the same alerts on the same events —
 * and a directory whose files changed since is loaded from its files, with a warning.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Detector } from '../../src/pipeline/detector.js';
import { writeCompiledRules } from '../../src/rules/compile-dir.js';
import { loadRulesFromPaths } from '../../src/rules/load.js';
import { COMPILED_RULES_FILE } from '../../src/rules/precompiled.js';
import { InMemoryStateStore } from '../../src/state/memory-store.js';

const work = mkdtempSync(join(tmpdir(), 'stixflow-precompiled-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const NOW = Date.parse('2026-03-02T09:00:00Z');

function events(file: string): unknown[] {
  const text = readFileSync(file, 'utf8');
  return file.endsWith('.ndjson')
    ? text
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as unknown)
    : (JSON.parse(text) as unknown[]);
}

/** The alerts (as JSON) and load diagnostics of a directory on events. */
async function run(dir: string, raw: unknown[]) {
  const loaded = loadRulesFromPaths([dir]);
  const detector = new Detector({
    rules: loaded.rules,
    indicators: loaded.indicators,
    store: new InMemoryStateStore({ now: () => NOW }),
    now: () => NOW,
  });
  const result = await detector.process(raw, 'acme');
  return {
    alerts: result.alerts.map((a) => JSON.stringify(a)),
    errors: result.errors,
    diagnostics: loaded.diagnostics,
    rules: loaded.rules.map((r) => ({
      id: r.id,
      pattern: r.patternText,
      ast: r.pattern.ast,
      folded: r.pattern.caseInsensitiveLeaves.size,
      rootTypes: r.pattern.observations.map((o) => o.rootTypes),
      filters: r.filters.map((f) => f.pattern.ast),
      line: r.source?.line,
      file: r.source?.file,
    })),
  };
}

const FIXTURES: [name: string, rules: string, events: string][] = [
  ['STIX rules with alert content', 'test/fixtures/alert-content', 'test/fixtures/alert-content/events.ndjson'],
  ['risk rules', 'test/fixtures/risk', 'test/fixtures/risk/windows-4688-attack-chain.ndjson'],
  ['Sigma rules', 'test/fixtures/sigma-rules', 'test/fixtures/sigma/sysmon-1-events.json'],
  ['Sigma field references', 'test/fixtures/sigma-fieldref', 'test/fixtures/sigma-fieldref/events.ndjson'],
];

describe('precompiled rules', () => {
  for (const [name, rulesDir, eventsFile] of FIXTURES)
    it(`gives the alerts the rule files give (${name})`, async () => {
      const dir = join(work, rulesDir.replace(/\W/g, '-'));
      cpSync(rulesDir, dir, { recursive: true });
      const raw = events(eventsFile);
      const fromFiles = await run(dir, raw);
      expect(fromFiles.alerts.length).toBeGreaterThan(0);
      const written = writeCompiledRules(dir);
      expect(written.rules).toBe(fromFiles.rules.length);
      const fromCompiled = await run(dir, raw);
      expect(fromCompiled.diagnostics.map((d) => d.code)).not.toContain('rules-compiled-stale');
      expect(fromCompiled.rules).toEqual(fromFiles.rules);
      expect(fromCompiled.diagnostics).toEqual(fromFiles.diagnostics);
      expect(fromCompiled.errors).toEqual(fromFiles.errors);
      expect(fromCompiled.alerts).toEqual(fromFiles.alerts);
    });

  it('is stale once a rule file changes: the files are loaded, with a warning naming the file', () => {
    const dir = join(work, 'stale');
    cpSync('test/fixtures/sigma-rules', dir, { recursive: true });
    writeCompiledRules(dir);
    // What loads is the precompiled form: an edit to it (and not to the files) shows.
    const compiledFile = join(dir, COMPILED_RULES_FILE);
    const compiled = JSON.parse(readFileSync(compiledFile, 'utf8')) as { rules: { name: string }[] };
    compiled.rules[0]!.name = 'read from the precompiled form';
    writeFileSync(compiledFile, JSON.stringify(compiled));
    const before = loadRulesFromPaths([dir]);
    expect(before.rules[0]?.name).toBe('read from the precompiled form');
    const file = join(dir, 'whoami-all.yml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^title: .*$/m, 'title: Whoami, renamed'));
    const after = loadRulesFromPaths([dir]);
    const stale = after.diagnostics.filter((d) => d.code === 'rules-compiled-stale');
    expect(stale).toHaveLength(1);
    expect(stale[0]).toMatchObject({ severity: 'warning', file: join(dir, COMPILED_RULES_FILE) });
    expect(after.rules.map((r) => r.name)).toContain('Whoami, renamed');
    expect(before.rules.map((r) => r.name)).not.toContain('Whoami, renamed');
  });

  it('is stale when unreadable, and is not used with other load options', () => {
    const dir = join(work, 'options');
    cpSync('test/fixtures/sigma-rules', dir, { recursive: true });
    writeCompiledRules(dir);
    expect(loadRulesFromPaths([dir], { allowUnsatisfiable: true }).diagnostics.map((d) => d.code)).toContain(
      'rules-compiled-stale',
    );
    writeFileSync(join(dir, COMPILED_RULES_FILE), '{"format": "stixflow-rules-compiled", "vers');
    const broken = loadRulesFromPaths([dir]);
    expect(broken.diagnostics.find((d) => d.code === 'rules-compiled-stale')?.message).toMatch(/cannot be read/);
    expect(broken.rules.length).toBeGreaterThan(0);
  });
});

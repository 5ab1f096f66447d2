/**
 * The built-in mappings load lazily (src/normalise/loader.ts lazyMapping): detection runs on
 * each file's header sections, the whole file is compiled when an event first needs it. That
 * header must say what the whole file says, and a lazy mapping must normalise as the eagerly
 * loaded one does.
 */
import { readdirSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  BUILT_IN_MAPPING_FILES,
  builtInMappingTexts,
  builtInMappings,
  createNormaliser,
} from '../../src/normalise/index.js';
import { lazyMapping, loadMapping, mappingHeaderText } from '../../src/normalise/loader.js';
import { fixtureEvents } from './fixtures.js';

const HEADER_KEYS = ['mapping', 'name', 'description', 'mode', 'detect', 'case_insensitive', 'aliases', 'roots'];

describe('lazily loaded built-in mappings', () => {
  it.each(BUILT_IN_MAPPING_FILES)('%s: its header sections say what the whole file says', (file) => {
    const text = builtInMappingTexts()[file] as string;
    const header = mappingHeaderText(text);
    expect(header, 'every built-in mapping can be read lazily').toBeDefined();
    const whole = parse(text) as Record<string, unknown>;
    const head = parse(header as string) as Record<string, unknown>;
    for (const key of HEADER_KEYS) expect(head[key], key).toEqual(whole[key]);
    expect(Object.keys(head).filter((k) => !HEADER_KEYS.includes(k))).toEqual([]);
  });

  it('cuts no header out of files where cutting could change a section', () => {
    const base = 'mapping: 1\nname: x\ndetect: { all: [{ field: a, exists: true }] }\n';
    expect(mappingHeaderText(base)).toBe(base);
    expect(mappingHeaderText(`${base}fields: &shared\n  a: b\nother: *shared\n`)).toBeUndefined();
    expect(mappingHeaderText(`${base}---\nname: y\n`)).toBeUndefined();
    expect(mappingHeaderText('{ mapping: 1, name: x }')).toBeUndefined();
    expect(mappingHeaderText(`roots:\n- a\n- b\n${base}`)).toContain('- b');
  });

  it('names, detects and normalises every fixture event as the eagerly loaded mappings do', () => {
    const eager = BUILT_IN_MAPPING_FILES.map((file) =>
      loadMapping(builtInMappingTexts()[file] as string, `mappings/${file}`, { trusted: true }),
    );
    const lazy = BUILT_IN_MAPPING_FILES.map((file) =>
      lazyMapping(builtInMappingTexts()[file] as string, `mappings/${file}`),
    );
    expect(lazy.map((m) => [m.name, m.description, m.mode])).toEqual(eager.map((m) => [m.name, m.description, m.mode]));
    const withEager = createNormaliser({ mappings: eager, includeBuiltIns: false });
    const withLazy = createNormaliser({ mappings: lazy, includeBuiltIns: false });
    const fixtures = new URL('../fixtures/', import.meta.url);
    let events = 0;
    for (const source of readdirSync(fixtures, { withFileTypes: true }).filter((d) => d.isDirectory()))
      for (const file of readdirSync(new URL(`${source.name}/`, fixtures)).filter((f) =>
        /\.(json|ndjson|log|txt|csv)$/.test(f),
      )) {
        let raw: unknown[];
        try {
          raw = fixtureEvents(source.name, file);
        } catch {
          continue; // not an event file (a rule fixture)
        }
        raw.forEach((event, i) => {
          events++;
          const options = { tenant: 't', receivedAt: '2026-01-01T00:00:00Z' };
          expect(withLazy.normalise(event, i, options), `${source.name}/${file} #${i}`).toEqual(
            withEager.normalise(event, i, options),
          );
        });
      }
    expect(events).toBeGreaterThan(50);
    expect(lazy.map((m) => m.definition)).toEqual(eager.map((m) => m.definition));
  });

  it('is what builtInMappings gives', () => {
    expect(builtInMappings().map((m) => m.name)).toEqual(
      BUILT_IN_MAPPING_FILES.map((f) => (parse(builtInMappingTexts()[f] as string) as { name: string }).name),
    );
  });
});

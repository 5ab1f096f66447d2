import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import {
  comparisonLeaves,
  observationLeaves,
  type ComparisonLeaf,
  type Literal,
  type PathStep,
} from '../../src/pattern/ast.js';
import { parsePattern } from '../../src/pattern/parse.js';
import { typeCheckComparison } from '../../src/pattern/type-check.js';
import { createNormaliser } from '../../src/normalise/index.js';
import { readDocuments } from '../../src/normalise/reader.js';

/** The type checker's diagnostics for every comparison of a pattern, as `severity code: message`. */
function check(pattern: string): string[] {
  const parsed = parsePattern(pattern);
  if (!parsed.ast) throw new Error(`does not parse: ${pattern}`);
  return observationLeaves(parsed.ast.root)
    .flatMap((o) => comparisonLeaves(o.comparison))
    .flatMap(typeCheckComparison)
    .map((d) => `${d.severity} ${d.code}: ${d.message}`);
}

describe('the silent never-matches the issue names', () => {
  it('a misspelt property is a warning with a did-you-mean', () => {
    expect(check("[process:nmae = 'cmd.exe']")).toEqual([
      "warning unknown-property: process has no property 'nmae'; did you mean 'name'?; custom properties start with 'x_'",
    ]);
  });

  it('an integer property compared with a string is an error that says how to write it', () => {
    expect(check("[network-traffic:dst_port = '80']")).toEqual([
      "error type-mismatch: network-traffic:dst_port is an integer, and the string '80' is never equal to it; write 80 without quotes",
    ]);
  });

  it('a hash name spelt otherwise than the vocabulary is a warning naming the spelling the normaliser writes', () => {
    const [message] = check("[file:hashes.md5 = 'd41d8cd98f00b204e9800998ecf8427e']");
    expect(message).toMatch(/^warning hash-name: .*'md5'.*'MD5'.*file:hashes\.'MD5'/);
    expect(
      check("[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']"),
    ).toEqual([]);
  });

  it('the position is the comparison', () => {
    const parsed = parsePattern("[file:name = 'a'] AND [network-traffic:dst_port = '80']");
    const leaf = observationLeaves(parsed.ast!.root).flatMap((o) => comparisonLeaves(o.comparison))[1]!;
    const [d] = typeCheckComparison(leaf);
    expect(d).toMatchObject({ code: 'type-mismatch', line: 1, column: 24 });
  });
});

describe('references, lists and nested objects', () => {
  it('a reference compared with a constant is an error pointing at a property', () => {
    expect(check("[process:parent_ref = 'process--1']")[0]).toMatch(
      /^error compares-object: process:parent_ref refers to a process object.*process:parent_ref\.name/,
    );
  });

  it('follows references to their target type', () => {
    expect(check("[process:parent_ref.command_line LIKE '%x%' AND process:image_ref.name = 'a.exe']")).toEqual([]);
    expect(check("[x-oca-event:process_ref.comand_line LIKE '%x%']")[0]).toMatch(/did you mean 'command_line'/);
    expect(check("[network-traffic:src_ref.value ISSUBSET '10.0.0.0/8']")).toEqual([]);
  });

  it('a list compared whole, or a property of a list, is an error that shows the [*] form', () => {
    expect(check("[network-traffic:protocols = 'tcp']")[0]).toMatch(/^error list-needs-index: .*protocols\[\*\]/);
    expect(check('[process:opened_connection_refs.dst_port = 443]')[0]).toMatch(
      /^error list-needs-index: .*opened_connection_refs\[\*\]\.dst_port/,
    );
    expect(
      check("[network-traffic:protocols[*] = 'tcp' AND process:opened_connection_refs[0].dst_port = 443]"),
    ).toEqual([]);
  });

  it('an index on something that is not a list is an error', () => {
    expect(check("[file:name[0] = 's']")[0]).toMatch(/^error not-a-list: file:name is not a list/);
  });

  it('a property of a scalar is an error', () => {
    expect(check('[file:name.length = 9]')[0]).toMatch(/^error not-an-object: file:name is a string/);
  });

  it('checks predefined extensions and nested objects', () => {
    expect(check("[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]")).toEqual([]);
    expect(check("[file:extensions.'windows-pebinary-ext'.sections[*].entropy > '7']")[0]).toMatch(/type-mismatch/);
    expect(check("[file:extensions.'windows-pebinary-ext'.imphsh = 'x']")[0]).toMatch(/did you mean 'imphash'/);
    expect(check("[file:extensions.'ntfs-exd'.sid = 'x']")[0]).toMatch(
      /unknown extension 'ntfs-exd'; did you mean 'ntfs-ext'/,
    );
    expect(check("[windows-registry-key:values[*].name = 'Run']")).toEqual([]);
  });
});

describe('what the checker allows', () => {
  it('custom types, custom properties, dictionaries and custom extensions are not checked', () => {
    expect(
      check(
        "[x-corp-thing:anything = 1 AND process:x_integrity = 'high' AND process:environment_variables.PATH LIKE '%tmp%' AND file:extensions.'x-corp-ext'.field = 2 AND file:extensions.'extension-definition--0b8a3f3a-1e1e-4b8e-9d36-1f7a2f4e6b5c'.x = 1]",
      ),
    ).toEqual([]);
  });

  it('an unknown standard-looking type is a warning with a did-you-mean', () => {
    expect(check("[proces:name = 'a']")[0]).toMatch(/^warning unknown-object-type: 'proces' .*did you mean 'process'/);
  });

  it('compatible constants pass: timestamps, binary, numbers with floats, booleans', () => {
    expect(
      check(
        "[file:mtime > t'2020-01-01T00:00:00Z' AND file:mtime = '2020-01-01T00:00:00Z' AND artifact:payload_bin = b'aGk=' AND file:size > 1.5 AND file:magic_number_hex = h'ffd8' AND user-account:is_privileged = true]",
      ),
    ).toEqual([]);
  });

  it('EXISTS is always allowed on a known path, even a reference or a list', () => {
    expect(check('[EXISTS process:parent_ref AND EXISTS network-traffic:protocols]')).toEqual([]);
  });

  it('text operators on numbers are errors', () => {
    expect(check("[network-traffic:dst_port LIKE '80%']")[0]).toMatch(/^error type-mismatch: LIKE compares text/);
    expect(check("[network-traffic:dst_port MATCHES '^80']")[0]).toMatch(/^error type-mismatch: MATCHES compares text/);
  });

  it('an IN list is checked element by element', () => {
    expect(check('[network-traffic:dst_port IN (80, 443)]')).toEqual([]);
    expect(check("[network-traffic:dst_port IN ('80', '443')]")[0]).toMatch(/type-mismatch/);
  });
});

/**
 * Every property the normaliser writes on the project's fixtures (one per built-in source),
 * compared with its own value, type-checks clean: the model knows what the mappings emit, so a
 * rule written against real output is never told its paths are wrong.
 */
describe('the model covers what the built-in mappings emit', () => {
  it('on every fixture of every source', () => {
    const normaliser = createNormaliser();
    const problems = new Set<string>();
    let checked = 0;
    const visit = (type: string, steps: PathStep[], value: unknown): void => {
      if (value === null || value === undefined) return;
      if (Array.isArray(value)) {
        for (const element of value) visit(type, [...steps, { kind: 'anyIndex' }], element);
        return;
      }
      if (typeof value === 'object') {
        for (const [key, child] of Object.entries(value))
          if (!/_refs?$/.test(key)) visit(type, [...steps, { kind: 'key', name: key }], child);
        return;
      }
      const constant: Literal =
        typeof value === 'number'
          ? { type: Number.isInteger(value) ? 'int' : 'float', value }
          : typeof value === 'boolean'
            ? { type: 'bool', value }
            : { type: 'string', value: String(value) };
      const leaf: ComparisonLeaf = {
        kind: 'comparison',
        operator: '=',
        negated: false,
        path: { objectType: type, steps },
        value: constant,
      };
      checked++;
      for (const d of typeCheckComparison(leaf)) problems.add(`${d.code}: ${d.message}`);
    };
    const root = new URL('../fixtures/', import.meta.url);
    for (const source of readdirSync(root)) {
      const entries = readdirSync(new URL(`${source}/`, root), { withFileTypes: true });
      for (const file of entries.filter((e) => e.isFile()).map((e) => e.name)) {
        for (const doc of readDocuments(readFileSync(new URL(`${source}/${file}`, root), 'utf8'))) {
          if (!doc.ok) continue;
          for (const event of Array.isArray(doc.value) ? doc.value : [doc.value]) {
            const result = normaliser.normalise(event);
            if (!result.ok) continue;
            for (const e of result.events)
              for (const object of e.objects) {
                const { type, id: _id, spec_version: _version, ...properties } = object as Record<string, unknown>;
                for (const [key, child] of Object.entries(properties))
                  if (!/_refs?$/.test(key)) visit(type as string, [{ kind: 'key', name: key }], child);
              }
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(500);
    expect([...problems]).toEqual([]);
  });
});

/** Stage 1, read: a source's text → documents with the positions of their parts. */
import { describe, expect, it } from 'vitest';
import { readDocuments } from '../../src/rules/read.js';

describe('readDocuments: YAML', () => {
  const text = [
    '# rules', //                                   1
    'rules:', //                                    2
    '  - id: a', //                                 3
    '    pattern: "[process:name = \'x\']"', //     4
    '    tags: [one, two]', //                      5
    '---', //                                       6
    'id: b', //                                     7
    '',
  ].join('\n');
  const documents = readDocuments({ file: 'r.yaml', text });

  it('reads each document as a JSON value, with where it starts', () => {
    expect(documents.map((d) => d.value)).toEqual([
      { rules: [{ id: 'a', pattern: "[process:name = 'x']", tags: ['one', 'two'] }] },
      { id: 'b' },
    ]);
    expect(documents.map((d) => d.start)).toEqual([
      { line: 2, column: 1 },
      { line: 7, column: 1 },
    ]);
    expect(documents.every((d) => d.file === 'r.yaml' && d.diagnostics.length === 0)).toBe(true);
  });

  it('knows where values, keys and characters inside strings are', () => {
    const positions = documents[0]!.positions!;
    expect(positions.at(['rules', 0])).toEqual({ line: 3, column: 5 });
    expect(positions.at(['rules', 0, 'tags', 1])).toEqual({ line: 5, column: 17 });
    expect(positions.atKey(['rules', 0], 'tags')).toEqual({ line: 5, column: 5 });
    expect(positions.atKey([], 'rules')).toEqual({ line: 2, column: 1 });
    // Offset 10 of the pattern string is the `n` of `name`; the opening quote is column 14.
    expect(positions.locate(['rules', 0, 'pattern'], 10)).toEqual({ line: 4, column: 25 });
    expect(positions.at(['rules', 0, 'missing'])).toBeUndefined();
    expect(positions.atKey(['rules', 0], 'missing')).toBeUndefined();
  });

  it('gives a document that does not parse its errors and no value; the others still read', () => {
    const [broken, fine] = readDocuments({ file: 'r.yaml', text: 'id: a\nname: [oops\n---\nid: c\n' });
    expect(broken!.value).toBeUndefined();
    expect(broken!.diagnostics).toMatchObject([{ severity: 'error', code: 'yaml-syntax', file: 'r.yaml' }]);
    expect(fine!.value).toEqual({ id: 'c' });
  });

  it('keeps YAML warnings with the document', () => {
    const [doc] = readDocuments({ file: 'r.yaml', text: 'id: !custom a\n' });
    expect(doc!.value).toEqual({ id: 'a' });
    expect(doc!.diagnostics).toMatchObject([{ severity: 'warning', code: 'yaml-warning', line: 1, column: 5 }]);
  });
});

describe('readDocuments: JSON', () => {
  it('reads a rules file with JSON.parse, and works out positions only when asked, the same as YAML would', () => {
    const text = JSON.stringify({ rules: [{ id: 'a' }, { id: 'b', pattern: "[x:y = 'z']" }] }, null, 2);
    const [doc] = readDocuments({ file: 'r.json', text });
    expect(doc!.value).toEqual(JSON.parse(text));
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.includes('"pattern"')) + 1;
    expect(doc!.positions!.at(['rules', 1, 'pattern'])).toEqual({
      line,
      column: lines[line - 1]!.indexOf('"[x') + 1,
    });
    expect(doc!.positions!.locate(['rules', 1, 'pattern'], 1)).toEqual({
      line,
      column: lines[line - 1]!.indexOf('x:y') + 1,
    });
  });

  it('reads an indicator bundle without positions (a feed may hold millions of objects)', () => {
    const text = JSON.stringify({ type: 'bundle', id: 'bundle--1', objects: [] });
    const [doc] = readDocuments({ file: 'feed.json', text });
    expect(doc).toMatchObject({ value: { type: 'bundle' }, start: { line: 1, column: 1 }, diagnostics: [] });
    expect(doc!.positions).toBeUndefined();
  });

  it('leaves JSON that JSON.parse rejects to the YAML reader, which locates the error', () => {
    const [doc] = readDocuments({ file: 'r.json', text: '[{"id": "a",\n  "name": "b"' });
    expect(doc!.value).toBeUndefined();
    expect(doc!.diagnostics[0]).toMatchObject({ code: 'yaml-syntax', line: 2 });
  });
});

/** Reads the fixtures under test/fixtures/<source>/, written by hand from each vendor's format documentation. */
import { readFileSync } from 'node:fs';
import { compilePattern } from '../../src/pattern/compile.js';
import { toBundle } from '../../src/normalise/index.js';
import { readDocuments } from '../../src/normalise/reader.js';
import type { ObservedEvent } from '../../src/stix/types.js';

export function fixtureText(source: string, file: string): string {
  return readFileSync(new URL(`../fixtures/${source}/${file}`, import.meta.url), 'utf8');
}

/** The events of a fixture file, read with the shared reader (JSON, arrays, NDJSON, text records). */
export function fixtureEvents(source: string, file: string): unknown[] {
  return readDocuments(fixtureText(source, file)).flatMap((doc) => {
    if (!doc.ok) throw new Error(`${source}/${file}: line ${doc.line}: ${doc.message}`);
    return Array.isArray(doc.value) ? doc.value : [doc.value];
  });
}

export function fixture(source: string, file: string): unknown {
  const [first] = fixtureEvents(source, file);
  return first;
}

/** Does the pattern match the normalised event, through the real matcher? */
export function fires(pattern: string, event: ObservedEvent): boolean {
  return compilePattern(pattern).match(toBundle(event)).matched;
}

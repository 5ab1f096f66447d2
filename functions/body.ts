/**
 * Event payloads as the ingest functions accept them, whatever the content type: one JSON event,
 * a JSON array of events, or NDJSON (one event per line; blank lines skipped). Indexes count
 * events in input order (for NDJSON: non-blank lines), so a rejection points at the event the
 * sender wrote. Reasons never quote the payload.
 */
import { readDocuments } from '../src/normalise/reader.js';

export interface Rejection {
  index: number;
  code: string;
  reason: string;
}

export interface ParsedEvents {
  /** Parsed events with their index in the input. */
  events: { index: number; value: unknown }[];
  /** Lines (or the body) that are not JSON. */
  rejections: Rejection[];
  /** Events in the input, good and bad. */
  total: number;
}

export function parseEvents(text: string): ParsedEvents {
  // One shared reader for every entry point: JSON, arrays, NDJSON, concatenated pretty-printed JSON, text records.
  const documents = readDocuments(text);
  if (documents.length === 0) return { events: [], rejections: [{ index: 0, code: 'empty-body', reason: 'the body holds no events' }], total: 0 };
  const events: ParsedEvents['events'] = [];
  const rejections: Rejection[] = [];
  let index = 0;
  for (const doc of documents) {
    if (!doc.ok) {
      rejections.push({ index, code: 'invalid-json', reason: `line ${doc.line} is not valid JSON` });
      index += 1;
      continue;
    }
    for (const value of Array.isArray(doc.value) ? doc.value : [doc.value]) events.push({ index: index++, value });
  }
  if (index === 0) return { events: [], rejections: [{ index: 0, code: 'empty-body', reason: 'the JSON array holds no events' }], total: 0 };
  return { events, rejections, total: index };
}

/** Size of a request body in bytes as the function will see it (base64 decoded). */
export function bodyBytes(body: string, base64: boolean): number {
  return base64 ? Buffer.byteLength(body, 'base64') : Buffer.byteLength(body, 'utf8');
}

export function decodeBody(body: string, base64: boolean): string {
  return base64 ? Buffer.from(body, 'base64').toString('utf8') : body;
}

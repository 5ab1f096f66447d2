/**
 * Event payloads as the ingest functions accept them, whatever the content type: one JSON event,
 * a JSON array of events, or NDJSON (one event per line; blank lines skipped). Indexes count
 * events in input order (for NDJSON: non-blank lines), so a rejection points at the event the
 * sender wrote. Reasons never quote the payload.
 */

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
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim() === '') return { events: [], rejections: [{ index: 0, code: 'empty-body', reason: 'the body holds no events' }], total: 0 };
  try {
    const value: unknown = JSON.parse(body);
    const values = Array.isArray(value) ? value : [value];
    if (values.length === 0) return { events: [], rejections: [{ index: 0, code: 'empty-body', reason: 'the JSON array holds no events' }], total: 0 };
    return { events: values.map((v, index) => ({ index, value: v })), rejections: [], total: values.length };
  } catch {
    // Not one JSON document: read it as NDJSON.
  }
  const events: ParsedEvents['events'] = [];
  const rejections: Rejection[] = [];
  let index = 0;
  const lines = body.split('\n');
  for (let line = 0; line < lines.length; line++) {
    const raw = lines[line] as string;
    if (raw.trim() === '') continue;
    try {
      events.push({ index, value: JSON.parse(raw) as unknown });
    } catch {
      rejections.push({ index, code: 'invalid-json', reason: `line ${line + 1} is not valid JSON` });
    }
    index += 1;
  }
  return { events, rejections, total: index };
}

/** Size of a request body in bytes as the function will see it (base64 decoded). */
export function bodyBytes(body: string, base64: boolean): number {
  return base64 ? Buffer.byteLength(body, 'base64') : Buffer.byteLength(body, 'utf8');
}

export function decodeBody(body: string, base64: boolean): string {
  return base64 ? Buffer.from(body, 'base64').toString('utf8') : body;
}

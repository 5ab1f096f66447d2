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
  if (documents.length === 0)
    return { events: [], rejections: [{ index: 0, code: 'empty-body', reason: 'the body holds no events' }], total: 0 };
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
  if (index === 0)
    return {
      events: [],
      rejections: [{ index: 0, code: 'empty-body', reason: 'the JSON array holds no events' }],
      total: 0,
    };
  return { events, rejections, total: index };
}

/**
 * How many entries of each kind (rejections, late events, errors) a response lists: a 1 MiB
 * body of 350,000 unusable lines must not get a 40 MB answer. Counts are always totals; the
 * rejections are also counted by code, so what was not listed is still accounted for.
 */
export const LISTED_PER_KIND = 100;

/** Occurrences of each code, for responses and logs (never the reasons: they may quote the payload). */
export function countByCode(items: readonly { code: string }[]): Record<string, number> {
  const codes: Record<string, number> = {};
  for (const item of items) codes[item.code] = (codes[item.code] ?? 0) + 1;
  return codes;
}

/** An event that arrived after its group's correlation window had moved on. */
export interface LateReport {
  index: number;
  ruleId: string;
  groupKey: string;
  lagSeconds: number;
}

/** An event a rule could not be evaluated on, or whose state could not be updated. */
export interface ErrorReport {
  index: number;
  ruleId: string | undefined;
  code: string;
}

/** The part of an ingest response that reports on events: totals, and the first entries of each kind. */
export interface EventReport {
  rejected: number;
  rejections: Rejection[];
  rejectionCodes: Record<string, number>;
  late: number;
  lateEvents: LateReport[];
  errors: number;
  errorEvents: ErrorReport[];
}

export function eventReport(
  found: { rejections: readonly Rejection[]; late: readonly LateReport[]; errors: readonly ErrorReport[] },
  limit = LISTED_PER_KIND,
): EventReport {
  return {
    rejected: found.rejections.length,
    rejections: found.rejections.slice(0, limit),
    rejectionCodes: countByCode(found.rejections),
    late: found.late.length,
    lateEvents: found.late.slice(0, limit),
    errors: found.errors.length,
    errorEvents: found.errors.slice(0, limit),
  };
}

/** Size of a request body in bytes as the function will see it (base64 decoded). */
export function bodyBytes(body: string, base64: boolean): number {
  return base64 ? Buffer.byteLength(body, 'base64') : Buffer.byteLength(body, 'utf8');
}

export function decodeBody(body: string, base64: boolean): string {
  return base64 ? Buffer.from(body, 'base64').toString('utf8') : body;
}

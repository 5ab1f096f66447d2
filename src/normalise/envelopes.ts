/**
 * Envelopes: containers that carry source records rather than being events themselves. Each record is normalised
 * (and recognised) on its own, so one bad record loses nothing else:
 * - `{"Records": [...]}`: CloudTrail log files as S3 delivers them (and other AWS services' record lists);
 * - `{"message": "<JSON text>", "@timestamp": …}`: Logstash / Beats / Fluentd forwarding a JSON line as text;
 * - `{"source": "aws.…", "detail-type": …, "detail": {...}}`: Amazon EventBridge events (GuardDuty findings,
 *   CloudTrail API calls).
 */
import { isRecord, type JsonRecord } from './fields.js';

/** Keys a log forwarder adds around the line it forwards; anything else means the object is an event itself. */
const WRAPPER_KEYS = new Set([
  'message',
  '@timestamp',
  '@version',
  'host',
  'agent',
  'ecs',
  'log',
  'input',
  'fields',
  'tags',
  'type',
  'event',
  'cloud',
  'data_stream',
  'path',
  'source',
  'offset',
  'beat',
  'prospector',
  'stream',
  'time',
  'kubernetes',
]);

function wrappedMessage(value: JsonRecord): JsonRecord | undefined {
  const message = value.message;
  if (typeof message !== 'string' || message.charCodeAt(0) !== 123) return undefined;
  for (const key in value) if (!WRAPPER_KEYS.has(key)) return undefined;
  try {
    const parsed: unknown = JSON.parse(message);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** The records an input object carries: itself, unless it is an envelope. */
export function eventRecords(value: unknown, depth = 0): unknown[] {
  if (!isRecord(value) || depth > 2) return [value];
  const records = value.Records;
  if (Array.isArray(records) && records.length > 0 && records.every(isRecord) && Object.keys(value).length <= 2) {
    return records.flatMap((r) => eventRecords(r, depth + 1));
  }
  if (
    typeof value.source === 'string' &&
    value.source.startsWith('aws.') &&
    typeof value['detail-type'] === 'string' &&
    isRecord(value.detail)
  ) {
    return [value.detail];
  }
  const inner = wrappedMessage(value);
  if (inner !== undefined) return eventRecords(inner, depth + 1);
  return [value];
}

/**
 * Reading event inputs as sources write them, for every entry point (CLI files and stdin, HTTP bodies, SQS
 * messages): one JSON value, a JSON array, NDJSON, or several pretty-printed JSON values one after another (as evtx
 * dump tools write them). Lines that are not JSON are read as the text records security sources ship: AWS VPC Flow
 * Log lines (with or without the field-name header line S3 delivery writes) and Linux `audit.log` records, grouped
 * into one event per audit event serial. Anything else is reported with its line and the rest is still read.
 */

/** One top-level value of the input, or a part of it that could not be read. */
export type ReadDocument = { ok: true; value: unknown; line: number } | { ok: false; line: number; message: string };

/** The VPC Flow Logs version 2 default format, used when lines arrive without a header. */
const VPC_FLOW_DEFAULT_FIELDS = [
  'version',
  'account-id',
  'interface-id',
  'srcaddr',
  'dstaddr',
  'srcport',
  'dstport',
  'protocol',
  'packets',
  'bytes',
  'start',
  'end',
  'action',
  'log-status',
];

/** Index just past the JSON object or array starting at `start`, or -1 when it does not close. */
function endOfJsonValue(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/**
 * Reads every value of `text`. Arrays are returned as they are (callers decide whether an array is a batch); the
 * text records of one source are returned as one object each.
 */
export function readDocuments(text: string): ReadDocument[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const out: ReadDocument[] = [];
  const length = body.length;
  let pos = 0;
  let line = 1;
  /** Set once a value ran to the end of the body unclosed: the rest is read as one value per line. */
  let lineByLine = false;
  const records = new TextRecords(out);
  while (pos < length) {
    const c = body.charCodeAt(pos);
    if (isSpace(c)) {
      if (c === 10) line++;
      pos++;
      continue;
    }
    if (c === 123 || c === 91) {
      records.flush();
      if (lineByLine) {
        // After a value that never closed, each line is one value at most: scanning from every later bracket to
        // the end of the body again would cost the square of its size (a body of `{` lines).
        let eol = body.indexOf('\n', pos);
        if (eol < 0) eol = length;
        try {
          out.push({ ok: true, value: JSON.parse(body.slice(pos, eol)) as unknown, line });
        } catch {
          out.push({ ok: false, line, message: 'not valid JSON' });
        }
        pos = eol;
        continue;
      }
      const end = endOfJsonValue(body, pos);
      if (end < 0) lineByLine = true;
      const startLine = line;
      if (end >= 0) {
        const slice = body.slice(pos, end);
        try {
          const value: unknown = JSON.parse(slice);
          for (let i = 0; i < slice.length; i++) if (slice.charCodeAt(i) === 10) line++;
          pos = end;
          out.push({ ok: true, value, line: startLine });
          continue;
        } catch {
          // Reported below; the next value is looked for after this one's first line.
        }
      }
      // A broken value loses only itself: resume at the next line that starts in column 1 (not the indented inside
      // of a pretty-printed value, nor its closing bracket), so one bad NDJSON line or one truncated object does not
      // swallow the rest.
      out.push({ ok: false, line: startLine, message: 'not valid JSON' });
      let next = body.indexOf('\n', pos);
      while (next >= 0) {
        line++;
        const c2 = body.charCodeAt(next + 1);
        if (next + 1 < length && !isSpace(c2) && c2 !== 125 && c2 !== 93) break;
        next = body.indexOf('\n', next + 1);
      }
      pos = next < 0 ? length : next + 1;
      continue;
    }
    // A line of text: a text record, or something we cannot read (reported, then the next line is tried).
    let eol = body.indexOf('\n', pos);
    if (eol < 0) eol = length;
    const raw = body.slice(pos, eol).replace(/\r$/, '');
    records.add(raw, line);
    pos = eol;
  }
  records.flush();
  return out;
}

/** Collects consecutive text lines: VPC flow records (header aware) and audit records grouped by serial. */
class TextRecords {
  private vpcHeader: string[] | undefined;
  private audit: { key: string; line: number; event: Record<string, unknown> } | undefined;

  constructor(private readonly out: ReadDocument[]) {}

  add(raw: string, line: number): void {
    const trimmed = raw.trim();
    if (trimmed.startsWith('type=')) {
      const record = parseAuditLine(trimmed);
      if (record !== undefined) {
        this.addAudit(record, line);
        return;
      }
    } else {
      this.flushAudit();
      const words = trimmed.split(/\s+/);
      if (words[0] === 'version' && words.includes('srcaddr')) {
        this.vpcHeader = words;
        return;
      }
      const fields =
        this.vpcHeader ?? (words.length === VPC_FLOW_DEFAULT_FIELDS.length ? VPC_FLOW_DEFAULT_FIELDS : undefined);
      if (fields !== undefined && words.length === fields.length && /^[2-9]$/.test(words[0] as string)) {
        const record: Record<string, unknown> = {};
        for (let i = 0; i < fields.length; i++) record[fields[i] as string] = words[i];
        this.out.push({ ok: true, value: record, line });
        return;
      }
    }
    this.flushAudit();
    this.out.push({ ok: false, line, message: 'not JSON, nor a VPC flow log or audit.log record' });
  }

  private addAudit(record: AuditRecord, line: number): void {
    if (this.audit !== undefined && this.audit.key !== record.key) this.flushAudit();
    if (this.audit === undefined) {
      this.audit = {
        key: record.key,
        line,
        event: { 'audit.timestamp': record.timestamp, 'audit.sequence': record.sequence, 'audit.types': [] },
      };
    }
    const event = this.audit.event;
    (event['audit.types'] as string[]).push(record.type);
    // Records of one type that repeat in an event (PATH) are kept as a list; others as one object.
    const existing = event[record.type];
    if (existing === undefined) event[record.type] = record.fields;
    else if (Array.isArray(existing)) existing.push(record.fields);
    else event[record.type] = [existing, record.fields];
  }

  private flushAudit(): void {
    if (this.audit === undefined) return;
    this.out.push({ ok: true, value: this.audit.event, line: this.audit.line });
    this.audit = undefined;
  }

  flush(): void {
    this.flushAudit();
  }
}

interface AuditRecord {
  type: string;
  key: string;
  timestamp: string;
  sequence: number;
  fields: Record<string, string>;
}

/** Audit fields whose unquoted values are hex-encoded text (the kernel encodes values holding spaces or quotes). */
const AUDIT_HEX_FIELDS = new Set([
  'exe',
  'comm',
  'proctitle',
  'cmd',
  'name',
  'cwd',
  'path',
  'data',
  'acct',
  'old',
  'new',
]);

// The colon after the header is missing in some records (DAEMON_CONFIG).
const AUDIT_HEADER = /^type=([A-Z0-9_]+) (?:msg=)?audit\((\d+(?:\.\d+)?):(\d+)\):?\s*(.*)$/;

function decodeHex(value: string): string | undefined {
  if (value.length < 2 || value.length % 2 !== 0 || !/^[0-9A-F]+$/.test(value)) return undefined;
  const bytes = Buffer.from(value, 'hex');
  // The command line (proctitle) separates arguments with NUL bytes.
  return bytes.toString('utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
}

/** `key=value key="quoted value" key='nested k=v list'` into a map; nested msg='…' lists are merged in. */
export function parseAuditFields(text: string, into: Record<string, string> = {}): Record<string, string> {
  const pair = /([A-Za-z0-9_-]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (let m = pair.exec(text); m !== null; m = pair.exec(text)) {
    const key = m[1] as string;
    const raw = m[2] as string;
    if (raw.startsWith("'")) {
      parseAuditFields(raw.slice(1, -1), into);
      continue;
    }
    let value = raw.startsWith('"') ? raw.slice(1, -1) : raw;
    // SYSCALL's a0..a3 are hex numbers, not text, so only the known text fields are decoded.
    if (!raw.startsWith('"') && AUDIT_HEX_FIELDS.has(key)) value = decodeHex(value) ?? value;
    into[key] = value;
  }
  return into;
}

function parseAuditLine(line: string): AuditRecord | undefined {
  const m = AUDIT_HEADER.exec(line);
  if (m === null) return undefined;
  const [, type, timestamp, sequence, rest] = m as unknown as [string, string, string, string, string];
  return {
    type,
    key: `${timestamp}:${sequence}`,
    timestamp,
    sequence: Number(sequence),
    fields: parseAuditFields(rest),
  };
}

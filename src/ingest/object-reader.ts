/**
 * Reads the events of a stored object (an S3 object, a file dropped in a watched folder) as a stream, in bounded
 * batches, whatever its size: gzip'd or not (told by the gzip magic bytes, not the key), and in any of the layouts
 * log writers use:
 * - `{"Records": [...]}` (CloudTrail, and other AWS services' record files): the Records array is streamed element by
 *   element with stream-json, so a 1 GB file on one line never sits in memory;
 * - a top-level JSON array: streamed element by element the same way;
 * - anything else, line by line: NDJSON, pretty-printed JSON values one after another, VPC Flow Log text (its
 *   field-name header line applies to every batch), audit.log records; each batch of lines goes through the shared
 *   reader (src/normalise/reader.ts), cut only where a new top-level value starts.
 *
 * Memory is bounded by the batch size, the longest line (`maxLineBytes`) and the largest batch text
 * (`maxBatchBytes`), never by the object. Indexes count events in the object in order (0-based), lines count lines of
 * the decoded text (1-based), so a rejection points at the place in the object.
 */
import { Readable, pipeline, type Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { parser } from 'stream-json';
import { pick } from 'stream-json/filters/pick.js';
import { streamArray } from 'stream-json/streamers/stream-array.js';
import { readDocuments } from '../normalise/reader.js';

export interface ObjectEvent {
  /** Position of the event in the object, from 0. */
  index: number;
  value: unknown;
}

export interface ObjectRejection {
  /** Position the unreadable part takes in the object's event count. */
  index: number;
  /** Line of the decoded text where it starts (JSON element layouts: 0, the file has no useful line). */
  line: number;
  code: 'invalid-json' | 'line-too-long' | 'invalid-gzip' | 'invalid-records';
  reason: string;
}

export interface ObjectBatch {
  events: ObjectEvent[];
  rejections: ObjectRejection[];
}

export type ObjectLayout = 'records' | 'array' | 'lines';

export interface ObjectReaderOptions {
  /** Events per batch; default 500. */
  batchSize?: number;
  /** Longest line kept (bytes of text); longer lines are skipped and reported. Default 1 MiB. */
  maxLineBytes?: number;
  /** Largest text of one batch in line layout; default 8 MiB (a pretty-printed value larger than this is cut). */
  maxBatchBytes?: number;
  /** Told once the layout is known (for logs and tests). */
  onLayout?: (layout: ObjectLayout, gzip: boolean) => void;
}

export const DEFAULT_OBJECT_BATCH_SIZE = 500;
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;
export const DEFAULT_MAX_BATCH_BYTES = 8 * 1024 * 1024;
/** How much of the decoded start is looked at to tell the layout. */
const SNIFF_CHARS = 4096;

/** The stream's chunks, with the first ones available for a look before the rest is read. */
class Peekable {
  private readonly buffered: Buffer[] = [];
  private readonly iterator: AsyncIterator<Buffer | string>;
  private ended = false;

  constructor(stream: AsyncIterable<Buffer | string>) {
    this.iterator = stream[Symbol.asyncIterator]();
  }

  /** At least `bytes` bytes from the start (fewer at the end of the stream). */
  async peek(bytes: number): Promise<Buffer> {
    let size = this.buffered.reduce((n, b) => n + b.length, 0);
    while (size < bytes && !this.ended) {
      const next = await this.iterator.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      this.buffered.push(chunk);
      size += chunk.length;
    }
    return Buffer.concat(this.buffered);
  }

  /** The whole stream again, from its first byte. */
  readable(): Readable {
    const buffered = this.buffered.splice(0);
    const iterator = this.iterator;
    const ended = this.ended;
    return Readable.from(
      (async function* () {
        yield* buffered;
        if (ended) return;
        for (;;) {
          const next = await iterator.next();
          if (next.done) return;
          yield typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
        }
      })(),
      { objectMode: false },
    );
  }
}

/**
 * The streams piped one into the next; the last is returned to be read. An error anywhere destroys them all, and the
 * last one with that error, so reading it rejects.
 */
function chain(first: Readable, ...rest: Duplex[]): Readable {
  if (rest.length === 0) return first;
  return pipeline([first, ...rest], () => undefined) as unknown as Readable;
}

/**
 * Like `chain`, but a failing stage ends the stages after it instead of destroying them, so what they hold already
 * (the elements parsed before a syntax error) is still read; `failure()` tells what failed.
 */
function tolerantChain(first: Readable, ...rest: Duplex[]): { out: Readable; failure: () => unknown } {
  let failure: unknown;
  const stages: (Readable | Duplex)[] = [first, ...rest];
  for (let i = 0; i + 1 < stages.length; i++) {
    const from = stages[i] as Readable;
    const to = stages[i + 1] as Duplex;
    from.pipe(to);
    from.on('error', (error: unknown) => {
      failure ??= error;
      from.unpipe(to);
      to.end();
    });
  }
  return { out: stages[stages.length - 1] as Readable, failure: () => failure };
}

function isGzip(start: Buffer): boolean {
  return start.length >= 2 && start[0] === 0x1f && start[1] === 0x8b;
}

/** The layout, from the first characters of the decoded text. */
export function layoutOf(start: string): ObjectLayout {
  const text = start.charCodeAt(0) === 0xfeff ? start.slice(1) : start;
  const first = text.search(/\S/);
  if (first < 0) return 'lines';
  if (text[first] === '[') return 'array';
  // AWS writes Records as the first key; an NDJSON line that happens to start this way is read as records too,
  // which is what it is (the normaliser opens a Records envelope the same way).
  if (/^\s*\{\s*"Records"\s*:\s*\[/.test(text)) return 'records';
  return 'lines';
}

/**
 * The batches of events in `stream` (raw bytes of the object). Errors of the stream itself (a connection cut, a
 * missing object) are thrown; unreadable content is reported in the batches and the rest is still read where it can be.
 */
export async function* readObjectEvents(
  stream: AsyncIterable<Buffer | string>,
  options: ObjectReaderOptions = {},
): AsyncGenerator<ObjectBatch> {
  const batchSize = options.batchSize ?? DEFAULT_OBJECT_BATCH_SIZE;
  const raw = new Peekable(stream);
  const gzip = isGzip(await raw.peek(2));
  const decoded = new Peekable(gzip ? chain(raw.readable(), createGunzip()) : raw.readable());
  let start: Buffer;
  try {
    start = await decoded.peek(SNIFF_CHARS);
  } catch (error) {
    if (!gzip) throw error;
    yield { events: [], rejections: [gzipRejection(0, 0, error)] };
    return;
  }
  const layout = layoutOf(start.toString('utf8'));
  options.onLayout?.(layout, gzip);
  if (layout === 'lines') yield* readLines(decoded.readable(), batchSize, options, gzip);
  else yield* readElements(decoded.readable(), layout, batchSize, gzip);
}

function gzipRejection(index: number, line: number, error: unknown): ObjectRejection {
  return {
    index,
    line,
    code: 'invalid-gzip',
    reason: `the gzip data is damaged or cut short (${error instanceof Error ? ((error as { code?: string }).code ?? error.name) : 'error'}); what came before was read`,
  };
}

function isZlibError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

async function* readElements(
  text: Readable,
  layout: 'records' | 'array',
  batchSize: number,
  gzip: boolean,
): AsyncGenerator<ObjectBatch> {
  const stages = [text, parser.asStream()];
  if (layout === 'records') stages.push(pick.asStream({ filter: 'Records' }));
  stages.push(streamArray.asStream());
  const { out, failure } = tolerantChain(...(stages as [Readable, ...Duplex[]]));
  let events: ObjectEvent[] = [];
  let index = 0;
  let error: unknown;
  try {
    for await (const element of out as AsyncIterable<{ key: number; value: unknown }>) {
      events.push({ index: index++, value: element.value });
      if (events.length >= batchSize) {
        yield { events, rejections: [] };
        events = [];
      }
    }
  } catch (thrown) {
    error = thrown;
  }
  error = failure() ?? error;
  if (error !== undefined) {
    const rejection: ObjectRejection =
      gzip && isZlibError(error)
        ? gzipRejection(index, 0, error)
        : {
            index,
            line: 0,
            code: layout === 'records' ? 'invalid-records' : 'invalid-json',
            reason: `the ${layout === 'records' ? 'Records file' : 'JSON array'} is not valid JSON after element ${index}; the elements before it were read`,
          };
    yield { events, rejections: [rejection] };
    return;
  }
  if (events.length > 0) yield { events, rejections: [] };
}

/** A line where a new top-level value may start: not indented, not a closing bracket. */
function startsValue(line: string): boolean {
  const c = line.charCodeAt(0);
  return !(c === 32 || c === 9 || c === 125 || c === 93 || Number.isNaN(c));
}

function isVpcHeader(line: string): boolean {
  const words = line.trim().split(/\s+/);
  return words[0] === 'version' && words.includes('srcaddr');
}

async function* readLines(
  text: Readable,
  batchSize: number,
  options: ObjectReaderOptions,
  gzip: boolean,
): AsyncGenerator<ObjectBatch> {
  const maxLine = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const maxBatch = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
  const decoder = new StringDecoder('utf8');
  /** The VPC flow header line, repeated before each later batch so the reader knows the fields. */
  let header: string | undefined;
  let firstLine = true;
  let lines: string[] = [];
  let batchChars = 0;
  /** Line number (1-based) of lines[0]. */
  let batchStartLine = 1;
  let lineNo = 0;
  let index = 0;
  let pending: ObjectRejection[] = [];
  let partial = '';
  let skipping = false;

  const flush = (): ObjectBatch | undefined => {
    if (lines.length === 0 && pending.length === 0) return undefined;
    const prefix = header !== undefined && batchStartLine > 1 ? 1 : 0;
    const body = (prefix ? `${header}\n` : '') + lines.join('\n');
    const events: ObjectEvent[] = [];
    const rejections = pending;
    for (const doc of readDocuments(body)) {
      const line = doc.line - prefix + batchStartLine - 1;
      if (!doc.ok) {
        rejections.push({ index: index++, line, code: 'invalid-json', reason: `line ${line}: ${doc.message}` });
        continue;
      }
      for (const value of Array.isArray(doc.value) ? doc.value : [doc.value]) events.push({ index: index++, value });
    }
    lines = [];
    batchChars = 0;
    pending = [];
    return { events, rejections };
  };

  const addLine = (line: string): ObjectBatch | undefined => {
    lineNo++;
    if (firstLine && line.trim() !== '') {
      firstLine = false;
      if (isVpcHeader(line.replace(/^\ufeff/, ''))) header = line.replace(/^\ufeff/, '');
    }
    let out: ObjectBatch | undefined;
    // Cut where a value starts, once the batch is full (by events, roughly one per line, or by size).
    if ((lines.length >= batchSize && startsValue(line)) || batchChars + line.length > maxBatch) out = flush();
    if (lines.length === 0) batchStartLine = lineNo;
    lines.push(line);
    batchChars += line.length + 1;
    return out;
  };

  try {
    for await (const chunk of text as AsyncIterable<Buffer>) {
      const piece = decoder.write(chunk);
      let from = 0;
      for (;;) {
        const eol = piece.indexOf('\n', from);
        if (eol < 0) break;
        const tail = piece.slice(from, eol);
        from = eol + 1;
        if (skipping) {
          skipping = false;
          lineNo++;
          continue;
        }
        const line = (partial + tail).replace(/\r$/, '');
        partial = '';
        const out = addLine(line);
        if (out) yield out;
      }
      if (skipping) continue;
      partial += piece.slice(from);
      if (partial.length > maxLine) {
        // The rest of this line is dropped as it comes: it is reported, never held. The lines before it are
        // indexed first, so indexes stay in object order.
        const before = flush();
        if (before) yield before;
        pending.push({
          index: index++,
          line: lineNo + 1,
          code: 'line-too-long',
          reason: `line ${lineNo + 1} is longer than ${maxLine} characters; it was skipped`,
        });
        partial = '';
        skipping = true;
      }
    }
    const rest = partial + decoder.end();
    if (!skipping && rest !== '') {
      const out = addLine(rest.replace(/\r$/, ''));
      if (out) yield out;
    }
  } catch (error) {
    if (!(gzip && isZlibError(error))) throw error;
    const out = flush();
    yield { events: out?.events ?? [], rejections: [...(out?.rejections ?? []), gzipRejection(index, lineNo, error)] };
    return;
  }
  const out = flush();
  if (out) yield out;
}

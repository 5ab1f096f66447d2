/** Shared plumbing for CLI commands: streams, input reading, diagnostics rendering. */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { formatDiagnostic, StixflowBaseError, type Diagnostic } from '../errors.js';
import { readDocuments } from '../normalise/reader.js';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
}

export type Command = (argv: string[], io: CliIo) => Promise<number>;

export async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a file, or standard input for `-`. */
export async function readInput(path: string, io: CliIo): Promise<string> {
  return path === '-' ? readStream(io.stdin) : readFileSync(path, 'utf8');
}

export type ParsedDocument = { ok: true; value: unknown; line: number } | { ok: false; line: number; message: string };

/**
 * Parses a JSON document (object or array), NDJSON, several JSON values one after another, or text records (VPC
 * flow logs, audit.log), with the shared reader of src/normalise/reader.ts. Returns one entry per value, each
 * with the line it started on, so that a bad line is reported with its position and the rest
 * is still used.
 */
export function parseJsonOrNdjson(text: string): ParsedDocument[] {
  return readDocuments(text);
}

/** Where the CLI read an input event: its file (`<stdin>` for `-`), the line its JSON value starts on, its position in a JSON array. */
export interface EventOrigin {
  file: string;
  line: number;
  /** Position in the array, when the file is one JSON array of events. */
  item?: number;
}

/** `file:line[ item k]: ` for an event read from a file, '' when its origin is unknown. */
export function eventOriginPrefix(origin: EventOrigin | undefined): string {
  if (!origin) return '';
  return `${origin.file}:${origin.line}${origin.item !== undefined ? ` (item ${origin.item})` : ''}: `;
}

/**
 * A diagnostic about an input event: where the event was read, its index among all the events
 * of the run, then the diagnostic (`events.ndjson:4: event 3: error [code] message`).
 */
export function formatEventDiagnostic(d: Diagnostic, origin: EventOrigin | undefined): string {
  const { file: _file, line: _line, column: _column, ...rest } = d;
  return `${eventOriginPrefix(origin)}${formatDiagnostic(rest)}`;
}

/** A diagnostic with the source line and a caret under the offending text, when we have it. */
export function renderDiagnostic(d: Diagnostic, source?: string, sourceFirstLine = 1): string {
  const head = formatDiagnostic(d);
  // `d.line` counts in the file; `source` starts at line `sourceFirstLine` of it.
  const lineInSource = d.line === undefined ? undefined : d.line - sourceFirstLine + 1;
  const extra: string[] = [];
  if (d.offendingToken !== undefined) extra.push(`  found: ${JSON.stringify(d.offendingToken)}`);
  if (d.expected?.length)
    extra.push(`  expected: ${d.expected.slice(0, 12).join(', ')}${d.expected.length > 12 ? ', …' : ''}`);
  // The other places it is about: where an id was first defined, the definition of a macro.
  for (const r of d.related ?? [])
    if (r.file !== undefined)
      extra.push(`  see: ${[r.file, r.line, r.column].filter((p) => p !== undefined).join(':')}`);
  if (source !== undefined && lineInSource !== undefined && d.column !== undefined) {
    const lineText = source.split(/\r?\n/)[lineInSource - 1];
    if (lineText !== undefined) {
      extra.push(`  | ${lineText}`);
      extra.push(
        `  | ${' '.repeat(Math.max(0, d.column - 1))}${'^'.repeat(Math.max(1, Math.min(d.length ?? 1, lineText.length - d.column + 1)))}`,
      );
    }
  }
  return [head, ...extra].join('\n');
}

/** `1 alert`, `2 alerts`: a count with its noun. */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

/**
 * The output's reader has gone (a pipe closed by `head`): the command stops here, as a C tool
 * stops at SIGPIPE. Not a failure; bin/stixflow.js exits quietly with status 0.
 */
export class OutputClosedError extends StixflowBaseError {
  constructor() {
    super('the output was closed by its reader');
  }
}

/**
 * Writes one line. A write that failed (a closed pipe) marks the stream unwritable at once,
 * while its 'error' event waits until the running command yields to the event loop (a command
 * that awaits only settled promises never does): stop at the next line instead of computing the
 * rest of the output for nobody.
 */
export function writeLine(stream: NodeJS.WritableStream, text: string): void {
  if (!stream.writable) throw new OutputClosedError();
  stream.write(text.endsWith('\n') ? text : `${text}\n`);
}

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;
type Parsed<T extends OptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; allowPositionals: true; options: T & { help: { type: 'boolean'; short: 'h' } } }>
>;

/**
 * Parses a command's arguments, with `-h/--help` added. Returns the parsed arguments, or the
 * exit status when the command is done: 0 after printing its help, 2 after a usage error.
 */
export function parseCommandArgs<T extends OptionsConfig>(
  argv: string[],
  options: T,
  help: string,
  io: CliIo,
): Parsed<T> | number {
  let parsed: Parsed<T>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
    }) as Parsed<T>;
  } catch (error) {
    writeLine(io.stderr, `${(error as Error).message}\n\n${help}`);
    return 2;
  }
  if ((parsed.values as Record<string, unknown>).help === true) {
    writeLine(io.stdout, help);
    return 0;
  }
  return parsed;
}

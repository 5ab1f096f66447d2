/**
 * `stixflow normalise`: turn events (JSON object, JSON array or NDJSON) into STIX 2.1 bundles.
 * `argv` holds the arguments after the command name.
 */
import { readFile } from 'node:fs/promises';
import { formatDiagnostics, InputError, StixflowBaseError, type Diagnostic } from '../errors.js';
import { createNormaliser, loadMapping, toBundle, unknownSourceMessage, type Mapping } from '../normalise/index.js';
import type { Bundle, ObservedEvent, StixObject } from '../stix/types.js';
import { STIXFLOW_NAMESPACE, uuidv5 } from '../normalise/ids.js';
import { readDocuments } from '../normalise/reader.js';

export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
}

const USAGE = `Usage: stixflow normalise [--mapping FILE]... [--source NAME] [--tenant TENANT] [--format ndjson|bundle] <EVENTS-FILE...|->

Normalise events into STIX 2.1. Each input holds one JSON object, a JSON array of events, or NDJSON
(one event per line); "-" reads standard input.

Options:
  --mapping FILE    Load a mapping (YAML or JSON); tried before the built-in stix, ecs and flat mappings.
                    Repeatable.
  --source NAME     Normalise every event with the mapping NAME (built-in or --mapping) instead of detecting it.
  --tenant TENANT   Record TENANT as x_tenant on every observed-data (and in derived ids).
  --format FORMAT   ndjson (default): one STIX 2.1 bundle per event, one per line.
                    bundle: a single bundle holding every event's objects.
  -h, --help        Show this help.

Rejected events are reported on standard error with their file and index.
Exit status: 0 all events normalised, 1 some rejected, 2 usage error.
`;

interface Options {
  mappings: string[];
  source: string | undefined;
  tenant: string | undefined;
  format: 'ndjson' | 'bundle';
  inputs: string[];
  help: boolean;
}

class UsageError extends StixflowBaseError {}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    mappings: [],
    source: undefined,
    tenant: undefined,
    format: 'ndjson',
    inputs: [],
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const takeValue = (): string => {
      if (eq > 0) return arg.slice(eq + 1);
      const value = argv[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value`);
      return value;
    };
    switch (name) {
      case '-h':
      case '--help':
        options.help = true;
        break;
      case '--mapping':
        options.mappings.push(takeValue());
        break;
      case '--source':
        options.source = takeValue();
        break;
      case '--tenant': {
        const tenant = takeValue();
        if (tenant.length === 0) throw new UsageError('--tenant must not be empty');
        options.tenant = tenant;
        break;
      }
      case '--format': {
        const format = takeValue();
        if (format !== 'ndjson' && format !== 'bundle')
          throw new UsageError(`--format must be ndjson or bundle, not "${format}"`);
        options.format = format;
        break;
      }
      case '--':
        options.inputs.push(...argv.slice(i + 1));
        i = argv.length;
        break;
      default:
        if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${arg}`);
        options.inputs.push(arg);
    }
  }
  if (!options.help && options.inputs.length === 0)
    throw new UsageError('no events file given (use - for standard input)');
  return options;
}

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** One parsed input item: an event, or the reason its text is not JSON. */
type InputItem = { event: unknown; line?: number } | { error: string; line?: number };

/** Events of the input, with the shared reader (JSON, arrays, NDJSON, concatenated JSON, text records). */
export function splitEvents(text: string): InputItem[] {
  return readDocuments(text).flatMap((doc): InputItem[] => {
    if (!doc.ok) return [{ error: doc.message, line: doc.line }];
    return Array.isArray(doc.value)
      ? doc.value.map((event: unknown) => ({ event, line: doc.line }))
      : [{ event: doc.value, line: doc.line }];
  });
}

/** Buffers output and respects back-pressure, so that large runs neither block per line nor balloon memory. */
class BufferedWriter {
  private buffer = '';
  constructor(private readonly stream: NodeJS.WritableStream) {}
  async write(text: string): Promise<void> {
    this.buffer += text;
    if (this.buffer.length >= 1 << 16) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const chunk = this.buffer;
    this.buffer = '';
    if (!this.stream.write(chunk)) await new Promise<void>((resolve) => this.stream.once('drain', () => resolve()));
  }
}

function formatRejection(source: string, index: number, diagnostic: Diagnostic, line: number | undefined): string {
  const where = line === undefined ? `${source}: event ${index}` : `${source}: event ${index} (line ${line})`;
  return `${where}: ${diagnostic.severity} [${diagnostic.code}] ${diagnostic.message}\n`;
}

export async function normaliseCommand(argv: string[], io: CommandIo): Promise<number> {
  let options: Options;
  try {
    options = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`stixflow normalise: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    io.stdout.write(USAGE);
    return 0;
  }

  const mappings: Mapping[] = [];
  for (const file of options.mappings) {
    try {
      mappings.push(loadMapping(await readFile(file, 'utf8'), file));
    } catch (error) {
      if (error instanceof InputError) io.stderr.write(`${formatDiagnostics(error.diagnostics)}\n`);
      else
        io.stderr.write(
          `stixflow normalise: cannot read mapping ${file}: ${error instanceof Error ? error.message : String(error)}\n`,
        );
      return 2;
    }
  }
  const normaliser = createNormaliser({
    mappings,
    tenant: options.tenant,
    ...(options.source !== undefined ? { source: options.source } : {}),
  });
  const unknownSource =
    options.source === undefined ? undefined : unknownSourceMessage(options.source, normaliser.mappings);
  if (unknownSource !== undefined) {
    io.stderr.write(`stixflow normalise: --source: ${unknownSource}\n`);
    return 2;
  }

  // The time of records that carry none (time.received mappings): when this command read them.
  const receivedAt = new Date().toISOString();
  const out = new BufferedWriter(io.stdout);
  const collected: ObservedEvent[] = [];
  let rejectedCount = 0;
  let stdinUsed = false;
  for (const input of options.inputs) {
    let text: string;
    try {
      if (input === '-') {
        if (stdinUsed) throw new UsageError('standard input (-) given twice');
        stdinUsed = true;
        text = await readStream(io.stdin);
      } else {
        text = await readFile(input, 'utf8');
      }
    } catch (error) {
      await out.flush();
      io.stderr.write(
        `stixflow normalise: cannot read ${input}: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      return 2;
    }
    const source = input === '-' ? '<stdin>' : input;
    const items = splitEvents(text);
    for (let index = 0; index < items.length; index++) {
      const item = items[index] as InputItem;
      if ('error' in item) {
        rejectedCount++;
        io.stderr.write(
          formatRejection(source, index, { severity: 'error', code: 'invalid-json', message: item.error }, item.line),
        );
        continue;
      }
      const result = normaliser.normalise(item.event, index, { receivedAt });
      if (!result.ok) {
        rejectedCount++;
        io.stderr.write(formatRejection(source, index, result.diagnostic, item.line));
        continue;
      }
      for (const event of result.events) {
        if (options.format === 'bundle') collected.push(event);
        else await out.write(`${JSON.stringify(toBundle(event))}\n`);
      }
    }
  }
  if (options.format === 'bundle') await out.write(`${JSON.stringify(combinedBundle(collected), null, 2)}\n`);
  await out.flush();
  return rejectedCount > 0 ? 1 : 0;
}

/** All events in one bundle, each object once (SCOs shared between events have one id). */
function combinedBundle(events: ObservedEvent[]): Bundle {
  const objects: StixObject[] = [];
  const seen = new Set<string>();
  for (const event of events) {
    for (const object of [event.observedData, ...event.objects]) {
      const id = object.id;
      if (id !== undefined) {
        if (seen.has(id)) continue;
        seen.add(id);
      }
      objects.push(object);
    }
  }
  const name = objects.map((o) => o.id ?? '').join(',');
  return { type: 'bundle', id: `bundle--${uuidv5(STIXFLOW_NAMESPACE, `bundle\u001f${name}`)}`, objects };
}

/** `stixflow emit`: STIX 2.1 events that satisfy a pattern (or near misses), for testing rules. */
import { parseArgs } from 'node:util';
import { PatternError, StixflowError } from '../errors.js';
import { checkPattern } from '../pattern/compile.js';
import { parseStixTimestamp } from '../pattern/literals.js';
import { typeCheckPattern } from '../pattern/type-check.js';
import { generateEvents } from '../generate/index.js';
import type { Bundle } from '../stix/types.js';
import { renderDiagnostic, writeLine, type CliIo } from './io.js';

const EMIT_HELP = `Usage: stixflow emit '<pattern>' [options]

Generates STIX 2.1 events that together satisfy the pattern: each event is a bundle holding
one observed-data (with object_refs) and the SCOs it references. Values have the types of the
STIX 2.1 data model (integers for ports, lists for protocols and categories, references to
objects of the types a reference may point at); a comparison the model says can never hold is
reported, as \`stixflow validate\` reports it. Every set of events is checked
with the batch matcher before it is printed. With --miss, prints near misses instead: sets that
violate the pattern in one minimal way each (one comparison off, FOLLOWEDBY reversed, one second
outside WITHIN, one repetition short, outside START/STOP); each is described on stderr.

Options:
  -n, --count <N>           number of event sets (default 1)
  --seed <S>                seed of the pseudo-random generator (default 1); same seed, same output
  --start <time>            STIX timestamp of the first event (default 2024-01-01T00:00:00Z)
  --miss                    near misses instead of matching sets
  --format <ndjson|bundle>  ndjson: one bundle per line (default);
                            bundle: one bundle per set, with all its objects, one per line
  -h, --help                show this help

Exit status: 0 events printed, 1 the pattern can never match (or is beyond the generator;
diagnostics on stderr), 2 usage error or invalid pattern.`;

function usage(io: CliIo, message: string): number {
  writeLine(io.stderr, `${message}\n\n${EMIT_HELP}`);
  return 2;
}

function merge(set: Bundle[], index: number): Bundle {
  const objects = set.flatMap((b) => b.objects);
  const first = set[0]?.id ?? `bundle--00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;
  return { type: 'bundle', id: first, objects };
}

export async function emitCommand(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        count: { type: 'string', short: 'n' },
        seed: { type: 'string' },
        start: { type: 'string' },
        miss: { type: 'boolean' },
        format: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    return usage(io, (error as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    writeLine(io.stdout, EMIT_HELP);
    return 0;
  }
  if (parsed.positionals.length !== 1)
    return usage(io, parsed.positionals.length === 0 ? 'missing the pattern' : 'give exactly one pattern (quote it)');
  const text = parsed.positionals[0] as string;
  const count = v.count === undefined ? 1 : Number(v.count);
  if (!/^\d+$/.test(v.count ?? '1') || !Number.isSafeInteger(count) || count < 1 || count > 1_000_000)
    return usage(io, `-n must be a whole number from 1 to 1000000, got ${JSON.stringify(v.count)}`);
  const seed = v.seed === undefined ? 1 : Number(v.seed);
  if (!/^\d+$/.test(v.seed ?? '1') || !Number.isSafeInteger(seed) || seed > 0xffffffff)
    return usage(io, `--seed must be a whole number from 0 to 4294967295, got ${JSON.stringify(v.seed)}`);
  if (v.start !== undefined && parseStixTimestamp(v.start) === undefined)
    return usage(
      io,
      `--start must be a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.fraction]Z), got ${JSON.stringify(v.start)}`,
    );
  const format = v.format ?? 'ndjson';
  if (format !== 'ndjson' && format !== 'bundle')
    return usage(io, `--format must be ndjson or bundle, got ${JSON.stringify(v.format)}`);

  const checked = checkPattern(text);
  if (!checked.pattern) {
    for (const d of checked.diagnostics) writeLine(io.stderr, renderDiagnostic(d, text));
    return 2;
  }
  // Values follow the STIX model's types; a comparison the model says can never hold
  // (network-traffic:dst_port = '80') would only yield events no real data looks like.
  const typed = typeCheckPattern(checked.pattern.ast);
  const typeErrors = typed.filter((d) => d.severity === 'error');
  if (typeErrors.length > 0) {
    writeLine(io.stderr, 'the pattern can never match:');
    for (const d of typeErrors) writeLine(io.stderr, renderDiagnostic(d, text));
    return 1;
  }
  for (const d of typed) writeLine(io.stderr, renderDiagnostic(d, text));
  const options = { count, seed, ...(v.start !== undefined ? { start: v.start } : {}) };
  const print = (sets: Bundle[][]): void => {
    sets.forEach((set, i) => {
      if (format === 'bundle') writeLine(io.stdout, JSON.stringify(merge(set, i)));
      else for (const bundle of set) writeLine(io.stdout, JSON.stringify(bundle));
    });
  };
  try {
    if (v.miss) {
      const misses = generateEvents(checked.pattern, { ...options, miss: true });
      misses.forEach((m, i) =>
        writeLine(
          io.stderr,
          `near miss ${i + 1} (${m.kind}, ${m.events.length} event${m.events.length === 1 ? '' : 's'}): ${m.description}`,
        ),
      );
      print(misses.map((m) => m.events));
    } else {
      print(generateEvents(checked.pattern, options));
    }
  } catch (error) {
    if (error instanceof PatternError) {
      for (const d of error.diagnostics) writeLine(io.stderr, renderDiagnostic(d, text));
      return 2;
    }
    if (error instanceof StixflowError) {
      writeLine(
        io.stderr,
        error.code === 'unsatisfiable'
          ? 'the pattern can never match:'
          : 'the generator cannot produce events for this pattern:',
      );
      for (const d of error.diagnostics) writeLine(io.stderr, renderDiagnostic(d, text));
      return 1;
    }
    throw error;
  }
  return 0;
}

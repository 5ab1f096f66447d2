/** `stixflow run` and `stixflow state`: stream events through the engine with in-memory state. */
import { readFileSync } from 'node:fs';
import { toAlertDocument } from '../engine/alert.js';
import { formatDiagnostic, StixflowError, type Diagnostic } from '../errors.js';
import { createNormaliser, loadMapping, unknownSourceMessage } from '../normalise/index.js';
import { Detector } from '../pipeline/detector.js';
import { InMemoryQueue } from '../queue/memory-queue.js';
import { Duration } from '../rules/duration.js';
import { loadRulesFromPaths } from '../rules/load.js';
import { InMemoryStateStore } from '../state/memory-store.js';
import {
  count,
  eventOriginPrefix,
  formatEventDiagnostic,
  parseJsonOrNdjson,
  readInput,
  writeLine,
  parseCommandArgs,
  type CliIo,
  type EventOrigin,
} from './io.js';

const RUN_HELP = `Usage: stixflow run --rules <file|dir> [options] <events-file… | ->

Streams events through the detection engine (in-memory correlation state) and prints each
alert as one JSON line (NDJSON) on standard output. Events may be STIX 2.1 bundles or
observed-data, STIX 2.0 observed-data, ECS or flat key-value events (normalised on the way),
as a JSON document, a JSON array or NDJSON. Events are processed in file order, in batches.
Rejected events, late events and rule problems are reported on standard error.

Options:
  -r, --rules <path>      rule file or directory (repeatable)
  -m, --mapping <file>    extra normalisation mapping (repeatable)
  --source <name>         normalise every event with this mapping (built-in or --mapping) instead of detecting it
  --tenant <name>         tenant of the events (default: default)
  --lateness <duration>   allowed lateness for correlation: seconds, or 30s, 5m, 1h (default 300)
  --batch-size <n>        events per engine batch (default 1: strict streaming order)
  --allow-unsatisfiable   keep rules whose pattern can never match (a warning, not an error)
  -h, --help              show this help

Exit status: 0 all processed, 1 some events or rules rejected or an error or warning reported (on stderr), 2 usage error.`;

const STATE_HELP = `Usage: stixflow state --rules <file|dir> --rule <id> [--group <key>] [options] <events-file… | ->

Runs the events like 'stixflow run', then explains the correlation state of one rule: for
each group (or the one given), the partial matches held, which observation expressions are
satisfied, which are pending, and when each partial match expires ("why didn't it fire?").
Prints JSON.

Options:
  -r, --rules <path>   rule file or directory (repeatable)
  -m, --mapping <file> extra normalisation mapping (repeatable), as for 'stixflow run'
  --source <name>      the mapping of every event, as for 'stixflow run'
  --rule <id>          the rule to explain (required)
  --group <key>        one group key, as printed in alerts (default: every group seen)
  --tenant <name>      tenant (default: default)
  --lateness <duration> allowed lateness: seconds, or 30s, 5m, 1h (default 300)
  --allow-unsatisfiable  keep rules whose pattern can never match (a warning, not an error)
  -h, --help           show this help

Exit status: 0 explained, 1 some events or rules rejected (on stderr), 2 usage error.`;

interface Loaded {
  detector: Detector;
  exit: number;
}

async function setUp(values: Record<string, unknown>, io: CliIo): Promise<Loaded | undefined> {
  const rulePaths = (values.rules as string[] | undefined) ?? [];
  if (rulePaths.length === 0) return undefined;
  const { rules, indicators, diagnostics } = loadRulesFromPaths(rulePaths, {
    allowUnsatisfiable: values['allow-unsatisfiable'] === true,
  });
  let exit = 0;
  for (const d of diagnostics) {
    writeLine(io.stderr, formatDiagnostic(d));
    if (d.severity === 'error') exit = 1;
  }
  const mappings = ((values.mapping as string[] | undefined) ?? []).map((file) =>
    loadMapping(readFileSync(file, 'utf8'), file),
  );
  const source = values.source as string | undefined;
  const normaliser = createNormaliser({
    mappings,
    ...(values.tenant ? { tenant: values.tenant as string } : {}),
    ...(source !== undefined ? { source } : {}),
  });
  const unknownSource = source === undefined ? undefined : unknownSourceMessage(source, normaliser.mappings);
  if (unknownSource !== undefined) {
    writeLine(io.stderr, `--source: ${unknownSource}`);
    return undefined;
  }
  const latenessSeconds = values.lateness === undefined ? 300 : lateness(values.lateness as string);
  const store = new InMemoryStateStore();
  const detector = new Detector({
    rules,
    indicators,
    store,
    sink: new InMemoryQueue(),
    normaliser,
    engine: { latenessSeconds },
  });
  return { detector, exit };
}

/** `--lateness`: seconds (`300`, `0.5`) or a duration (`5m`); a bad one fails like any bad engine option. */
function lateness(text: string): number {
  const duration = Duration.parse(text, { bareSeconds: true, fractions: true });
  if (Duration.isError(duration))
    throw new StixflowError(
      'invalid-engine-option',
      `invalid engine option: latenessSeconds (--lateness) ${duration.message}`,
    );
  return duration.seconds;
}

/** Events of every input, in order, each with where it was read (`origins[i]` is where `events[i]` came from). */
async function readEvents(
  paths: string[],
  io: CliIo,
): Promise<{ events: unknown[]; origins: EventOrigin[]; problems: Diagnostic[] }> {
  const events: unknown[] = [];
  const origins: EventOrigin[] = [];
  const problems: Diagnostic[] = [];
  for (const path of paths) {
    const file = path === '-' ? '<stdin>' : path;
    for (const doc of parseJsonOrNdjson(await readInput(path, io))) {
      if (!doc.ok) problems.push({ severity: 'error', code: 'bad-json', message: doc.message, file, line: doc.line });
      else if (Array.isArray(doc.value)) {
        doc.value.forEach((value: unknown, item) => {
          events.push(value);
          origins.push({ file, line: doc.line, item });
        });
      } else {
        events.push(doc.value);
        origins.push({ file, line: doc.line });
      }
    }
  }
  return { events, origins, problems };
}

export async function runCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      rules: { type: 'string', short: 'r', multiple: true },
      mapping: { type: 'string', short: 'm', multiple: true },
      source: { type: 'string' },
      tenant: { type: 'string' },
      lateness: { type: 'string' },
      'batch-size': { type: 'string' },
      'allow-unsatisfiable': { type: 'boolean' },
    },
    RUN_HELP,
    io,
  );
  if (typeof parsed === 'number') return parsed;
  const batchSize = Number(parsed.values['batch-size'] ?? 1);
  if (parsed.positionals.length === 0 || !parsed.values.rules || !(batchSize >= 1)) {
    writeLine(io.stderr, RUN_HELP);
    return 2;
  }
  const setup = await setUp(parsed.values, io);
  if (!setup) return 2;
  let exit = setup.exit;
  const { events, origins, problems } = await readEvents(parsed.positionals, io);
  for (const p of problems) {
    writeLine(io.stderr, formatDiagnostic(p));
    exit = 1;
  }
  const tenant = parsed.values.tenant ?? 'default';
  let alerts = 0;
  let notDelivered = 0;
  for (let start = 0; start < events.length; start += batchSize) {
    const result = await setup.detector.process(events.slice(start, start + batchSize), tenant);
    for (const alert of result.alerts) {
      writeLine(io.stdout, JSON.stringify(toAlertDocument(alert)));
      alerts++;
    }
    // Indexes in the result are positions in this batch of raw events; origins are by position in the run.
    for (const d of [...result.rejected, ...result.errors]) {
      const index = d.eventIndex === undefined ? undefined : d.eventIndex + start;
      writeLine(
        io.stderr,
        index === undefined ? formatDiagnostic(d) : formatEventDiagnostic({ ...d, eventIndex: index }, origins[index]),
      );
      if (d.code === 'alert-undeliverable') notDelivered++;
      exit = 1;
    }
    // Nothing is dropped silently: an alert the sink did not take is an error too.
    for (const u of result.undelivered) {
      writeLine(
        io.stderr,
        formatDiagnostic({
          severity: 'error',
          code: 'alert-undelivered',
          message: `alert ${u.id} was not delivered: ${u.reason}`,
        }),
      );
      notDelivered++;
      exit = 1;
    }
    for (const l of result.late) {
      const index = l.eventIndex + start;
      writeLine(
        io.stderr,
        `${eventOriginPrefix(origins[index])}event ${index}: late by ${l.lagSeconds.toFixed(1)} s for rule ${l.ruleId} group ${l.groupKey}: not correlated (counted)`,
      );
    }
  }
  writeLine(
    io.stderr,
    `${count(events.length, 'event')}, ${count(alerts, 'alert')}${notDelivered > 0 ? `, ${notDelivered} not delivered (see the errors above)` : ''}`,
  );
  return exit;
}

export async function stateCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      rules: { type: 'string', short: 'r', multiple: true },
      mapping: { type: 'string', short: 'm', multiple: true },
      source: { type: 'string' },
      rule: { type: 'string' },
      group: { type: 'string' },
      tenant: { type: 'string' },
      lateness: { type: 'string' },
      'allow-unsatisfiable': { type: 'boolean' },
    },
    STATE_HELP,
    io,
  );
  if (typeof parsed === 'number') return parsed;
  const ruleId = parsed.values.rule;
  if (!ruleId || !parsed.values.rules || parsed.positionals.length === 0) {
    writeLine(io.stderr, STATE_HELP);
    return 2;
  }
  const setup = await setUp(parsed.values, io);
  if (!setup) return 2;
  const tenant = parsed.values.tenant ?? 'default';
  const { events, problems } = await readEvents(parsed.positionals, io);
  let exit = setup.exit;
  // An event that never reached the engine explains a missing partial match: say so.
  for (const p of problems) {
    writeLine(io.stderr, formatDiagnostic(p));
    exit = 1;
  }
  const groups = new Set<string>();
  for (const [index, event] of events.entries()) {
    const result = await setup.detector.process([event], tenant);
    for (const key of result.touched) if (key.ruleId === ruleId) groups.add(key.group);
    for (const d of result.rejected) {
      writeLine(io.stderr, formatDiagnostic({ ...d, eventIndex: index }));
      exit = 1;
    }
  }
  const wanted = parsed.values.group !== undefined ? [parsed.values.group] : [...groups];
  const explanations = [];
  try {
    for (const group of wanted) explanations.push(await setup.detector.engine.explain(tenant, ruleId, group));
  } catch (error) {
    writeLine(io.stderr, (error as Error).message);
    return 2;
  }
  writeLine(io.stdout, JSON.stringify(explanations, null, 2));
  return exit;
}

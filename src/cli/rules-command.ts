/**
 * `stixflow rules status|enable|disable|export|push|compile`: rule health from a running stixflow (the
 * local stack by default, or a deployed API through --url): every rule with enabled/disabled, its
 * compile errors, and the last 7 days of matches, alerts, filtered and suppressed counts; and the
 * runtime rule store (#17) as files, for detection-as-code: `export` writes each store rule to a
 * YAML file, `push` sends a directory of rule files to the store, printing each file's diagnostics.
 * `stixflow rules compile <dir>`: a rules directory's precompiled form, written into it.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDiagnostic, StixflowError, type Diagnostic } from '../errors.js';
import { writeCompiledRules } from '../rules/compile-dir.js';
import { isRulesDirectory } from '../rules/precompiled.js';
import { collectDocuments } from '../rules/collect.js';
import { readDocuments } from '../rules/read.js';
import { renderDiagnostic, writeLine, parseCommandArgs, type CliIo } from './io.js';

const HELP = `Usage: stixflow rules <status | enable <id> | disable <id> | export <dir> | push <dir> | compile <dir>> [options]

  status          every rule: enabled or not, compile errors, and per-day counts of matches,
                  alerts, filtered and suppressed for the last 7 days; then the lists, macros
                  and shared exceptions each rule uses
  enable <id>     enable a rule (running functions pick it up within a minute)
  disable <id>    disable a rule
  export <dir>    write every rule of the runtime store to <dir>/<id>.yaml, one file per rule
  push <dir>      send each .yaml/.yml file of <dir> (one rule each) to the runtime store: created,
                  or replacing the rule of that id; each file's diagnostics are printed with their
                  positions, and an invalid file is not stored
  compile <dir>   load the rules directory and write its precompiled form into it
                  (rules.stixflow-compiled): later loads of the directory (run, the local
                  stack, functions) read that instead of compiling every rule, while the
                  rule files stay as they were; exit 1 when a rule has an error

status, enable and disable talk to the rules API of a running stixflow: the local stack ('npm start') by default.

Options:
  --url <url>       base URL (default http://127.0.0.1:8080, or STIXFLOW_URL)
  --token <token>   bearer token (default local-dev, or STIXFLOW_TOKEN); for a deployed IAM-authorised
                    API, put a SigV4 proxy such as awscurl in front instead
  --json            print the raw JSON answer
  -h, --help        show this help

Exit status: 0 ok, 1 the API refused (push: any file refused or invalid), 2 usage error or unreachable.`;

interface RuleRow {
  id: string;
  name?: string;
  status: string;
  enabled: boolean;
  severity?: string;
  errors?: { message: string; line?: number; column?: number }[];
  uses?: { lists: string[]; macros: string[] };
  exceptions?: { id: string }[];
  counters?: { totals: Record<string, number>; days: ({ day: string } & Record<string, number>)[] };
}

export async function rulesCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    { url: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' } },
    HELP,
    io,
  );
  if (typeof parsed === 'number') return parsed;
  const [action, id] = parsed.positionals;
  if (action === 'compile' && id) return compile(id, io);
  if (
    action !== 'status' &&
    !((action === 'enable' || action === 'disable' || action === 'export' || action === 'push') && id)
  ) {
    writeLine(io.stderr, HELP);
    return 2;
  }
  const base = (parsed.values.url ?? process.env.STIXFLOW_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
  const headers = {
    authorization: `Bearer ${parsed.values.token ?? process.env.STIXFLOW_TOKEN ?? 'local-dev'}`,
    'content-type': 'application/json',
  };
  if (action === 'export' || action === 'push') {
    const api = new StoreApi(base, headers);
    try {
      return action === 'export' ? await exportRules(api, id as string, io) : await pushRules(api, id as string, io);
    } catch (error) {
      if (!(error instanceof UnreachableError)) throw error;
      writeLine(io.stderr, `cannot reach ${base}: ${error.message} (is 'npm start' running?)`);
      return 2;
    }
  }
  let response: Response;
  try {
    response =
      action === 'status'
        ? await fetch(`${base}/rules`, { headers })
        : await fetch(`${base}/rules/${encodeURIComponent(id as string)}`, {
            method: 'PATCH',
            headers,
            body: JSON.stringify({ enabled: action === 'enable' }),
          });
  } catch (error) {
    writeLine(io.stderr, `cannot reach ${base}: ${(error as Error).message} (is 'npm start' running?)`);
    return 2;
  }
  const text = await response.text();
  if (!response.ok) {
    writeLine(io.stderr, `${response.status} ${response.statusText}: ${text}`);
    return 1;
  }
  if (parsed.values.json || action !== 'status') {
    writeLine(io.stdout, text);
    return 0;
  }
  const answer = JSON.parse(text) as { tenant: string; days: string[]; rules: RuleRow[] };
  const header = [
    'rule',
    'state',
    'severity',
    'matches',
    'alerts',
    'filtered',
    'suppressed',
    `last ${answer.days.length} days: alerts per day`,
  ];
  const rows = answer.rules.map((r) => {
    const t = r.counters?.totals ?? {};
    const state = r.status === 'invalid' ? 'INVALID' : r.enabled ? 'enabled' : 'disabled';
    return [
      r.id,
      state,
      r.severity ?? '',
      String(t.matches ?? 0),
      String(t.alerts ?? 0),
      String(t.filtered ?? 0),
      String(t.suppressed ?? 0),
      (r.counters?.days ?? []).map((d) => String(d.alerts ?? 0)).join(' '),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  writeLine(io.stdout, `tenant ${answer.tenant}`);
  writeLine(io.stdout, header.map((h, i) => h.padEnd(widths[i] as number)).join('  '));
  for (const row of rows) writeLine(io.stdout, row.map((c, i) => c.padEnd(widths[i] as number)).join('  '));
  for (const r of answer.rules) {
    const built = [
      r.uses?.lists.length ? `lists ${r.uses.lists.join(', ')}` : '',
      r.uses?.macros.length ? `macros ${r.uses.macros.join(', ')}` : '',
      r.exceptions?.length ? `shared exceptions ${r.exceptions.map((e) => e.id).join(', ')}` : '',
    ].filter(Boolean);
    if (built.length > 0) writeLine(io.stdout, `${r.id}: uses ${built.join('; ')}`);
  }
  for (const r of answer.rules)
    for (const e of r.errors ?? [])
      writeLine(io.stdout, `${r.id}: ${e.line !== undefined ? `${e.line}:${e.column ?? 1}: ` : ''}${e.message}`);
  return 0;
}

/** The API could not be reached (no answer at all, as opposed to an error status). */
class UnreachableError extends StixflowError {
  constructor(message: string) {
    super('unreachable', message);
  }
}

/** The rules API, one JSON call at a time. */
class StoreApi {
  constructor(
    private readonly base: string,
    private readonly headers: Record<string, string>,
  ) {}

  async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        headers: this.headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (error) {
      throw new UnreachableError((error as Error).message);
    }
    const text = await response.text();
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { error: text.slice(0, 300) };
    }
    return { status: response.status, body: parsed };
  }
}

/** A rule id as a file name: readable, never a path. */
export function ruleFileName(ruleId: string): string {
  return `${encodeURIComponent(ruleId).replace(/^\.+/, (dots) => '%2E'.repeat(dots.length))}.yaml`;
}

async function exportRules(api: StoreApi, dir: string, io: CliIo): Promise<number> {
  const listed = await api.call('GET', '/rules');
  if (listed.status !== 200) {
    writeLine(io.stderr, `GET /rules: ${listed.status} ${JSON.stringify(listed.body)}`);
    return 1;
  }
  const ids = ((listed.body.rules ?? []) as { id: string; origin?: string }[])
    .filter((r) => r.origin === 'store')
    .map((r) => r.id);
  mkdirSync(dir, { recursive: true });
  for (const ruleId of ids) {
    const one = await api.call('GET', `/rules/${encodeURIComponent(ruleId)}`);
    if (one.status !== 200 || typeof one.body.source !== 'string') {
      writeLine(io.stderr, `GET /rules/${ruleId}: ${one.status} ${JSON.stringify(one.body)}`);
      return 1;
    }
    const file = join(dir, ruleFileName(ruleId));
    writeFileSync(file, one.body.source);
    writeLine(io.stdout, `${file}: ${ruleId}`);
  }
  writeLine(io.stdout, `${ids.length} store rule(s) exported to ${dir}`);
  return 0;
}

/** Diagnostics from the API are placed in the file they came from. */
function printDiagnostics(file: string, diagnostics: unknown, io: CliIo, text: string): void {
  for (const d of (Array.isArray(diagnostics) ? diagnostics : []) as Diagnostic[])
    writeLine(io.stdout, renderDiagnostic({ ...d, file }, text));
}

async function pushRules(api: StoreApi, dir: string, io: CliIo): Promise<number> {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort();
  } catch (error) {
    writeLine(io.stderr, `cannot read ${dir}: ${(error as Error).message}`);
    return 2;
  }
  let refused = 0;
  for (const name of files) {
    const file = join(dir, name);
    const source = readFileSync(file, 'utf8');
    const ids = collectDocuments(readDocuments({ file, text: source }))
      .candidates.map((c) => c.id)
      .filter((x): x is string => x !== undefined);
    const created = await api.call('POST', '/rules', { source });
    let answer = created;
    if (created.status === 409 && ids.length === 1)
      answer = await api.call('PUT', `/rules/${encodeURIComponent(ids[0] as string)}`, { source });
    printDiagnostics(file, answer.body.diagnostics, io, source);
    if (answer.status === 200 || answer.status === 201) {
      const verb = answer.status === 201 ? 'created' : 'updated';
      writeLine(io.stdout, `${file}: ${verb} ${ids[0] ?? ''} version ${String(answer.body.version)}`);
    } else {
      refused++;
      writeLine(
        io.stdout,
        `${file}: refused (${answer.status}): ${String(answer.body.error ?? answer.body.message ?? '')}`,
      );
    }
  }
  writeLine(io.stdout, `${files.length - refused} of ${files.length} file(s) stored`);
  return refused > 0 ? 1 : 0;
}

function compile(dir: string, io: CliIo): number {
  if (!isRulesDirectory(dir)) {
    writeLine(io.stderr, `${dir} is not a directory: rules compile writes the precompiled form of a rules directory`);
    return 2;
  }
  const written = writeCompiledRules(dir);
  for (const d of written.diagnostics) writeLine(io.stderr, formatDiagnostic(d));
  writeLine(
    io.stdout,
    `${written.file}: ${written.rules} rules precompiled (${Math.round(written.bytes / 1024)} KB)${written.errors > 0 ? `, ${written.errors} with errors (skipped)` : ''}`,
  );
  return written.errors > 0 ? 1 : 0;
}

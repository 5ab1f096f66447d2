/**
 * `stixflow rules status|enable|disable`: rule health from a running stixflow (the local stack
 * by default, or a deployed API through --url): every rule with enabled/disabled, its compile
 * errors, and the last 7 days of matches, alerts, filtered and suppressed counts.
 * `stixflow rules compile <dir>`: a rules directory's precompiled form, written into it.
 */
import { formatDiagnostic } from '../errors.js';
import { writeCompiledRules } from '../rules/compile-dir.js';
import { isRulesDirectory } from '../rules/precompiled.js';
import { writeLine, parseCommandArgs, type CliIo } from './io.js';

const HELP = `Usage: stixflow rules <status | enable <id> | disable <id> | compile <dir>> [options]

  status          every rule: enabled or not, compile errors, and per-day counts of matches,
                  alerts, filtered and suppressed for the last 7 days; then the lists, macros
                  and shared exceptions each rule uses
  enable <id>     enable a rule (running functions pick it up within a minute)
  disable <id>    disable a rule
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

Exit status: 0 ok, 1 the API refused, 2 usage error or unreachable.`;

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
  if (action !== 'status' && !((action === 'enable' || action === 'disable') && id)) {
    writeLine(io.stderr, HELP);
    return 2;
  }
  const base = (parsed.values.url ?? process.env.STIXFLOW_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
  const headers = {
    authorization: `Bearer ${parsed.values.token ?? process.env.STIXFLOW_TOKEN ?? 'local-dev'}`,
    'content-type': 'application/json',
  };
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

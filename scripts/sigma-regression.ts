/**
 * The Sigma regression run (issue 15's acceptance): for every case of a SigmaHQ regression folder (by default
 * `../shared/sigma/regression`, see its README), `stixflow run --rules <rule.yml> <events.json>` with the built-in
 * mappings, through the CLI's own entry (in-process: the same `main` the `stixflow` binary runs), and whether it
 * raised at least the case's `expected_min_alerts`. A rule that does not load is reported with its diagnostics.
 *
 * Exit status: 0 when at least --min-share (default 0.95) of the cases pass, 1 otherwise, 2 when it cannot run.
 *
 *   npm run sigma:regression [-- <regression-dir>] [--min-share 0.95] [--only <rule-id>]
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parseArgs } from 'node:util';
import { main } from '../src/cli/main.js';
import { packageRoot } from '../src/util/package-root.js';

const { values: options, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: { 'min-share': { type: 'string', default: '0.95' }, only: { type: 'string', multiple: true } },
});
const dir = positionals[0] ?? join(packageRoot(), '..', 'shared', 'sigma', 'regression');
const minShare = Number(options['min-share']);
if (!existsSync(dir) || !(minShare >= 0 && minShare <= 1)) {
  console.error(
    existsSync(dir)
      ? `sigma:regression: --min-share must be a number from 0 to 1`
      : `sigma:regression: no regression folder at ${dir}`,
  );
  process.exit(2);
}

interface Case {
  rule_id: string;
  title: string;
  expected_min_alerts: number;
  logsource?: Record<string, unknown>;
}

type Status = 'pass' | 'too few alerts' | 'rule not loaded' | 'events rejected' | 'crashed';

interface Outcome {
  id: string;
  title: string;
  logsource: string;
  expected: number;
  alerts: number;
  status: Status;
  /** The diagnostics that explain a failure (first lines of stderr). */
  notes: string[];
}

async function drain(stream: PassThrough): Promise<string> {
  stream.end();
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  return text;
}

/** `stixflow <argv>` in this process, its exit code and output. */
async function stixflow(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  stdin.end('');
  const code = await main(argv, { stdout, stderr, stdin });
  return { code, out: await drain(stdout), err: await drain(stderr) };
}

/** The alerts `stixflow run` printed: one JSON object per stdout line. */
function countAlerts(out: string): number {
  let alerts = 0;
  for (const line of out.split('\n')) {
    if (line.trim().length === 0) continue;
    try {
      const value: unknown = JSON.parse(line);
      if (typeof value === 'object' && value !== null) alerts++;
    } catch {
      // Not an alert line.
    }
  }
  return alerts;
}

async function runCase(caseDir: string): Promise<Outcome> {
  const info = JSON.parse(readFileSync(join(caseDir, 'case.json'), 'utf8')) as Case;
  const rulePath = join(caseDir, 'rule.yml');
  const logsource = ['product', 'category', 'service']
    .map((key) => info.logsource?.[key])
    .filter((value) => value !== undefined)
    .map(String)
    .join('/');
  const outcome: Outcome = {
    id: info.rule_id,
    title: info.title,
    logsource,
    expected: info.expected_min_alerts,
    alerts: 0,
    status: 'pass',
    notes: [],
  };
  let run: { code: number; out: string; err: string };
  try {
    run = await stixflow(['run', '--rules', rulePath, join(caseDir, 'events.json')]);
  } catch (error) {
    outcome.status = 'crashed';
    outcome.notes = [String(error instanceof Error ? (error.stack ?? error.message) : error)];
    return outcome;
  }
  outcome.alerts = countAlerts(run.out);
  const errors = run.err.split('\n').filter((line) => /\berror\b/.test(line));
  // A diagnostic naming the rule file is the rule's own (the events file's lines name events.json).
  const ruleErrors = errors.filter((line) => line.includes(rulePath));
  const eventErrors = errors.filter((line) => !line.includes(rulePath));
  if (outcome.alerts >= outcome.expected) outcome.status = 'pass';
  else if (ruleErrors.length > 0) outcome.status = 'rule not loaded';
  else if (eventErrors.length > 0) outcome.status = 'events rejected';
  else outcome.status = 'too few alerts';
  if (outcome.status !== 'pass') {
    outcome.notes = (ruleErrors.length > 0 ? ruleErrors : eventErrors.length > 0 ? eventErrors : [run.err.trim()])
      .slice(0, 5)
      .map((line) => line.replace(`${caseDir}/`, ''));
  }
  return outcome;
}

const only = new Set(options.only ?? []);
const cases = readdirSync(dir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'case.json')))
  .map((d) => d.name)
  .filter((name) => only.size === 0 || only.has(name))
  .sort();
if (cases.length === 0) {
  console.error(`sigma:regression: no cases in ${dir}`);
  process.exit(2);
}

const outcomes: Outcome[] = [];
for (const name of cases) outcomes.push(await runCase(join(dir, name)));

const width = Math.max(...outcomes.map((o) => o.logsource.length), 'logsource'.length);
console.log(`${'rule'.padEnd(36)}  ${'logsource'.padEnd(width)}  expected  alerts  status           title`);
for (const o of outcomes) {
  console.log(
    `${o.id.padEnd(36)}  ${o.logsource.padEnd(width)}  ${String(o.expected).padStart(8)}  ${String(o.alerts).padStart(6)}  ${o.status.padEnd(15)}  ${o.title}`,
  );
  for (const note of o.notes) console.log(`    ${note}`);
}
const passed = outcomes.filter((o) => o.status === 'pass').length;
const failed = outcomes.length - passed;
const byStatus = new Map<Status, number>();
for (const o of outcomes) byStatus.set(o.status, (byStatus.get(o.status) ?? 0) + 1);
const share = passed / outcomes.length;
console.log('');
console.log(
  `by status: ${[...byStatus].map(([status, count]) => `${status} ${count}`).join(', ')}; ` +
    `pass share ${(100 * share).toFixed(1)}% (needed ${(100 * minShare).toFixed(1)}%)`,
);
console.log(`sigma regression: ${passed} passed, ${failed} failed`);
process.exit(share >= minShare ? 0 : 1);
